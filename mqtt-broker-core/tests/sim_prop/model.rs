//! The naive model the deliveries are checked against.
//!
//! It follows what the broker was told, in the order it was told (`Trace`): which sessions
//! exist (an epoch numbers each new session of a client), their subscriptions, the retained
//! messages, and for every PUBLISH the broker handled, the copies it owes each session
//! (`Receipt`, `Target`) and for every SUBSCRIBE the retained messages it owes (`Offer`).
//! What the clients' applications receive (`Delivery`) is then explained by those.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_broker_core::ConnId;
use mqtt_proto::{Publish, QoS, RetainHandling};

use crate::common::{Sim, Trace};

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

/// Topic matching written from the standard's text (section 4.7), independent of the code
/// under test.
pub(crate) fn matches(filter: &str, topic: &str) -> bool {
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
}

/// The broker handling one PUBLISH.
#[derive(Debug)]
pub(crate) struct Receipt {
    pub(crate) msg: MsgId,
    /// The publisher's session: (client, epoch).
    pub(crate) from: Option<(usize, u64)>,
    pub(crate) topic: String,
    pub(crate) targets: Vec<Target>,
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
    fn same_message(&self, other: &Self) -> bool {
        self.id == other.id && (self.id.is_some() || self.topic == other.topic)
    }
}

/// A CONNECT handed to the broker and not answered yet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingConnect {
    pub(crate) client: usize,
    pub(crate) clean: bool,
    pub(crate) expiry: u32,
    pub(crate) v5: bool,
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
                let pending = PendingConnect {
                    client,
                    clean: connect.clean_start,
                    expiry,
                    v5,
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
            } => self.accepted(conn, session_present),
            Trace::Refused { conn, .. } => {
                if let Some(p) = self.connects.remove(&conn)
                    && let Some(s) = self.sessions[p.client].as_mut()
                    && s.takeover == Some(conn)
                {
                    s.takeover = None;
                }
            }
            Trace::Closed { conn, at, .. } => {
                self.connects.remove(&conn);
                if let Some((c, _)) = self.bound(conn)
                    && let Some(s) = self.sessions[c].as_mut()
                    && s.conn == Some(conn)
                {
                    s.conn = None;
                    s.offline_since = Some(at);
                    if s.takeover.is_some() {
                        s.kept_for_takeover = s.expiry == 0;
                    } else if s.expiry == 0 {
                        self.sessions[c] = None;
                    }
                }
                self.binding.remove(&conn);
            }
            Trace::Timeout { now } => {
                for s in &mut self.sessions {
                    if let Some(m) = s
                        && m.conn.is_none()
                        && m.expiry != u32::MAX
                        && m.offline_since
                            .is_some_and(|t| t + Duration::from_secs(u64::from(m.expiry)) <= now)
                    {
                        *s = None;
                    }
                }
            }
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
                    // [MQTT-3.3.1-10] [MQTT-3.3.1-11].
                    let send = match options.retain_handling {
                        RetainHandling::SendAtSubscribe => true,
                        RetainHandling::SendAtSubscribeIfNew => !existed,
                        RetainHandling::DoNotSend => false,
                    };
                    for (topic, &msg) in &self.retained {
                        if send && matches(filter, topic) {
                            let target = Target {
                                client: c,
                                epoch,
                                qos: self.msgs[&msg].qos.min(options.qos),
                                retain: BTreeSet::from([true]),
                                v5,
                                ids: id.into_iter().collect(),
                            };
                            self.offers.push(Offer { target, msg });
                        }
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
            });
            self.next_epoch += 1;
        }
        let s = self.sessions[c].as_mut().unwrap();
        s.conn = Some(conn);
        s.v5 = p.v5;
        s.expiry = p.expiry;
        s.offline_since = None;
        s.kept_for_takeover = false;
        if s.takeover == Some(conn) {
            s.takeover = None;
        }
        let epoch = s.epoch;
        self.binding.insert(conn, (c, epoch));
    }

    pub(crate) fn published(&mut self, conn: ConnId, publisher: String, publish: Publish) {
        let from = self.bound(conn);
        let topic = publish.topic.as_ref().unwrap().as_str().to_owned();
        let qos = publish.qos();
        let id = match message_id(&publish) {
            Some(id) => id,
            None => {
                self.next_anonymous += 1;
                self.next_anonymous
            }
        };
        // A publisher whose session ended with a QoS 2 message in flight may resend it
        // into its next session if it never learned of the end (the CONNACK with Session
        // Present 0 was lost): nothing tells the new session it is a duplicate. Within one
        // session it is never handed over twice.
        if qos == QoS::ExactlyOnce && self.receipts.iter().any(|r| r.msg == id && r.from == from) {
            self.fail(format!(
                "QoS 2 message m{id} from {publisher} was handed to the broker twice in the \
                 same session (5.0 [MQTT-4.3.3-10], 3.1.1 [MQTT-4.3.3-2])"
            ));
        }
        self.msgs.entry(id).or_insert(Msg {
            publisher,
            topic: topic.clone(),
            qos,
            correlation: publish.properties.correlation_data.clone(),
        });
        if publish.retain {
            if publish.payload.is_empty() {
                self.retained.remove(&topic);
            } else {
                self.retained.insert(topic.clone(), id);
            }
        }
        let mut targets = Vec::new();
        for (c, s) in self.sessions.iter().enumerate() {
            let Some(s) = s else { continue };
            // No Local keeps the publisher's own session from a subscription
            // [MQTT-3.8.3-3].
            let own = from == Some((c, s.epoch));
            let matching: Vec<&Sub> = s
                .subs
                .iter()
                .filter(|(f, sub)| matches(f, &topic) && !(own && sub.no_local))
                .map(|(_, sub)| sub)
                .collect();
            let Some(granted) = matching.iter().map(|s| s.qos).max() else {
                continue;
            };
            let mut ids: Vec<u32> = matching.iter().filter_map(|s| s.id).collect();
            ids.sort_unstable();
            let retain = matching
                .iter()
                .map(|s| s.retain_as_published && publish.retain)
                .collect();
            targets.push(Target {
                client: c,
                epoch: s.epoch,
                qos: qos.min(granted),
                retain,
                v5: s.v5,
                ids,
            });
        }
        self.receipts.push(Receipt {
            msg: id,
            from,
            topic,
            targets,
        });
    }

    /// Copies owed to client `c` that could explain delivery `d`, as (receipt index or
    /// `None` for a retained message sent on SUBSCRIBE, target), whatever their QoS, RETAIN
    /// flag and properties.
    pub(crate) fn copies(&self, c: usize, d: &Delivery) -> Vec<(Option<usize>, &Target)> {
        let routed = self
            .receipts
            .iter()
            .enumerate()
            .filter(|(_, r)| match d.id {
                Some(id) => r.msg == id,
                None => r.msg > ANONYMOUS && r.topic == d.topic,
            })
            .flat_map(|(i, r)| {
                r.targets
                    .iter()
                    .filter(|t| t.client == c)
                    .map(move |t| (Some(i), t))
            });
        let offered = self
            .offers
            .iter()
            .filter(|o| o.target.client == c && d.id == Some(o.msg))
            .map(|o| (None, &o.target));
        routed.chain(offered).collect()
    }

    /// Whether a delivery carries the properties a copy made for `target` must carry:
    /// Correlation Data forwarded unaltered [MQTT-3.3.2-16] and the Subscription Identifiers
    /// of the matching subscriptions [MQTT-3.3.4-3] [MQTT-3.3.4-4], on a copy made for a
    /// 5.0 session and read on a 5.0 connection.
    pub(crate) fn properties_fit(&self, d: &Delivery, target: &Target) -> bool {
        if !d.v5 {
            return true;
        }
        let (correlation, ids) = match (target.v5, d.id) {
            (true, Some(id)) => (self.msgs[&id].correlation.clone(), target.ids.clone()),
            // Empty messages carry no id: only the identifiers are known.
            (true, None) => (d.correlation.clone(), target.ids.clone()),
            (false, _) => (None, Vec::new()),
        };
        d.correlation == correlation && d.ids == ids
    }

    /// Checks the messages clients received since the last call.
    pub(crate) fn check_deliveries(&mut self, sim: &Sim) {
        for c in 0..self.names.len() {
            let name = self.names[c].clone();
            let (Some(received), Some(on)) = (sim.received.get(&name), sim.received_on.get(&name))
            else {
                continue;
            };
            while let Some(p) = received.get(self.cursor[c]) {
                let conn = on[self.cursor[c]];
                self.cursor[c] += 1;
                let mut ids: Vec<u32> = p
                    .properties
                    .subscription_identifiers
                    .iter()
                    .map(|i| i.get())
                    .collect();
                ids.sort_unstable();
                let d = Delivery {
                    id: message_id(p),
                    topic: p.topic.as_ref().unwrap().as_str().to_owned(),
                    qos: p.qos(),
                    retain: p.retain,
                    dup: p.dup,
                    v5: sim.links[&conn].client.version().is_v5(),
                    correlation: p.properties.correlation_data.clone(),
                    ids,
                    generation: self.resets[c],
                };
                self.check_delivery(c, &d);
                self.deliveries[c].push(d);
            }
        }
    }

    pub(crate) fn check_delivery(&mut self, c: usize, d: &Delivery) {
        let name = self.names[c].clone();
        let what = match d.id {
            Some(id) => format!("m{id}"),
            None => "an empty message".to_owned(),
        };
        let topic = &d.topic;
        let copies = self.copies(c, d);
        if copies.is_empty() {
            return self.fail(format!(
                "{name} got {what} on {topic}, but none of its subscriptions matched it when \
                 the broker received it (5.0 [MQTT-3.3.2-3]) and it was not retained for a \
                 SUBSCRIBE of it"
            ));
        }
        let fitting: Vec<&Target> = copies
            .iter()
            .map(|(_, t)| *t)
            .filter(|t| t.retain.contains(&d.retain))
            .collect();
        if fitting.is_empty() {
            return self.fail(format!(
                "{name} got {what} on {topic} with RETAIN {}, expected one of {copies:?} \
                 (RETAIN 1 only for a retained message sent on SUBSCRIBE [MQTT-3.3.1-9] or \
                 with Retain As Published [MQTT-3.3.1-12] [MQTT-3.3.1-13])",
                u8::from(d.retain)
            ));
        }
        if !fitting.iter().any(|t| t.qos == d.qos) {
            let expected: BTreeSet<u8> = fitting.iter().map(|t| t.qos as u8).collect();
            return self.fail(format!(
                "{name} got {what} on {topic} at QoS {}, but min(published, highest granted) \
                 was {expected:?} (5.0 [MQTT-3.8.4-8] [MQTT-3.3.4-2])",
                d.qos as u8
            ));
        }
        if !fitting
            .iter()
            .any(|t| t.qos == d.qos && self.properties_fit(d, t))
        {
            return self.fail(format!(
                "{name} got {what} on {topic} with correlation {:?} and subscription ids \
                 {:?}, expected one of {fitting:?} (Correlation Data unaltered \
                 [MQTT-3.3.2-16], identifiers of the matching subscriptions [MQTT-3.3.4-3] \
                 [MQTT-3.3.4-4])",
                d.correlation, d.ids
            ));
        }
        let earlier = &self.deliveries[c];
        let firsts = earlier
            .iter()
            .filter(|e| e.same_message(d) && !e.dup)
            .count()
            + usize::from(!d.dup);
        if firsts > copies.len() {
            return self.fail(format!(
                "{name} got {firsts} first transmissions (DUP 0) of {what} on {topic} but the \
                 broker owed it {} copies: overlapping subscriptions give one copy \
                 (5.0 [MQTT-3.3.4-2])",
                copies.len()
            ));
        }
        if d.qos == QoS::ExactlyOnce {
            let times = earlier
                .iter()
                .filter(|e| {
                    e.same_message(d) && e.qos == QoS::ExactlyOnce && e.generation == d.generation
                })
                .count()
                + 1;
            let allowed = copies
                .iter()
                .filter(|(_, t)| t.qos == QoS::ExactlyOnce)
                .count();
            if times > allowed {
                self.fail(format!(
                    "{name} got QoS 2 {what} on {topic} {times} times, {allowed} QoS 2 copies \
                     were owed (exactly once, 5.0 section 4.3.3)"
                ));
            }
        }
    }

    pub(crate) fn epoch_alive(&self, t: &Target) -> bool {
        self.sessions[t.client]
            .as_ref()
            .is_some_and(|s| s.epoch == t.epoch)
    }

    /// The checks that need the wires settled and every client connected.
    pub(crate) fn final_checks(&mut self) {
        let mut missing = Vec::new();
        let mut anonymous: BTreeMap<(usize, String), usize> = BTreeMap::new();
        let owed = self
            .receipts
            .iter()
            .flat_map(|r| r.targets.iter().map(move |t| (r.msg, &r.topic, t)))
            .chain(
                self.offers
                    .iter()
                    .map(|o| (o.msg, &self.msgs[&o.msg].topic, &o.target)),
            );
        for (msg, topic, t) in owed {
            if t.qos == QoS::AtMostOnce || !self.epoch_alive(t) {
                continue;
            }
            if msg > ANONYMOUS {
                *anonymous.entry((t.client, topic.clone())).or_default() += 1;
                continue;
            }
            let got = self.deliveries[t.client]
                .iter()
                .any(|d| d.id == Some(msg) && t.retain.contains(&d.retain));
            if !got {
                let m = &self.msgs[&msg];
                missing.push(format!(
                    "{} never got m{msg} (QoS {} from {} on {}; owed at QoS {} with RETAIN \
                     {:?}) although its session lives on (at least once: 5.0 section 4.3 and \
                     [MQTT-4.1.0-1]; 3.1.1 [MQTT-3.1.2-4])",
                    self.names[t.client], m.qos as u8, m.publisher, m.topic, t.qos as u8, t.retain
                ));
            }
        }
        for ((c, topic), needed) in anonymous {
            let got = self.deliveries[c]
                .iter()
                .filter(|d| d.id.is_none() && d.topic == topic && d.qos != QoS::AtMostOnce)
                .count();
            if got < needed {
                missing.push(format!(
                    "{} got {got} empty QoS 1/2 messages on {topic}, {needed} were owed to \
                     its living session",
                    self.names[c]
                ));
            }
        }
        self.violations.extend(missing);
        self.check_order();
    }

    /// Per subscriber, publisher, topic and QoS, first deliveries of QoS 1/2 messages (with
    /// RETAIN 0: a retained message sent on SUBSCRIBE may be older than what came before)
    /// can be mapped to broker receipts in increasing order (a QoS 1 message the broker
    /// received twice may be matched to either receipt).
    pub(crate) fn check_order(&mut self) {
        let mut found = Vec::new();
        for c in 0..self.names.len() {
            let mut seen = BTreeSet::new();
            let mut cursor: BTreeMap<(String, String, QoS), (usize, MsgId)> = BTreeMap::new();
            for d in &self.deliveries[c] {
                let Some(id) = d.id else { continue };
                if d.retain || d.qos == QoS::AtMostOnce || !seen.insert(id) {
                    continue;
                }
                let m = &self.msgs[&id];
                let key = (m.publisher.clone(), m.topic.clone(), d.qos);
                let after = cursor.get(&key).copied();
                let next = self
                    .copies(c, d)
                    .into_iter()
                    .filter(|(_, t)| t.qos == d.qos && t.retain.contains(&false))
                    .filter_map(|(i, _)| i)
                    .find(|&i| after.is_none_or(|(a, _)| i > a));
                match next {
                    Some(i) => {
                        cursor.insert(key, (i, id));
                    }
                    None => found.push(format!(
                        "{} got m{id} from {} on {} (QoS {}) after m{}, which the broker \
                         received later: out of order (5.0 [MQTT-4.6.0-6])",
                        self.names[c],
                        m.publisher,
                        m.topic,
                        d.qos as u8,
                        after.map_or(0, |(_, prev)| prev)
                    )),
                }
            }
        }
        self.violations.extend(found);
    }
}
