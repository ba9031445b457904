//! A `ClientConnection` and a `ServerConnection` joined by a simulated wire: QoS
//! guarantees across connection losses and reconnects, and the invariants of packet
//! identifiers and receive maximum, under random interleavings (proptest).

use std::collections::{HashSet, VecDeque};
use std::num::NonZeroU16;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_proto::{Connect, MqttString, ProtocolVersion, QoS, TopicName};
use mqtt_session::{
    Accept, ClientConfig, ClientConnection, ClientEvent, OutgoingMessage, ServerConfig,
    ServerConnection, ServerEvent, SessionState,
};
use proptest::prelude::*;

struct World {
    version: ProtocolVersion,
    receive_maximum: u16,
    now: Instant,
    client: ClientConnection,
    server: ServerConnection,
    to_server: VecDeque<Bytes>,
    to_client: VecDeque<Bytes>,
    server_in: BytesMut,
    client_in: BytesMut,
    /// The session the server application stored when the last connection ended.
    server_session: Option<SessionState>,
    /// Payloads each application received, in order.
    at_server: Vec<Bytes>,
    at_client: Vec<Bytes>,
}

impl World {
    fn new(version: ProtocolVersion, receive_maximum: u16) -> Self {
        // Any origin instant will do: only offsets matter.
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let (client, server) = Self::link(version, receive_maximum, now, SessionState::new(), true);
        let mut w = Self {
            version,
            receive_maximum,
            now,
            client,
            server,
            to_server: VecDeque::new(),
            to_client: VecDeque::new(),
            server_in: BytesMut::new(),
            client_in: BytesMut::new(),
            server_session: None,
            at_server: Vec::new(),
            at_client: Vec::new(),
        };
        w.settle();
        assert!(w.client.is_connected(), "client did not connect");
        w
    }

    fn link(
        version: ProtocolVersion,
        receive_maximum: u16,
        now: Instant,
        session: SessionState,
        clean: bool,
    ) -> (ClientConnection, ServerConnection) {
        let mut connect = Connect::new(version, MqttString::from_static("pair"));
        connect.clean_start = clean;
        if version.is_v5() {
            connect.properties.session_expiry_interval = Some(600);
            connect.properties.receive_maximum = NonZeroU16::new(receive_maximum);
        }
        let client_config = ClientConfig {
            max_inflight: receive_maximum,
            ..ClientConfig::default()
        };
        let server_config = ServerConfig {
            receive_maximum,
            max_inflight: receive_maximum,
            ..ServerConfig::default()
        };
        let client = ClientConnection::new(now, connect, session, client_config).unwrap();
        (client, ServerConnection::new(now, server_config))
    }

    fn pump(&mut self) {
        while let Some(b) = self.client.poll_transmit(self.now) {
            self.to_server.push_back(b);
        }
        while let Some(e) = self.client.poll_event() {
            if let ClientEvent::Publish(p) = e {
                self.at_client.push(p.payload);
            }
        }
        while let Some(b) = self.server.poll_transmit(self.now) {
            self.to_client.push_back(b);
        }
        while let Some(e) = self.server.poll_event() {
            match e {
                ServerEvent::Connect(c) => {
                    let stored = if c.clean_start {
                        None
                    } else {
                        self.server_session.take()
                    };
                    let accept = Accept {
                        session_present: stored.is_some(),
                        session: stored.unwrap_or_default(),
                        ..Accept::default()
                    };
                    self.server.accept(self.now, accept).unwrap();
                }
                ServerEvent::Publish(p) => self.at_server.push(p.payload),
                ServerEvent::Closed { .. } => {
                    self.server_session = Some(self.server.take_session_state());
                }
                _ => {}
            }
        }
        // Accepting may have queued output.
        while let Some(b) = self.server.poll_transmit(self.now) {
            self.to_client.push_back(b);
        }
    }

    /// Delivers up to `n` chunks each way.
    fn step(&mut self, n: usize) {
        self.pump();
        for _ in 0..n {
            if self.to_server.is_empty() && self.to_client.is_empty() {
                break;
            }
            if let Some(b) = self.to_server.pop_front() {
                self.server_in.extend_from_slice(&b);
            }
            if let Some(b) = self.to_client.pop_front() {
                self.client_in.extend_from_slice(&b);
            }
        }
        self.server.handle_read(self.now, &mut self.server_in);
        self.client.handle_read(self.now, &mut self.client_in);
        self.pump();
        self.check_invariants();
    }

    fn settle(&mut self) {
        for _ in 0..1000 {
            self.step(usize::MAX);
            if self.to_server.is_empty() && self.to_client.is_empty() {
                return;
            }
        }
        panic!("the connection did not settle");
    }

    /// The connection dies with bytes in transit; both sides reconnect and resume.
    fn reconnect(&mut self) {
        self.to_server.clear();
        self.to_client.clear();
        self.server_in.clear();
        self.client_in.clear();
        self.client.handle_transport_closed(self.now);
        self.server.handle_transport_closed(self.now);
        self.pump();
        let session = self.client.take_session_state();
        self.now += Duration::from_millis(10);
        let (client, server) =
            Self::link(self.version, self.receive_maximum, self.now, session, false);
        self.client = client;
        self.server = server;
        self.settle();
        assert!(self.client.is_connected(), "client did not reconnect");
    }

    fn check_invariants(&self) {
        for (side, state) in [
            ("client", self.client.session_state()),
            ("server", self.server.session_state()),
        ] {
            let ids: Vec<_> = state.inflight().filter_map(|e| e.packet_id()).collect();
            let unique: HashSet<_> = ids.iter().collect();
            assert_eq!(
                unique.len(),
                ids.len(),
                "{side}: two messages in flight share an id"
            );
            assert!(
                ids.len() <= usize::from(self.receive_maximum),
                "{side}: {} in flight above receive maximum {}",
                ids.len(),
                self.receive_maximum
            );
        }
    }
}

fn msg(qos: QoS, n: u32) -> OutgoingMessage {
    OutgoingMessage::new(
        TopicName::from_static("t"),
        qos,
        Bytes::from(n.to_be_bytes().to_vec()),
    )
}

fn id_of(b: &Bytes) -> u32 {
    u32::from_be_bytes(b[..4].try_into().unwrap())
}

/// QoS 1 at least once, QoS 2 exactly once, QoS 0 at most once; QoS 1/2 first
/// deliveries in publication order.
fn check_delivery(sent: &[(QoS, u32)], received: &[Bytes]) {
    let got: Vec<u32> = received.iter().map(id_of).collect();
    for &(qos, n) in sent {
        let count = got.iter().filter(|&&g| g == n).count();
        match qos {
            QoS::AtMostOnce => assert!(count <= 1, "QoS 0 message {n} delivered {count} times"),
            QoS::AtLeastOnce => assert!(count >= 1, "QoS 1 message {n} lost"),
            QoS::ExactlyOnce => assert_eq!(count, 1, "QoS 2 message {n} delivered {count} times"),
        }
    }
    let mut seen = HashSet::new();
    let reliable: Vec<u32> = sent
        .iter()
        .filter(|(q, _)| *q != QoS::AtMostOnce)
        .map(|&(_, n)| n)
        .collect();
    let order: Vec<u32> = got
        .into_iter()
        .filter(|g| seen.insert(*g) && reliable.contains(g))
        .collect();
    assert_eq!(order, reliable, "QoS 1/2 messages out of order");
}

#[test]
fn qos_flows_both_ways_without_loss() {
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut w = World::new(version, 2);
        let mut sent = Vec::new();
        for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
            .into_iter()
            .cycle()
            .take(9)
            .enumerate()
        {
            let n = i as u32;
            w.client.publish(w.now, msg(qos, n)).unwrap();
            w.server.publish(w.now, msg(qos, n)).unwrap();
            sent.push((qos, n));
        }
        w.settle();
        // Without loss every message arrives exactly once; QoS 1/2 keep their order, and
        // QoS 0 may overtake messages waiting for the receive maximum.
        for received in [&w.at_server, &w.at_client] {
            let mut got: Vec<u32> = received.iter().map(id_of).collect();
            check_delivery(&sent, received);
            got.sort_unstable();
            assert_eq!(got, (0..9).collect::<Vec<_>>(), "{version}");
        }
        assert!(w.client.session_state().is_empty() && w.server.session_state().is_empty());
    }
}

#[test]
fn reconnect_in_the_middle_of_every_qos2_step() {
    // Cut the connection after k chunks for each k: every QoS 2 step gets interrupted.
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        for cut in 0..6 {
            let mut w = World::new(version, 4);
            w.client.publish(w.now, msg(QoS::ExactlyOnce, 1)).unwrap();
            w.server.publish(w.now, msg(QoS::ExactlyOnce, 2)).unwrap();
            for _ in 0..cut {
                w.step(1);
            }
            w.reconnect();
            check_delivery(&[(QoS::ExactlyOnce, 1)], &w.at_server);
            check_delivery(&[(QoS::ExactlyOnce, 2)], &w.at_client);
            assert!(w.client.session_state().is_empty(), "{version} cut {cut}");
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    ClientPublish(u8),
    ServerPublish(u8),
    Step(usize),
    Reconnect,
    Idle(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3).prop_map(Op::ClientPublish),
        4 => (0u8..3).prop_map(Op::ServerPublish),
        4 => (1usize..4).prop_map(Op::Step),
        1 => Just(Op::Reconnect),
        1 => (0u16..5000).prop_map(Op::Idle),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_interleavings_keep_the_qos_guarantees(
        v5 in any::<bool>(),
        receive_maximum in 1u16..4,
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let version = if v5 { ProtocolVersion::V5 } else { ProtocolVersion::V3_1_1 };
        let mut w = World::new(version, receive_maximum);
        let (mut from_client, mut from_server) = (Vec::new(), Vec::new());
        let mut n = 0u32;
        for op in ops {
            match op {
                Op::ClientPublish(q) | Op::ServerPublish(q) => {
                    let qos = QoS::from_u8(q).unwrap();
                    n += 1;
                    // QoS 0 cannot be queued while the connection is down; it may be lost.
                    if matches!(op, Op::ClientPublish(_)) {
                        if w.client.publish(w.now, msg(qos, n)).is_ok() {
                            from_client.push((qos, n));
                        }
                    } else if w.server.publish(w.now, msg(qos, n)).is_ok() {
                        from_server.push((qos, n));
                    }
                }
                Op::Step(k) => w.step(k),
                Op::Reconnect => w.reconnect(),
                Op::Idle(ms) => {
                    w.now += Duration::from_millis(u64::from(ms));
                    w.client.handle_timeout(w.now);
                    w.server.handle_timeout(w.now);
                    w.pump();
                }
            }
        }
        w.settle();
        check_delivery(&from_client, &w.at_server);
        check_delivery(&from_server, &w.at_client);
        prop_assert!(w.client.session_state().inflight().count() == 0);
    }
}
