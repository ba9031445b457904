//! Deterministic simulation harness: one `Broker`, its `ServerConnection`s and
//! `ClientConnection` clients joined by in-memory wires, on a virtual clock.
//!
//! Each link carries two wires, one per direction, holding the chunks written by one end and
//! not yet read by the other. The scripted tests use [`Sim::run`], which moves every byte and
//! event until nothing changes; the property test steps the wires byte range by byte range
//! with [`Sim::deliver`], lets time pass without delivering anything ([`Sim::tick`]), cuts
//! transports with bytes in transit ([`Sim::cut_conn`]) and lets a client vanish without the
//! server noticing ([`Sim::kill_client`]). A transport closes once the end that closed has
//! had what it wrote delivered (DISCONNECT, CONNACK refusals).
//!
//! The harness plays the embedder the way `Broker`'s documentation asks: every server event
//! goes to the broker at once, the broker's outputs are drained and applied after each input,
//! a QoS 1/2 delivery to a connection that closed meanwhile is added to the session state it
//! hands back (QoS 0 is dropped), an `Accept` that comes after its connection closed has its
//! session state handed back instead, and the state is handed back with `handle_closed` when
//! the `Closed` event comes. With [`Sim::schedule`] the connections are visited in a seeded
//! order, as connection tasks would run.
//!
//! The harness is also the broker's store: it drains `poll_persist` before the outputs,
//! keeps each record as bytes under its key ([`Store`]) and, unless told not to
//! ([`Sim::auto_confirm`]), confirms the operations at once. [`Sim::restart`] replaces the
//! broker by one restored from the store.
#![allow(dead_code)] // each test binary uses its own part of the harness

mod store;

pub(crate) use store::Store;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_broker_core::{Broker, BrokerConfig, ConnId, Output};
use mqtt_proto::{
    Connect, Disconnect, MqttString, ProtocolVersion, Publish, QoS, ReasonCode, Subscribe,
    SubscribeProperties, SubscriptionId, SubscriptionOptions, TopicFilter, TopicName, Unsubscribe,
    Will,
};
use mqtt_session::{
    ClientConfig, ClientConnection, ClientEvent, CloseReason, Error, OutgoingMessage, ServerConfig,
    ServerConnection, ServerEvent, SessionState,
};

/// One network connection: both ends and the bytes between them.
pub(crate) struct Link {
    pub(crate) name: String,
    pub(crate) server: ServerConnection,
    pub(crate) client: ClientConnection,
    /// Chunks the client wrote that the server has not read yet, in order.
    pub(crate) to_server: VecDeque<Bytes>,
    /// Chunks the server wrote that the client has not read yet, in order.
    pub(crate) to_client: VecDeque<Bytes>,
    server_in: BytesMut,
    client_in: BytesMut,
    /// The server side closed and its session state went back to the broker.
    pub(crate) closed: bool,
    /// The client's end vanished without the server noticing (a half-open connection).
    pub(crate) client_dead: bool,
    /// Deliveries that reached the server side after it closed, for the state it hands back.
    late: Vec<OutgoingMessage>,
    /// The session state of an `Output::Accept` that came after the server side closed: the
    /// state the connection holds, to hand back instead of the connection's empty one.
    unaccepted: Option<SessionState>,
    /// Its CONNECT went to the broker and no `Accept` or `Refuse` came out yet.
    awaiting_answer: bool,
    /// A close held back until the CONNECT is answered (`Sim::defer_unanswered_close`).
    deferred_close: Option<CloseReason>,
    /// What the broker was last told of the server side's in-flight window.
    window_full: bool,
}

impl Link {
    /// How many bytes wait on the wire in direction `dir`.
    pub(crate) fn in_transit(&self, dir: Dir) -> usize {
        let wire = match dir {
            Dir::ToServer => &self.to_server,
            Dir::ToClient => &self.to_client,
        };
        wire.iter().map(Bytes::len).sum()
    }
}

/// A direction on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    ToServer,
    ToClient,
}

/// What the broker was told and what it answered, in order, for a model to follow.
#[derive(Debug, Clone)]
pub(crate) enum Trace {
    /// A CONNECT went to `handle_connect` and was accepted (the answer may wait for a
    /// take-over).
    Connect { conn: ConnId, connect: Box<Connect> },
    /// `Output::Accept` came out for `conn`, with `queued` messages queued in the session
    /// state it hands over.
    Accepted {
        conn: ConnId,
        session_present: bool,
        queued: usize,
    },
    /// `Output::Refuse` came out for `conn`.
    Refused {
        conn: ConnId,
        reason_code: ReasonCode,
    },
    /// A PUBLISH went to `handle_publish`.
    Publish {
        conn: ConnId,
        name: String,
        publish: Publish,
    },
    /// A SUBSCRIBE went to `handle_subscribe`.
    Subscribe { conn: ConnId, subscribe: Subscribe },
    /// An UNSUBSCRIBE went to `handle_unsubscribe`.
    Unsubscribe {
        conn: ConnId,
        unsubscribe: Unsubscribe,
    },
    /// `handle_closed` was called for `conn`, handing back a session state with `queued`
    /// messages queued.
    Closed {
        conn: ConnId,
        at: Instant,
        reason: CloseReason,
        queued: usize,
    },
    /// `handle_timeout` was called.
    Timeout { now: Instant },
    /// The broker restarted from its store (`Sim::restart`), after its connections closed
    /// (`Closed`).
    Restart { at: Instant },
}

pub(crate) struct Sim {
    pub(crate) now: Instant,
    pub(crate) broker: Broker,
    pub(crate) links: BTreeMap<ConnId, Link>,
    /// Client-side session states kept across reconnects, by client name.
    pub(crate) client_sessions: BTreeMap<String, SessionState>,
    /// What each client received.
    pub(crate) received: BTreeMap<String, Vec<Publish>>,
    /// The connection each entry of `received` came on.
    pub(crate) received_on: BTreeMap<String, Vec<ConnId>>,
    /// Events other than messages, per client.
    pub(crate) client_events: BTreeMap<String, Vec<ClientEvent>>,
    /// Broker inputs and answers, recorded when `tracing` is on.
    pub(crate) trace: Vec<Trace>,
    pub(crate) tracing: bool,
    /// When set, each pass of [`Sim::process`] visits the connections in an order drawn from
    /// this xorshift state (connection tasks of an adapter run in any order); when `None`,
    /// in ascending order.
    pub(crate) schedule: Option<u64>,
    /// Hand a connection whose CONNECT the broker has not answered yet back only once the
    /// answer came out (a workaround for a broker that completes a take-over onto a
    /// connection already handed back).
    pub(crate) defer_unanswered_close: bool,
    /// Things an embedder should never see: a protocol violation reported by either end, a
    /// broker instruction that cannot be carried out, a message dropped on the way.
    pub(crate) anomalies: Vec<String>,
    /// What the broker's persistence operations stored.
    pub(crate) store: Store,
    /// Confirm each drained operation at once (`Broker::handle_persisted`); when false,
    /// [`Sim::confirm`] does.
    pub(crate) auto_confirm: bool,
    /// The embedder's check of a CONNECT (credentials, client identifier policy): a reason
    /// code refuses it with `Broker::refuse`; `None` (or no check) accepts it.
    pub(crate) check_connect: Option<fn(&Connect) -> Option<ReasonCode>>,
}

pub(crate) struct Opts {
    pub(crate) version: ProtocolVersion,
    pub(crate) clean: bool,
    pub(crate) session_expiry: Option<u32>,
    pub(crate) will: Option<Will>,
    /// Keep alive in seconds (`None`: the codec's default).
    pub(crate) keep_alive: Option<u16>,
    /// Receive Maximum sent in a 5.0 CONNECT.
    pub(crate) receive_maximum: Option<u16>,
    /// The client acknowledges incoming QoS 1/2 messages at once; when false the test
    /// does, with `ClientConnection::acknowledge` (and may use a failure code).
    pub(crate) auto_ack: bool,
    /// Changes the CONNECT before it is sent (properties the other fields do not cover).
    pub(crate) edit_connect: Option<fn(&mut Connect)>,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            version: ProtocolVersion::V5,
            clean: true,
            session_expiry: None,
            will: None,
            keep_alive: None,
            receive_maximum: None,
            auto_ack: true,
            edit_connect: None,
        }
    }
}

impl Sim {
    pub(crate) fn new(config: BrokerConfig) -> Self {
        Self::with_seed(config, 42)
    }

    pub(crate) fn with_seed(config: BrokerConfig, seed: u64) -> Self {
        // The simulation's clock starts anywhere; only offsets matter.
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        Self {
            now,
            broker: Broker::new(config, seed, now),
            links: BTreeMap::new(),
            client_sessions: BTreeMap::new(),
            received: BTreeMap::new(),
            received_on: BTreeMap::new(),
            client_events: BTreeMap::new(),
            trace: Vec::new(),
            tracing: false,
            schedule: None,
            defer_unanswered_close: false,
            anomalies: Vec::new(),
            store: Store::default(),
            auto_confirm: true,
            check_connect: None,
        }
    }

    /// Opens a connection for client `name` and runs the simulation until it settles.
    pub(crate) fn connect(&mut self, name: &str, opts: Opts) -> ConnId {
        let conn = self.open(name, opts);
        self.run();
        conn
    }

    /// Opens a connection for client `name`: the CONNECT is written, nothing is delivered.
    /// Without Clean Start the client resumes the state its last connection left.
    pub(crate) fn open(&mut self, name: &str, opts: Opts) -> ConnId {
        let conn = self
            .broker
            .open_connection(self.now)
            .expect("connection limit");
        let mut connect = Connect::new(opts.version, MqttString::try_from(name).unwrap());
        connect.clean_start = opts.clean;
        connect.properties.session_expiry_interval = opts.session_expiry;
        connect.properties.receive_maximum =
            opts.receive_maximum.and_then(std::num::NonZeroU16::new);
        connect.will = opts.will;
        if let Some(k) = opts.keep_alive {
            connect.keep_alive = k;
        }
        if let Some(edit) = opts.edit_connect {
            edit(&mut connect);
        }
        let session = if opts.clean {
            self.client_sessions.remove(name);
            SessionState::new()
        } else {
            self.client_sessions.remove(name).unwrap_or_default()
        };
        let config = ClientConfig {
            auto_ack: opts.auto_ack,
            ..ClientConfig::default()
        };
        let client = ClientConnection::new(self.now, connect, session, config).unwrap();
        let server = ServerConnection::new(
            self.now,
            ServerConfig {
                auto_ack: false,
                ..ServerConfig::default()
            },
        );
        self.links.insert(
            conn,
            Link {
                name: name.to_owned(),
                server,
                client,
                to_server: VecDeque::new(),
                to_client: VecDeque::new(),
                server_in: BytesMut::new(),
                client_in: BytesMut::new(),
                closed: false,
                client_dead: false,
                late: Vec::new(),
                unaccepted: None,
                awaiting_answer: false,
                deferred_close: None,
                window_full: false,
            },
        );
        self.process();
        conn
    }

    fn conn_of(&self, name: &str) -> ConnId {
        *self
            .links
            .iter()
            .rev()
            .find(|(_, l)| l.name == name && !l.closed)
            .map(|(c, _)| c)
            .unwrap_or_else(|| panic!("{name} has no open connection"))
    }

    /// The newest connection of client `name`, open or not.
    pub(crate) fn current(&self, name: &str) -> Option<ConnId> {
        self.links
            .iter()
            .rev()
            .find(|(_, l)| l.name == name)
            .map(|(c, _)| *c)
    }

    pub(crate) fn client(&mut self, name: &str) -> &mut ClientConnection {
        let conn = self.conn_of(name);
        &mut self.links.get_mut(&conn).unwrap().client
    }

    pub(crate) fn publish(
        &mut self,
        name: &str,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: &str,
    ) {
        let mut m = OutgoingMessage::new(
            TopicName::try_from(topic).unwrap(),
            qos,
            Bytes::from(payload.to_owned()),
        );
        m.retain = retain;
        self.publish_message(name, m);
    }

    /// Client `name` publishes `m` (with its properties), then the simulation settles.
    pub(crate) fn publish_message(&mut self, name: &str, m: OutgoingMessage) {
        let now = self.now;
        self.client(name).publish(now, m).unwrap();
        self.run();
    }

    /// One SUBSCRIBE with several filters, then the simulation settles.
    pub(crate) fn subscribe_many(
        &mut self,
        name: &str,
        filters: &[(&str, SubscriptionOptions)],
        id: Option<u32>,
    ) {
        let now = self.now;
        let props = SubscribeProperties {
            subscription_identifier: id.and_then(SubscriptionId::new),
            ..Default::default()
        };
        let filters = filters
            .iter()
            .map(|(f, o)| (TopicFilter::try_from(*f).unwrap(), *o))
            .collect();
        self.client(name).subscribe(now, filters, props).unwrap();
        self.run();
    }

    /// One UNSUBSCRIBE with `filters`, then the simulation settles.
    pub(crate) fn unsubscribe(&mut self, name: &str, filters: &[&str]) {
        let now = self.now;
        let filters = filters
            .iter()
            .map(|f| TopicFilter::try_from(*f).unwrap())
            .collect();
        self.client(name)
            .unsubscribe(now, filters, Default::default())
            .unwrap();
        self.run();
    }

    pub(crate) fn subscribe_with(
        &mut self,
        name: &str,
        filter: &str,
        options: SubscriptionOptions,
        id: Option<u32>,
    ) {
        let now = self.now;
        let props = SubscribeProperties {
            subscription_identifier: id.and_then(SubscriptionId::new),
            ..Default::default()
        };
        self.client(name)
            .subscribe(
                now,
                vec![(TopicFilter::try_from(filter).unwrap(), options)],
                props,
            )
            .unwrap();
        self.run();
    }

    pub(crate) fn subscribe(&mut self, name: &str, filter: &str, qos: QoS) {
        self.subscribe_with(name, filter, SubscriptionOptions::new(qos), None);
    }

    /// The transport of `name`'s connection breaks.
    pub(crate) fn cut(&mut self, name: &str) {
        let conn = self.conn_of(name);
        self.cut_conn(conn);
        self.run();
    }

    /// The transport of `conn` breaks: both ends learn it, bytes in transit are lost.
    pub(crate) fn cut_conn(&mut self, conn: ConnId) {
        let now = self.now;
        if let Some(link) = self.links.get_mut(&conn) {
            link.to_server.clear();
            link.to_client.clear();
            link.server_in.clear();
            link.client_in.clear();
            link.client.handle_transport_closed(now);
            link.server.handle_transport_closed(now);
        }
        self.process();
    }

    /// The client end of `conn` vanishes (host gone, NAT entry dropped): the client learns
    /// its transport failed, the server learns nothing; bytes in transit are lost, and what
    /// the server writes from now on goes nowhere.
    pub(crate) fn kill_client(&mut self, conn: ConnId) {
        let now = self.now;
        if let Some(link) = self.links.get_mut(&conn) {
            link.client_dead = true;
            link.to_server.clear();
            link.to_client.clear();
            link.server_in.clear();
            link.client_in.clear();
            link.client.handle_transport_closed(now);
        }
        self.process();
    }

    pub(crate) fn disconnect(&mut self, name: &str, reason: ReasonCode) {
        let now = self.now;
        self.client(name)
            .disconnect(now, Disconnect::new(reason))
            .unwrap();
        self.run();
    }

    /// Time passes by `d`, then the simulation runs until it settles.
    pub(crate) fn advance(&mut self, d: Duration) {
        self.tick(d);
        self.run();
    }

    /// Time passes by `d`: every timeout is handled, nothing in transit is delivered.
    pub(crate) fn tick(&mut self, d: Duration) {
        self.now += d;
        let now = self.now;
        if self.tracing {
            self.trace.push(Trace::Timeout { now });
        }
        self.broker.handle_timeout(now);
        let _ = self.drain_broker();
        for link in self.links.values_mut() {
            link.client.handle_timeout(now);
            link.server.handle_timeout(now);
        }
        self.process();
    }

    /// Moves bytes, events and broker outputs until nothing changes.
    pub(crate) fn run(&mut self) {
        for _ in 0..10_000 {
            if !self.step() {
                return;
            }
        }
        panic!("simulation did not settle");
    }

    /// Delivers everything in transit on every link, then processes the consequences.
    fn step(&mut self) -> bool {
        let mut progress = self.process();
        let conns: Vec<ConnId> = self.links.keys().copied().collect();
        for conn in conns {
            for dir in [Dir::ToServer, Dir::ToClient] {
                progress |= self.transfer(conn, dir, usize::MAX) > 0;
            }
        }
        progress | self.process()
    }

    /// Delivers up to `max` bytes waiting on `conn`'s wire in direction `dir` (a chunk may
    /// be split anywhere), then processes the consequences. Returns the bytes delivered.
    pub(crate) fn deliver(&mut self, conn: ConnId, dir: Dir, max: usize) -> usize {
        let n = self.transfer(conn, dir, max);
        self.process();
        n
    }

    /// Moves up to `max` bytes from the wire into the reading end and lets it read them.
    fn transfer(&mut self, conn: ConnId, dir: Dir, max: usize) -> usize {
        let now = self.now;
        let Some(link) = self.links.get_mut(&conn) else {
            return 0;
        };
        let (wire, buf) = match dir {
            Dir::ToServer => (&mut link.to_server, &mut link.server_in),
            Dir::ToClient => (&mut link.to_client, &mut link.client_in),
        };
        let mut moved = 0;
        while moved < max {
            let Some(mut chunk) = wire.pop_front() else {
                break;
            };
            let take = chunk.len().min(max - moved);
            let rest = chunk.split_off(take);
            if !rest.is_empty() {
                wire.push_front(rest);
            }
            buf.extend_from_slice(&chunk);
            moved += take;
        }
        if moved == 0 {
            return 0;
        }
        // A closed end reads nothing more: what reaches it is lost.
        match dir {
            Dir::ToServer if link.server.is_closed() => link.server_in.clear(),
            Dir::ToServer => link.server.handle_read(now, &mut link.server_in),
            Dir::ToClient if link.client.is_closed() => link.client_in.clear(),
            Dir::ToClient => link.client.handle_read(now, &mut link.client_in),
        }
        moved
    }

    /// Moves written bytes onto the wires, hands events to the broker and the broker's
    /// outputs to the connections, and closes transports whose end closed, until nothing
    /// changes. Nothing in transit is delivered. Returns whether anything happened.
    pub(crate) fn process(&mut self) -> bool {
        let mut any = false;
        loop {
            // Outputs of direct broker calls (for example `begin_shutdown`) come first.
            let mut progress = self.drain_broker();
            progress |= self.pump();
            let conns = self.order();
            for &conn in &conns {
                progress |= self.client_events_of(conn);
                while let Some(e) = self
                    .links
                    .get_mut(&conn)
                    .and_then(|l| l.server.poll_event())
                {
                    progress = true;
                    self.on_server_event(conn, e);
                }
            }
            progress |= self.pump();
            for &conn in &conns {
                self.report_window(conn);
                progress |= self.propagate_close(conn);
            }
            if !progress {
                return any;
            }
            any = true;
        }
    }

    /// Tells the broker when a connection's in-flight window fills or frees, as an
    /// embedder does.
    fn report_window(&mut self, conn: ConnId) {
        let now = self.now;
        if let Some(link) = self.links.get_mut(&conn) {
            let full = link.server.is_window_full();
            if full != link.window_full {
                link.window_full = full;
                self.broker.handle_window(now, conn, full);
            }
        }
    }

    /// The connections in the order this pass visits them.
    fn order(&mut self) -> Vec<ConnId> {
        let mut conns: Vec<ConnId> = self.links.keys().copied().collect();
        if let Some(state) = &mut self.schedule {
            for i in (1..conns.len()).rev() {
                // xorshift64
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                let j = (*state % (i as u64 + 1)) as usize;
                conns.swap(i, j);
            }
        }
        conns
    }

    /// Moves written chunks onto the wires. Bytes written towards an end that can no longer
    /// read are dropped.
    fn pump(&mut self) -> bool {
        let now = self.now;
        let mut progress = false;
        for link in self.links.values_mut() {
            while let Some(b) = link.client.poll_transmit(now) {
                progress = true;
                if !link.client_dead && !link.server.is_closed() {
                    link.to_server.push_back(b);
                }
            }
            while let Some(b) = link.server.poll_transmit(now) {
                progress = true;
                if !link.client_dead && !link.client.is_closed() {
                    link.to_client.push_back(b);
                }
            }
        }
        progress
    }

    /// The transport closes once an end that closed has had everything it wrote delivered.
    fn propagate_close(&mut self, conn: ConnId) -> bool {
        let now = self.now;
        let Some(link) = self.links.get_mut(&conn) else {
            return false;
        };
        if link.server.is_closed() && link.to_client.is_empty() && !link.client.is_closed() {
            link.client.handle_transport_closed(now);
            return true;
        }
        if link.client.is_closed()
            && !link.client_dead
            && link.to_server.is_empty()
            && !link.server.is_closed()
        {
            link.server.handle_transport_closed(now);
            return true;
        }
        false
    }

    fn client_events_of(&mut self, conn: ConnId) -> bool {
        let Some(link) = self.links.get_mut(&conn) else {
            return false;
        };
        let mut progress = false;
        while let Some(e) = link.client.poll_event() {
            progress = true;
            match e {
                ClientEvent::Publish(p) => {
                    self.received.entry(link.name.clone()).or_default().push(p);
                    self.received_on
                        .entry(link.name.clone())
                        .or_default()
                        .push(conn);
                }
                ClientEvent::Closed { reason } => {
                    if let CloseReason::Violation(v) = &reason {
                        self.anomalies.push(format!(
                            "client {} (conn {}) closed on a protocol violation: {v}",
                            link.name,
                            conn.get()
                        ));
                    }
                    let state = link.client.take_session_state();
                    self.client_sessions.insert(link.name.clone(), state);
                    self.client_events
                        .entry(link.name.clone())
                        .or_default()
                        .push(ClientEvent::Closed { reason });
                }
                other => self
                    .client_events
                    .entry(link.name.clone())
                    .or_default()
                    .push(other),
            }
        }
        progress
    }

    fn on_server_event(&mut self, conn: ConnId, event: ServerEvent) {
        let now = self.now;
        match event {
            ServerEvent::Connect(c) => {
                if let Some(link) = self.links.get_mut(&conn) {
                    link.awaiting_answer = true;
                }
                if self.tracing {
                    self.trace.push(Trace::Connect {
                        conn,
                        connect: c.clone(),
                    });
                }
                let refusal = self.check_connect.and_then(|check| check(&c));
                let pending = self.broker.handle_connect(now, conn, c);
                match refusal {
                    Some(code) => self.broker.refuse(now, pending, code),
                    None => self.broker.accept(now, pending),
                }
            }
            ServerEvent::Publish(p) => {
                if self.tracing {
                    let name = self.links[&conn].name.clone();
                    self.trace.push(Trace::Publish {
                        conn,
                        name,
                        publish: p.clone(),
                    });
                }
                self.broker.handle_publish(now, conn, p);
            }
            ServerEvent::Subscribe(s) => {
                if self.tracing {
                    self.trace.push(Trace::Subscribe {
                        conn,
                        subscribe: s.clone(),
                    });
                }
                self.broker.handle_subscribe(now, conn, s);
            }
            ServerEvent::Unsubscribe(u) => {
                if self.tracing {
                    self.trace.push(Trace::Unsubscribe {
                        conn,
                        unsubscribe: u.clone(),
                    });
                }
                self.broker.handle_unsubscribe(now, conn, u);
            }
            ServerEvent::Closed { reason } => {
                let link = self.links.get_mut(&conn).unwrap();
                if let CloseReason::Violation(v) = &reason {
                    self.anomalies.push(format!(
                        "server side of {} (conn {}) closed on a protocol violation: {v}",
                        link.name,
                        conn.get()
                    ));
                }
                if self.defer_unanswered_close && link.awaiting_answer {
                    link.deferred_close = Some(reason);
                } else {
                    self.hand_back(conn, reason);
                }
            }
            ServerEvent::Dropped { topic, why, .. } => {
                let name = &self.links[&conn].name;
                self.anomalies.push(format!(
                    "server side of {name} (conn {}) dropped a message on {topic}: {why:?}",
                    conn.get()
                ));
            }
            ServerEvent::Delivered { .. } | ServerEvent::Auth(_) => {}
        }
        let _ = self.drain_broker();
    }

    /// Hands a closed connection's session state back to the broker.
    fn hand_back(&mut self, conn: ConnId, reason: CloseReason) {
        let now = self.now;
        let link = self.links.get_mut(&conn).unwrap();
        let mut state = link.server.take_session_state();
        if let Some(s) = link.unaccepted.take() {
            state = s;
        }
        // QoS 1/2 deliveries that came after the close go with the state, in order, as
        // `Output::Deliver` asks.
        for m in link.late.drain(..) {
            state.enqueue(now, m);
        }
        link.closed = true;
        if self.tracing {
            self.trace.push(Trace::Closed {
                conn,
                at: now,
                reason: reason.clone(),
                queued: state.queued_len(),
            });
        }
        self.broker.handle_closed(now, conn, &reason, state);
    }

    /// Drains the broker: persistence operations into the store first (confirming them
    /// with `auto_confirm`), then the outputs, until neither has any.
    fn drain_broker(&mut self) -> bool {
        let mut any = false;
        loop {
            while let Some(op) = self.broker.poll_persist(self.now) {
                self.store.apply(self.now, op);
            }
            if self.auto_confirm && self.store.confirmed < self.store.last_seq {
                self.store.confirmed = self.store.last_seq;
                self.broker.handle_persisted(self.now, self.store.confirmed);
            }
            let Some(out) = self.broker.poll_output() else {
                return any;
            };
            any = true;
            self.apply(out);
        }
    }

    /// The store confirms every operation so far; then the simulation runs until it
    /// settles.
    pub(crate) fn confirm(&mut self) {
        self.store.confirmed = self.store.last_seq;
        self.broker.handle_persisted(self.now, self.store.confirmed);
        self.run();
    }

    /// The broker restarts from its store: a graceful shutdown (each connection is told to
    /// close with 0x8B and hands its session state back; bytes in transit stay on the
    /// wires), the last operations go to the store, and a broker with the same
    /// configuration and a new `seed` restores every record. Clients learn that their
    /// connection closed when the wires are delivered.
    pub(crate) fn restart(&mut self, seed: u64) {
        let now = self.now;
        self.broker.begin_shutdown(now);
        self.process();
        assert!(self.broker.is_shut_down(), "a connection is still open");
        let _ = self.drain_broker();
        if self.tracing {
            self.trace.push(Trace::Restart { at: now });
        }
        let mut broker = Broker::new(self.broker.config().clone(), seed, now);
        // The new broker numbers its connections from 1 again: skip the numbers the
        // harness already gave its links.
        let last = self.links.keys().next_back().map_or(0, |c| c.get());
        while let Some(conn) = broker.open_connection(now) {
            let closed = CloseReason::TransportClosed;
            broker.handle_closed(now, conn, &closed, SessionState::new());
            if conn.get() >= last {
                break;
            }
        }
        self.store.restore(&mut broker, now);
        self.broker = broker;
        self.store.last_seq = 0;
        self.store.confirmed = 0;
        // Wills and expiries that fell due while the broker was down.
        if self.tracing {
            self.trace.push(Trace::Timeout { now });
        }
        self.broker.handle_timeout(now);
        self.process();
    }

    fn apply(&mut self, out: Output) {
        let conn = match &out {
            Output::Accept { conn, .. }
            | Output::Refuse { conn, .. }
            | Output::Deliver { conn, .. }
            | Output::Ack { conn, .. }
            | Output::SubAck { conn, .. }
            | Output::UnsubAck { conn, .. }
            | Output::Disconnect { conn, .. } => *conn,
        };
        let answer = matches!(out, Output::Accept { .. } | Output::Refuse { .. });
        self.apply_to_link(conn, out);
        if answer && let Some(link) = self.links.get_mut(&conn) {
            link.awaiting_answer = false;
            if let Some(reason) = link.deferred_close.take() {
                self.hand_back(conn, reason);
            }
        }
    }

    fn apply_to_link(&mut self, conn: ConnId, out: Output) {
        let now = self.now;
        if self.tracing {
            match &out {
                Output::Accept { accept, .. } => self.trace.push(Trace::Accepted {
                    conn,
                    session_present: accept.session_present,
                    queued: accept.session.queued_len(),
                }),
                Output::Refuse { reason_code, .. } => self.trace.push(Trace::Refused {
                    conn,
                    reason_code: *reason_code,
                }),
                _ => {}
            }
        }
        let Some(link) = self.links.get_mut(&conn) else {
            self.anomalies.push(format!(
                "broker output for unknown conn {}: {out:?}",
                conn.get()
            ));
            return;
        };
        if link.closed {
            // The connection already handed its session back: only acknowledgements may
            // still be on their way to it.
            if !matches!(
                out,
                Output::Ack { .. } | Output::SubAck { .. } | Output::UnsubAck { .. }
            ) {
                self.anomalies.push(format!(
                    "broker output for conn {} after handle_closed: {out:?}",
                    conn.get()
                ));
            }
            return;
        }
        let s = &mut link.server;
        let result = match out {
            // A connection that closed while its CONNECT waited (for a take-over) cannot
            // be answered; it hands back the session state the answer brought, with
            // `handle_closed`, all the same.
            Output::Accept { accept, .. } if s.is_closed() => {
                link.unaccepted = Some(accept.session);
                Ok(())
            }
            Output::Refuse { .. } if s.is_closed() => Ok(()),
            Output::Accept { accept, .. } => {
                let r = s.accept(now, *accept);
                s.handle_read(now, &mut link.server_in);
                r
            }
            Output::Refuse { reason_code, .. } => s.refuse(now, reason_code),
            Output::Deliver { message, .. } => match s.publish(now, message.clone()) {
                // QoS 0 may be lost; a QoS 1/2 message goes into the state handed back.
                Err(Error::Closed) if message.qos == QoS::AtMostOnce => Ok(()),
                Err(Error::Closed) => {
                    link.late.push(message);
                    Ok(())
                }
                r => r.map(|_| ()),
            },
            Output::Ack {
                packet_id,
                reason_code,
                ..
            } => match s.acknowledge(now, packet_id, reason_code) {
                // The connection closed first: the client resends on its next connection.
                Err(Error::Closed) => Ok(()),
                r => r,
            },
            Output::SubAck { suback, .. } => match s.suback(now, suback) {
                Err(Error::Closed) => Ok(()),
                r => r,
            },
            Output::UnsubAck { unsuback, .. } => match s.unsuback(now, unsuback) {
                Err(Error::Closed) => Ok(()),
                r => r,
            },
            Output::Disconnect { reason_code, .. } => {
                s.disconnect(now, reason_code);
                Ok(())
            }
        };
        if let Err(e) = result {
            self.anomalies.push(format!(
                "broker output for conn {} could not be carried out: {e}",
                conn.get()
            ));
        }
    }

    pub(crate) fn payloads(&self, name: &str) -> Vec<String> {
        self.received
            .get(name)
            .map(|v| {
                v.iter()
                    .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn last(&self, name: &str) -> &Publish {
        self.received
            .get(name)
            .and_then(|v| v.last())
            .expect("no message received")
    }
}

pub(crate) fn sim() -> Sim {
    Sim::new(BrokerConfig {
        sys_interval: None,
        ..BrokerConfig::default()
    })
}
