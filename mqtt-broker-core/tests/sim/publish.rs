//! Conformance scenarios of PUBLISH: properties forwarded unaltered, message expiry,
//! subscription identifiers of several copies, DUP, unauthorized publications.

use super::*;

/// The copies a 5.0 subscriber gets of a retained QoS 1 message published with
/// `properties`: through a live subscription, from the offline queue of a persistent
/// session, and as the retained message sent on a later SUBSCRIBE.
fn forwarded_copies(properties: PublishProperties) -> [Publish; 3] {
    let mut s = sim();
    s.connect("live", Opts::default());
    s.subscribe("live", "p/#", QoS::AtLeastOnce);
    s.connect("away", v5_persistent(60));
    s.subscribe("away", "p/#", QoS::AtLeastOnce);
    s.disconnect("away", ReasonCode::Success);
    s.connect("pub", Opts::default());
    let mut m = OutgoingMessage::new(
        TopicName::from_static("p/1"),
        QoS::AtLeastOnce,
        Bytes::from_static(b"{}"),
    );
    m.retain = true;
    m.properties = properties.into();
    s.publish_message("pub", m);
    s.connect("away", v5_persistent(60));
    s.connect("late", Opts::default());
    s.subscribe("late", "p/#", QoS::AtLeastOnce);
    assert!(s.last("late").retain);
    ["live", "away", "late"].map(|name| {
        assert_eq!(s.payloads(name), ["{}"], "{name}");
        s.last(name).clone()
    })
}

/// 5.0 [MQTT-3.3.2-4]: the Payload Format Indicator reaches subscribers unaltered, live,
/// queued and retained; its absence too.
#[test]
fn payload_format_indicator_is_forwarded_unaltered_mqtt_3_3_2_4() {
    for pfi in [Some(true), Some(false), None] {
        let props = PublishProperties {
            payload_format_indicator: pfi,
            ..PublishProperties::default()
        };
        for copy in forwarded_copies(props) {
            assert_eq!(copy.properties.payload_format_indicator, pfi);
        }
    }
}

/// 5.0 [MQTT-3.3.2-15] [MQTT-3.3.2-16]: Response Topic and Correlation Data reach
/// subscribers unaltered, live, queued and retained.
#[test]
fn response_topic_and_correlation_data_are_forwarded_unaltered_mqtt_3_3_2_15_and_16() {
    let props = PublishProperties {
        response_topic: Some(TopicName::from_static("replies/Client-7/ü")),
        correlation_data: Some(Bytes::from_static(b"\x00\xffid-42")),
        ..PublishProperties::default()
    };
    for copy in forwarded_copies(props.clone()) {
        assert_eq!(copy.properties.response_topic, props.response_topic);
        assert_eq!(copy.properties.correlation_data, props.correlation_data);
    }
}

/// 5.0 [MQTT-3.3.2-17] [MQTT-3.3.2-18]: every User Property reaches subscribers, repeated
/// names and pairs included, in the order the publisher gave, live, queued and retained.
#[test]
fn user_properties_are_forwarded_all_and_in_order_mqtt_3_3_2_17_and_18() {
    let pairs = [("z", "1"), ("a", "2"), ("z", "3"), ("z", "1"), ("", "")];
    let props = PublishProperties {
        user_properties: pairs.iter().map(|(k, v)| (string(k), string(v))).collect(),
        ..PublishProperties::default()
    };
    for copy in forwarded_copies(props.clone()) {
        assert_eq!(copy.properties.user_properties, props.user_properties);
    }
}

/// 5.0 [MQTT-3.3.2-20]: the Content Type reaches subscribers unaltered, live, queued and
/// retained.
#[test]
fn content_type_is_forwarded_unaltered_mqtt_3_3_2_20() {
    let props = PublishProperties {
        content_type: Some(string("application/json; charset=UTF-8")),
        ..PublishProperties::default()
    };
    for copy in forwarded_copies(props.clone()) {
        assert_eq!(copy.properties.content_type, props.content_type);
    }
}

/// A persistent subscriber offline for 6 s while QoS 1 messages with a Message Expiry
/// Interval of 5 s ("short") and 100 s ("long") are published, each also retained on its
/// own topic; then it reconnects and a new client subscribes to the retained ones. Returns
/// what the persistent subscriber and the new one received.
fn expiry_scenario() -> (Vec<Publish>, Vec<Publish>, Sim) {
    let mut s = sim();
    s.connect("away", v5_persistent(60));
    s.subscribe("away", "e/#", QoS::AtLeastOnce);
    s.disconnect("away", ReasonCode::Success);
    s.connect("pub", Opts::default());
    for (topic, secs) in [("e/short", 5), ("e/long", 100)] {
        let mut m = OutgoingMessage::new(
            TopicName::try_from(topic).unwrap(),
            QoS::AtLeastOnce,
            Bytes::from(topic.to_owned()),
        );
        m.retain = true;
        m.properties.message_expiry_interval = Some(secs);
        s.publish_message("pub", m);
    }
    s.advance(Duration::from_secs(6));
    s.connect("away", v5_persistent(60));
    s.connect("late", Opts::default());
    s.subscribe("late", "e/#", QoS::AtLeastOnce);
    let away = s.received["away"].clone();
    let late = s.received["late"].clone();
    (away, late, s)
}

/// 5.0 [MQTT-3.3.2-5]: a copy whose Message Expiry Interval passed before its delivery
/// started is deleted: neither the offline queue nor the retained store hands it out after
/// 6 s, while the message of 100 s still comes both ways.
#[test]
fn copies_whose_expiry_passed_are_deleted_mqtt_3_3_2_5() {
    let (away, late, _) = expiry_scenario();
    let payloads = |v: &[Publish]| -> Vec<Bytes> { v.iter().map(|p| p.payload.clone()).collect() };
    assert_eq!(payloads(&away), ["e/long"]);
    assert_eq!(payloads(&late), ["e/long"]);
}

/// 5.0 [MQTT-3.3.2-6]: the Message Expiry Interval sent on is the one received minus the
/// time the message waited in the broker: 94 s after 6 s offline or retained.
#[test]
fn forwarded_expiry_is_the_time_left_mqtt_3_3_2_6() {
    let (away, late, mut s) = expiry_scenario();
    assert_eq!(away[0].properties.message_expiry_interval, Some(94));
    assert_eq!(late[0].properties.message_expiry_interval, Some(94));
    // Sent on at once, it keeps the whole interval.
    s.subscribe("late", "now", QoS::AtLeastOnce);
    let mut m = OutgoingMessage::new(
        TopicName::from_static("now"),
        QoS::AtLeastOnce,
        Bytes::from_static(b"x"),
    );
    m.properties.message_expiry_interval = Some(30);
    s.publish_message("pub", m);
    assert_eq!(s.last("late").properties.message_expiry_interval, Some(30));
}

/// 5.0 [MQTT-3.3.4-5]: where the broker sends one message to a client in several
/// PUBLISH packets, each carries the identifier of its own subscription. Routed messages go
/// as one copy per client with every identifier ([MQTT-3.3.4-4], shown by
/// `overlapping_subscriptions_deliver_one_copy_at_the_highest_qos_with_all_ids`); several
/// copies arise when a retained message is sent for each SUBSCRIBE that matches it.
#[test]
fn retained_copies_for_each_subscription_carry_its_own_identifier_mqtt_3_3_4_5() {
    let mut s = sim();
    s.connect("pub", Opts::default());
    s.publish("pub", "a/b", QoS::AtLeastOnce, true, "kept");
    s.connect("c", Opts::default());
    let o = SubscriptionOptions::new(QoS::AtLeastOnce);
    s.subscribe_with("c", "a/+", o, Some(1));
    s.subscribe_with("c", "a/b", o, Some(2));
    s.subscribe_with("c", "#", o, None);
    let ids: Vec<Vec<u32>> = s.received["c"]
        .iter()
        .map(|p| {
            assert_eq!(p.payload, "kept");
            let ids = &p.properties.subscription_identifiers;
            ids.iter().map(|i| i.get()).collect()
        })
        .collect();
    assert_eq!(ids, [vec![1], vec![2], vec![]]);
}

/// 3.1.1 [MQTT-3.3.1-3]: the DUP flag of a forwarded message says whether the broker's own
/// PUBLISH is a retransmission; it is never copied from the incoming PUBLISH. A publisher's
/// resent PUBLISH (DUP 1) reaches the subscriber as a first transmission (DUP 0).
#[test]
fn dup_is_not_copied_from_the_incoming_publish_mqtt_3_3_1_3() {
    let mut s = sim();
    s.tracing = true;
    s.connect("sub", v311());
    s.subscribe("sub", "t", QoS::AtLeastOnce);
    let persistent = || Opts {
        clean: false,
        ..v311()
    };
    let conn = s.connect("pub", persistent());
    let now = s.now;
    let m = OutgoingMessage::new(
        TopicName::from_static("t"),
        QoS::AtLeastOnce,
        Bytes::from_static(b"m"),
    );
    s.client("pub").publish(now, m).unwrap();
    // The PUBLISH is written, then lost with the transport; the resumed session resends it.
    s.process();
    assert!(s.links[&conn].in_transit(Dir::ToServer) > 0);
    s.cut_conn(conn);
    s.connect("pub", persistent());
    let dups: Vec<bool> = s
        .trace
        .iter()
        .filter_map(|t| match t {
            common::Trace::Publish { publish, .. } => Some(publish.dup),
            _ => None,
        })
        .collect();
    assert_eq!(dups, [true], "the broker received a retransmission");
    assert_eq!(s.payloads("sub"), ["m"]);
    assert!(!s.last("sub").dup);
}

/// 3.1.1 [MQTT-3.3.5-2]: a PUBLISH the client may not make (to `$SYS`) is acknowledged
/// normally (PUBACK, or PUBREC then PUBCOMP) and the connection stays open; the message
/// goes nowhere.
#[test]
fn unauthorized_publish_is_acknowledged_normally_mqtt_3_3_5_2() {
    let mut s = sim();
    s.connect("sub", Opts::default());
    s.subscribe("sub", "$SYS/#", QoS::AtLeastOnce);
    s.connect("c", v311());
    s.publish("c", "$SYS/x", QoS::AtLeastOnce, false, "1");
    s.publish("c", "$SYS/y", QoS::ExactlyOnce, false, "2");
    let delivered: Vec<ReasonCode> = s.client_events["c"]
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Delivered { reason_code, .. } => Some(*reason_code),
            _ => None,
        })
        .collect();
    assert_eq!(delivered, [ReasonCode::Success, ReasonCode::Success]);
    assert!(s.client("c").is_connected());
    assert!(s.payloads("sub").is_empty());
}
