//! The protocol state of a session that outlives one network connection.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use mqtt_proto::{OptBox, PacketId, Publish, PublishProperties, QoS, TopicName};

/// An application message waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// Topic to publish to.
    pub topic: TopicName,
    /// QoS to send with.
    pub qos: QoS,
    /// RETAIN flag.
    pub retain: bool,
    /// Properties (5.0). `topic_alias` is chosen by the connection, not here; the message
    /// expiry interval is rewritten to the time left when the message is sent.
    pub properties: OptBox<PublishProperties>,
    /// Payload.
    pub payload: Bytes,
}

impl OutgoingMessage {
    /// A message with default flags and no properties.
    #[must_use]
    pub fn new(topic: TopicName, qos: QoS, payload: impl Into<Bytes>) -> Self {
        Self {
            topic,
            qos,
            retain: false,
            properties: OptBox::none(),
            payload: payload.into(),
        }
    }
}

/// Names an outgoing message from the command that queued it to the event that reports
/// its fate ([`crate::ServerEvent::Delivered`], [`crate::ServerEvent::Dropped`] and their
/// client counterparts). Unique within a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub u64);

/// A message queued behind the peer's receive maximum, with the instant it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Queued {
    pub(crate) id: MessageId,
    pub(crate) message: OutgoingMessage,
    pub(crate) expires_at: Option<Instant>,
}

/// An outgoing QoS 1 or 2 publication between its first transmission and its last
/// acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
// Most entries are `Publish`; boxing it would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
pub enum Inflight {
    /// PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2). Resent with DUP on
    /// resumption.
    Publish {
        /// The message.
        id: MessageId,
        /// The PUBLISH as sent (without topic alias).
        publish: Publish,
    },
    /// PUBREL sent, waiting for PUBCOMP. Resent on resumption; the message itself is gone
    /// (a released PUBLISH is never sent again).
    Release {
        /// The message.
        id: MessageId,
        /// Its packet identifier.
        packet_id: PacketId,
    },
}

impl Inflight {
    /// The packet identifier.
    #[must_use]
    pub fn packet_id(&self) -> Option<PacketId> {
        match self {
            Self::Publish { publish, .. } => publish.packet_id(),
            Self::Release { packet_id, .. } => Some(*packet_id),
        }
    }

    /// The message.
    #[must_use]
    pub fn message_id(&self) -> MessageId {
        match self {
            Self::Publish { id, .. } | Self::Release { id, .. } => *id,
        }
    }
}

/// The part of an MQTT session that the connection layer keeps: publications in flight
/// in both directions, messages queued to send, and the next packet identifier.
///
/// It is plain data with exactly one owner: take it out of a connection that ends
/// ([`crate::ServerConnection::take_session_state`]) and give it to the next connection of
/// the same session, which resends what is in flight in the original order
/// [MQTT-4.4.0-1].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    /// Outgoing publications in flight, in the order they were first sent.
    pub(crate) inflight: Inflights,
    /// Outgoing messages not yet sent (waiting for room in the peer's receive maximum).
    pub(crate) queue: VecDeque<Queued>,
    /// Incoming QoS 2 packet identifiers delivered to the application and not yet released
    /// by PUBREL: a PUBLISH repeating one of them is not delivered again.
    pub(crate) incoming_qos2: Vec<PacketId>,
    /// Where the search for a free packet identifier starts.
    pub(crate) next_packet_id: PacketId,
    /// The next [`MessageId`].
    pub(crate) next_message_id: u64,
}

impl Default for SessionState {
    fn default() -> Self {
        Self {
            inflight: Inflights::default(),
            queue: VecDeque::new(),
            incoming_qos2: Vec::new(),
            next_packet_id: PacketId::MIN,
            next_message_id: 0,
        }
    }
}

impl SessionState {
    /// A fresh session.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Outgoing publications in flight, oldest first.
    pub fn inflight(&self) -> impl Iterator<Item = &Inflight> {
        self.inflight.iter()
    }

    /// Outgoing messages waiting to be sent, oldest first.
    pub fn queued(&self) -> impl Iterator<Item = &OutgoingMessage> {
        self.queue.iter().map(|q| &q.message)
    }

    /// Incoming QoS 2 packet identifiers awaiting PUBREL.
    #[must_use]
    pub fn incoming_qos2(&self) -> &[PacketId] {
        &self.incoming_qos2
    }

    /// Whether nothing is in flight or queued in either direction.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.inflight.is_empty() && self.queue.is_empty() && self.incoming_qos2.is_empty()
    }

    pub(crate) fn next_message_id(&mut self) -> MessageId {
        self.next_message_id += 1;
        MessageId(self.next_message_id)
    }

    /// Wraps a message for the queue, with a fresh id and its expiry counted from `now`.
    pub(crate) fn make_queued(&mut self, now: Instant, message: OutgoingMessage) -> Queued {
        let expires_at = message
            .properties
            .message_expiry_interval
            .map(|s| now + std::time::Duration::from_secs(u64::from(s)));
        Queued {
            id: self.next_message_id(),
            message,
            expires_at,
        }
    }

    /// Queues a message for a session whose client is offline; it is sent, in order,
    /// when the session resumes on a connection. Its message expiry counts from `now`.
    pub fn enqueue(&mut self, now: Instant, message: OutgoingMessage) -> MessageId {
        let queued = self.make_queued(now, message);
        let id = queued.id;
        self.queue.push_back(queued);
        id
    }

    /// Number of messages queued (not yet sent).
    #[must_use]
    pub fn queued_len(&self) -> usize {
        self.queue.len()
    }

    /// Removes queued messages whose expiry interval has passed [MQTT-3.3.2-5], returning
    /// how many were removed.
    pub fn drop_expired(&mut self, now: Instant) -> usize {
        let before = self.queue.len();
        self.queue
            .retain(|q| q.expires_at.is_none_or(|at| at > now));
        before - self.queue.len()
    }

    /// Removes the oldest queued message (for a bounded offline queue).
    pub fn pop_oldest_queued(&mut self) -> Option<OutgoingMessage> {
        self.queue.pop_front().map(|q| q.message)
    }

    /// Allocates a packet identifier that neither a publication in flight nor `other_in_use`
    /// (SUBSCRIBE and UNSUBSCRIBE awaiting their acknowledgement) uses (client: 5.0
    /// [MQTT-2.2.1-3], 3.1.1 [MQTT-2.3.1-2]; server: 5.0 [MQTT-2.2.1-4], 3.1.1
    /// [MQTT-2.3.1-4]), or `None` if none is free.
    pub(crate) fn allocate_packet_id(&mut self, other_in_use: &[PacketId]) -> Option<PacketId> {
        if self.inflight.len() + other_in_use.len() >= usize::from(u16::MAX) {
            return None;
        }
        let mut id = self.next_packet_id;
        // Each probe skips one used identifier, so this ends within `used + 1` probes.
        loop {
            let used = self.inflight.contains_id(id) || other_in_use.contains(&id);
            if !used {
                self.next_packet_id = id.next();
                return Some(id);
            }
            id = id.next();
        }
    }
}

/// The publications in flight, in the order they were first sent, with their packet
/// identifiers kept apart in a compact list: finding an identifier (for each
/// acknowledgement, and for each new identifier) scans two bytes per entry instead of whole
/// publications.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Inflights {
    entries: VecDeque<Inflight>,
    /// `entries[i].packet_id()`, for every `i`.
    ids: VecDeque<Option<PacketId>>,
}

impl Inflights {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn iter(&self) -> std::collections::vec_deque::Iter<'_, Inflight> {
        self.entries.iter()
    }

    pub(crate) fn push_back(&mut self, entry: Inflight) {
        self.ids.push_back(entry.packet_id());
        self.entries.push_back(entry);
    }

    pub(crate) fn remove(&mut self, pos: usize) -> Option<Inflight> {
        self.ids.remove(pos);
        self.entries.remove(pos)
    }

    pub(crate) fn get(&self, pos: usize) -> Option<&Inflight> {
        self.entries.get(pos)
    }

    /// The entry at `pos`, to change in place. Its packet identifier must stay the same
    /// (a PUBLISH becoming its PUBREL keeps it).
    pub(crate) fn get_mut(&mut self, pos: usize) -> Option<&mut Inflight> {
        self.entries.get_mut(pos)
    }

    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Inflight> + '_ {
        self.ids.clear();
        self.entries.drain(..)
    }

    /// Where the entry with packet identifier `id` is.
    pub(crate) fn position_of(&self, id: PacketId) -> Option<usize> {
        self.ids.iter().position(|&i| i == Some(id))
    }

    pub(crate) fn contains_id(&self, id: PacketId) -> bool {
        self.ids.contains(&Some(id))
    }
}

impl<'a> IntoIterator for &'a Inflights {
    type Item = &'a Inflight;
    type IntoIter = std::collections::vec_deque::Iter<'a, Inflight>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}
