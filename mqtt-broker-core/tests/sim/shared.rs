//! Conformance scenarios of shared subscriptions (5.0 section 4.8.2).

use super::*;

/// Two members of `$share/g/jobs` (persistent sessions of `expiry` seconds, QoS 2, the
/// acknowledgements as `auto_ack` says) and a publisher. A QoS 2 message is published and
/// written to the member it is given to, not yet delivered. Returns the chosen member and
/// the other one.
fn shared_qos2_in_flight(s: &mut Sim, expiry: u32, auto_ack: bool) -> (&'static str, &'static str) {
    for name in ["w1", "w2"] {
        s.connect(
            name,
            Opts {
                auto_ack,
                ..v5_persistent(expiry)
            },
        );
        s.subscribe(name, "$share/g/jobs", QoS::ExactlyOnce);
    }
    let pub_conn = s.connect("pub", Opts::default());
    let now = s.now;
    let m = OutgoingMessage::new(
        TopicName::from_static("jobs"),
        QoS::ExactlyOnce,
        Bytes::from_static(b"job0"),
    );
    s.client("pub").publish(now, m).unwrap();
    s.process();
    s.deliver(pub_conn, Dir::ToServer, usize::MAX);
    let written = |s: &Sim, name: &str| {
        let conn = s.current(name).unwrap();
        s.links[&conn].in_transit(Dir::ToClient) > 0
    };
    match (written(s, "w1"), written(s, "w2")) {
        (true, false) => ("w1", "w2"),
        (false, true) => ("w2", "w1"),
        other => panic!("one member gets the message: {other:?}"),
    }
}

/// 5.0 [MQTT-4.8.2-4]: a QoS 2 message to a shared subscriber whose connection breaks
/// before the delivery completes is delivered to that client when it reconnects, and to
/// no other member.
#[test]
fn interrupted_shared_qos2_delivery_completes_on_reconnect_mqtt_4_8_2_4() {
    let mut s = sim();
    let (chosen, other) = shared_qos2_in_flight(&mut s, 60, true);
    s.cut(chosen);
    s.advance(Duration::from_secs(5));
    assert!(s.payloads(chosen).is_empty());
    assert!(s.payloads(other).is_empty());
    s.connect(chosen, v5_persistent(60));
    assert_eq!(s.payloads(chosen), ["job0"]);
    assert_eq!(s.last(chosen).qos(), QoS::ExactlyOnce);
    assert!(s.payloads(other).is_empty());
}

/// 5.0 [MQTT-4.8.2-5]: if that client's session ends before it reconnects, the message goes
/// to no other member (nor to a new session of the same client).
#[test]
fn shared_qos2_message_of_an_ended_session_goes_to_no_one_mqtt_4_8_2_5() {
    let mut s = sim();
    let (chosen, other) = shared_qos2_in_flight(&mut s, 5, true);
    s.cut(chosen);
    assert_eq!(s.broker.session_count(), 3);
    s.advance(Duration::from_secs(5));
    assert_eq!(
        s.broker.session_count(),
        2,
        "the chosen member's session ended"
    );
    s.connect(chosen, v5_persistent(5));
    s.advance(Duration::from_secs(5));
    assert!(s.payloads(chosen).is_empty());
    assert!(s.payloads(other).is_empty());
    // The group still delivers new messages.
    s.publish("pub", "jobs", QoS::ExactlyOnce, false, "job1");
    let total = s.payloads(chosen).len() + s.payloads(other).len();
    assert_eq!(total, 1);
}

/// 5.0 [MQTT-4.8.2-6]: a shared subscriber answering with PUBACK or PUBREC of 0x80 or above
/// ends the delivery: the message is not sent to another member, nor again to it.
#[test]
fn shared_delivery_refused_by_its_member_is_discarded_mqtt_4_8_2_6() {
    for (qos, code) in [
        (QoS::AtLeastOnce, ReasonCode::UnspecifiedError),
        (QoS::ExactlyOnce, ReasonCode::ImplementationSpecificError),
    ] {
        let mut s = sim();
        for name in ["w1", "w2"] {
            s.connect(
                name,
                Opts {
                    auto_ack: false,
                    ..v5_persistent(60)
                },
            );
            s.subscribe(name, "$share/g/jobs", QoS::ExactlyOnce);
        }
        s.connect("pub", Opts::default());
        s.publish("pub", "jobs", qos, false, "job0");
        let (chosen, other) = if s.payloads("w1").is_empty() {
            ("w2", "w1")
        } else {
            ("w1", "w2")
        };
        assert_eq!(s.payloads(chosen), ["job0"]);
        let id = s.last(chosen).packet_id().unwrap();
        let now = s.now;
        s.client(chosen).acknowledge(now, id, code).unwrap();
        s.run();
        // Reconnecting resends nothing; the other member never gets it.
        s.disconnect(chosen, ReasonCode::Success);
        s.advance(Duration::from_secs(1));
        s.connect(
            chosen,
            Opts {
                auto_ack: false,
                ..v5_persistent(60)
            },
        );
        assert_eq!(s.payloads(chosen), ["job0"], "{qos:?}");
        assert!(s.payloads(other).is_empty(), "{qos:?}");
        assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
    }
}
