//! The check the `broker_ops` fuzz target runs: arbitrary operation sequences applied to a
//! [`Broker`] directly, as its embedder would apply them. Kept here so the regression tests
//! run the same code over committed inputs.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    Connect, MqttString, PacketId, ProtocolVersion, Publish, QoS, QoSPid, ReasonCode,
    RetainHandling, Subscribe, SubscriptionOptions, TopicFilter, TopicName, Unsubscribe, Will,
};
use mqtt_session::{CloseReason, SessionState};

use crate::{
    Broker, BrokerConfig, ConnId, Output, PersistKind, Persistence, RetainedRecord, SessionRecord,
};

const LEVELS: [&str; 6] = ["a", "b", "", "+", "#", "$SYS"];

/// A topic filter from two bytes (levels from a small alphabet, possibly shared).
fn filter(b0: u8, b1: u8) -> Option<TopicFilter> {
    let depth = usize::from(b0 % 3) + 1;
    let mut levels = Vec::new();
    for i in 0..depth {
        levels.push(LEVELS[usize::from((b1 >> (2 * i)) % 6)]);
    }
    let mut s = levels.join("/");
    if b0 & 0x80 != 0 {
        s = format!("$share/g{}/{s}", b0 & 1);
    }
    TopicFilter::try_from(s).ok()
}

/// A topic name from two bytes (the wildcards of the alphabet become literals).
fn topic(b0: u8, b1: u8) -> Option<TopicName> {
    let depth = usize::from(b0 % 3) + 1;
    let levels: Vec<&str> = (0..depth)
        .map(|i| ["a", "b", "", "c", "d", "$SYS"][usize::from((b1 >> (2 * i)) % 6)])
        .collect();
    TopicName::try_from(levels.join("/")).ok()
}

/// A store as a storage engine keeps it: record bytes by key.
#[derive(Default)]
struct Store {
    sessions: BTreeMap<String, Bytes>,
    retained: BTreeMap<String, Bytes>,
}

impl Store {
    /// Drains the broker's persistence operations into the store and confirms them; panics
    /// if a record does not survive its byte form.
    fn drain(&mut self, broker: &mut Broker, now: Instant) {
        let mut last = None;
        while let Some(op) = broker.poll_persist(now) {
            let mut buf = BytesMut::new();
            match op.kind {
                PersistKind::PutSession(r) => {
                    r.encode(&mut buf).unwrap();
                    let bytes = buf.freeze();
                    assert_eq!(SessionRecord::decode(bytes.clone()).unwrap(), *r);
                    self.sessions.insert(r.client_id.as_str().to_owned(), bytes);
                }
                PersistKind::DeleteSession { client_id } => {
                    self.sessions.remove(client_id.as_str());
                }
                PersistKind::PutRetained(r) => {
                    r.encode(&mut buf).unwrap();
                    let bytes = buf.freeze();
                    assert_eq!(RetainedRecord::decode(bytes.clone()).unwrap(), r);
                    self.retained.insert(r.topic.as_str().to_owned(), bytes);
                }
                PersistKind::DeleteRetained { topic } => {
                    self.retained.remove(topic.as_str());
                }
            }
            last = Some(op.seq);
        }
        if let Some(seq) = last {
            broker.handle_persisted(now, seq);
        }
    }

    /// A broker restarted from the store, as after a crash.
    fn restore(&self, config: &BrokerConfig, now: Instant) -> Broker {
        let mut broker = Broker::new(config.clone(), 7, now);
        for bytes in self.sessions.values() {
            let record = SessionRecord::decode(bytes.clone()).unwrap();
            broker.restore_session(now, record, Duration::ZERO).unwrap();
        }
        for bytes in self.retained.values() {
            let record = RetainedRecord::decode(bytes.clone()).unwrap();
            broker.restore_retained(now, record, Duration::ZERO);
        }
        broker
    }
}

/// Applies the operations encoded in `data` (4 bytes each) to a fresh broker that persists
/// durably into an in-memory store; panics if the broker panics, if its outputs or
/// sessions outgrow what the operations can cause, or if a stored record does not come
/// back from its bytes.
pub fn broker_ops(now: Instant, data: &[u8]) {
    let config = BrokerConfig {
        max_queued_messages: 4,
        max_retained: 16,
        max_connections: 8,
        sys_interval: Some(Duration::from_secs(30)),
        persistence: Persistence::Durable,
        ..BrokerConfig::default()
    };
    let mut broker = Broker::new(config.clone(), 7, now);
    let mut store = Store::default();
    let mut now = now;
    let mut conns: Vec<ConnId> = Vec::new();
    let mut connects = 0usize;
    let mut next_id: u16 = 0;
    let mut id = || {
        next_id = next_id.wrapping_add(1);
        PacketId::new(next_id).unwrap_or(PacketId::MIN)
    };
    for op in data.chunks_exact(4) {
        let (kind, a, b, c) = (op[0], op[1], op[2], op[3]);
        let pick = |v: &Vec<ConnId>| v.get(usize::from(a) % v.len().max(1)).copied();
        match kind % 9 {
            0 => {
                if let Some(conn) = broker.open_connection(now) {
                    conns.push(conn);
                    connects += 1;
                    let version =
                        [ProtocolVersion::V3_1_1, ProtocolVersion::V5][usize::from(b & 1)];
                    let client_id = if b & 2 != 0 {
                        String::new()
                    } else {
                        format!("c{}", c % 4)
                    };
                    let mut connect =
                        Connect::new(version, MqttString::try_from(client_id).unwrap());
                    connect.clean_start =
                        b & 4 != 0 || (connect.client_id.is_empty() && !version.is_v5());
                    if version.is_v5() {
                        connect.properties.session_expiry_interval = Some(u32::from(c % 5) * 10);
                    }
                    if b & 8 != 0
                        && let Some(t) = topic(c, b)
                    {
                        let mut will = Will {
                            topic: t,
                            payload: Bytes::from_static(b"will"),
                            qos: QoS::from_u8(c % 3).unwrap_or_default(),
                            retain: c & 16 != 0,
                            properties: Default::default(),
                        };
                        if version.is_v5() {
                            will.properties.will_delay_interval = Some(u32::from(b >> 5) * 5);
                        }
                        connect.will = Some(will);
                    }
                    let pending = broker.handle_connect(now, conn, Box::new(connect));
                    if b & 0x80 != 0 {
                        broker.refuse(now, pending, ReasonCode::NotAuthorized);
                    } else {
                        broker.accept(now, pending);
                    }
                }
            }
            1 => {
                if let (Some(conn), Some(f)) = (pick(&conns), filter(b, c)) {
                    let mut options =
                        SubscriptionOptions::new(QoS::from_u8(c % 3).unwrap_or_default());
                    options.no_local = c & 4 != 0 && !f.is_shared();
                    options.retain_handling = [
                        RetainHandling::SendAtSubscribe,
                        RetainHandling::SendAtSubscribeIfNew,
                        RetainHandling::DoNotSend,
                    ][usize::from(c >> 6) % 3];
                    let sub = Subscribe {
                        packet_id: id(),
                        properties: Default::default(),
                        filters: vec![(f, options)],
                    };
                    broker.handle_subscribe(now, conn, sub);
                }
            }
            2 => {
                if let (Some(conn), Some(f)) = (pick(&conns), filter(b, c)) {
                    let unsub = Unsubscribe {
                        packet_id: id(),
                        properties: Default::default(),
                        filters: vec![f],
                    };
                    broker.handle_unsubscribe(now, conn, unsub);
                }
            }
            3 | 4 => {
                if let (Some(conn), Some(t)) = (pick(&conns), topic(b, c)) {
                    let qos_pid = QoSPid::new(QoS::from_u8(c % 3).unwrap_or_default(), id());
                    let payload = if c & 8 != 0 {
                        Bytes::new()
                    } else {
                        Bytes::from_static(b"p")
                    };
                    let mut p = Publish::new(t, qos_pid, payload);
                    p.retain = c & 16 != 0;
                    if c & 32 != 0 {
                        p.properties.message_expiry_interval = Some(u32::from(b % 4));
                    }
                    broker.handle_publish(now, conn, p);
                }
            }
            5 => {
                if let Some(conn) = pick(&conns) {
                    conns.retain(|&c| c != conn);
                    let reason = [
                        CloseReason::TransportClosed,
                        CloseReason::PeerDisconnect(ReasonCode::Success),
                        CloseReason::PeerDisconnect(ReasonCode::DisconnectWithWill),
                        CloseReason::KeepAliveTimeout,
                    ][usize::from(b % 4)]
                    .clone();
                    broker.handle_closed(now, conn, &reason, SessionState::new());
                }
            }
            6 => {
                now += Duration::from_secs(u64::from(b));
                broker.handle_timeout(now);
            }
            7 => {
                if b == 0xFF {
                    broker.begin_shutdown(now);
                } else if b == 0xFE {
                    // The broker stops without a shutdown and comes back from its store.
                    store.drain(&mut broker, now);
                    broker = store.restore(&config, now);
                    conns.clear();
                }
            }
            _ => {
                if let Some(t) = broker.poll_timeout()
                    && t > now
                {
                    now = t;
                    broker.handle_timeout(now);
                }
            }
        }
        store.drain(&mut broker, now);
        let mut outputs = 0usize;
        while let Some(out) = broker.poll_output() {
            outputs += 1;
            // A connection the broker tells to close is gone for further operations.
            if let Output::Disconnect { conn, .. } | Output::Refuse { conn, .. } = out {
                conns.retain(|&c| c != conn);
                broker.handle_closed(
                    now,
                    conn,
                    &CloseReason::LocalDisconnect(ReasonCode::Success),
                    SessionState::new(),
                );
            }
        }
        // One operation causes at most a delivery per subscription plus a few answers.
        assert!(outputs <= 4096, "{outputs} outputs from one operation");
        assert!(
            broker.session_count() <= connects,
            "more sessions than connects"
        );
        assert!(
            broker.retained_count() <= 16,
            "retained store past its bound"
        );
    }
}
