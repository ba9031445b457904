//! A. Real clients -> our codec playing the server: the paho-mqtt script.

use bytes::Bytes;
use mqtt_proto::{
    AckProperties, ConnAck, ConnAckProperties, ConnectProperties, Disconnect, DisconnectProperties,
    Packet, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, PublishProperties, QoS,
    QoSPid, ReasonCode, RetainHandling, SubAck, SubscribeProperties, SubscriptionOptions, UnsubAck,
    UnsubscribeProperties, WillProperties,
};

use crate::flows::{BUDGET, accept_connect, next, nz16, sid, topic_str, user};
use crate::support::{
    ChildGuard, Deadline, Listener, TOOL_LIMIT, pid, require_paho, s, tag, topic,
};

use ProtocolVersion::{V3_1, V3_1_1, V5};

const PAHO_SCRIPT: &str = include_str!("paho_client.py");

/// The paho-mqtt script (tests/interop/paho_client.py) against our server: CONNECT with
/// will and credentials, SUBSCRIBE, PUBLISH at QoS 0/1/2 (5.0: with properties and a topic
/// alias), three messages from us (5.0: four, one by topic alias only), keep-alive pings,
/// UNSUBSCRIBE and DISCONNECT.
fn paho_case(version: ProtocolVersion) {
    let deadline = Deadline::after(BUDGET);
    let Some(tools) = require_paho(deadline) else {
        return;
    };
    let ver = match version {
        V3_1 => "31",
        V3_1_1 => "311",
        V5 => "5",
    };
    let v5 = version == V5;
    let name = format!("paho {}", tag(version));
    let listener = Listener::bind();
    let port = listener.port.to_string();
    let mut client = ChildGuard::spawn(
        &name,
        &tools,
        "python3",
        ["-c", PAHO_SCRIPT, &port, ver],
        TOOL_LIMIT,
    );
    // The connection answers paho's keep-alive pings whenever they come.
    let (mut conn, c) = accept_connect(&listener, &mut client, &name, deadline);

    assert_eq!(c.protocol, version);
    assert_eq!(c.client_id.as_str(), format!("paho-{ver}"));
    assert!(!c.clean_start);
    assert_eq!(c.keep_alive, 3);
    assert_eq!(c.username.as_deref(), Some("paho-user"));
    assert_eq!(c.password.as_deref(), Some(&b"paho-\x00\xffpass"[..]));
    let will = c.will.as_ref().expect("will");
    assert_eq!(will.topic.as_str(), "paho/will");
    assert_eq!(&will.payload[..], b"paho died");
    assert_eq!(will.qos, QoS::ExactlyOnce);
    assert!(!will.retain);
    if v5 {
        assert_eq!(
            c.properties,
            ConnectProperties {
                session_expiry_interval: Some(60),
                receive_maximum: nz16(9),
                topic_alias_maximum: Some(4),
                user_properties: user(&[("ck", "cv1"), ("ck", "cv2")]),
                ..ConnectProperties::default()
            }
        );
        assert_eq!(
            will.properties,
            WillProperties {
                will_delay_interval: Some(5),
                content_type: Some(s("text/will")),
                user_properties: user(&[("wk", "wv")]),
                ..WillProperties::default()
            }
        );
    }

    // 3.1 has no Session Present flag.
    let mut connack = ConnAck::new(version != V3_1, ReasonCode::Success);
    if v5 {
        connack.properties = ConnAckProperties {
            receive_maximum: nz16(20),
            topic_alias_maximum: Some(5),
            user_properties: user(&[("srv", "mqtt-proto")]),
            ..ConnAckProperties::default()
        };
    }
    conn.send(connack);

    let sub = next!(conn, Packet::Subscribe(x) => x);
    let filters: Vec<(&str, SubscriptionOptions)> =
        sub.filters.iter().map(|(f, o)| (f.as_str(), *o)).collect();
    let first = if v5 {
        SubscriptionOptions {
            qos: QoS::ExactlyOnce,
            no_local: true,
            retain_as_published: true,
            retain_handling: RetainHandling::SendAtSubscribeIfNew,
        }
    } else {
        SubscriptionOptions::new(QoS::ExactlyOnce)
    };
    assert_eq!(
        filters,
        [
            ("paho/in/#", first),
            ("paho/deny", SubscriptionOptions::new(QoS::AtLeastOnce))
        ]
    );
    if v5 {
        assert_eq!(
            sub.properties,
            SubscribeProperties {
                subscription_identifier: Some(sid(7)),
                user_properties: user(&[("sk", "sv")]),
            }
        );
    }
    let (second_code, suback_props) = match version {
        // 3.1 has no failure code in SUBACK.
        V3_1 => (ReasonCode::GrantedQoS1, AckProperties::default()),
        V3_1_1 => (ReasonCode::UnspecifiedError, AckProperties::default()),
        V5 => (
            ReasonCode::NotAuthorized,
            AckProperties {
                reason_string: Some(s("deny is denied")),
                user_properties: Vec::new(),
            },
        ),
    };
    conn.send(SubAck {
        packet_id: sub.packet_id,
        properties: suback_props,
        reason_codes: vec![ReasonCode::GrantedQoS2, second_code],
    });

    // QoS 0.
    let p0 = next!(conn, Packet::Publish(x) => x);
    assert_eq!(topic_str(&p0), Some("paho/out/zero"));
    assert_eq!(&p0.payload[..], b"z");
    assert_eq!(p0.qos_pid, QoSPid::AtMostOnce);
    if v5 {
        assert_eq!(
            *p0.properties,
            PublishProperties {
                payload_format_indicator: Some(true),
                content_type: Some(s("text/plain")),
                message_expiry_interval: Some(30),
                user_properties: user(&[("a", "1"), ("a", "2")]),
                ..PublishProperties::default()
            }
        );
    }

    // QoS 1, retained; 5.0 sets topic alias 1.
    let p1 = next!(conn, Packet::Publish(x) => x);
    assert_eq!(topic_str(&p1), Some("paho/out/one"));
    assert_eq!(&p1.payload[..], "one \u{fc}".as_bytes());
    assert_eq!(p1.qos(), QoS::AtLeastOnce);
    assert!(p1.retain);
    let mut puback = PubAck::new(p1.packet_id().expect("id"));
    if v5 {
        assert_eq!(
            *p1.properties,
            PublishProperties {
                response_topic: Some(topic("paho/reply")),
                correlation_data: Some(Bytes::from_static(b"\x00\x01corr")),
                topic_alias: nz16(1),
                ..PublishProperties::default()
            }
        );
        puback.reason_code = ReasonCode::NoMatchingSubscribers;
        puback.properties.reason_string = Some(s("nobody listens"));
    }
    conn.send(puback);

    // QoS 2; 5.0 sends an empty topic name and alias 1 for it.
    let p2 = next!(conn, Packet::Publish(x) => x);
    if v5 {
        assert_eq!(p2.topic, None, "paho should use the topic alias");
        assert_eq!(p2.properties.topic_alias, nz16(1));
    } else {
        assert_eq!(topic_str(&p2), Some("paho/out/one"));
    }
    assert_eq!(&p2.payload[..], b"\x00\xff two");
    let id2 = match p2.qos_pid {
        QoSPid::ExactlyOnce(id) => id,
        other => panic!("{name}: expected QoS 2, got {other:?}"),
    };
    let mut pubrec = PubRec::new(id2);
    if v5 {
        pubrec.properties.user_properties = user(&[("rec", "1")]);
    }
    conn.send(pubrec);
    let rel = next!(conn, Packet::PubRel(x) => x);
    assert_eq!(rel.packet_id, id2);
    let mut pubcomp = PubComp::new(id2);
    if v5 {
        pubcomp.properties.reason_string = Some(s("done"));
    }
    conn.send(pubcomp);

    // Three messages to paho.
    let mut s0 = Publish::new(topic("paho/in/a"), QoSPid::AtMostOnce, "s0");
    let mut s1 = Publish::new(topic("paho/in/b"), QoSPid::AtLeastOnce(pid(10)), "s1");
    s1.retain = true;
    let mut s2 = Publish::new(
        topic("paho/in/c"),
        QoSPid::ExactlyOnce(pid(11)),
        Bytes::from_static(b"\x00\x01\xfe\xff"),
    );
    if v5 {
        s0.properties = PublishProperties {
            subscription_identifiers: vec![sid(7)],
            user_properties: user(&[("from", "server")]),
            content_type: Some(s("text/x-s0")),
            payload_format_indicator: Some(true),
            ..PublishProperties::default()
        }
        .into();
        s1.properties = PublishProperties {
            subscription_identifiers: vec![sid(7)],
            message_expiry_interval: Some(99),
            topic_alias: nz16(2),
            ..PublishProperties::default()
        }
        .into();
        s2.properties = PublishProperties {
            subscription_identifiers: vec![sid(7), sid(268_435_455)],
            response_topic: Some(topic("paho/in/reply")),
            correlation_data: Some(Bytes::from_static(b"\x01\x02")),
            ..PublishProperties::default()
        }
        .into();
    }
    conn.send(s0);
    conn.send(s1);
    let a = next!(conn, Packet::PubAck(x) => x);
    assert_eq!(a.packet_id, pid(10));
    assert_eq!(a.reason_code, ReasonCode::Success);
    conn.send(s2);
    let a = next!(conn, Packet::PubRec(x) => x);
    assert_eq!(a.packet_id, pid(11));
    conn.send(PubRel::new(pid(11)));
    let a = next!(conn, Packet::PubComp(x) => x);
    assert_eq!(a.packet_id, pid(11));
    if v5 {
        // An empty topic name standing for the alias 2 that s1 set (paho 2.1 reports the
        // alias without resolving it).
        let mut s3 = Publish::new(topic("unused"), QoSPid::AtMostOnce, "s3");
        s3.topic = None;
        s3.properties.topic_alias = nz16(2);
        conn.send(s3);
    }

    // UNSUBSCRIBE (after paho has pinged: the script waits for a PINGRESP first).
    let unsub = next!(conn, Packet::Unsubscribe(x) => x);
    let filters: Vec<&str> = unsub.filters.iter().map(|f| f.as_str()).collect();
    assert_eq!(filters, ["paho/in/#", "paho/never"]);
    let mut unsuback = UnsubAck {
        packet_id: unsub.packet_id,
        properties: AckProperties::default(),
        reason_codes: Vec::new(),
    };
    if v5 {
        assert_eq!(
            unsub.properties,
            UnsubscribeProperties {
                user_properties: user(&[("uk", "uv")])
            }
        );
        unsuback.reason_codes = vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted];
    }
    conn.send(unsuback);

    let d = next!(conn, Packet::Disconnect(x) => *x);
    if v5 {
        assert_eq!(d.reason_code, ReasonCode::DisconnectWithWill);
        assert_eq!(
            d.properties,
            DisconnectProperties {
                session_expiry_interval: Some(0),
                reason_string: Some(s("bye")),
                ..DisconnectProperties::default()
            }
        );
    } else {
        assert_eq!(d, Disconnect::default());
    }
    conn.expect_eof();
    assert!(conn.pings() >= 1, "{name}: paho never pinged");

    let stdout = client.wait_success(deadline);
    let expected: Vec<String> = match version {
        V5 => vec![
            r#"connack {"props": {"ReceiveMaximum": 20, "TopicAliasMaximum": 5, "UserProperty": [["srv", "mqtt-proto"]]}, "rc": 0, "session_present": true}"#.into(),
            r#"suback {"codes": [2, 135], "props": {"ReasonString": "deny is denied"}}"#.into(),
            r#"published {"props": {}, "qos": 0, "rc": 0}"#.into(),
            r#"published {"props": {"ReasonString": "nobody listens"}, "qos": 1, "rc": 16}"#.into(),
            r#"published {"props": {"ReasonString": "done"}, "qos": 2, "rc": 0}"#.into(),
            r#"message {"payload": "7330", "props": {"ContentType": "text/x-s0", "PayloadFormatIndicator": 1, "SubscriptionIdentifier": [7], "UserProperty": [["from", "server"]]}, "qos": 0, "retain": false, "topic": "paho/in/a"}"#.into(),
            r#"message {"payload": "7331", "props": {"MessageExpiryInterval": 99, "SubscriptionIdentifier": [7], "TopicAlias": 2}, "qos": 1, "retain": true, "topic": "paho/in/b"}"#.into(),
            r#"message {"payload": "0001feff", "props": {"CorrelationData": "0102", "ResponseTopic": "paho/in/reply", "SubscriptionIdentifier": [7, 268435455]}, "qos": 2, "retain": false, "topic": "paho/in/c"}"#.into(),
            r#"message {"payload": "7333", "props": {"TopicAlias": 2}, "qos": 0, "retain": false, "topic": ""}"#.into(),
            "pingresp true".into(),
            r#"unsuback {"codes": [0, 17], "props": {}}"#.into(),
            "disconnected 0".into(),
        ],
        V3_1 | V3_1_1 => vec![
            format!(
                r#"connack {{"props": {{}}, "rc": 0, "session_present": {}}}"#,
                version == V3_1_1
            ),
            format!(
                r#"suback {{"codes": [2, {}], "props": {{}}}}"#,
                second_code.as_u8()
            ),
            r#"published {"props": {}, "qos": 0, "rc": 0}"#.into(),
            r#"published {"props": {}, "qos": 1, "rc": 0}"#.into(),
            r#"published {"props": {}, "qos": 2, "rc": 0}"#.into(),
            r#"message {"payload": "7330", "props": {}, "qos": 0, "retain": false, "topic": "paho/in/a"}"#.into(),
            r#"message {"payload": "7331", "props": {}, "qos": 1, "retain": true, "topic": "paho/in/b"}"#.into(),
            r#"message {"payload": "0001feff", "props": {}, "qos": 2, "retain": false, "topic": "paho/in/c"}"#.into(),
            "pingresp true".into(),
            r#"unsuback {"codes": [], "props": {}}"#.into(),
            "disconnected 0".into(),
        ],
    };
    let got: Vec<&str> = stdout.lines().collect();
    assert_eq!(got, expected, "{name}: paho's view of our packets");
}

#[test]
fn paho_v31_against_our_server() {
    paho_case(V3_1);
}

#[test]
fn paho_v311_against_our_server() {
    paho_case(V3_1_1);
}

#[test]
fn paho_v5_against_our_server() {
    paho_case(V5);
}
