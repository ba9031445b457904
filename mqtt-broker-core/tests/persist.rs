//! The persistence seam: operations for each kind of change, a broker restored from them,
//! acknowledgements held until the store confirms (the harness is in `common`, which also
//! plays the store).

mod common;

use std::time::Duration;

use bytes::Bytes;
use mqtt_broker_core::{
    BrokerConfig, PersistKind, Persistence, RestoreError, RetainedRecord, SessionRecord,
};
use mqtt_proto::{
    PacketId, ProtocolVersion, Publish, QoS, QoSPid, ReasonCode, TopicName, Will, WillProperties,
};
use mqtt_session::{ClientEvent, SessionState};

use common::{Opts, Sim};

fn sim_with(persistence: Persistence) -> Sim {
    Sim::new(BrokerConfig {
        sys_interval: None,
        persistence,
        ..BrokerConfig::default()
    })
}

/// A persistent 5.0 session that expires `secs` after its connection closes.
fn persistent(secs: u32) -> Opts {
    Opts {
        clean: false,
        session_expiry: Some(secs),
        ..Opts::default()
    }
}

/// One line per operation: its kind and key.
fn kinds(s: &Sim, from: usize) -> Vec<String> {
    s.store.log[from..]
        .iter()
        .map(|op| match &op.kind {
            PersistKind::PutSession(r) => format!("put session {}", r.client_id.as_str()),
            PersistKind::DeleteSession { client_id } => {
                format!("delete session {}", client_id.as_str())
            }
            PersistKind::PutRetained(r) => format!("put retained {}", r.topic),
            PersistKind::DeleteRetained { topic } => format!("delete retained {topic}"),
        })
        .collect()
}

fn session_present(s: &Sim, name: &str) -> Option<bool> {
    s.client_events[name].iter().rev().find_map(|e| match e {
        ClientEvent::Connected(ack) => Some(ack.session_present),
        _ => None,
    })
}

fn pubacks(s: &Sim, name: &str) -> usize {
    s.client_events.get(name).map_or(0, |events| {
        events
            .iter()
            .filter(|e| matches!(e, ClientEvent::Delivered { .. }))
            .count()
    })
}

fn subacks(s: &Sim, name: &str) -> usize {
    s.client_events.get(name).map_or(0, |events| {
        events
            .iter()
            .filter(|e| matches!(e, ClientEvent::SubAck(_)))
            .count()
    })
}

#[test]
fn off_emits_nothing() {
    let mut s = sim_with(Persistence::Off);
    s.connect("sub", persistent(60));
    s.subscribe("sub", "t", QoS::AtLeastOnce);
    s.cut("sub");
    s.connect("pub", Opts::default());
    s.publish("pub", "t", QoS::AtLeastOnce, true, "queued and retained");
    s.advance(Duration::from_secs(60));
    assert!(s.store.log.is_empty());
    assert_eq!(s.broker.poll_persist(s.now), None);
}

#[test]
fn each_kind_of_change_goes_out_once_per_drain() {
    let mut s = sim_with(Persistence::Operations);
    s.connect("sub", persistent(60));
    assert_eq!(kinds(&s, 0), ["put session sub"]);
    let online = s.store.session("sub").unwrap();
    assert_eq!(online.state, None, "a connection holds the state");
    assert_eq!(online.expires_in, None);

    let n = s.store.log.len();
    s.subscribe("sub", "t/#", QoS::AtLeastOnce);
    assert_eq!(kinds(&s, n), ["put session sub"]);
    let record = s.store.session("sub").unwrap();
    assert_eq!(record.subscriptions.len(), 1);
    assert_eq!(record.subscriptions[0].0.as_str(), "t/#");
    assert_eq!(record.subscriptions[0].1.options.qos, QoS::AtLeastOnce);

    // A clean session ends with its connection: it is never written.
    let n = s.store.log.len();
    s.connect("pub", Opts::default());
    s.publish("pub", "t/r", QoS::AtLeastOnce, true, "retained");
    assert_eq!(kinds(&s, n), ["put retained t/r"]);
    let retained = s.store.retained("t/r").unwrap();
    assert_eq!(retained.payload, "retained");
    assert_eq!(retained.qos, QoS::AtLeastOnce);

    let n = s.store.log.len();
    s.cut("sub");
    assert_eq!(kinds(&s, n), ["put session sub"]);
    let offline = s.store.session("sub").unwrap();
    assert_eq!(offline.expires_in, Some(Duration::from_secs(60)));
    let state = SessionState::decode(offline.state.unwrap(), s.now).unwrap();
    assert_eq!(state.queued_len(), 0);

    // Three messages queued between two drains: one operation.
    let now = s.now;
    let conn = s.current("pub").unwrap();
    for i in 1..=3 {
        let qos_pid = QoSPid::AtLeastOnce(PacketId::new(100 + i).unwrap());
        let p = Publish::new(TopicName::from_static("t/q"), qos_pid, format!("q{i}"));
        s.broker.handle_publish(now, conn, p);
    }
    let op = s.broker.poll_persist(now).unwrap();
    let PersistKind::PutSession(record) = &op.kind else {
        panic!("{op:?}")
    };
    let state = SessionState::decode(record.state.clone().unwrap(), now).unwrap();
    assert_eq!(state.queued_len(), 3);
    assert_eq!(s.broker.poll_persist(now), None);
    s.store.apply(now, op);
    // The PUBACKs of publications the client never sent are not for its connection.
    while s.broker.poll_output().is_some() {}

    let n = s.store.log.len();
    s.publish("pub", "t/r", QoS::AtMostOnce, true, "");
    assert_eq!(kinds(&s, n), ["delete retained t/r"]);

    // Expiry ends the session; so does Clean Start.
    let n = s.store.log.len();
    s.advance(Duration::from_secs(60));
    assert_eq!(kinds(&s, n), ["delete session sub"]);
    s.connect("sub", persistent(60));
    let n = s.store.log.len();
    s.connect(
        "sub",
        Opts {
            clean: true,
            ..Opts::default()
        },
    );
    assert_eq!(kinds(&s, n), ["delete session sub"]);
    assert!(s.store.sessions.is_empty());
    assert!(s.store.retained.is_empty());
    let seqs: Vec<u64> = s.store.log.iter().map(|op| op.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
}

#[test]
fn restart_restores_queued_messages_subscriptions_and_retained() {
    let mut s = sim_with(Persistence::Durable);
    let v311 = Opts {
        version: ProtocolVersion::V3_1_1,
        clean: false,
        ..Opts::default()
    };
    s.connect("sub", v311);
    s.subscribe("sub", "q", QoS::AtLeastOnce);
    s.disconnect("sub", ReasonCode::Success);
    s.connect("pub", Opts::default());
    s.publish("pub", "q", QoS::AtLeastOnce, false, "while-away-1");
    s.publish("pub", "q", QoS::AtMostOnce, false, "qos0-dropped");
    s.publish("pub", "q", QoS::ExactlyOnce, false, "while-away-2");
    s.publish("pub", "r", QoS::AtLeastOnce, true, "kept");

    s.restart(7);
    s.run();
    assert_eq!(
        s.broker.session_count(),
        1,
        "the clean publisher's session ended"
    );
    assert_eq!(s.broker.retained_count(), 1);

    s.connect(
        "sub",
        Opts {
            version: ProtocolVersion::V3_1_1,
            clean: false,
            ..Opts::default()
        },
    );
    assert_eq!(session_present(&s, "sub"), Some(true));
    assert_eq!(s.payloads("sub"), ["while-away-1", "while-away-2"]);
    // The subscription came back too.
    s.connect("pub", Opts::default());
    s.publish("pub", "q", QoS::AtLeastOnce, false, "after");
    assert_eq!(s.payloads("sub"), ["while-away-1", "while-away-2", "after"]);

    s.connect("late", Opts::default());
    s.subscribe("late", "r", QoS::AtLeastOnce);
    assert_eq!(s.payloads("late"), ["kept"]);
    assert!(s.last("late").retain);
    assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
}

#[test]
fn restart_keeps_pending_wills_and_expiry_times() {
    let will = Will {
        topic: TopicName::from_static("wills/c"),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: WillProperties {
            will_delay_interval: Some(30),
            ..WillProperties::default()
        },
    };
    let mut s = sim_with(Persistence::Operations);
    s.connect("watch", persistent(1000));
    s.subscribe("watch", "wills/#", QoS::AtLeastOnce);
    s.connect(
        "c",
        Opts {
            will: Some(will),
            ..persistent(60)
        },
    );
    s.cut("c");
    s.advance(Duration::from_secs(10));
    // With persistence the shutdown does not publish the delayed will: the session
    // lives on in the store.
    s.restart(7);
    s.run();
    assert!(s.payloads("watch").is_empty());
    s.connect("watch", persistent(1000));
    s.advance(Duration::from_secs(19));
    assert!(s.payloads("watch").is_empty());
    s.advance(Duration::from_secs(1));
    assert_eq!(s.payloads("watch"), ["gone"]);
    assert_eq!(s.broker.session_count(), 2);
    s.advance(Duration::from_secs(29));
    assert_eq!(s.broker.session_count(), 2);
    let n = s.store.log.len();
    s.advance(Duration::from_secs(1));
    assert_eq!(s.broker.session_count(), 1, "c expired 60 s after its cut");
    assert_eq!(kinds(&s, n), ["delete session c"]);
}

#[test]
fn session_stored_with_a_connection_comes_back_as_if_it_broke() {
    // The broker stops without a shutdown: the store has "c" as connected.
    let will = Will {
        topic: TopicName::from_static("wills/c"),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtMostOnce,
        retain: true,
        properties: WillProperties::default(),
    };
    let mut s = sim_with(Persistence::Operations);
    s.connect(
        "c",
        Opts {
            will: Some(will),
            ..persistent(100)
        },
    );
    s.subscribe("c", "t", QoS::AtLeastOnce);
    let store = s.store.clone();

    let mut s = sim_with(Persistence::Operations);
    let now = s.now;
    for (_, bytes) in store.sessions.values() {
        let record = SessionRecord::decode(bytes.clone()).unwrap();
        s.broker
            .restore_session(now, record, Duration::ZERO)
            .unwrap();
    }
    assert_eq!(s.broker.poll_timeout(), Some(now), "the will is due");
    s.advance(Duration::ZERO);
    assert_eq!(s.broker.retained_count(), 1, "the will was published");
    s.connect("pub", Opts::default());
    s.publish("pub", "t", QoS::AtLeastOnce, false, "queued");
    s.connect("c", persistent(100));
    assert_eq!(session_present(&s, "c"), Some(true));
    assert_eq!(s.payloads("c"), ["queued"]);
    s.cut("c");
    s.advance(Duration::from_secs(100));
    assert_eq!(s.broker.session_count(), 0);
}

#[test]
fn durable_holds_acknowledgements_until_the_store_confirms() {
    let mut s = sim_with(Persistence::Durable);
    s.auto_confirm = false;
    s.connect("sub", persistent(60));
    s.subscribe("sub", "t", QoS::AtLeastOnce);
    assert_eq!(
        subacks(&s, "sub"),
        0,
        "the SUBACK waits for the subscription to be stored"
    );
    s.confirm();
    assert_eq!(subacks(&s, "sub"), 1);
    s.cut("sub");

    s.connect("pub", Opts::default());
    s.publish("pub", "t", QoS::AtLeastOnce, false, "one");
    s.publish("pub", "t", QoS::ExactlyOnce, false, "two");
    assert_eq!(
        pubacks(&s, "pub"),
        0,
        "PUBACK and PUBREC wait for the queued messages"
    );
    let written = s.store.session("sub").unwrap();
    let state = SessionState::decode(written.state.unwrap(), s.now).unwrap();
    assert_eq!(state.queued_len(), 2);
    s.confirm();
    assert_eq!(pubacks(&s, "pub"), 2);

    // Nothing to write: the acknowledgement goes out at once.
    s.publish("pub", "nobody", QoS::AtLeastOnce, false, "three");
    assert_eq!(pubacks(&s, "pub"), 3);
    assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
}

#[test]
fn held_acknowledgements_keep_their_order_and_go_with_their_connection() {
    let mut s = sim_with(Persistence::Durable);
    s.auto_confirm = false;
    s.connect("sub", persistent(60));
    s.subscribe("sub", "t", QoS::AtLeastOnce);
    s.confirm();
    s.cut("sub");
    s.connect("pub", Opts::default());
    // Waits for the queued message; the next one, which needs nothing written, waits
    // behind it [MQTT-4.6.0-2].
    s.publish("pub", "t", QoS::AtLeastOnce, false, "queued");
    s.publish("pub", "nobody", QoS::AtLeastOnce, false, "routed nowhere");
    assert_eq!(pubacks(&s, "pub"), 0);
    s.confirm();
    assert_eq!(pubacks(&s, "pub"), 2);

    // A connection that closes drops what was held for it: its client resends.
    s.publish("pub", "t", QoS::AtLeastOnce, false, "again");
    s.cut("pub");
    s.confirm();
    assert_eq!(pubacks(&s, "pub"), 2);
    assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
}

#[test]
fn restore_refuses_a_connected_session_and_replaces_an_offline_one() {
    let mut s = sim_with(Persistence::Operations);
    s.connect("c", persistent(60));
    s.subscribe("c", "a", QoS::AtLeastOnce);
    let mut record = s.store.session("c").unwrap();
    let now = s.now;
    assert_eq!(
        s.broker
            .restore_session(now, record.clone(), Duration::ZERO),
        Err(RestoreError::Connected)
    );
    s.cut("c");
    record.subscriptions.clear();
    record.state = Some(Bytes::from_static(b"junk"));
    assert!(matches!(
        s.broker
            .restore_session(now, record.clone(), Duration::ZERO),
        Err(RestoreError::State(_))
    ));
    record.state = None;
    s.broker
        .restore_session(now, record, Duration::ZERO)
        .unwrap();
    assert_eq!(s.broker.session_count(), 1);
    s.connect("pub", Opts::default());
    s.publish("pub", "a", QoS::AtLeastOnce, false, "to nobody");
    s.connect("c", persistent(60));
    assert_eq!(session_present(&s, "c"), Some(true));
    assert!(
        s.payloads("c").is_empty(),
        "the restored record had no subscription"
    );
}

#[test]
fn restore_skips_expired_retained_messages() {
    let mut s = sim_with(Persistence::Operations);
    let now = s.now;
    let record = |topic: &'static str, left: Option<u64>| RetainedRecord {
        topic: TopicName::from_static(topic),
        qos: QoS::AtLeastOnce,
        properties: Default::default(),
        payload: Bytes::from_static(b"x"),
        expires_in: left.map(Duration::from_secs),
    };
    s.broker
        .restore_retained(now, record("a", None), Duration::ZERO);
    s.broker
        .restore_retained(now, record("b", Some(0)), Duration::ZERO);
    s.broker
        .restore_retained(now, record("c", Some(5)), Duration::ZERO);
    s.broker
        .restore_retained(now, record("d", Some(5)), Duration::from_secs(5));
    assert_eq!(s.broker.retained_count(), 2);
    assert!(s.store.log.is_empty(), "restoring writes nothing");
    s.advance(Duration::from_secs(5));
    s.connect("late", Opts::default());
    s.subscribe("late", "#", QoS::AtLeastOnce);
    assert_eq!(s.payloads("late"), ["x"]);
    assert_eq!(s.last("late").topic.as_ref().unwrap().as_str(), "a");
}

#[test]
fn assigned_client_ids_do_not_collide_with_restored_sessions() {
    let mut s = sim_with(Persistence::Operations);
    s.connect("", persistent(600));
    s.cut("");
    // The same seed gives the same assigned identifiers.
    s.restart(42);
    s.run();
    s.connect("", persistent(600));
    assert_eq!(session_present(&s, ""), Some(false));
    let assigned: Vec<String> = s.client_events[""]
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Connected(ack) => ack.properties.assigned_client_identifier.clone(),
            _ => None,
        })
        .map(|id| id.as_str().to_owned())
        .collect();
    assert_eq!(assigned.len(), 2);
    assert_ne!(assigned[0], assigned[1]);
    assert_eq!(s.broker.session_count(), 2);
}
