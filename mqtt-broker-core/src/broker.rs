//! The broker: connections, sessions, take-over, wills and session expiry. Routing of
//! messages and subscriptions is in `routing.rs`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use mqtt_proto::{ConnAckProperties, Connect, MqttString, ProtocolVersion, QoS, ReasonCode};
use mqtt_session::{Accept, CloseReason, SessionState};

use crate::auth::{AllowAll, Authorizer};
use crate::config::BrokerConfig;
use crate::output::{ConnId, Output};
use crate::persist::Persist;
use crate::retained::RetainedStore;
use crate::routing::RetainedMessage;
use crate::session::{Session, SessionKey, Subscription, will_delay};
use crate::stats::Stats;
use crate::subscriptions::SubscriptionTree;

/// A CONNECT waiting for the embedder's decision: authenticate it (possibly
/// asynchronously), then pass it to [`Broker::accept`] or [`Broker::refuse`]. It cannot be
/// cloned: each CONNECT is answered once.
#[derive(Debug)]
pub struct PendingConnect {
    conn: ConnId,
    connect: Box<Connect>,
}

impl PendingConnect {
    /// The connection.
    #[must_use]
    pub fn conn(&self) -> ConnId {
        self.conn
    }

    /// The CONNECT (client id, credentials, will, properties) to authenticate.
    #[must_use]
    pub fn connect(&self) -> &Connect {
        &self.connect
    }
}

/// A connection accepted but waiting for the session's previous connection to hand the
/// session back.
pub(crate) struct Waiting {
    pub(crate) conn: ConnId,
    pub(crate) connect: Box<Connect>,
    pub(crate) assigned: bool,
}

pub(crate) struct ConnEntry {
    /// The session it serves, once accepted.
    pub(crate) session: Option<SessionKey>,
    /// The session whose previous connection it waits for (take-over).
    pub(crate) waiting_for: Option<SessionKey>,
    /// Its in-flight window towards the client is full (`handle_window`).
    pub(crate) window_full: bool,
}

/// The MQTT broker as a pure state machine.
///
/// Inputs: [`open_connection`](Self::open_connection), [`handle_connect`](Self::handle_connect)
/// then [`accept`](Self::accept) / [`refuse`](Self::refuse), `handle_publish`,
/// `handle_subscribe`, `handle_unsubscribe`, [`handle_closed`](Self::handle_closed),
/// [`handle_timeout`](Self::handle_timeout), [`handle_persisted`](Self::handle_persisted).
/// Outputs: [`poll_persist`](Self::poll_persist) (operations for the store, when
/// persistence is on), [`poll_output`](Self::poll_output) (instructions for the
/// connections, in order) and [`poll_timeout`](Self::poll_timeout). After every input,
/// drain the persistence operations, then the outputs, then read the timeout.
///
/// Each network connection runs its own [`ServerConnection`](mqtt_session::ServerConnection)
/// (configure it with `auto_ack: false`: the broker decides the acknowledgements) and
/// forwards its events here; the broker owns what connections share: sessions and their
/// offline queues, subscriptions, retained messages, wills.
pub struct Broker {
    pub(crate) config: BrokerConfig,
    pub(crate) authorizer: Box<dyn Authorizer>,
    pub(crate) started: Instant,
    pub(crate) next_conn: u64,
    pub(crate) conns: BTreeMap<ConnId, ConnEntry>,
    /// Sessions, indexed by `SessionKey`; freed slots are reused.
    pub(crate) sessions: Vec<Option<Session>>,
    pub(crate) free_sessions: Vec<SessionKey>,
    pub(crate) by_client_id: BTreeMap<MqttString, SessionKey>,
    pub(crate) subscriptions: SubscriptionTree<SessionKey, Subscription>,
    pub(crate) retained: RetainedStore<RetainedMessage>,
    /// Round-robin position per shared subscription group (`$share/{group}/{filter}`).
    pub(crate) share_cursor: BTreeMap<mqtt_proto::TopicFilter, usize>,
    pub(crate) outputs: VecDeque<Output>,
    pub(crate) stats: Stats,
    pub(crate) next_sys: Option<Instant>,
    /// Will and expiry deadlines. Entries may be stale (the session changed since); each
    /// is checked against its session when it comes due.
    pub(crate) timers: BTreeSet<(Instant, SessionKey)>,
    pub(crate) assigned_ids: u64,
    /// Distinguishes this broker instance's assigned client ids from an earlier one's,
    /// without revealing the seed that keys the hashing.
    pub(crate) id_tag: u64,
    /// Set by `begin_shutdown`: no new connections, every connection is closing.
    pub(crate) shutting_down: bool,
    /// Changes not yet written, and acknowledgements waiting for the store.
    pub(crate) persist: Persist,
}

impl Broker {
    /// A broker with `config`. `seed` keys the hashing of peer-chosen strings and the
    /// assigned client identifiers; take it from a random source. `now` starts the uptime.
    #[must_use]
    pub fn new(config: BrokerConfig, seed: u64, now: Instant) -> Self {
        Self {
            next_sys: config.sys_interval.map(|i| now + i),
            config,
            authorizer: Box::new(AllowAll),
            started: now,
            next_conn: 0,
            conns: BTreeMap::new(),
            sessions: Vec::new(),
            free_sessions: Vec::new(),
            by_client_id: BTreeMap::new(),
            subscriptions: SubscriptionTree::new(seed),
            retained: RetainedStore::new(seed ^ 0x9E37_79B9_7F4A_7C15),
            share_cursor: BTreeMap::new(),
            outputs: VecDeque::new(),
            stats: Stats::default(),
            timers: BTreeSet::new(),
            assigned_ids: 0,
            id_tag: {
                use std::hash::BuildHasher;
                foldhash::fast::FixedState::with_seed(seed).hash_one("assigned client id")
            },
            shutting_down: false,
            persist: Persist::default(),
        }
    }

    /// Replaces the authorization policy (the default allows everything).
    pub fn set_authorizer(&mut self, authorizer: Box<dyn Authorizer>) {
        self.authorizer = authorizer;
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Registers a new network connection. `None` when the broker is at its connection
    /// limit: close the transport.
    pub fn open_connection(&mut self, _now: Instant) -> Option<ConnId> {
        if self.shutting_down || self.conns.len() >= self.config.max_connections {
            return None;
        }
        self.next_conn += 1;
        let id = ConnId(self.next_conn);
        self.conns.insert(
            id,
            ConnEntry {
                session: None,
                waiting_for: None,
                window_full: false,
            },
        );
        Some(id)
    }

    /// A connection's CONNECT arrived. Authenticate it, then answer with
    /// [`accept`](Self::accept) or [`refuse`](Self::refuse).
    #[must_use]
    pub fn handle_connect(
        &mut self,
        _now: Instant,
        conn: ConnId,
        connect: Box<Connect>,
    ) -> PendingConnect {
        PendingConnect { conn, connect }
    }

    /// Refuses a CONNECT (the connection then closes; hand it back with `handle_closed`).
    pub fn refuse(&mut self, _now: Instant, pending: PendingConnect, reason_code: ReasonCode) {
        self.outputs.push_back(Output::Refuse {
            conn: pending.conn,
            reason_code,
        });
    }

    /// Accepts a CONNECT: resumes or creates its session, taking it over from another
    /// connection if needed [MQTT-3.1.4-3] (the answer then waits until that connection
    /// hands the session back). A 5.0 will the configuration cannot honour (Will QoS above
    /// `max_qos`, Will Retain without `retain_available`) refuses it instead, with 0x9B or
    /// 0x9A.
    pub fn accept(&mut self, now: Instant, pending: PendingConnect) {
        let PendingConnect { conn, mut connect } = pending;
        if !self.conns.contains_key(&conn) {
            return;
        }
        if self.shutting_down {
            return self.outputs.push_back(Output::Refuse {
                conn,
                reason_code: ReasonCode::ServerUnavailable,
            });
        }
        // A 5.0 will the broker could not publish as asked refuses the connection: Will QoS
        // above Maximum QoS [MQTT-3.2.2-12], Will Retain without retained messages
        // [MQTT-3.2.2-13]. 3.1.1 has no such rule: its wills are published at the broker's
        // maximum QoS, and not retained (see `publish_will` and `route`).
        if connect.protocol.is_v5()
            && let Some(will) = &connect.will
        {
            let refusal = if will.qos > self.config.max_qos {
                Some(ReasonCode::QoSNotSupported)
            } else if will.retain && !self.config.retain_available {
                Some(ReasonCode::RetainNotSupported)
            } else {
                None
            };
            if let Some(reason_code) = refusal {
                return self.outputs.push_back(Output::Refuse { conn, reason_code });
            }
        }
        // An empty client identifier gets one assigned [MQTT-3.1.3-6] (5.0; 3.1.1 allows it
        // only with Clean Session, which the connection layer checked).
        let assigned = connect.client_id.is_empty();
        if assigned {
            // Never one of a session restored from an earlier instance with the same seed.
            connect.client_id = loop {
                self.assigned_ids += 1;
                let id = format!("auto-{:016x}-{}", self.id_tag, self.assigned_ids);
                let id = MqttString::try_from(id).unwrap_or_default();
                if !self.by_client_id.contains_key(&id) {
                    break id;
                }
            };
        }
        let waiting = Waiting {
            conn,
            connect,
            assigned,
        };
        if let Some(&key) = self.by_client_id.get(&waiting.connect.client_id)
            && let Some(old) = self.session_mut(key).and_then(|s| s.conn)
        {
            // Take-over: close the old connection; the new one is answered once the old
            // one has handed the session back.
            self.outputs.push_back(Output::Disconnect {
                conn: old,
                reason_code: ReasonCode::SessionTakenOver,
            });
            if let Some(entry) = self.conns.get_mut(&conn) {
                entry.waiting_for = Some(key);
            }
            if let Some(s) = self.session_mut(key)
                && let Some(previous) = s.takeover.replace(waiting)
            {
                // A third connection overtook a waiting second one. "Session taken over"
                // cannot be said in a CONNACK: it is refused as unspecified.
                self.outputs.push_back(Output::Refuse {
                    conn: previous.conn,
                    reason_code: ReasonCode::UnspecifiedError,
                });
            }
            return;
        }
        self.complete_accept(now, waiting);
    }

    fn complete_accept(&mut self, now: Instant, w: Waiting) {
        let Waiting {
            conn,
            connect,
            assigned,
        } = w;
        // The connection may have closed while it waited for a take-over.
        if !self.conns.contains_key(&conn) {
            return;
        }
        let version = connect.protocol;
        let v5 = version.is_v5();
        if connect.clean_start {
            // [MQTT-3.1.2-4]: Clean Start discards any existing session; a will still
            // pending for it is published now that the session ends.
            if let Some(&key) = self.by_client_id.get(&connect.client_id) {
                self.end_session(now, key);
            }
        }
        let existing = self.by_client_id.get(&connect.client_id).copied();
        let session_present = existing.is_some();
        let key = existing.unwrap_or_else(|| self.new_session(connect.client_id.clone(), version));
        let requested_expiry = if v5 {
            connect.properties.session_expiry_interval.unwrap_or(0)
        } else if connect.clean_start {
            0
        } else {
            u32::MAX
        };
        let expiry = requested_expiry.min(self.config.max_session_expiry);
        let mut props = ConnAckProperties::default();
        if v5 {
            if expiry != requested_expiry {
                props.session_expiry_interval = Some(expiry);
            }
            if assigned {
                props.assigned_client_identifier = Some(connect.client_id.clone());
            }
            if let Some(max) = self.config.max_keep_alive
                && (connect.keep_alive == 0 || connect.keep_alive > max)
            {
                props.server_keep_alive = Some(max);
            }
            if self.config.max_qos != QoS::ExactlyOnce {
                props.maximum_qos = Some(self.config.max_qos);
            }
            let flag = |on: bool| (!on).then_some(false);
            props.retain_available = flag(self.config.retain_available);
            props.wildcard_subscription_available = flag(self.config.wildcard_subscriptions);
            props.subscription_identifiers_available = flag(self.config.subscription_identifiers);
            props.shared_subscription_available = flag(self.config.shared_subscriptions);
        }
        let will = connect.will.map(|w| {
            let delay = will_delay(version, &w);
            Box::new((w, delay))
        });
        let Some(session) = self.session_mut(key) else {
            return;
        };
        session.version = version;
        session.conn = Some(conn);
        session.expiry = expiry;
        session.expires_at = None;
        // [MQTT-3.1.3-9] (5.0): a new connection before the will delay ends cancels it.
        session.will_at = None;
        session.will = will;
        let state = session.state.take().unwrap_or_default();
        self.mark_session(key);
        if let Some(entry) = self.conns.get_mut(&conn) {
            entry.session = Some(key);
        }
        self.stats.connected += 1;
        self.stats.max_connected = self.stats.max_connected.max(self.stats.connected);
        self.outputs.push_back(Output::Accept {
            conn,
            accept: Box::new(Accept {
                session_present,
                session: state,
                properties: props,
            }),
        });
    }

    pub(crate) fn new_session(
        &mut self,
        client_id: MqttString,
        version: ProtocolVersion,
    ) -> SessionKey {
        let session = Session::new(client_id.clone(), version);
        let key = match self.free_sessions.pop() {
            Some(k) => {
                if let Some(slot) = self.sessions.get_mut(k as usize) {
                    *slot = Some(session);
                }
                k
            }
            None => {
                self.sessions.push(Some(session));
                (self.sessions.len() - 1) as SessionKey
            }
        };
        self.by_client_id.insert(client_id, key);
        key
    }

    pub(crate) fn session(&self, key: SessionKey) -> Option<&Session> {
        self.sessions.get(key as usize).and_then(Option::as_ref)
    }

    pub(crate) fn session_mut(&mut self, key: SessionKey) -> Option<&mut Session> {
        self.sessions.get_mut(key as usize).and_then(Option::as_mut)
    }

    /// The session a connection serves, once accepted.
    pub(crate) fn session_of(&self, conn: ConnId) -> Option<SessionKey> {
        self.conns.get(&conn).and_then(|c| c.session)
    }

    /// Ends a session: its subscriptions and its stored record go, and a pending will is
    /// published.
    fn end_session(&mut self, now: Instant, key: SessionKey) {
        let Some(session) = self.drop_session(key) else {
            return;
        };
        self.session_ended(&session);
        if session.will_at.is_some()
            && let Some(pending) = session.will
        {
            self.publish_will(now, &session.client_id, pending.0);
        }
    }

    /// Removes a session and its subscriptions, and nothing else.
    pub(crate) fn drop_session(&mut self, key: SessionKey) -> Option<Session> {
        let session = self.sessions.get_mut(key as usize).and_then(Option::take)?;
        self.free_sessions.push(key);
        self.by_client_id.remove(&session.client_id);
        for (filter, _) in &session.subscriptions {
            self.subscriptions.remove(filter, key);
        }
        Some(session)
    }

    /// A connection ended; `reason` is its close reason and `state` the session state it
    /// held (take it with `ServerConnection::take_session_state`). Call this for every
    /// connection from [`open_connection`](Self::open_connection), accepted or not.
    pub fn handle_closed(
        &mut self,
        now: Instant,
        conn: ConnId,
        reason: &CloseReason,
        state: SessionState,
    ) {
        let Some(entry) = self.conns.remove(&conn) else {
            return;
        };
        self.forget_acks(conn);
        // A connection that closed while waiting to take a session over stops waiting.
        if let Some(waited) = entry.waiting_for
            && let Some(s) = self.session_mut(waited)
            && s.takeover.as_ref().is_some_and(|w| w.conn == conn)
        {
            s.takeover = None;
        }
        let Some(key) = entry.session else {
            return;
        };
        self.stats.connected = self.stats.connected.saturating_sub(1);
        let Some(session) = self.sessions.get_mut(key as usize).and_then(Option::as_mut) else {
            return;
        };
        if session.conn != Some(conn) {
            return;
        }
        session.conn = None;
        // What the connection had queued counts against the offline bound too: the oldest
        // beyond it are dropped, as for messages arriving while offline.
        let mut state = state;
        while state.queued_len() > self.config.max_queued_messages {
            state.pop_oldest_queued();
            self.stats.messages_dropped += 1;
        }
        session.state = Some(state);
        // Wills: published unless the client disconnected normally [MQTT-3.1.2-8]; a 5.0
        // Will Delay Interval postpones it, but never past the session's end
        // [MQTT-3.1.3-9].
        let mut will_now = None;
        if reason.publishes_will() {
            if let Some((_, delay)) = session.will.as_deref() {
                let delay = (*delay).min(session.expiry);
                if delay == 0 {
                    will_now = session.will.take().map(|pending| *pending);
                } else {
                    let at = now + Duration::from_secs(u64::from(delay));
                    session.will_at = Some(at);
                    self.timers.insert((at, key));
                }
            }
        } else {
            session.will = None;
        }
        let expiry = session.expiry;
        let client_id = session.client_id.clone();
        let takeover = session.takeover.take();
        if expiry != u32::MAX {
            let at = now + Duration::from_secs(u64::from(expiry));
            session.expires_at = Some(at);
            self.timers.insert((at, key));
        }
        self.mark_session(key);
        if let Some((will, _)) = will_now {
            self.publish_will(now, &client_id, will);
        }
        match takeover {
            Some(waiting) => self.complete_accept(now, waiting),
            None if expiry == 0 => self.end_session(now, key),
            None => {}
        }
        if self.shutting_down && self.conns.is_empty() && !self.persisting() {
            self.settle_wills(now);
        }
    }

    /// A connection's in-flight window towards its client became full (`true`: QoS 1/2
    /// messages now wait in its session queue, see `ServerConnection::is_window_full`) or
    /// has room again (`false`). Shared subscriptions pass their messages to members whose
    /// window has room while there are any. Report changes only; the default is "room".
    pub fn handle_window(&mut self, _now: Instant, conn: ConnId, full: bool) {
        if let Some(entry) = self.conns.get_mut(&conn) {
            entry.window_full = full;
        }
    }

    /// Counts messages the embedder dropped on their way to a client (a connection's full
    /// session queue, a slow subscriber's QoS 0 messages): they appear in the statistics
    /// (`$SYS/broker/messages/dropped`) with the broker's own drops.
    pub fn count_dropped(&mut self, count: u64) {
        self.stats.messages_dropped = self.stats.messages_dropped.saturating_add(count);
    }

    /// Starts a graceful shutdown: no new connections are accepted, and every connection
    /// is told to close with 0x8B Server shutting down (a 5.0 DISCONNECT). Wills follow
    /// the usual rules as each connection closes [MQTT-3.1.2-8]; once the last one has,
    /// wills still waiting for their delay are published, since no connection can resume
    /// their sessions any more. With persistence on, they stay pending instead, in the
    /// stored sessions that a restarted broker restores: drain
    /// [`poll_persist`](Self::poll_persist) once [`is_shut_down`](Self::is_shut_down).
    pub fn begin_shutdown(&mut self, now: Instant) {
        self.shutting_down = true;
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.outputs.push_back(Output::Disconnect {
                conn,
                reason_code: ReasonCode::ServerShuttingDown,
            });
        }
        if self.conns.is_empty() && !self.persisting() {
            self.settle_wills(now);
        }
    }

    /// Whether the broker is shut down: shutdown begun and every connection closed.
    #[must_use]
    pub fn is_shut_down(&self) -> bool {
        self.shutting_down && self.conns.is_empty()
    }

    fn settle_wills(&mut self, now: Instant) {
        let mut wills = Vec::new();
        for s in self.sessions.iter_mut().flatten() {
            if s.will_at.take().is_some()
                && let Some((will, _)) = s.will.take().map(|pending| *pending)
            {
                wills.push((s.client_id.clone(), will));
            }
        }
        for (client_id, will) in wills {
            self.publish_will(now, &client_id, will);
        }
    }

    /// Handles the passing of time: will delays, session expiry and `$SYS` publication.
    /// Spurious calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, key)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let Some(s) = self.session_mut(key) else {
                continue;
            };
            let mut will = None;
            if s.will_at.is_some_and(|t| t <= now) {
                s.will_at = None;
                will = s
                    .will
                    .take()
                    .map(|pending| (s.client_id.clone(), pending.0));
            }
            let expired = s.conn.is_none() && s.expires_at.is_some_and(|t| t <= now);
            if let Some((client_id, w)) = will {
                if !expired {
                    self.mark_session(key);
                }
                self.publish_will(now, &client_id, w);
            }
            if expired {
                self.end_session(now, key);
            }
        }
        if self.next_sys.is_some_and(|t| t <= now) {
            self.publish_sys(now);
            self.next_sys = self.config.sys_interval.map(|i| now + i);
        }
    }

    /// The next instruction for a connection.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next (possibly
    /// early: a deadline may have been cancelled since).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timer = self.timers.first().map(|&(t, _)| t);
        [timer, self.next_sys].into_iter().flatten().min()
    }

    /// Number of sessions (connected or not).
    #[must_use]
    pub fn session_count(&self) -> usize {
        self.by_client_id.len()
    }

    /// Number of retained messages.
    #[must_use]
    pub fn retained_count(&self) -> usize {
        self.retained.len()
    }
}
