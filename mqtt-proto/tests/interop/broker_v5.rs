//! B. Our codec -> a real mosquitto broker, in MQTT 5.0.

use std::num::NonZeroU32;

use bytes::Bytes;
use mqtt_proto::{
    Connect, ConnectProperties, Disconnect, DisconnectProperties, MqttString, Packet,
    ProtocolVersion, Publish, PublishProperties, QoS, QoSPid, ReasonCode, RetainHandling,
    Subscribe, SubscribeProperties, SubscriptionId, SubscriptionOptions, Unsubscribe,
    UnsubscribeProperties, Will, WillProperties,
};

use crate::flows::{
    BUDGET, ack_delivery, expect_disconnect, expect_publish, expect_suback, expect_unsuback, nz16,
    publish_flow, sid, user,
};
use crate::support::{Broker, Deadline, filter, pid, require, s, topic};

use ProtocolVersion::V5;

/// The 5.0 scenario: properties everywhere, subscription identifiers, No Local, Retain As
/// Published, Retain Handling, topic aliases, reason codes, will on DISCONNECT 0x04, and a
/// persistent session.
#[test]
fn our_client_v5_against_mosquitto() {
    let deadline = Deadline::after(BUDGET);
    let Some(tools) = require(&["mosquitto"]) else {
        return;
    };
    let mut broker = Broker::start(&tools, deadline);
    let tp = |suffix: &str| format!("b/v5/{suffix}");
    let d = deadline;

    // A: CONNECT properties, credentials and a will with every will property.
    let mut connect = Connect::new(V5, s("ours-a-v5"));
    connect.keep_alive = 30;
    connect.properties = ConnectProperties {
        session_expiry_interval: Some(0),
        receive_maximum: nz16(10),
        maximum_packet_size: NonZeroU32::new(65_536),
        topic_alias_maximum: Some(5),
        request_response_information: Some(false),
        request_problem_information: Some(true),
        user_properties: user(&[("ck", "cv")]),
        ..ConnectProperties::default()
    };
    connect.username = Some(s("user"));
    connect.password = Some(Bytes::from_static(b"pw"));
    let will_props = WillProperties {
        will_delay_interval: Some(0),
        payload_format_indicator: Some(true),
        message_expiry_interval: Some(600),
        content_type: Some(s("text/will")),
        response_topic: Some(topic(&tp("will/reply"))),
        correlation_data: Some(Bytes::from_static(b"wcd")),
        user_properties: user(&[("wk", "wv")]),
    };
    connect.will = Some(Will {
        topic: topic(&tp("will/a")),
        payload: Bytes::from_static(b"a left with its will"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: will_props.clone(),
    });
    let (mut a, ack) = broker.session(connect, "A", d);
    assert!(!ack.session_present);
    let alias_max = ack.properties.topic_alias_maximum.unwrap_or(0);
    assert!(alias_max >= 1, "mosquitto grants topic aliases: {ack:?}");

    // An empty client id gets one assigned in the CONNACK.
    let (mut e, ack) = broker.session(Connect::new(V5, MqttString::default()), "E", d);
    let assigned = ack
        .properties
        .assigned_client_identifier
        .clone()
        .expect("Assigned Client Identifier");
    assert!(!assigned.is_empty());
    e.send(Disconnect::default());
    e.expect_eof();

    // SUBSCRIBE with a subscription identifier, user property and 5.0 options.
    a.send(Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties {
            subscription_identifier: Some(sid(42)),
            user_properties: user(&[("sk", "sv")]),
        },
        filters: vec![
            (
                filter(&tp("+/x")),
                SubscriptionOptions {
                    qos: QoS::ExactlyOnce,
                    retain_as_published: true,
                    ..SubscriptionOptions::default()
                },
            ),
            (
                filter(&tp("nl")),
                SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    no_local: true,
                    ..SubscriptionOptions::default()
                },
            ),
        ],
    });
    let suback = expect_suback(&mut a, 1);
    assert_eq!(
        suback.reason_codes,
        [ReasonCode::GrantedQoS2, ReasonCode::GrantedQoS1]
    );

    // Every PUBLISH property survives the trip through the broker, plus our subscription
    // identifier; the expiry interval counts down.
    let props = PublishProperties {
        payload_format_indicator: Some(true),
        message_expiry_interval: Some(300),
        topic_alias: None,
        response_topic: Some(topic(&tp("props/reply"))),
        correlation_data: Some(Bytes::from_static(b"\x00corr\xff")),
        user_properties: user(&[("k", "v1"), ("k", "v2"), ("\u{fc}", "\u{1F600}")]),
        subscription_identifiers: Vec::new(),
        content_type: Some(s("text/plain; charset=utf-8")),
    };
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let name = tp(&format!("q{}/x", qos.as_u8()));
        let mut p = Publish::new(
            topic(&name),
            QoSPid::new(qos, pid(10 + i as u16)),
            "with properties",
        );
        p.properties = props.clone().into();
        assert_eq!(publish_flow(&mut a, p), ReasonCode::Success);
        let got = expect_publish(&mut a, &name);
        assert_eq!(got.qos(), qos);
        assert_eq!(&got.payload[..], b"with properties");
        let expiry = got.properties.message_expiry_interval.expect("expiry");
        assert!((1..=300).contains(&expiry), "expiry {expiry}");
        let mut expected = props.clone();
        expected.message_expiry_interval = Some(expiry);
        expected.subscription_identifiers = vec![sid(42)];
        assert_eq!(*got.properties, expected);
        ack_delivery(&mut a, &got);
    }

    // No subscribers: reason code 0x10 in PUBACK.
    let rc = publish_flow(
        &mut a,
        Publish::new(topic(&tp("nobody")), QoSPid::AtLeastOnce(pid(20)), "x"),
    );
    assert_eq!(rc, ReasonCode::NoMatchingSubscribers);
    let rc = publish_flow(
        &mut a,
        Publish::new(topic(&tp("nobody")), QoSPid::ExactlyOnce(pid(21)), "x"),
    );
    // mosquitto 2.0.11 answers Success here; 0x10 would be as valid.
    assert!(
        matches!(rc, ReasonCode::Success | ReasonCode::NoMatchingSubscribers),
        "{rc:?}"
    );

    // No Local: our own publication is not sent back to us.
    let rc = publish_flow(
        &mut a,
        Publish::new(topic(&tp("nl")), QoSPid::AtLeastOnce(pid(22)), "not for me"),
    );
    assert!(!rc.is_error());
    a.assert_quiet("No Local subscription");

    // Topic alias: set alias 1, then publish with an empty topic name and alias 1.
    let mut set = Publish::new(
        topic(&tp("alias/x")),
        QoSPid::AtLeastOnce(pid(23)),
        "alias set",
    );
    set.properties.topic_alias = nz16(1);
    publish_flow(&mut a, set);
    let got = expect_publish(&mut a, &tp("alias/x"));
    assert_eq!(&got.payload[..], b"alias set");
    ack_delivery(&mut a, &got);
    let mut used = Publish::new(topic("unused"), QoSPid::AtLeastOnce(pid(24)), "alias used");
    used.topic = None;
    used.properties.topic_alias = nz16(1);
    publish_flow(&mut a, used);
    let got = expect_publish(&mut a, &tp("alias/x"));
    assert_eq!(&got.payload[..], b"alias used");
    assert_eq!(got.properties.topic_alias, None);
    ack_delivery(&mut a, &got);

    // Retained message; Retain As Published keeps RETAIN on A's live delivery.
    let mut keep = Publish::new(topic(&tp("ret/x")), QoSPid::AtLeastOnce(pid(25)), "kept v5");
    keep.retain = true;
    keep.properties.content_type = Some(s("text/kept"));
    keep.properties.user_properties = user(&[("rk", "rv")]);
    publish_flow(&mut a, keep);
    let live = expect_publish(&mut a, &tp("ret/x"));
    assert!(live.retain, "Retain As Published");
    ack_delivery(&mut a, &live);

    // B: Retain Handling 0 sends it at subscribe time, with its properties.
    let (mut b, _) = broker.session(Connect::new(V5, s("ours-b-v5")), "B", d);
    let sub_ret = |id: u16, rh: RetainHandling, sub_id: Option<SubscriptionId>| Subscribe {
        packet_id: pid(id),
        properties: SubscribeProperties {
            subscription_identifier: sub_id,
            user_properties: Vec::new(),
        },
        filters: vec![(
            filter(&tp("ret/#")),
            SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                retain_handling: rh,
                ..SubscriptionOptions::default()
            },
        )],
    };
    b.send(sub_ret(1, RetainHandling::SendAtSubscribe, Some(sid(7))));
    assert_eq!(
        expect_suback(&mut b, 1).reason_codes,
        [ReasonCode::GrantedQoS1]
    );
    let ret = expect_publish(&mut b, &tp("ret/x"));
    assert!(ret.retain);
    assert_eq!(&ret.payload[..], b"kept v5");
    assert_eq!(
        *ret.properties,
        PublishProperties {
            content_type: Some(s("text/kept")),
            user_properties: user(&[("rk", "rv")]),
            subscription_identifiers: vec![sid(7)],
            ..PublishProperties::default()
        }
    );
    ack_delivery(&mut b, &ret);
    // Retain Handling 1 on an existing subscription: nothing.
    b.send(sub_ret(
        2,
        RetainHandling::SendAtSubscribeIfNew,
        Some(sid(7)),
    ));
    expect_suback(&mut b, 2);
    b.assert_quiet("Retain Handling 1, subscription existed");

    // C: Retain Handling 2: nothing.
    let (mut c, _) = broker.session(Connect::new(V5, s("ours-c-v5")), "C", d);
    c.send(sub_ret(1, RetainHandling::DoNotSend, None));
    expect_suback(&mut c, 1);
    c.assert_quiet("Retain Handling 2");
    c.send(Subscribe {
        packet_id: pid(2),
        properties: SubscribeProperties::default(),
        filters: vec![(
            filter(&tp("will/#")),
            SubscriptionOptions::new(QoS::AtLeastOnce),
        )],
    });
    expect_suback(&mut c, 2);

    // An empty retained payload deletes it; subscribers still get the empty message.
    let mut del = Publish::new(topic(&tp("ret/x")), QoSPid::AtLeastOnce(pid(26)), "");
    del.retain = true;
    publish_flow(&mut a, del);
    for (conn, rap) in [(&mut a, true), (&mut b, false), (&mut c, false)] {
        let live = expect_publish(conn, &tp("ret/x"));
        assert!(live.payload.is_empty());
        assert_eq!(live.retain, rap);
        ack_delivery(conn, &live);
    }
    let (mut f, _) = broker.session(Connect::new(V5, s("ours-f-v5")), "F", d);
    f.send(sub_ret(1, RetainHandling::SendAtSubscribe, None));
    expect_suback(&mut f, 1);
    f.assert_quiet("the retained message was deleted");
    f.send(Disconnect::default());
    f.expect_eof();

    // UNSUBSCRIBE: one filter that exists, one that does not.
    a.send(Unsubscribe {
        packet_id: pid(27),
        properties: UnsubscribeProperties {
            user_properties: user(&[("uk", "uv")]),
        },
        filters: vec![filter(&tp("+/x")), filter(&tp("never/x"))],
    });
    assert_eq!(
        expect_unsuback(&mut a, 27).reason_codes,
        [ReasonCode::Success, ReasonCode::NoSubscriptionExisted]
    );
    let rc = publish_flow(
        &mut a,
        Publish::new(topic(&tp("q1/x")), QoSPid::AtLeastOnce(pid(28)), "unheard"),
    );
    assert_eq!(rc, ReasonCode::NoMatchingSubscribers);
    a.assert_quiet("unsubscribed");

    // DISCONNECT with reason 0x04: the broker publishes the will, with its properties.
    a.send(Disconnect {
        reason_code: ReasonCode::DisconnectWithWill,
        properties: DisconnectProperties {
            reason_string: Some(s("leaving with my will")),
            user_properties: user(&[("dk", "dv")]),
            ..DisconnectProperties::default()
        },
    });
    a.expect_eof();
    let will = expect_publish(&mut c, &tp("will/a"));
    assert_eq!(&will.payload[..], b"a left with its will");
    assert_eq!(will.qos(), QoS::AtLeastOnce);
    let expiry = will
        .properties
        .message_expiry_interval
        .expect("will expiry");
    assert!((1..=600).contains(&expiry));
    assert_eq!(
        *will.properties,
        PublishProperties {
            payload_format_indicator: Some(true),
            message_expiry_interval: Some(expiry),
            response_topic: will_props.response_topic.clone(),
            correlation_data: will_props.correlation_data.clone(),
            user_properties: user(&[("wk", "wv")]),
            content_type: Some(s("text/will")),
            ..PublishProperties::default()
        }
    );
    ack_delivery(&mut c, &will);

    // A persistent session: Clean Start 0 with a Session Expiry Interval.
    let mut dc = Connect::new(V5, s("ours-d-v5"));
    dc.clean_start = false;
    dc.properties.session_expiry_interval = Some(300);
    let (mut dconn, ack) = broker.session(dc.clone(), "D", d);
    assert!(!ack.session_present);
    dconn.send(Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties {
            subscription_identifier: Some(sid(5)),
            user_properties: Vec::new(),
        },
        filters: vec![(
            filter(&tp("sess")),
            SubscriptionOptions::new(QoS::AtLeastOnce),
        )],
    });
    expect_suback(&mut dconn, 1);
    dconn.send(Disconnect::default());
    dconn.expect_eof();
    let mut queued = Publish::new(topic(&tp("sess")), QoSPid::AtLeastOnce(pid(2)), "queued v5");
    queued.properties.message_expiry_interval = Some(100);
    assert_eq!(publish_flow(&mut b, queued), ReasonCode::Success);
    let (mut dconn, ack) = broker.session(dc, "D again", d);
    assert!(ack.session_present);
    let got = expect_publish(&mut dconn, &tp("sess"));
    assert_eq!(&got.payload[..], b"queued v5");
    assert_eq!(got.properties.subscription_identifiers, [sid(5)]);
    ack_delivery(&mut dconn, &got);
    // Ending the session on DISCONNECT.
    dconn.send(Disconnect {
        reason_code: ReasonCode::NORMAL_DISCONNECTION,
        properties: DisconnectProperties {
            session_expiry_interval: Some(0),
            ..DisconnectProperties::default()
        },
    });
    dconn.expect_eof();

    for conn in [&mut b, &mut c] {
        conn.assert_quiet("all messages consumed");
        conn.send(Disconnect::default());
        conn.expect_eof();
    }
}

/// Packets mosquitto sends when it refuses or ends a 5.0 connection decode correctly:
/// CONNACK with an error reason, and DISCONNECT with a reason code.
#[test]
fn our_client_v5_decodes_mosquitto_refusals() {
    let deadline = Deadline::after(BUDGET);
    let Some(tools) = require(&["mosquitto"]) else {
        return;
    };
    let mut broker = Broker::start(&tools, deadline);
    let d = deadline;

    // A topic alias above the broker's Topic Alias Maximum: DISCONNECT 0x94.
    let (mut a, ack) = broker.session(Connect::new(V5, s("ours-alias-v5")), "alias", d);
    let max = ack.properties.topic_alias_maximum.unwrap_or(0);
    let mut p = Publish::new(topic("b/v5/alias"), QoSPid::AtMostOnce, "x");
    p.properties.topic_alias = nz16(max.saturating_add(1));
    a.send(p);
    let disc = expect_disconnect(&mut a);
    assert_eq!(disc.reason_code, ReasonCode::TopicAliasInvalid, "{disc:?}");
    a.expect_eof();

    // A second connection with the same client id takes the session over. The first one
    // may get DISCONNECT 0x8E (mosquitto 2.0.11 just closes it).
    let (mut first, _) = broker.session(Connect::new(V5, s("ours-twin-v5")), "twin 1", d);
    let (mut second, _) = broker.session(Connect::new(V5, s("ours-twin-v5")), "twin 2", d);
    if let Some(p) = first.recv_or_eof() {
        assert_eq!(
            p,
            Packet::from(Disconnect::new(ReasonCode::SessionTakenOver))
        );
        first.expect_eof();
    }
    second.send(Disconnect::default());
    second.expect_eof();

    // An authentication method the broker does not know: CONNACK 0x8C.
    let mut auth = Connect::new(V5, s("ours-auth-v5"));
    auth.properties.authentication_method = Some(s("NO-SUCH-METHOD"));
    let mut conn = broker.connect(V5, "auth", d);
    conn.send(auth);
    let ack = conn.expect("CONNACK", |p| match p {
        Packet::ConnAck(a) => Some(a.clone()),
        _ => None,
    });
    assert_eq!(
        ack.reason_code,
        ReasonCode::BadAuthenticationMethod,
        "{ack:?}"
    );
    assert!(!ack.session_present);
    conn.expect_eof();
}
