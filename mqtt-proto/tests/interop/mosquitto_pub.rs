//! A. Real clients -> our codec playing the server: `mosquitto_pub`.

use std::num::NonZeroU32;

use bytes::Bytes;
use mqtt_proto::{
    AckProperties, ConnAck, ConnAckProperties, Packet, ProtocolVersion, PubAck, PubComp, PubRec,
    PublishProperties, QoS, QoSPid, ReasonCode,
};

use crate::flows::{BUDGET, accept_connect, expect_disconnect, next, nz16, topic_str, user};
use crate::support::{
    self, ChildGuard, Deadline, Listener, TOOL_LIMIT, mosquitto_version_arg, require, s, tag, topic,
};

use ProtocolVersion::{V3_1, V3_1_1, V5};

fn mosquitto_pub_case(
    tools: &support::Tools,
    version: ProtocolVersion,
    qos: QoS,
    deadline: Deadline,
) {
    let t = tag(version);
    let q = qos.as_u8();
    let name = format!("mosquitto_pub {t} QoS {q}");
    let listener = Listener::bind();
    let client_id = format!("pub-{t}-q{q}");
    let topic_name = format!("interop/{t}/q{q}");
    let will_topic = format!("will/{t}/q{q}");
    let payload = format!("hello {t} QoS {q} \u{fc}\u{1F600}");
    let retain = qos == QoS::ExactlyOnce;
    let v5 = version == V5;

    let mut args: Vec<String> = [
        "-h",
        "127.0.0.1",
        "-p",
        &listener.port.to_string(),
        "-V",
        mosquitto_version_arg(version),
        "-i",
        &client_id,
        "-k",
        "17",
        "-u",
        "alice",
        "-P",
        "s3cret",
        "--will-topic",
        &will_topic,
        "--will-payload",
        "gone",
        "--will-qos",
        "1",
        "--will-retain",
        "-t",
        &topic_name,
        "-m",
        &payload,
        "-q",
        &q.to_string(),
    ]
    .map(String::from)
    .to_vec();
    if retain {
        args.push("-r".into());
    }
    if v5 {
        #[rustfmt::skip]
        let extra = [
            "-x", "30",
            "-D", "connect", "user-property", "ck", "cv",
            "-D", "connect", "receive-maximum", "7",
            "-D", "connect", "maximum-packet-size", "100000",
            "-D", "will", "content-type", "text/will",
            "-D", "will", "user-property", "wk", "wv",
            "-D", "will", "message-expiry-interval", "90",
            "-D", "will", "will-delay-interval", "4",
            "-D", "publish", "user-property", "k", "v1",
            "-D", "publish", "user-property", "k", "v2",
            "-D", "publish", "message-expiry-interval", "120",
            "-D", "publish", "content-type", "text/plain",
            "-D", "publish", "payload-format-indicator", "1",
            "-D", "publish", "response-topic", "reply/here",
            "-D", "publish", "correlation-data", "corr-7",
            "-D", "publish", "topic-alias", "3",
        ];
        args.extend(extra.map(String::from));
    }
    let mut client = ChildGuard::spawn(&name, tools, "mosquitto_pub", &args, TOOL_LIMIT);
    let (mut conn, connect) = accept_connect(&listener, &mut client, &name, deadline);

    // CONNECT: everything given on the command line, decoded by us.
    assert_eq!(connect.protocol, version);
    assert_eq!(connect.client_id.as_str(), client_id);
    assert!(connect.clean_start);
    assert_eq!(connect.keep_alive, 17);
    assert_eq!(connect.username.as_deref(), Some("alice"));
    assert_eq!(connect.password.as_deref(), Some(&b"s3cret"[..]));
    let will = connect.will.as_ref().expect("will");
    assert_eq!(will.topic.as_str(), will_topic);
    assert_eq!(&will.payload[..], b"gone");
    assert_eq!(will.qos, QoS::AtLeastOnce);
    assert!(will.retain);
    if v5 {
        let p = &connect.properties;
        assert_eq!(p.session_expiry_interval, Some(30));
        assert_eq!(p.receive_maximum, nz16(7));
        assert_eq!(p.maximum_packet_size, NonZeroU32::new(100_000));
        assert_eq!(p.user_properties, user(&[("ck", "cv")]));
        let w = &will.properties;
        assert_eq!(w.content_type.as_deref(), Some("text/will"));
        assert_eq!(w.user_properties, user(&[("wk", "wv")]));
        assert_eq!(w.message_expiry_interval, Some(90));
        assert_eq!(w.will_delay_interval, Some(4));
    } else {
        assert!(connect.properties.is_empty());
        assert!(will.properties.is_empty());
    }

    let mut connack = ConnAck::new(false, ReasonCode::Success);
    if v5 {
        connack.properties = ConnAckProperties {
            topic_alias_maximum: Some(10),
            receive_maximum: nz16(20),
            user_properties: user(&[("server", "mqtt-proto")]),
            ..ConnAckProperties::default()
        };
    }
    conn.send(connack);

    // PUBLISH.
    let p = next!(conn, Packet::Publish(x) => x);
    assert_eq!(topic_str(&p), Some(topic_name.as_str()));
    assert_eq!(&p.payload[..], payload.as_bytes());
    assert_eq!(p.qos(), qos);
    assert_eq!(p.retain, retain);
    assert!(!p.dup);
    if v5 {
        let expected = PublishProperties {
            payload_format_indicator: Some(true),
            message_expiry_interval: Some(120),
            topic_alias: nz16(3),
            response_topic: Some(topic("reply/here")),
            correlation_data: Some(Bytes::from_static(b"corr-7")),
            user_properties: user(&[("k", "v1"), ("k", "v2")]),
            subscription_identifiers: Vec::new(),
            content_type: Some(s("text/plain")),
        };
        assert_eq!(*p.properties, expected);
    } else {
        assert!(p.properties.is_empty());
    }
    match p.qos_pid {
        QoSPid::AtMostOnce => {}
        QoSPid::AtLeastOnce(id) => {
            let mut ack = PubAck::new(id);
            if v5 {
                ack.reason_code = ReasonCode::NoMatchingSubscribers;
                ack.properties = AckProperties {
                    reason_string: Some(s("nobody is listening")),
                    user_properties: user(&[("ack", "1")]),
                };
            }
            conn.send(ack);
        }
        QoSPid::ExactlyOnce(id) => {
            let mut rec = PubRec::new(id);
            if v5 {
                rec.properties.user_properties = user(&[("rec", "1")]);
            }
            conn.send(rec);
            let rel = next!(conn, Packet::PubRel(x) => x);
            assert_eq!(rel.packet_id, id);
            assert_eq!(rel.reason_code, ReasonCode::Success);
            conn.send(PubComp::new(id));
        }
    }

    let d = next!(conn, Packet::Disconnect(x) => x);
    assert_eq!(d.reason_code, ReasonCode::Success);
    conn.expect_eof();
    client.wait_success(deadline);
}

fn mosquitto_pub_all_qos(version: ProtocolVersion) {
    let deadline = Deadline::after(BUDGET);
    let Some(tools) = require(&["mosquitto_pub"]) else {
        return;
    };
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        mosquitto_pub_case(&tools, version, qos, deadline);
    }
}

#[test]
fn mosquitto_pub_v31_to_our_server() {
    mosquitto_pub_all_qos(V3_1);
}

#[test]
fn mosquitto_pub_v311_to_our_server() {
    mosquitto_pub_all_qos(V3_1_1);
}

#[test]
fn mosquitto_pub_v5_to_our_server() {
    mosquitto_pub_all_qos(V5);
}

/// A 5.0 PUBACK with an error reason code reaches mosquitto_pub as a failed publish.
#[test]
fn mosquitto_pub_v5_reads_our_error_reason_code() {
    let deadline = Deadline::after(BUDGET);
    let Some(tools) = require(&["mosquitto_pub"]) else {
        return;
    };
    let name = "mosquitto_pub v5 refused";
    let listener = Listener::bind();
    let port = listener.port.to_string();
    #[rustfmt::skip]
    let args = [
        "-h", "127.0.0.1", "-p", &port, "-V", "mqttv5", "-i", "pub-v5-refused",
        "-t", "interop/v5/refused", "-m", "x", "-q", "1",
    ];
    let mut client = ChildGuard::spawn(name, &tools, "mosquitto_pub", args, TOOL_LIMIT);
    let (mut conn, connect) = accept_connect(&listener, &mut client, name, deadline);
    assert_eq!(connect.client_id.as_str(), "pub-v5-refused");
    conn.send(ConnAck::new(false, ReasonCode::Success));
    let p = next!(conn, Packet::Publish(x) => x);
    let mut ack = PubAck::new(p.packet_id().expect("QoS 1 has an id"));
    ack.reason_code = ReasonCode::NotAuthorized;
    ack.properties.reason_string = Some(s("not for you"));
    conn.send(ack);
    let d = expect_disconnect(&mut conn);
    assert_eq!(d.reason_code, ReasonCode::Success);
    conn.expect_eof();
    let done = client.wait(deadline);
    assert!(
        done.stderr.contains("Not authorized"),
        "mosquitto_pub should report our reason code 0x87: {done:?}"
    );
}

/// A CONNACK refusal encoded by us is understood by mosquitto_pub.
#[test]
fn mosquitto_pub_reads_our_connack_refusal() {
    let deadline = Deadline::after(BUDGET);
    let Some(tools) = require(&["mosquitto_pub"]) else {
        return;
    };
    for (version, code, text) in [
        (
            V3_1_1,
            ReasonCode::BadUserNameOrPassword,
            "bad user name or password",
        ),
        (V5, ReasonCode::Banned, "Banned"),
    ] {
        let name = format!("mosquitto_pub {} refused", tag(version));
        let listener = Listener::bind();
        let port = listener.port.to_string();
        #[rustfmt::skip]
        let args = [
            "-h", "127.0.0.1", "-p", &port, "-V", mosquitto_version_arg(version),
            "-i", "pub-refused", "-t", "interop/refused", "-m", "x",
        ];
        let mut client = ChildGuard::spawn(&name, &tools, "mosquitto_pub", args, TOOL_LIMIT);
        let (mut conn, _) = accept_connect(&listener, &mut client, &name, deadline);
        conn.send(ConnAck::new(false, code));
        conn.expect_eof();
        let done = client.wait(deadline);
        assert!(
            !done.status.success(),
            "{name}: refusal not noticed: {done:?}"
        );
        assert!(
            done.stderr.to_lowercase().contains(&text.to_lowercase()),
            "{name}: expected {text:?} in stderr: {done:?}"
        );
    }
}
