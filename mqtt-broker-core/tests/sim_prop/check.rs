//! The model's checks: each delivery as it comes, and what must hold once everything
//! settled.

use std::collections::{BTreeMap, BTreeSet};

use mqtt_proto::QoS;

use crate::common::Sim;
use crate::model::{ANONYMOUS, Delivery, Model, MsgId, Target, message_id};

/// Where a copy comes from: a receipt (index into `Model::receipts`; the client's targets
/// there are alternatives for one copy) or a retained message offered on SUBSCRIBE (index
/// into `Model::offers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Slot {
    Receipt(usize),
    Offer(usize),
}

impl Model {
    /// Copies owed to client `c` that could explain delivery `d`, as (slot, alternative),
    /// whatever their QoS, RETAIN flag and properties.
    pub(crate) fn copies(&self, c: usize, d: &Delivery) -> Vec<(Slot, &Target)> {
        let receipts: Vec<usize> = match d.id {
            Some(id) => self.by_msg.get(&id).cloned().unwrap_or_default(),
            None => self
                .by_msg
                .range(ANONYMOUS + 1..)
                .flat_map(|(_, r)| r)
                .copied()
                .filter(|&r| self.receipts[r].topic == d.topic)
                .collect(),
        };
        let routed = receipts.into_iter().flat_map(|i| {
            self.receipts[i]
                .targets
                .iter()
                .filter(|t| t.client == c)
                .map(move |t| (Slot::Receipt(i), t))
        });
        let offered = self.offers_to[c]
            .iter()
            .filter(|&&o| d.id == Some(self.offers[o].msg))
            .map(|&o| (Slot::Offer(o), &self.offers[o].target));
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
            (true, Some(id)) => (self.correlation(id), target.ids.clone()),
            // Empty messages carry no id: only the identifiers are known.
            (true, None) => (d.correlation.clone(), target.ids.clone()),
            (false, _) => (None, Vec::new()),
        };
        let resent_as_sent_on_3_1_1 = d.dup
            && target.seq < self.stripped_before[target.client]
            && d.correlation.is_none()
            && d.ids.is_empty();
        d.correlation == correlation && d.ids == ids || resent_as_sent_on_3_1_1
    }

    /// Whether `d` could be the copy `t` in every respect.
    pub(crate) fn fits(&self, d: &Delivery, t: &Target) -> bool {
        t.retain.contains(&d.retain) && t.qos == d.qos && self.properties_fit(d, t)
    }

    /// Checks the messages clients received since the last call.
    pub(crate) fn check_deliveries(&mut self, sim: &Sim) {
        for c in 0..self.names.len() {
            let name = &self.names[c];
            let (Some(received), Some(on)) = (sim.received.get(name), sim.received_on.get(name))
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
                 the broker received it (5.0 [MQTT-3.3.2-3]; a shared group picks a \
                 connected member if it has one) and it was not retained for a SUBSCRIBE \
                 of it"
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
                 (RETAIN 1 only for a retained message sent on SUBSCRIBE [MQTT-3.3.1-9], \
                 never for a shared subscription (5.0 section 4.8.2), or with Retain As \
                 Published [MQTT-3.3.1-12] [MQTT-3.3.1-13])",
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
        if !fitting.iter().any(|t| self.fits(d, t)) {
            return self.fail(format!(
                "{name} got {what} on {topic} with correlation {:?} and subscription ids \
                 {:?}, expected one of {fitting:?} (Correlation Data unaltered \
                 [MQTT-3.3.2-16], identifiers of the matching subscriptions [MQTT-3.3.4-3] \
                 [MQTT-3.3.4-4])",
                d.correlation, d.ids
            ));
        }
        let slots: BTreeSet<Slot> = copies.iter().map(|(s, _)| *s).collect();
        let earlier = &self.deliveries[c];
        let firsts = earlier
            .iter()
            .filter(|e| e.same_message(d) && !e.dup)
            .count()
            + usize::from(!d.dup);
        if firsts > slots.len() {
            return self.fail(format!(
                "{name} got {firsts} first transmissions (DUP 0) of {what} on {topic} but the \
                 broker owed it {} copies: overlapping subscriptions give one copy \
                 (5.0 [MQTT-3.3.4-2])",
                slots.len()
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
                .map(|(s, _)| *s)
                .collect::<BTreeSet<_>>()
                .len();
            if times > allowed {
                return self.fail(format!(
                    "{name} got QoS 2 {what} on {topic} {times} times, {allowed} QoS 2 copies \
                     were owed (exactly once, 5.0 section 4.3.3)"
                ));
            }
        }
        let needed = self.needed_groups(d, &copies);
        self.check_group_pick(c, d, needed);
    }

    /// The shared groups that must have picked the receiver for every explanation of `d`.
    fn needed_groups(&self, d: &Delivery, copies: &[(Slot, &Target)]) -> Vec<String> {
        let mut needed: Option<BTreeSet<&String>> = None;
        for (_, t) in copies.iter().filter(|(_, t)| self.fits(d, t)) {
            let groups: BTreeSet<&String> = t.groups.iter().collect();
            needed = Some(match needed {
                None => groups,
                Some(n) => n.intersection(&groups).copied().collect(),
            });
        }
        needed.into_iter().flatten().cloned().collect()
    }

    /// A message goes to one member of each matching shared group (5.0 section 4.8.2; once
    /// a member has it, no other one gets it [MQTT-4.8.2-5]): the groups every explanation
    /// of `d` needs picked `c`, and no other client may have been picked more often than
    /// the broker received the message.
    fn check_group_pick(&mut self, c: usize, d: &Delivery, needed: Vec<String>) {
        let Some(id) = d.id else { return };
        for g in needed {
            let receipts = self.by_msg[&id]
                .iter()
                .filter(|&&r| self.receipts[r].shared.iter().any(|(f, _)| *f == g))
                .count();
            let picked = self.group_picks.entry((id, g.clone())).or_default();
            picked.insert(c);
            if picked.len() > receipts {
                let who: Vec<&String> = picked.iter().map(|&p| &self.names[p]).collect();
                let v = format!(
                    "m{id} on {} reached {who:?} through the shared subscription {g}, which \
                     the broker received it for {receipts} time(s): a message goes to one \
                     member of a group (5.0 section 4.8.2, [MQTT-4.8.2-5])",
                    d.topic
                );
                self.fail(v);
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
        // Copies owed whichever groups picked the session: its non-shared subscriptions
        // matched (the alternative without groups).
        // With the RETAIN flags of every alternative.
        let owed = self
            .receipts
            .iter()
            .flat_map(|r| {
                r.targets
                    .iter()
                    .filter(|t| t.groups.is_empty())
                    .map(move |t| {
                        let retain: BTreeSet<bool> = r
                            .targets
                            .iter()
                            .filter(|a| a.client == t.client)
                            .flat_map(|a| a.retain.iter().copied())
                            .collect();
                        (r.msg, &r.topic, t, retain)
                    })
            })
            .chain(self.offers.iter().map(|o| {
                (
                    o.msg,
                    &self.msgs[&o.msg].topic,
                    &o.target,
                    o.target.retain.clone(),
                )
            }));
        for (msg, topic, t, retain) in owed {
            if t.qos == QoS::AtMostOnce || !self.epoch_alive(t) || self.droppable(t) {
                continue;
            }
            if msg > ANONYMOUS {
                *anonymous.entry((t.client, topic.clone())).or_default() += 1;
                continue;
            }
            let got = self.deliveries[t.client]
                .iter()
                .any(|d| d.id == Some(msg) && retain.contains(&d.retain));
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
        missing.extend(self.missing_group_copies());
        self.violations.extend(missing);
        self.check_order();
    }

    /// A QoS 1/2 message matching a shared group reached one of the members it may pick,
    /// when all of them live on and none may have dropped it (at least once to the member
    /// picked, which must get it when it reconnects [MQTT-4.8.2-4]).
    fn missing_group_copies(&self) -> Vec<String> {
        let mut missing = Vec::new();
        for r in &self.receipts {
            if r.msg >= ANONYMOUS {
                continue;
            }
            for (g, candidates) in &r.shared {
                let with_g = || r.targets.iter().filter(|t| t.groups.contains(g));
                let owed = with_g()
                    .all(|t| t.qos != QoS::AtMostOnce && self.epoch_alive(t) && !self.droppable(t));
                if !owed || with_g().next().is_none() {
                    continue;
                }
                let got = with_g().any(|t| {
                    self.deliveries[t.client]
                        .iter()
                        .any(|d| d.id == Some(r.msg) && t.retain.contains(&d.retain))
                });
                if !got {
                    let names: Vec<&String> = candidates.iter().map(|&c| &self.names[c]).collect();
                    missing.push(format!(
                        "m{} on {} (QoS {}) reached none of the members {names:?} of {g}, \
                         although all their sessions live on (5.0 section 4.8.2, \
                         [MQTT-4.8.2-4])",
                        r.msg, r.topic, self.msgs[&r.msg].qos as u8
                    ));
                }
            }
        }
        missing
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
                    .filter_map(|(s, _)| match s {
                        Slot::Receipt(i) => Some(i),
                        Slot::Offer(_) => None,
                    })
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
