//! Routing: PUBLISH to subscribers, retained messages, SUBSCRIBE and UNSUBSCRIBE, wills
//! and `$SYS`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_proto::{
    MqttString, OptBox, Publish, PublishProperties, QoS, ReasonCode, RetainHandling, SubAck,
    Subscribe, SubscriptionId, TopicFilter, TopicName, UnsubAck, Unsubscribe, Will, WillProperties,
};
use mqtt_session::OutgoingMessage;

use crate::broker::Broker;
use crate::output::{ConnId, Output};
use crate::session::{SessionKey, Subscription};
use crate::subscriptions::Match;

/// A retained message as stored, shared by every delivery of it.
pub type RetainedMessage = Arc<StoredMessage>;

/// An application message as the broker keeps it (retained).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Topic.
    pub topic: TopicName,
    /// QoS it was published with.
    pub qos: QoS,
    /// Properties (5.0), without topic alias and subscription identifiers.
    pub properties: OptBox<PublishProperties>,
    /// Payload.
    pub payload: Bytes,
    /// When its message expiry interval ends.
    pub expires_at: Option<Instant>,
}

impl StoredMessage {
    fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }

    /// The properties to send at `now`: the expiry interval becomes the time left.
    fn properties_at(&self, now: Instant) -> OptBox<PublishProperties> {
        let mut p = self.properties.clone();
        if let Some(at) = self.expires_at {
            let left = at.saturating_duration_since(now);
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            p.message_expiry_interval = Some(u32::try_from(secs).unwrap_or(u32::MAX));
        }
        p
    }
}

/// The PUBLISH properties of a will message: its will properties but the delay.
pub(crate) fn will_properties(w: WillProperties) -> OptBox<PublishProperties> {
    OptBox::from(PublishProperties {
        payload_format_indicator: w.payload_format_indicator,
        message_expiry_interval: w.message_expiry_interval,
        content_type: w.content_type,
        response_topic: w.response_topic,
        correlation_data: w.correlation_data,
        user_properties: w.user_properties,
        ..PublishProperties::default()
    })
}

/// A message on its way through [`Broker::route`].
pub(crate) struct Routed<'a> {
    pub(crate) topic: &'a TopicName,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
    pub(crate) properties: OptBox<PublishProperties>,
    pub(crate) payload: Bytes,
}

/// Where one message goes for one session: the highest granted QoS over its matching
/// subscriptions and all their identifiers [MQTT-3.3.4-2] [MQTT-3.3.4-3].
#[derive(Default)]
struct Target {
    qos: Option<QoS>,
    retain_as_published: bool,
    ids: Vec<SubscriptionId>,
}

impl Target {
    fn add(&mut self, sub: &Subscription) {
        self.qos = Some(self.qos.map_or(sub.options.qos, |q| q.max(sub.options.qos)));
        self.retain_as_published |= sub.options.retain_as_published;
        if let Some(id) = sub.id {
            self.ids.push(id);
        }
    }
}

impl Broker {
    /// A PUBLISH arrived on `conn` (after the connection resolved any topic alias).
    ///
    /// The acknowledgement comes out as [`Output::Ack`]: Success, No matching subscribers
    /// (5.0) or Not authorized.
    pub fn handle_publish(&mut self, now: Instant, conn: ConnId, publish: Publish) {
        let Some(key) = self.session_of(conn) else {
            return;
        };
        let Some(topic) = publish.topic.clone() else {
            return;
        };
        self.stats.messages_received += 1;
        self.stats.bytes_received += publish.payload.len() as u64;
        let packet_id = publish.packet_id();
        let qos = publish.qos();
        // Limits advertised in CONNACK: exceeding them is a Protocol Error (5.0 section
        // 3.2.2.3.4 and 3.2.2.3.5).
        if qos > self.config.max_qos {
            return self.outputs.push_back(Output::Disconnect {
                conn,
                reason_code: ReasonCode::QoSNotSupported,
            });
        }
        if publish.retain && !self.config.retain_available {
            return self.outputs.push_back(Output::Disconnect {
                conn,
                reason_code: ReasonCode::RetainNotSupported,
            });
        }
        let client_id = self
            .session(key)
            .map(|s| s.client_id.clone())
            .unwrap_or_default();
        let allowed =
            !topic.as_str().starts_with("$SYS") && self.authorizer.may_publish(&client_id, &topic);
        let reason_code = if !allowed {
            ReasonCode::NotAuthorized
        } else {
            let mut properties = publish.properties;
            if let Some(p) = OptBox::get_mut(&mut properties) {
                p.topic_alias = None;
                p.subscription_identifiers.clear();
            }
            let msg = Routed {
                topic: &topic,
                qos,
                retain: publish.retain,
                properties,
                payload: publish.payload,
            };
            let matched = self.route(now, Some(key), msg);
            if matched {
                ReasonCode::Success
            } else {
                ReasonCode::NoMatchingSubscribers
            }
        };
        if let Some(packet_id) = packet_id {
            self.acknowledge(Output::Ack {
                conn,
                packet_id,
                reason_code,
            });
        }
    }

    /// Stores or deletes the retained message, then hands the message to every matching
    /// subscription. Returns whether any subscription matched.
    pub(crate) fn route(
        &mut self,
        now: Instant,
        origin: Option<SessionKey>,
        msg: Routed<'_>,
    ) -> bool {
        let Routed {
            topic,
            qos,
            retain,
            properties,
            payload,
        } = msg;
        let expires_at = properties
            .message_expiry_interval
            .map(|s| now + Duration::from_secs(u64::from(s)));
        if retain && self.config.retain_available {
            if payload.is_empty() {
                // A retained message with an empty payload deletes the retained message of
                // the topic, and is not stored itself [MQTT-3.3.1-6] [MQTT-3.3.1-7].
                if self.retained.remove(topic).is_some() {
                    self.mark_retained(topic);
                }
            } else if self.retained.len() < self.config.max_retained
                || self.retained.get(topic).is_some()
            {
                // [MQTT-3.3.1-5]: stored, replacing the previous one of the topic.
                let stored = StoredMessage {
                    topic: topic.clone(),
                    qos,
                    properties: properties.clone(),
                    payload: payload.clone(),
                    expires_at,
                };
                self.retained.set(topic, Arc::new(stored));
                self.mark_retained(topic);
            } else {
                self.stats.messages_dropped += 1;
            }
        }

        let mut targets: BTreeMap<SessionKey, Target> = BTreeMap::new();
        let mut groups: Vec<(TopicFilter, Vec<(SessionKey, Subscription)>)> = Vec::new();
        self.subscriptions
            .for_each_match(topic.as_str(), |m| match m {
                Match::Client { client, value } => {
                    // [MQTT-3.8.3-3]: No Local keeps a client's own messages from it.
                    if !(value.options.no_local && origin == Some(client)) {
                        targets.entry(client).or_default().add(value);
                    }
                }
                Match::Group {
                    filter, members, ..
                } => {
                    groups.push((filter.clone(), members.map(|(k, v)| (k, *v)).collect()));
                }
            });
        for (filter, members) in groups {
            if let Some((key, sub)) = self.pick_member(filter, &members) {
                targets.entry(key).or_default().add(&sub);
            }
        }
        let matched = !targets.is_empty();
        for (key, target) in targets {
            let Some(granted) = target.qos else { continue };
            let mut props = properties.clone();
            if !target.ids.is_empty() {
                props.subscription_identifiers = target.ids;
            }
            let message = OutgoingMessage {
                topic: topic.clone(),
                // [MQTT-3.8.4-8] (5.0) / [MQTT-3.8.4-6]: delivered at the lower of the
                // published and the granted QoS.
                qos: qos.min(granted),
                // [MQTT-3.3.1-12] / [MQTT-3.3.1-13]: RETAIN is kept only with Retain As
                // Published.
                retain: retain && target.retain_as_published,
                properties: props,
                payload: payload.clone(),
            };
            self.deliver(now, key, message);
        }
        matched
    }

    /// Shared subscriptions: one member per group gets the message, round-robin among
    /// members with a connection whose in-flight window has room; if every connected
    /// member's window is full, round-robin among the connected members (the message waits
    /// in the chosen one's session queue); with no member connected, the next one in turn
    /// (queued for it).
    fn pick_member(
        &mut self,
        group: TopicFilter,
        members: &[(SessionKey, Subscription)],
    ) -> Option<(SessionKey, Subscription)> {
        if members.is_empty() {
            return None;
        }
        let start = self.share_cursor.get(&group).copied().unwrap_or(0);
        let n = members.len();
        // The member's connection and whether its window is full.
        let state = |i: usize| -> Option<bool> {
            let (k, _) = members.get(i)?;
            let conn = self.sessions.get(*k as usize)?.as_ref()?.conn?;
            Some(self.conns.get(&conn).is_some_and(|c| c.window_full))
        };
        let order = || (0..n).map(|i| (start + i) % n);
        let pick = order()
            .find(|&i| state(i) == Some(false))
            .or_else(|| order().find(|&i| state(i).is_some()))
            .unwrap_or(start % n);
        self.share_cursor.insert(group, pick + 1);
        members.get(pick).copied()
    }

    /// Hands a message to a session: its connection if it has one, else its offline queue
    /// (QoS 1/2, and QoS 0 if configured), bounded by dropping the oldest.
    fn deliver(&mut self, now: Instant, key: SessionKey, mut message: OutgoingMessage) {
        let max_queued = self.config.max_queued_messages;
        let queue_qos0 = self.config.queue_qos0_offline;
        let persisting = self.persisting();
        let Some(session) = self.sessions.get_mut(key as usize).and_then(Option::as_mut) else {
            return;
        };
        if !session.version.is_v5() {
            message.properties = OptBox::none();
        }
        let bytes = message.payload.len() as u64;
        match (session.conn, session.state.as_mut()) {
            (Some(conn), _) => {
                self.stats.messages_sent += 1;
                self.stats.bytes_sent += bytes;
                self.outputs.push_back(Output::Deliver { conn, message });
            }
            (None, Some(state)) if message.qos != QoS::AtMostOnce || queue_qos0 => {
                if state.queued_len() >= max_queued {
                    state.pop_oldest_queued();
                    self.stats.messages_dropped += 1;
                }
                state.enqueue(now, message);
                if persisting {
                    self.persist.mark(key, session);
                }
            }
            _ => self.stats.messages_dropped += 1,
        }
    }

    /// A SUBSCRIBE arrived on `conn`. The SUBACK, then the matching retained messages,
    /// come out as outputs.
    pub fn handle_subscribe(&mut self, now: Instant, conn: ConnId, subscribe: Subscribe) {
        let Some(key) = self.session_of(conn) else {
            return;
        };
        let Some(session) = self.session(key) else {
            return;
        };
        let v5 = session.version.is_v5();
        let client_id = session.client_id.clone();
        let sub_id = subscribe.properties.subscription_identifier;
        let mut codes = Vec::with_capacity(subscribe.filters.len());
        let mut retained = Vec::new();
        let mut changed = false;
        for (filter, options) in subscribe.filters {
            let refusal = if filter.is_shared() && !self.config.shared_subscriptions {
                Some(ReasonCode::SharedSubscriptionsNotSupported)
            } else if filter.has_wildcards() && !self.config.wildcard_subscriptions {
                Some(ReasonCode::WildcardSubscriptionsNotSupported)
            } else if sub_id.is_some() && !self.config.subscription_identifiers {
                Some(ReasonCode::SubscriptionIdentifiersNotSupported)
            } else if !self.authorizer.may_subscribe(&client_id, &filter) {
                Some(ReasonCode::NotAuthorized)
            } else {
                None
            };
            if let Some(code) = refusal {
                // 3.1.1 has one failure code, 0x80.
                codes.push(if v5 {
                    code
                } else {
                    ReasonCode::UnspecifiedError
                });
                continue;
            }
            let granted = options.qos.min(self.config.max_qos);
            let mut options = options;
            options.qos = granted;
            let sub = Subscription {
                options,
                id: sub_id,
            };
            // [MQTT-3.8.4-3]: a subscription to the same filter replaces the old one.
            let existed = self.subscriptions.insert(&filter, key, sub).is_some();
            changed = true;
            if let Some(s) = self.session_mut(key) {
                match s.subscriptions.iter_mut().find(|(f, _)| *f == filter) {
                    Some(entry) => entry.1 = sub,
                    None => {
                        // Many sessions hold one subscription: room for just it at first.
                        if s.subscriptions.capacity() == 0 {
                            s.subscriptions.reserve_exact(1);
                        }
                        s.subscriptions.push((filter.clone(), sub));
                    }
                }
            }
            codes.push(match granted {
                QoS::AtMostOnce => ReasonCode::GRANTED_QOS_0,
                QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
                QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
            });
            // Retained messages are sent per Retain Handling [MQTT-3.3.1-9]
            // [MQTT-3.3.1-10] [MQTT-3.3.1-11], never for a shared subscription.
            let send = match options.retain_handling {
                RetainHandling::SendAtSubscribe => true,
                RetainHandling::SendAtSubscribeIfNew => !existed,
                RetainHandling::DoNotSend => false,
            };
            if send && !filter.is_shared() {
                self.retained.for_each_match(&filter, |_, m| {
                    if !m.expired(now) {
                        retained.push((Arc::clone(m), granted));
                    }
                });
            }
        }
        if changed {
            self.mark_session(key);
        }
        self.acknowledge(Output::SubAck {
            conn,
            suback: SubAck {
                packet_id: subscribe.packet_id,
                properties: Default::default(),
                reason_codes: codes,
            },
        });
        for (m, granted) in retained {
            let mut properties = m.properties_at(now);
            if let Some(id) = sub_id {
                properties.subscription_identifiers = vec![id];
            }
            let message = OutgoingMessage {
                topic: m.topic.clone(),
                qos: m.qos.min(granted),
                // Retained messages sent for a new subscription carry RETAIN 1
                // [MQTT-3.3.1-8] (3.1.1) / [MQTT-3.3.1-9] (5.0).
                retain: true,
                properties,
                payload: m.payload.clone(),
            };
            self.deliver(now, key, message);
        }
    }

    /// An UNSUBSCRIBE arrived on `conn`.
    pub fn handle_unsubscribe(&mut self, _now: Instant, conn: ConnId, unsubscribe: Unsubscribe) {
        let Some(key) = self.session_of(conn) else {
            return;
        };
        let mut codes = Vec::with_capacity(unsubscribe.filters.len());
        let mut changed = false;
        for filter in &unsubscribe.filters {
            let removed = self.subscriptions.remove(filter, key).is_some();
            changed |= removed;
            if let Some(s) = self.session_mut(key) {
                s.subscriptions.retain(|(f, _)| f != filter);
            }
            codes.push(if removed {
                ReasonCode::Success
            } else {
                ReasonCode::NoSubscriptionExisted
            });
        }
        if changed {
            self.mark_session(key);
        }
        self.acknowledge(Output::UnsubAck {
            conn,
            unsuback: UnsubAck {
                packet_id: unsubscribe.packet_id,
                properties: Default::default(),
                reason_codes: codes,
            },
        });
    }

    /// Publishes a will message as if its client had published it.
    pub(crate) fn publish_will(&mut self, now: Instant, client_id: &MqttString, will: Will) {
        if will.topic.as_str().starts_with("$SYS")
            || !self.authorizer.may_publish(client_id, &will.topic)
        {
            return;
        }
        let properties = will_properties(will.properties);
        let qos = will.qos.min(self.config.max_qos);
        let msg = Routed {
            topic: &will.topic,
            qos,
            retain: will.retain,
            properties,
            payload: will.payload,
        };
        self.route(now, None, msg);
    }

    /// Publishes the `$SYS` statistics as retained QoS 0 messages.
    pub(crate) fn publish_sys(&mut self, now: Instant) {
        let uptime = now.saturating_duration_since(self.started).as_secs();
        let s = self.stats;
        let values: [(&str, String); 11] = [
            (
                "version",
                format!("mqtt-broker-core {}", env!("CARGO_PKG_VERSION")),
            ),
            ("uptime", format!("{uptime} seconds")),
            ("clients/connected", s.connected.to_string()),
            ("clients/maximum", s.max_connected.to_string()),
            ("clients/total", self.session_count().to_string()),
            ("messages/received", s.messages_received.to_string()),
            ("messages/sent", s.messages_sent.to_string()),
            ("messages/dropped", s.messages_dropped.to_string()),
            ("load/bytes/received", s.bytes_received.to_string()),
            ("load/bytes/sent", s.bytes_sent.to_string()),
            ("subscriptions/count", self.subscriptions.len().to_string()),
        ];
        let retained = ("retained messages/count", self.retained.len().to_string());
        for (name, value) in values.into_iter().chain([retained]) {
            if let Ok(topic) = TopicName::try_from(format!("$SYS/broker/{name}")) {
                let msg = Routed {
                    topic: &topic,
                    qos: QoS::AtMostOnce,
                    retain: true,
                    properties: OptBox::none(),
                    payload: Bytes::from(value),
                };
                self.route(now, None, msg);
            }
        }
    }

    /// The statistics.
    #[must_use]
    pub fn stats(&self) -> crate::Stats {
        self.stats
    }
}
