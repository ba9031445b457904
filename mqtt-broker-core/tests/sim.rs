//! Deterministic simulation: one `Broker`, its `ServerConnection`s and `ClientConnection`
//! clients joined by in-memory wires, on a virtual clock (the harness is in `common`).

mod common;

use std::time::Duration;

use bytes::Bytes;
use mqtt_broker_core::BrokerConfig;
use mqtt_proto::{
    ConnAck, Connect, MqttString, ProtocolVersion, Publish, PublishProperties, QoS, ReasonCode,
    SubscriptionOptions, TopicName, Will,
};
use mqtt_session::{ClientEvent, CloseReason, OutgoingMessage};

use common::{Dir, Opts, Sim, sim};

#[path = "sim/connect.rs"]
mod connect;
#[path = "sim/publish.rs"]
mod publish;
#[path = "sim/shared.rs"]
mod shared;
#[path = "sim/subscribe.rs"]
mod subscribe;

#[test]
fn messages_reach_matching_subscribers_at_the_lower_qos() {
    let mut s = sim();
    s.connect("sub", Opts::default());
    s.connect("pub", Opts::default());
    s.subscribe("sub", "a/+", QoS::AtLeastOnce);
    s.publish("pub", "a/b", QoS::ExactlyOnce, false, "hello");
    s.publish("pub", "x/y", QoS::AtLeastOnce, false, "nobody");
    assert_eq!(s.payloads("sub"), ["hello"]);
    assert_eq!(s.last("sub").qos(), QoS::AtLeastOnce);
    assert!(!s.last("sub").retain);
}

#[test]
fn no_matching_subscribers_is_reported_in_v5_puback() {
    let mut s = sim();
    s.connect("pub", Opts::default());
    s.publish("pub", "x/y", QoS::AtLeastOnce, false, "nobody");
    let events = &s.client_events["pub"];
    assert!(
        events.iter().any(|e| matches!(
            e,
            ClientEvent::Delivered {
                reason_code: ReasonCode::NoMatchingSubscribers,
                ..
            }
        )),
        "{events:?}"
    );
}

#[test]
fn retained_messages_are_sent_on_subscribe_and_deleted_by_an_empty_payload() {
    let mut s = sim();
    s.connect("pub", Opts::default());
    s.publish("pub", "r/1", QoS::AtLeastOnce, true, "kept");
    s.connect("sub", Opts::default());
    s.subscribe("sub", "r/#", QoS::AtLeastOnce);
    assert_eq!(s.payloads("sub"), ["kept"]);
    assert!(s.last("sub").retain, "retained delivery has RETAIN 1");
    // An empty retained payload deletes it [MQTT-3.3.1-6]: a new subscriber gets nothing.
    s.publish("pub", "r/1", QoS::AtLeastOnce, true, "");
    assert_eq!(s.broker.retained_count(), 0);
    s.connect("late", Opts::default());
    s.subscribe("late", "r/#", QoS::AtLeastOnce);
    assert!(s.payloads("late").is_empty());
}

#[test]
fn wildcards_do_not_match_dollar_topics_and_clients_cannot_publish_to_sys() {
    let mut s = sim();
    s.connect("sub", Opts::default());
    s.subscribe("sub", "#", QoS::AtMostOnce);
    s.connect("pub", Opts::default());
    s.publish("pub", "$SYS/broker/fake", QoS::AtLeastOnce, false, "x");
    s.publish("pub", "$other/x", QoS::AtMostOnce, false, "y");
    assert!(s.payloads("sub").is_empty());
    let events = &s.client_events["pub"];
    assert!(events.iter().any(|e| matches!(
        e,
        ClientEvent::Delivered {
            reason_code: ReasonCode::NotAuthorized,
            ..
        }
    )));
}

#[test]
fn persistent_session_queues_while_offline_mqtt_3_1_2_5() {
    let mut s = sim();
    let v311 = || Opts {
        version: ProtocolVersion::V3_1_1,
        clean: false,
        ..Opts::default()
    };
    s.connect(
        "sub",
        Opts {
            clean: true,
            ..v311()
        },
    );
    s.subscribe("sub", "q", QoS::AtLeastOnce);
    s.disconnect("sub", ReasonCode::Success);
    // Clean Session 1 ended that session; reconnect persistent and subscribe again.
    s.connect("sub", v311());
    s.subscribe("sub", "q", QoS::AtLeastOnce);
    s.disconnect("sub", ReasonCode::Success);
    s.connect("pub", Opts::default());
    s.publish("pub", "q", QoS::AtLeastOnce, false, "while-away-1");
    s.publish("pub", "q", QoS::AtMostOnce, false, "qos0-dropped");
    s.publish("pub", "q", QoS::AtLeastOnce, false, "while-away-2");
    s.connect("sub", v311());
    let connected = s.client_events["sub"].iter().rev().find_map(|e| match e {
        ClientEvent::Connected(ack) => Some(ack.session_present),
        _ => None,
    });
    assert_eq!(connected, Some(true));
    assert_eq!(s.payloads("sub"), ["while-away-1", "while-away-2"]);
}

#[test]
fn will_is_published_on_broken_connection_not_after_disconnect_mqtt_3_1_2_8() {
    let will = || Will {
        topic: TopicName::from_static("wills/c"),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    };
    let mut s = sim();
    s.connect("watch", Opts::default());
    s.subscribe("watch", "wills/#", QoS::AtLeastOnce);
    s.connect(
        "c",
        Opts {
            will: Some(will()),
            ..Opts::default()
        },
    );
    s.disconnect("c", ReasonCode::Success);
    assert!(
        s.payloads("watch").is_empty(),
        "normal DISCONNECT discards the will"
    );
    s.connect(
        "c",
        Opts {
            will: Some(will()),
            ..Opts::default()
        },
    );
    s.cut("c");
    assert_eq!(s.payloads("watch"), ["gone"]);
    // DISCONNECT with 0x04 asks for the will.
    s.connect(
        "c",
        Opts {
            will: Some(will()),
            ..Opts::default()
        },
    );
    s.disconnect("c", ReasonCode::DisconnectWithWill);
    assert_eq!(s.payloads("watch"), ["gone", "gone"]);
}

#[test]
fn will_delay_is_cancelled_by_a_reconnect_in_time_mqtt_3_1_3_9() {
    let mut will = Will {
        topic: TopicName::from_static("wills/c"),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Default::default(),
    };
    will.properties.will_delay_interval = Some(5);
    let opts = || Opts {
        clean: false,
        session_expiry: Some(60),
        will: Some(will.clone()),
        ..Opts::default()
    };
    let mut s = sim();
    s.connect("watch", Opts::default());
    s.subscribe("watch", "wills/#", QoS::AtMostOnce);
    s.connect("c", opts());
    s.cut("c");
    s.advance(Duration::from_secs(4));
    s.connect("c", opts());
    s.advance(Duration::from_secs(10));
    assert!(
        s.payloads("watch").is_empty(),
        "reconnected within the delay"
    );
    s.cut("c");
    s.advance(Duration::from_secs(4));
    assert!(s.payloads("watch").is_empty());
    s.advance(Duration::from_secs(1));
    assert_eq!(s.payloads("watch"), ["gone"]);
}

#[test]
fn take_over_closes_the_old_connection_with_0x8e_mqtt_3_1_4_3() {
    let mut s = sim();
    let opts = || Opts {
        clean: false,
        session_expiry: Some(60),
        ..Opts::default()
    };
    let first = s.connect("c", opts());
    s.subscribe("c", "t", QoS::AtLeastOnce);
    let second = s.connect("c", opts());
    assert_ne!(first, second);
    assert!(s.links[&first].closed);
    let old_events = &s.client_events["c"];
    assert!(old_events.iter().any(
        |e| matches!(e, ClientEvent::Disconnect(d) if d.reason_code == ReasonCode::SessionTakenOver)
    ));
    // The session, with its subscription, moved to the new connection.
    assert!(s.links[&second].client.is_connected());
    s.connect("pub", Opts::default());
    s.publish("pub", "t", QoS::AtLeastOnce, false, "to-new");
    assert_eq!(s.payloads("c"), ["to-new"]);
}

#[test]
fn no_local_keeps_own_messages_mqtt_3_8_3_3() {
    let mut s = sim();
    s.connect("c", Opts::default());
    let mut o = SubscriptionOptions::new(QoS::AtMostOnce);
    o.no_local = true;
    s.subscribe_with("c", "t", o, None);
    s.subscribe("c", "u", QoS::AtMostOnce);
    s.publish("c", "t", QoS::AtMostOnce, false, "mine");
    s.publish("c", "u", QoS::AtMostOnce, false, "echo");
    assert_eq!(s.payloads("c"), ["echo"]);
}

#[test]
fn overlapping_subscriptions_deliver_one_copy_at_the_highest_qos_with_all_ids() {
    let mut s = sim();
    s.connect("c", Opts::default());
    s.subscribe_with(
        "c",
        "a/+",
        SubscriptionOptions::new(QoS::AtMostOnce),
        Some(1),
    );
    s.subscribe_with(
        "c",
        "a/b",
        SubscriptionOptions::new(QoS::ExactlyOnce),
        Some(2),
    );
    s.connect("pub", Opts::default());
    s.publish("pub", "a/b", QoS::ExactlyOnce, false, "once");
    assert_eq!(s.payloads("c"), ["once"]);
    let p = s.last("c");
    assert_eq!(p.qos(), QoS::ExactlyOnce);
    let mut ids: Vec<u32> = p
        .properties
        .subscription_identifiers
        .iter()
        .map(|i| i.get())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2]);
}

#[test]
fn shared_subscription_delivers_to_one_member_round_robin() {
    let mut s = sim();
    s.connect("w1", Opts::default());
    s.connect("w2", Opts::default());
    s.subscribe("w1", "$share/g/jobs/#", QoS::AtLeastOnce);
    s.subscribe("w2", "$share/g/jobs/#", QoS::AtLeastOnce);
    s.connect("pub", Opts::default());
    for i in 0..4 {
        s.publish("pub", "jobs/x", QoS::AtLeastOnce, false, &format!("job{i}"));
    }
    assert_eq!(s.payloads("w1").len(), 2);
    assert_eq!(s.payloads("w2").len(), 2);
}

/// A member whose in-flight window is full (it stopped acknowledging) is passed over while
/// another member has room, instead of having messages queue up behind its window.
#[test]
fn shared_subscription_skips_a_member_whose_window_is_full() {
    let mut s = sim();
    let rm1 = || Opts {
        version: ProtocolVersion::V5,
        receive_maximum: Some(1),
        ..Opts::default()
    };
    let stuck = s.connect("w1", rm1());
    s.connect("w2", rm1());
    s.subscribe("w1", "$share/g/jobs/#", QoS::AtLeastOnce);
    s.subscribe("w2", "$share/g/jobs/#", QoS::AtLeastOnce);
    // w1's client vanishes: its first message stays unacknowledged and fills its window.
    s.kill_client(stuck);
    s.connect("pub", Opts::default());
    for i in 0..5 {
        s.publish("pub", "jobs/x", QoS::AtLeastOnce, false, &format!("job{i}"));
    }
    assert!(s.links[&stuck].server.is_window_full());
    assert_eq!(s.payloads("w2"), ["job1", "job2", "job3", "job4"]);
}

/// [MQTT-4.8.2-3]: each member of a group receives at the QoS it was granted.
#[test]
fn shared_subscribers_receive_at_their_own_granted_qos_mqtt_4_8_2_3() {
    let mut s = sim();
    let v5 = || Opts {
        version: ProtocolVersion::V5,
        ..Opts::default()
    };
    s.connect("low", v5());
    s.connect("high", v5());
    s.subscribe("low", "$share/g/jobs/#", QoS::AtMostOnce);
    s.subscribe("high", "$share/g/jobs/#", QoS::ExactlyOnce);
    s.connect("pub", Opts::default());
    for i in 0..4 {
        s.publish("pub", "jobs/x", QoS::ExactlyOnce, false, &format!("job{i}"));
    }
    let qos = |name: &str| -> Vec<QoS> { s.received[name].iter().map(|p| p.qos()).collect() };
    assert_eq!(qos("low"), [QoS::AtMostOnce, QoS::AtMostOnce]);
    assert_eq!(qos("high"), [QoS::ExactlyOnce, QoS::ExactlyOnce]);
}

#[test]
fn session_expiry_ends_an_offline_session() {
    let mut s = sim();
    let opts = || Opts {
        clean: false,
        session_expiry: Some(10),
        ..Opts::default()
    };
    s.connect("c", opts());
    s.subscribe("c", "t", QoS::AtLeastOnce);
    s.cut("c");
    assert_eq!(s.broker.session_count(), 1);
    s.advance(Duration::from_secs(9));
    assert_eq!(s.broker.session_count(), 1);
    s.advance(Duration::from_secs(1));
    assert_eq!(s.broker.session_count(), 0);
    s.connect("c", opts());
    let present = s.client_events["c"].iter().rev().find_map(|e| match e {
        ClientEvent::Connected(ack) => Some(ack.session_present),
        _ => None,
    });
    assert_eq!(present, Some(false));
}

#[test]
fn sys_topics_are_published_at_the_interval() {
    let mut s = Sim::new(BrokerConfig {
        sys_interval: Some(Duration::from_secs(10)),
        ..BrokerConfig::default()
    });
    s.connect("c", Opts::default());
    s.subscribe("c", "$SYS/broker/clients/connected", QoS::AtMostOnce);
    s.advance(Duration::from_secs(10));
    assert_eq!(s.payloads("c"), ["1"]);
}

#[test]
fn empty_client_id_gets_an_assigned_identifier_mqtt_3_2_2_16() {
    let mut s = sim();
    s.connect("", Opts::default());
    let assigned = s.client_events[""].iter().find_map(|e| match e {
        ClientEvent::Connected(ack) => ack.properties.assigned_client_identifier.clone(),
        _ => None,
    });
    assert!(assigned.is_some_and(|id| !id.is_empty()));
}

#[test]
fn graceful_shutdown_disconnects_with_0x8b_and_settles_wills() {
    let mut will = Will {
        topic: TopicName::from_static("wills/c"),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Default::default(),
    };
    will.properties.will_delay_interval = Some(3600);
    let mut s = sim();
    s.connect(
        "c",
        Opts {
            clean: false,
            session_expiry: Some(7200),
            will: Some(will),
            ..Opts::default()
        },
    );
    s.connect("d", Opts::default());
    let now = s.now;
    s.broker.begin_shutdown(now);
    s.run();
    for name in ["c", "d"] {
        let events = &s.client_events[name];
        assert!(
            events.iter().any(|e| matches!(e, ClientEvent::Disconnect(d) if d.reason_code == ReasonCode::ServerShuttingDown)),
            "{name}: {events:?}"
        );
    }
    assert!(s.broker.is_shut_down());
    // The delayed will could never be cancelled now: it was published (and retained).
    assert_eq!(s.broker.retained_count(), 1);
    assert!(s.broker.open_connection(now).is_none());
}

// ---------------------------------------------------------------------------------------
// Helpers of the conformance scenarios in `sim/` (one module per group of packets).

/// The last CONNACK client `name` accepted.
fn connack(s: &Sim, name: &str) -> Option<ConnAck> {
    s.client_events
        .get(name)?
        .iter()
        .rev()
        .find_map(|e| match e {
            ClientEvent::Connected(ack) => Some(ack.clone()),
            _ => None,
        })
}

/// The reason code of the CONNACK that refused client `name`, if one did.
fn refusal(s: &Sim, name: &str) -> Option<ReasonCode> {
    s.client_events
        .get(name)?
        .iter()
        .rev()
        .find_map(|e| match e {
            ClientEvent::Closed {
                reason: CloseReason::Refused(code),
            } => Some(*code),
            _ => None,
        })
}

/// The reason codes of every SUBACK (`true`) or UNSUBACK (`false`) client `name` received.
fn acks(s: &Sim, name: &str, suback: bool) -> Vec<Vec<ReasonCode>> {
    s.client_events[name]
        .iter()
        .filter_map(|e| match e {
            ClientEvent::SubAck(a) if suback => Some(a.reason_codes.clone()),
            ClientEvent::UnsubAck(a) if !suback => Some(a.reason_codes.clone()),
            _ => None,
        })
        .collect()
}

fn v311() -> Opts {
    Opts {
        version: ProtocolVersion::V3_1_1,
        ..Opts::default()
    }
}

fn v5_persistent(expiry: u32) -> Opts {
    Opts {
        clean: false,
        session_expiry: Some(expiry),
        ..Opts::default()
    }
}

fn will(retain: bool, qos: QoS) -> Will {
    Will {
        topic: TopicName::from_static("wills/c"),
        payload: Bytes::from_static(b"gone"),
        qos,
        retain,
        properties: Default::default(),
    }
}

fn string(s: &str) -> MqttString {
    MqttString::try_from(s).unwrap()
}
