//! The naive model the deliveries are checked against.
//!
//! It follows what the broker was told, in the order it was told (`Trace`): which sessions
//! exist (an epoch numbers each new session of a client), their subscriptions, the retained
//! messages, and for every PUBLISH the broker handled, the copies it owes each session
//! (`Receipt`, `Target`) and for every SUBSCRIBE the retained messages it owes (`Offer`).
//! What the clients' applications receive (`Delivery`) is then explained by those.
//!
//! A message matching shared subscriptions (5.0 section 4.8.2) is owed to one member of each
//! matching group; which one is the broker's choice, so a session's copy has alternatives
//! (`Target::groups`: the groups it was picked for), and which members may be picked is the
//! broker's documented policy (a connected member if any, else any member). Wills are
//! published as the broker must (`SessionM::will`). With a small `max_queued_messages`, a
//! copy is excused from delivery when the oldest-first dropping could have removed it
//! (`Model::droppable`). Routing is in `route.rs`, the checks in `check.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_broker_core::ConnId;
use mqtt_proto::{Publish, QoS, ReasonCode, RetainHandling};
use mqtt_session::CloseReason;

use crate::AVOID_BUG_QUEUE_BOUND_HANDED_BACK;
use crate::common::Trace;

pub(crate) type MsgId = u64;

/// Ids from this up are given to empty messages, which carry no id: each receipt of one
/// gets its own, and their deliveries are checked by topic and count.
pub(crate) const ANONYMOUS: MsgId = 1 << 62;

/// The id a message carries in its payload, `m<n>`.
pub(crate) fn message_id(p: &Publish) -> Option<MsgId> {
    std::str::from_utf8(&p.payload)
        .ok()?
        .strip_prefix('m')?
        .parse()
        .ok()
}

/// The share name and filter proper of a shared subscription `$share/{name}/{filter}`.
pub(crate) fn shared(filter: &str) -> Option<(&str, &str)> {
    filter.strip_prefix("$share/")?.split_once('/')
}

/// Topic matching written from the standard's text (sections 4.7 and 4.8.2), independent of
/// the code under test.
pub(crate) fn matches(filter: &str, topic: &str) -> bool {
    let filter = shared(filter).map_or(filter, |(_, f)| f);
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let f: Vec<&str> = filter.split('/').collect();
    let t: Vec<&str> = topic.split('/').collect();
    for i in 0.. {
        match (f.get(i), t.get(i)) {
            (Some(&"#"), _) => return true,
            (Some(&"+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
    unreachable!()
}

#[derive(Debug)]
pub(crate) struct Msg {
    pub(crate) publisher: String,
    pub(crate) topic: String,
    pub(crate) qos: QoS,
    /// Correlation Data, sent by a 5.0 publisher.
    pub(crate) correlation: Option<Bytes>,
}

/// A copy the broker owes a session.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) client: usize,
    /// The session's epoch.
    pub(crate) epoch: u64,
    /// min(published QoS, highest granted QoS).
    pub(crate) qos: QoS,
    /// The RETAIN flags the copy may carry: 0 unless Retain As Published
    /// [MQTT-3.3.1-12] [MQTT-3.3.1-13] (either, when only some of the matching
    /// subscriptions have it: the standard does not say); 1 for a retained message sent
    /// on SUBSCRIBE.
    pub(crate) retain: BTreeSet<bool>,
    /// Whether the session was 5.0 when the copy was made (3.1.1 copies carry no
    /// properties).
    pub(crate) v5: bool,
    /// The Subscription Identifiers of the matching subscriptions, sorted.
    pub(crate) ids: Vec<u32>,
    /// The shared-subscription groups (their `$share/...` filters) this alternative
    /// assumes the broker picked the session for; empty: its non-shared subscriptions only.
    pub(crate) groups: Vec<String>,
    /// How many copies the session's client had been made before this one
    /// (`Model::droppable`).
    pub(crate) seq: u64,
}

/// The broker handling one PUBLISH (or publishing a will).
#[derive(Debug)]
pub(crate) struct Receipt {
    pub(crate) msg: MsgId,
    /// The publisher's session: (client, epoch); `None` for a will.
    pub(crate) from: Option<(usize, u64)>,
    pub(crate) topic: String,
    /// The copies owed; several targets of one client are alternatives for one copy.
    pub(crate) targets: Vec<Target>,
    /// Each matching shared-subscription group and the clients it may pick.
    pub(crate) shared: Vec<(String, Vec<usize>)>,
}

/// A will as the model keeps it.
#[derive(Debug, Clone)]
pub(crate) struct WillM {
    pub(crate) msg: MsgId,
    pub(crate) topic: String,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
    /// Will Delay Interval (0 on 3.1.1).
    pub(crate) delay: u32,
}

/// A retained message the broker owes a session after a SUBSCRIBE.
#[derive(Debug)]
pub(crate) struct Offer {
    pub(crate) target: Target,
    pub(crate) msg: MsgId,
}

/// A subscription as the model keeps it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sub {
    /// Granted QoS: the broker grants every QoS (Maximum QoS 2).
    pub(crate) qos: QoS,
    pub(crate) id: Option<u32>,
    pub(crate) no_local: bool,
    pub(crate) retain_as_published: bool,
}

#[derive(Debug)]
pub(crate) struct SessionM {
    pub(crate) epoch: u64,
    /// Protocol version of its latest connection.
    pub(crate) v5: bool,
    /// Filter -> subscription.
    pub(crate) subs: BTreeMap<String, Sub>,
    pub(crate) conn: Option<ConnId>,
    pub(crate) expiry: u32,
    pub(crate) offline_since: Option<Instant>,
    /// A connection waiting to take the session over.
    pub(crate) takeover: Option<ConnId>,
    /// The session would have ended with its connection (expiry 0) but a take-over was
    /// waiting for it: whether the new connection resumes it is left open by the standard.
    pub(crate) kept_for_takeover: bool,
    /// The will of its latest connection, until published or discarded.
    pub(crate) will: Option<WillM>,
    /// When a will waiting for its delay is published.
    pub(crate) will_at: Option<Instant>,
    /// Messages queued in the state its last connection handed back.
    pub(crate) handed_back: usize,
}

/// One message as a client's application saw it.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub(crate) id: Option<MsgId>,
    pub(crate) topic: String,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
    pub(crate) dup: bool,
    /// Whether it came on a 5.0 connection.
    pub(crate) v5: bool,
    pub(crate) correlation: Option<Bytes>,
    /// Subscription Identifiers, sorted.
    pub(crate) ids: Vec<u32>,
    /// How many times the client had discarded its session state before (`Model::resets`).
    pub(crate) generation: u32,
}

impl Delivery {
    /// Whether `other` is a delivery of the same message (for a message without id: of
    /// an empty message on the same topic).
    pub(crate) fn same_message(&self, other: &Self) -> bool {
        self.id == other.id && (self.id.is_some() || self.topic == other.topic)
    }
}

/// A CONNECT handed to the broker and not answered yet.
#[derive(Debug, Clone)]
pub(crate) struct PendingConnect {
    pub(crate) client: usize,
    pub(crate) clean: bool,
    pub(crate) expiry: u32,
    pub(crate) v5: bool,
    pub(crate) will: Option<WillM>,
}

pub(crate) struct Model {
    pub(crate) names: Vec<String>,
    pub(crate) sessions: Vec<Option<SessionM>>,
    pub(crate) next_epoch: u64,
    pub(crate) next_anonymous: MsgId,
    /// Connection -> (client, epoch) of the session it serves.
    pub(crate) binding: BTreeMap<ConnId, (usize, u64)>,
    pub(crate) connects: BTreeMap<ConnId, PendingConnect>,
    pub(crate) msgs: BTreeMap<MsgId, Msg>,
    pub(crate) receipts: Vec<Receipt>,
    pub(crate) offers: Vec<Offer>,
    /// Message id -> indexes into `receipts` (anonymous ones under `ANONYMOUS`).
    pub(crate) by_msg: BTreeMap<MsgId, Vec<usize>>,
    /// Per client: indexes into `offers`.
    pub(crate) offers_to: Vec<Vec<usize>>,
    /// `BrokerConfig::max_queued_messages`, when small.
    pub(crate) max_queued: Option<usize>,
    /// Per client: copies made (routed or offered) so far.
    pub(crate) made: Vec<u64>,
    /// Per client: `seq + 1` of the last copy made while its session had no connection.
    pub(crate) made_offline: Vec<u64>,
    /// (message, group) -> clients that got the message only through that group.
    pub(crate) group_picks: BTreeMap<(MsgId, String), BTreeSet<usize>>,
    /// Per client: `made` when it last connected on 3.1.1. A copy made before may have
    /// been sent in flight without properties (3.1.1 has none) and is then resent as sent,
    /// with DUP 1 [MQTT-4.4.0-1], even on a later 5.0 connection.
    pub(crate) stripped_before: Vec<u64>,
    pub(crate) wills_published: usize,
    pub(crate) retained: BTreeMap<String, MsgId>,
    pub(crate) deliveries: Vec<Vec<Delivery>>,
    /// Per client: how many entries of `Sim::received` were checked.
    pub(crate) cursor: Vec<usize>,
    /// Per client: how many times it discarded its session state to connect with Clean
    /// Start. If that CONNECT never reaches the broker, the broker's session lives on and
    /// a later connection resumes it: the client then gets again the QoS 2 messages whose
    /// PUBREL it had not seen, having forgotten their packet identifiers. (A 5.0 client
    /// without session state is to close on Session Present 1 [MQTT-3.2.2-4]; a
    /// `ClientConnection` cannot tell an empty state from none.)
    pub(crate) resets: Vec<u32>,
    pub(crate) violations: Vec<String>,
}

impl Model {
    pub(crate) fn new(names: Vec<String>) -> Self {
        let n = names.len();
        Self {
            names,
            sessions: (0..n).map(|_| None).collect(),
            next_epoch: 1,
            next_anonymous: ANONYMOUS,
            binding: BTreeMap::new(),
            connects: BTreeMap::new(),
            msgs: BTreeMap::new(),
            receipts: Vec::new(),
            offers: Vec::new(),
            by_msg: BTreeMap::new(),
            offers_to: (0..n).map(|_| Vec::new()).collect(),
            max_queued: None,
            made: vec![0; n],
            made_offline: vec![0; n],
            group_picks: BTreeMap::new(),
            stripped_before: vec![0; n],
            wills_published: 0,
            retained: BTreeMap::new(),
            deliveries: (0..n).map(|_| Vec::new()).collect(),
            cursor: vec![0; n],
            resets: vec![0; n],
            violations: Vec::new(),
        }
    }

    pub(crate) fn client(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    pub(crate) fn fail(&mut self, v: String) {
        self.violations.push(v);
    }

    /// The client and session epoch `conn` serves, if that is still the client's session.
    pub(crate) fn bound(&self, conn: ConnId) -> Option<(usize, u64)> {
        let &(c, epoch) = self.binding.get(&conn)?;
        let s = self.sessions[c].as_ref()?;
        (s.epoch == epoch).then_some((c, epoch))
    }

    pub(crate) fn apply(&mut self, t: Trace) {
        match t {
            Trace::Connect { conn, connect } => {
                let Some(client) = self.client(connect.client_id.as_str()) else {
                    return;
                };
                let v5 = connect.protocol.is_v5();
                let expiry = if v5 {
                    connect.properties.session_expiry_interval.unwrap_or(0)
                } else if connect.clean_start {
                    0
                } else {
                    u32::MAX
                };
                let will = connect.will.as_ref().map(|w| WillM {
                    msg: std::str::from_utf8(&w.payload)
                        .ok()
                        .and_then(|p| p.strip_prefix('m')?.parse().ok())
                        .expect("wills carry an id"),
                    topic: w.topic.as_str().to_owned(),
                    qos: w.qos,
                    retain: w.retain,
                    delay: if v5 {
                        w.properties.will_delay_interval.unwrap_or(0)
                    } else {
                        0
                    },
                });
                let pending = PendingConnect {
                    client,
                    clean: connect.clean_start,
                    expiry,
                    v5,
                    will,
                };
                self.connects.insert(conn, pending);
                if let Some(s) = self.sessions[client].as_mut()
                    && s.conn.is_some()
                {
                    s.takeover = Some(conn);
                }
            }
            Trace::Accepted {
                conn,
                session_present,
                queued,
            } => {
                // The offline queue never holds more than `max_queued_messages`: each
                // message queued beyond it drops the oldest. (With the switch, the bound
                // is not applied to what the connection handed back, but the queue may
                // not grow past that either.)
                if let Some(max) = self.max_queued
                    && let Some(p) = self.connects.get(&conn)
                {
                    let handed_back = self.sessions[p.client]
                        .as_ref()
                        .filter(|_| AVOID_BUG_QUEUE_BOUND_HANDED_BACK)
                        .map_or(0, |s| s.handed_back);
                    if queued > max.max(handed_back) {
                        let name = self.names[p.client].clone();
                        self.fail(format!(
                            "the session of {name} came back (conn {}) with {queued} queued \
                             messages, more than BrokerConfig::max_queued_messages = {max} \
                             (handed back with {handed_back})",
                            conn.get()
                        ));
                    }
                }
                self.accepted(conn, session_present);
            }
            Trace::Refused { conn, .. } => {
                if let Some(p) = self.connects.remove(&conn)
                    && let Some(s) = self.sessions[p.client].as_mut()
                    && s.takeover == Some(conn)
                {
                    s.takeover = None;
                }
            }
            Trace::Closed {
                conn,
                at,
                reason,
                queued,
            } => {
                self.connects.remove(&conn);
                if let Some((c, _)) = self.bound(conn)
                    && let Some(s) = self.sessions[c].as_mut()
                    && s.conn == Some(conn)
                {
                    s.conn = None;
                    s.handed_back = queued;
                    s.offline_since = Some(at);
                    // A state handed back over the bound is trimmed oldest first, as a
                    // queue growing offline is (`droppable`).
                    if !AVOID_BUG_QUEUE_BOUND_HANDED_BACK
                        && self.max_queued.is_some_and(|max| queued > max)
                    {
                        self.made_offline[c] = self.made[c];
                    }
                    // The will is published once the connection closed, unless the server
                    // got DISCONNECT 0x00 [MQTT-3.1.2-8] [MQTT-3.1.2-10], after the Will
                    // Delay Interval or when the session ends, whichever comes first
                    // (5.0 section 3.1.3.2.2).
                    let mut will_now = None;
                    if matches!(reason, CloseReason::PeerDisconnect(ReasonCode::Success)) {
                        s.will = None;
                    } else if let Some(w) = &s.will {
                        let delay = w.delay.min(s.expiry);
                        if delay == 0 {
                            will_now = s.will.take();
                        } else {
                            s.will_at = Some(at + Duration::from_secs(u64::from(delay)));
                        }
                    }
                    let end = if s.takeover.is_some() {
                        s.kept_for_takeover = s.expiry == 0;
                        false
                    } else {
                        s.expiry == 0
                    };
                    if let Some(w) = will_now {
                        self.publish_will(c, w);
                    }
                    if end {
                        self.end_session(c);
                    }
                }
                self.binding.remove(&conn);
            }
            Trace::Timeout { now } => self.timeout(now),
            // Every connection closed first; what lives on is restored as it was.
            Trace::Restart { .. } => {}
            Trace::Subscribe { conn, subscribe } => {
                let Some((c, epoch)) = self.bound(conn) else {
                    return;
                };
                let v5 = self.sessions[c].as_ref().is_some_and(|s| s.v5);
                let id = subscribe
                    .properties
                    .subscription_identifier
                    .map(|i| i.get());
                for (filter, options) in &subscribe.filters {
                    let filter = filter.as_str();
                    let existed = self.sessions[c]
                        .as_ref()
                        .is_some_and(|s| s.subs.contains_key(filter));
                    // Retain Handling 0, 1 (new subscriptions only), 2 [MQTT-3.3.1-9]
                    // [MQTT-3.3.1-10] [MQTT-3.3.1-11]; never for a shared subscription
                    // (5.0 section 4.8.2: "retained messages are not sent").
                    let send = match options.retain_handling {
                        RetainHandling::SendAtSubscribe => true,
                        RetainHandling::SendAtSubscribeIfNew => !existed,
                        RetainHandling::DoNotSend => false,
                    } && shared(filter).is_none();
                    let offered: Vec<MsgId> = self
                        .retained
                        .iter()
                        .filter(|(topic, _)| send && matches(filter, topic))
                        .map(|(_, &msg)| msg)
                        .collect();
                    // The broker sends the retained messages of one filter in no particular
                    // order: they count as made together (`droppable`).
                    let first = self.made[c];
                    for msg in offered {
                        let target = Target {
                            client: c,
                            epoch,
                            qos: self.msgs[&msg].qos.min(options.qos),
                            retain: BTreeSet::from([true]),
                            v5,
                            ids: id.into_iter().collect(),
                            groups: Vec::new(),
                            seq: first,
                        };
                        self.made[c] += 1;
                        self.offers_to[c].push(self.offers.len());
                        self.offers.push(Offer { target, msg });
                    }
                    // A subscription to the same filter replaces the existing one
                    // [MQTT-3.8.4-3].
                    let sub = Sub {
                        qos: options.qos,
                        id,
                        no_local: options.no_local,
                        retain_as_published: options.retain_as_published,
                    };
                    if let Some(s) = self.sessions[c].as_mut() {
                        s.subs.insert(filter.to_owned(), sub);
                    }
                }
            }
            Trace::Unsubscribe { conn, unsubscribe } => {
                if let Some((c, _)) = self.bound(conn)
                    && let Some(s) = self.sessions[c].as_mut()
                {
                    for f in &unsubscribe.filters {
                        s.subs.remove(f.as_str());
                    }
                }
            }
            Trace::Publish {
                conn,
                name,
                publish,
            } => self.published(conn, name, publish),
        }
    }

    pub(crate) fn accepted(&mut self, conn: ConnId, session_present: bool) {
        let Some(p) = self.connects.remove(&conn) else {
            return;
        };
        let c = p.client;
        if !p.v5 {
            self.stripped_before[c] = self.made[c];
        }
        let existing = self.sessions[c].is_some();
        let expected = match &self.sessions[c] {
            _ if p.clean => Some(false),
            None => Some(false),
            Some(s) if s.kept_for_takeover => None,
            Some(_) => Some(true),
        };
        if let Some(e) = expected
            && e != session_present
        {
            let name = self.names[c].clone();
            self.fail(format!(
                "{name} (conn {}, Clean Start {}) got Session Present {session_present}, \
                 expected {e} (5.0 [MQTT-3.2.2-2] [MQTT-3.2.2-3], 3.1.1 [MQTT-3.2.2-1] \
                 [MQTT-3.2.2-2])",
                conn.get(),
                p.clean
            ));
        }
        if p.clean && existing {
            // Clean Start ends the session; a will waiting for its delay is published then.
            self.end_session(c);
        }
        let resume = !p.clean && session_present && existing;
        if !resume {
            self.sessions[c] = Some(SessionM {
                epoch: self.next_epoch,
                v5: p.v5,
                subs: BTreeMap::new(),
                conn: None,
                expiry: p.expiry,
                offline_since: None,
                takeover: None,
                kept_for_takeover: false,
                will: None,
                will_at: None,
                handed_back: 0,
            });
            self.next_epoch += 1;
        }
        let s = self.sessions[c].as_mut().unwrap();
        s.conn = Some(conn);
        s.v5 = p.v5;
        s.expiry = p.expiry;
        s.offline_since = None;
        s.kept_for_takeover = false;
        // A new connection before the Will Delay Interval passed cancels the will
        // [MQTT-3.1.3-9]; the session takes the new connection's will.
        s.will_at = None;
        s.will = p.will;
        if s.takeover == Some(conn) {
            s.takeover = None;
        }
        let epoch = s.epoch;
        self.binding.insert(conn, (c, epoch));
    }

    /// Wills whose delay passed and sessions whose expiry passed, in time order (a will
    /// before a session end at the same instant; both on one session: the will first).
    pub(crate) fn timeout(&mut self, now: Instant) {
        let mut due = Vec::new();
        for (c, s) in self.sessions.iter().enumerate() {
            let Some(s) = s else { continue };
            if let Some(at) = s.will_at
                && at <= now
            {
                due.push((at, 0, c));
            }
            if s.conn.is_none()
                && s.expiry != u32::MAX
                && let Some(t) = s.offline_since
                && t + Duration::from_secs(u64::from(s.expiry)) <= now
            {
                due.push((t + Duration::from_secs(u64::from(s.expiry)), 1, c));
            }
        }
        due.sort();
        for (_, kind, c) in due {
            if kind == 0 {
                if let Some(s) = self.sessions[c].as_mut()
                    && s.will_at.take().is_some()
                    && let Some(w) = s.will.take()
                {
                    self.publish_will(c, w);
                }
            } else {
                self.end_session(c);
            }
        }
    }

    /// Client `c`'s session ends (Clean Start, expiry): its subscriptions go first, then a
    /// will waiting for its delay is published [MQTT-3.1.3-9].
    pub(crate) fn end_session(&mut self, c: usize) {
        if let Some(s) = self.sessions[c].take()
            && s.will_at.is_some()
            && let Some(w) = s.will
        {
            self.publish_will(c, w);
        }
    }
}
