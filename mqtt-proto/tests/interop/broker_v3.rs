//! B. Our codec -> a real mosquitto broker, in MQTT 3.1 and 3.1.1.

use bytes::Bytes;
use mqtt_proto::{
    Connect, Disconnect, ProtocolVersion, Publish, QoS, QoSPid, ReasonCode, Subscribe,
    SubscribeProperties, SubscriptionOptions, Unsubscribe, UnsubscribeProperties, Will,
    WillProperties,
};

use crate::flows::{
    BUDGET, ack_delivery, expect_publish, expect_suback, expect_unsuback, publish_flow,
};
use crate::support::{Broker, Deadline, filter, pid, require, s, tag, topic};

use ProtocolVersion::{V3_1, V3_1_1};

/// CONNECT, SUBSCRIBE, PUBLISH at every QoS, retained messages, UNSUBSCRIBE, will, persistent
/// session, PINGREQ and DISCONNECT in MQTT 3.1 or 3.1.1.
fn broker_v3(version: ProtocolVersion) {
    let deadline = Deadline::after(BUDGET);
    let Some(tools) = require(&["mosquitto"]) else {
        return;
    };
    let mut broker = Broker::start(&tools, deadline);
    let t = tag(version);
    let tp = |suffix: &str| format!("b/{t}/{suffix}");
    let d = deadline;

    // A: credentials (binary password) and a will.
    let mut connect = Connect::new(version, s(&format!("ours-a-{t}")));
    connect.keep_alive = 30;
    connect.username = Some(s("user"));
    connect.password = Some(Bytes::from_static(b"pw\x00\xff"));
    connect.will = Some(Will {
        topic: topic(&tp("will/a")),
        payload: Bytes::from_static(b"a died"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: WillProperties::default(),
    });
    let (mut a, ack) = broker.session(connect, "A", d);
    assert!(!ack.session_present);
    assert!(ack.properties.is_empty());

    a.send(Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: vec![
            (
                filter(&tp("+/x")),
                SubscriptionOptions::new(QoS::ExactlyOnce),
            ),
            (
                filter(&tp("one")),
                SubscriptionOptions::new(QoS::AtLeastOnce),
            ),
            (
                filter(&tp("zero/#")),
                SubscriptionOptions::new(QoS::AtMostOnce),
            ),
        ],
    });
    let suback = expect_suback(&mut a, 1);
    assert_eq!(
        suback.reason_codes,
        [
            ReasonCode::GrantedQoS2,
            ReasonCode::GrantedQoS1,
            ReasonCode::GRANTED_QOS_0
        ]
    );

    // Each QoS, routed back to our own subscription.
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let q = qos.as_u8();
        let name = tp(&format!("q{q}/x"));
        let payload = format!("payload at QoS {q}");
        let id = pid(10 + i as u16);
        let rc = publish_flow(
            &mut a,
            Publish::new(topic(&name), QoSPid::new(qos, id), payload.clone()),
        );
        assert_eq!(rc, ReasonCode::Success);
        let got = expect_publish(&mut a, &name);
        assert_eq!(got.qos(), qos);
        assert_eq!(&got.payload[..], payload.as_bytes());
        assert!(!got.retain && !got.dup);
        ack_delivery(&mut a, &got);
    }

    // Delivery QoS is the lower of the publication's and the subscription's.
    publish_flow(
        &mut a,
        Publish::new(topic(&tp("one")), QoSPid::ExactlyOnce(pid(20)), "down to 1"),
    );
    let got = expect_publish(&mut a, &tp("one"));
    assert_eq!(got.qos(), QoS::AtLeastOnce);
    ack_delivery(&mut a, &got);
    publish_flow(
        &mut a,
        Publish::new(
            topic(&tp("zero/deep")),
            QoSPid::AtLeastOnce(pid(21)),
            "down to 0",
        ),
    );
    let got = expect_publish(&mut a, &tp("zero/deep"));
    assert_eq!(got.qos_pid, QoSPid::AtMostOnce);
    a.assert_quiet("every publication was consumed");

    // A retained message: live delivery has RETAIN clear [MQTT-3.3.1-9].
    let mut keep = Publish::new(topic(&tp("r/x")), QoSPid::AtLeastOnce(pid(22)), "kept");
    keep.retain = true;
    publish_flow(&mut a, keep);
    let live = expect_publish(&mut a, &tp("r/x"));
    assert!(!live.retain);
    ack_delivery(&mut a, &live);

    // B subscribes afterwards and gets it with RETAIN set [MQTT-3.3.1-8].
    let (mut b, _) = broker.session(Connect::new(version, s(&format!("ours-b-{t}"))), "B", d);
    b.send(Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: vec![(
            filter(&tp("r/+")),
            SubscriptionOptions::new(QoS::AtLeastOnce),
        )],
    });
    assert_eq!(
        expect_suback(&mut b, 1).reason_codes,
        [ReasonCode::GrantedQoS1]
    );
    let ret = expect_publish(&mut b, &tp("r/x"));
    assert!(ret.retain);
    assert_eq!(&ret.payload[..], b"kept");
    assert_eq!(ret.qos(), QoS::AtLeastOnce);
    ack_delivery(&mut b, &ret);
    b.assert_quiet("one retained message only");

    // A retained PUBLISH with an empty payload deletes it, and is delivered as usual.
    let mut del = Publish::new(topic(&tp("r/x")), QoSPid::AtLeastOnce(pid(23)), "");
    del.retain = true;
    publish_flow(&mut a, del);
    for conn in [&mut a, &mut b] {
        let live = expect_publish(conn, &tp("r/x"));
        assert!(live.payload.is_empty() && !live.retain);
        ack_delivery(conn, &live);
    }
    let (mut c, _) = broker.session(Connect::new(version, s(&format!("ours-c-{t}"))), "C", d);
    c.send(Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: vec![
            (
                filter(&tp("r/+")),
                SubscriptionOptions::new(QoS::AtLeastOnce),
            ),
            (
                filter(&tp("will/+")),
                SubscriptionOptions::new(QoS::AtLeastOnce),
            ),
        ],
    });
    assert_eq!(
        expect_suback(&mut c, 1).reason_codes,
        [ReasonCode::GrantedQoS1, ReasonCode::GrantedQoS1]
    );
    c.assert_quiet("the retained message was deleted");

    // UNSUBSCRIBE: afterwards nothing comes back.
    a.send(Unsubscribe {
        packet_id: pid(24),
        properties: UnsubscribeProperties::default(),
        filters: vec![filter(&tp("+/x")), filter(&tp("one"))],
    });
    let unsuback = expect_unsuback(&mut a, 24);
    assert!(unsuback.reason_codes.is_empty() && unsuback.properties.is_empty());
    publish_flow(
        &mut a,
        Publish::new(topic(&tp("q1/x")), QoSPid::AtLeastOnce(pid(25)), "unheard"),
    );
    a.assert_quiet("unsubscribed");

    // A's connection dies without DISCONNECT: the broker publishes its will.
    a.abort();
    let will = expect_publish(&mut c, &tp("will/a"));
    assert_eq!(&will.payload[..], b"a died");
    assert_eq!(will.qos(), QoS::AtLeastOnce);
    assert!(!will.retain);
    ack_delivery(&mut c, &will);

    // A persistent session keeps a subscription and queues a QoS 1 message for it.
    let mut dc = Connect::new(version, s(&format!("ours-d-{t}")));
    dc.clean_start = false;
    let (mut dconn, ack) = broker.session(dc.clone(), "D", d);
    assert!(!ack.session_present);
    dconn.send(Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: vec![(
            filter(&tp("sess")),
            SubscriptionOptions::new(QoS::AtLeastOnce),
        )],
    });
    expect_suback(&mut dconn, 1);
    dconn.send(Disconnect::default());
    dconn.expect_eof();
    publish_flow(
        &mut b,
        Publish::new(topic(&tp("sess")), QoSPid::AtLeastOnce(pid(2)), "queued"),
    );
    let (mut dconn, ack) = broker.session(dc, "D again", d);
    // 3.1 has no Session Present flag; 3.1.1 sets it [MQTT-3.2.2-2].
    assert_eq!(ack.session_present, version == V3_1_1);
    let queued = expect_publish(&mut dconn, &tp("sess"));
    assert_eq!(&queued.payload[..], b"queued");
    assert_eq!(queued.qos(), QoS::AtLeastOnce);
    ack_delivery(&mut dconn, &queued);

    // PINGREQ / PINGRESP, then DISCONNECT: the broker closes the connection.
    for conn in [&mut b, &mut c, &mut dconn] {
        conn.assert_quiet("all messages consumed");
        conn.send(Disconnect::default());
        conn.expect_eof();
    }
}

#[test]
fn our_client_v31_against_mosquitto() {
    broker_v3(V3_1);
}

#[test]
fn our_client_v311_against_mosquitto() {
    broker_v3(V3_1_1);
}
