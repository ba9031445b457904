//! The model's routing: which copies the broker owes for a PUBLISH or a will, with the
//! alternatives shared subscriptions leave open.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use mqtt_broker_core::ConnId;
use mqtt_proto::{Publish, QoS};

use crate::model::{Model, Msg, MsgId, Receipt, Sub, Target, WillM, matches, message_id, shared};

/// A message as the broker routes it.
pub(crate) struct Routed {
    pub(crate) msg: MsgId,
    pub(crate) from: Option<(usize, u64)>,
    pub(crate) topic: String,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
    pub(crate) empty: bool,
}

/// Most shared groups one session may be a candidate of for one message before the
/// alternatives are no longer enumerated (the generated filters give at most 3).
const MAX_GROUPS: usize = 6;

impl Model {
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
        if qos == QoS::ExactlyOnce
            && self
                .by_msg
                .get(&id)
                .into_iter()
                .flatten()
                .any(|&r| self.receipts[r].from == from)
        {
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
        self.route(Routed {
            msg: id,
            from,
            topic,
            qos,
            retain: publish.retain,
            empty: publish.payload.is_empty(),
        });
    }

    /// The broker publishes client `c`'s will, as if its client had published it (no
    /// publisher session: No Local does not apply).
    pub(crate) fn publish_will(&mut self, c: usize, w: WillM) {
        self.wills_published += 1;
        self.msgs.entry(w.msg).or_insert(Msg {
            publisher: format!("{} (will)", self.names[c]),
            topic: w.topic.clone(),
            qos: w.qos,
            correlation: None,
        });
        self.route(Routed {
            msg: w.msg,
            from: None,
            topic: w.topic,
            qos: w.qos,
            retain: w.retain,
            empty: false,
        });
    }

    /// Stores or deletes the retained message and records the copies owed.
    pub(crate) fn route(&mut self, m: Routed) {
        let Routed {
            msg,
            from,
            topic,
            qos,
            retain,
            empty,
        } = m;
        if retain {
            if empty {
                self.retained.remove(&topic);
            } else {
                self.retained.insert(topic.clone(), msg);
            }
        }
        // Shared groups: filter -> members (client, subscription, connected).
        let mut groups: BTreeMap<&str, Vec<(usize, Sub, bool)>> = BTreeMap::new();
        for (c, s) in self.sessions.iter().enumerate() {
            let Some(s) = s else { continue };
            for (f, sub) in &s.subs {
                if shared(f).is_some() && matches(f, &topic) {
                    groups
                        .entry(f.as_str())
                        .or_default()
                        .push((c, *sub, s.conn.is_some()));
                }
            }
        }
        // The broker's policy: a connected member if there is one, else any member. Per
        // client, the groups that may pick it, with its subscription.
        let mut candidacy: BTreeMap<usize, Vec<(String, Sub)>> = BTreeMap::new();
        let mut shared_info = Vec::new();
        for (filter, members) in &groups {
            let online = members.iter().any(|m| m.2);
            let candidates: Vec<&(usize, Sub, bool)> =
                members.iter().filter(|m| m.2 || !online).collect();
            for &&(c, sub, _) in &candidates {
                candidacy
                    .entry(c)
                    .or_default()
                    .push(((*filter).to_owned(), sub));
            }
            shared_info.push((
                (*filter).to_owned(),
                candidates.iter().map(|m| m.0).collect(),
            ));
        }
        let mut targets = Vec::new();
        for (c, s) in self.sessions.iter().enumerate() {
            let Some(s) = s else { continue };
            // No Local keeps the publisher's own session from a subscription
            // [MQTT-3.8.3-3].
            let own = from == Some((c, s.epoch));
            let base: Vec<&Sub> = s
                .subs
                .iter()
                .filter(|(f, sub)| {
                    shared(f).is_none() && matches(f, &topic) && !(own && sub.no_local)
                })
                .map(|(_, sub)| sub)
                .collect();
            let picks = candidacy.get(&c).map_or(&[][..], Vec::as_slice);
            if base.is_empty() && picks.is_empty() {
                continue;
            }
            let seq = self.made[c];
            self.made[c] += 1;
            if s.conn.is_none() {
                self.made_offline[c] = seq + 1;
            }
            // One alternative per set of groups that picked the session: one copy with the
            // highest QoS and every identifier of the matching subscriptions
            // [MQTT-3.3.4-2] [MQTT-3.3.4-3] (for a shared subscription, the receiving
            // member's own identifier).
            let n = picks.len().min(MAX_GROUPS);
            for set in 0_u32..(1 << n) {
                let chosen: Vec<&(String, Sub)> = (0..n)
                    .filter(|i| set & (1 << i) != 0)
                    .map(|i| &picks[i])
                    .collect();
                let subs: Vec<&Sub> = base
                    .iter()
                    .copied()
                    .chain(chosen.iter().map(|(_, sub)| sub))
                    .collect();
                let Some(granted) = subs.iter().map(|s| s.qos).max() else {
                    continue;
                };
                let mut ids: Vec<u32> = subs.iter().filter_map(|s| s.id).collect();
                ids.sort_unstable();
                let retain: BTreeSet<bool> = subs
                    .iter()
                    .map(|s| s.retain_as_published && retain)
                    .collect();
                targets.push(Target {
                    client: c,
                    epoch: s.epoch,
                    qos: qos.min(granted),
                    retain,
                    v5: s.v5,
                    ids,
                    groups: chosen.iter().map(|(g, _)| g.clone()).collect(),
                    seq,
                });
            }
        }
        self.by_msg
            .entry(msg)
            .or_default()
            .push(self.receipts.len());
        self.receipts.push(Receipt {
            msg,
            from,
            topic,
            targets,
            shared: shared_info,
        });
    }

    /// Correlation Data of the message (for an empty message: none is known).
    pub(crate) fn correlation(&self, msg: MsgId) -> Option<Bytes> {
        self.msgs.get(&msg).and_then(|m| m.correlation.clone())
    }

    /// Whether the oldest-first dropping of a bounded offline queue may have removed the
    /// copy `t`: the dropped message is the oldest queued one, dropped when a message is
    /// queued for a session without a connection while `max_queued_messages` are queued
    /// (every later message queued behind it), so at least that many copies were made for
    /// the session after it, one of them while it had no connection.
    pub(crate) fn droppable(&self, t: &Target) -> bool {
        let Some(max) = self.max_queued else {
            return false;
        };
        let c = t.client;
        let later = self.made[c] - t.seq - 1;
        later >= max as u64 && self.made_offline[c] > t.seq + 1
    }
}
