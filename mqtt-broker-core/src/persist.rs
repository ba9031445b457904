//! The persistence seam: what must survive a restart goes out as plain-data operations for
//! the embedder's store, and comes back in when the broker starts.
//!
//! Changes are not turned into operations where they happen: a session or retained topic
//! that changed is marked, and [`Broker::poll_persist`] makes one operation per marked item
//! from its state at that moment. A session that queues a hundred messages between two
//! drains is written once.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_proto::{MqttString, TopicName};
use mqtt_session::{PersistError, SessionState};

use crate::broker::Broker;
use crate::config::Persistence;
use crate::output::{ConnId, Output};
use crate::routing::StoredMessage;
use crate::session::{Session, SessionKey, will_delay};

mod record;

pub use record::{RecordError, RetainedRecord, SessionRecord};

/// One change for the store, numbered in the order the broker made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistOp {
    /// Position in the sequence of operations, from 1 on: confirm it (and every one
    /// before) with [`Broker::handle_persisted`] once it is durable.
    pub seq: u64,
    /// What to store.
    pub kind: PersistKind,
}

/// What a [`PersistOp`] asks the store to do. Each kind replaces or deletes the one record
/// under its key: a session's client identifier, a retained message's topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersistKind {
    /// Store the session, replacing any record of its client identifier.
    PutSession(Box<SessionRecord>),
    /// Delete the session record of this client identifier, if there is one.
    DeleteSession {
        /// The key.
        client_id: MqttString,
    },
    /// Store the retained message, replacing any record of its topic.
    PutRetained(RetainedRecord),
    /// Delete the retained message of this topic, if there is one.
    DeleteRetained {
        /// The key.
        topic: TopicName,
    },
}

/// Why [`Broker::restore_session`] did not restore a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// The record's session state bytes are not a session state.
    #[error("stored session state: {0}")]
    State(#[from] PersistError),
    /// A session of that client identifier has a connection (restore before opening
    /// connections).
    #[error("the session has a connection")]
    Connected,
}

/// What is waiting to be written, and acknowledgements waiting for it.
#[derive(Default)]
pub(crate) struct Persist {
    /// Sessions marked since their last operation (each once: `Session::dirty`). A key may
    /// be stale: its session ended (then `deleted` has it, if it was stored) or its slot
    /// was reused.
    sessions: Vec<SessionKey>,
    /// Client identifiers of stored sessions that ended.
    deleted: Vec<MqttString>,
    /// Retained topics set or deleted since their last operation.
    retained: BTreeSet<TopicName>,
    /// The last sequence number given out.
    seq: u64,
    /// Every operation up to this one is durable.
    persisted: u64,
    /// Acknowledgements (`Durable`) made while changes were marked: they wait for the
    /// operations the next complete drain makes.
    unflushed: VecDeque<Output>,
    /// Acknowledgements waiting for `persisted` to reach their sequence number, in the
    /// order they were made (so a connection's PUBACKs keep their order [MQTT-4.6.0-2]).
    held: VecDeque<(u64, Output)>,
}

impl Persist {
    fn has_changes(&self) -> bool {
        !(self.sessions.is_empty() && self.deleted.is_empty() && self.retained.is_empty())
    }

    /// Marks session `s` (of key `key`) as changed. A session of expiry 0 that was never
    /// stored is not: it ends with its connection, so there is nothing to write.
    pub(crate) fn mark(&mut self, key: SessionKey, s: &mut Session) {
        if !s.dirty && (s.expiry != 0 || s.stored) {
            s.dirty = true;
            self.sessions.push(key);
        }
    }
}

impl Broker {
    /// The next operation for the store, when [`BrokerConfig::persistence`] is not `Off`:
    /// what changed since the last call, one operation per session or retained topic.
    /// `now` anchors the times in the records (they are stored as time left).
    ///
    /// Drain it after every input, before [`poll_output`](Self::poll_output): with
    /// `Persistence::Durable`, a complete drain is what lets acknowledgements go out once
    /// their operations are confirmed ([`handle_persisted`](Self::handle_persisted)), or at
    /// once if nothing needed writing. Operations are meant to be applied in order; a
    /// store may batch them.
    ///
    /// [`BrokerConfig::persistence`]: crate::BrokerConfig::persistence
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use std::time::{Duration, Instant};
    /// use bytes::{Bytes, BytesMut};
    /// use mqtt_broker_core::{
    ///     Broker, BrokerConfig, Output, Persistence, PersistKind, RetainedRecord,
    /// };
    /// use mqtt_proto::{Connect, MqttString, ProtocolVersion, Publish, QoSPid, PacketId, TopicName};
    ///
    /// let now = Instant::now();
    /// let config = BrokerConfig { persistence: Persistence::Durable, ..Default::default() };
    /// let mut broker = Broker::new(config.clone(), 7, now);
    /// let conn = broker.open_connection(now).unwrap();
    /// let connect = Connect::new(ProtocolVersion::V5, MqttString::from_static("sensor"));
    /// let pending = broker.handle_connect(now, conn, Box::new(connect));
    /// broker.accept(now, pending);
    ///
    /// // A retained QoS 1 PUBLISH: its PUBACK waits until the store has the message.
    /// let id = PacketId::new(1).unwrap();
    /// let mut publish = Publish::new(TopicName::from_static("t"), QoSPid::AtLeastOnce(id), "21.5");
    /// publish.retain = true;
    /// broker.handle_publish(now, conn, publish);
    ///
    /// // The store: bytes under a key.
    /// let mut store: BTreeMap<String, Bytes> = BTreeMap::new();
    /// let mut last = 0;
    /// while let Some(op) = broker.poll_persist(now) {
    ///     if let PersistKind::PutRetained(record) = &op.kind {
    ///         let mut buf = BytesMut::new();
    ///         record.encode(&mut buf).unwrap();
    ///         store.insert(format!("retained/{}", record.topic), buf.freeze());
    ///     }
    ///     last = op.seq;
    /// }
    /// assert!(matches!(broker.poll_output(), Some(Output::Accept { .. })));
    /// assert_eq!(broker.poll_output(), None, "the PUBACK waits");
    /// broker.handle_persisted(now, last); // the store synced
    /// assert!(matches!(broker.poll_output(), Some(Output::Ack { .. })));
    ///
    /// // After a restart: the retained message is back.
    /// let mut broker = Broker::new(config, 8, now);
    /// for bytes in store.into_values() {
    ///     let record = RetainedRecord::decode(bytes).unwrap();
    ///     broker.restore_retained(now, record, Duration::ZERO); // or the time since the write
    /// }
    /// assert_eq!(broker.retained_count(), 1);
    /// ```
    #[must_use]
    pub fn poll_persist(&mut self, now: Instant) -> Option<PersistOp> {
        let kind = self.next_change(now);
        let op = kind.map(|kind| {
            self.persist.seq += 1;
            PersistOp {
                seq: self.persist.seq,
                kind,
            }
        });
        if !self.persist.has_changes() && !self.persist.unflushed.is_empty() {
            let p = &mut self.persist;
            let seq = p.seq;
            p.held.extend(p.unflushed.drain(..).map(|out| (seq, out)));
            self.release_acks();
        }
        op
    }

    /// The store made every operation up to `seq` durable. Acknowledgements that waited
    /// for them come out of [`poll_output`](Self::poll_output). Confirming a sequence
    /// number again, or an older one, is harmless.
    pub fn handle_persisted(&mut self, _now: Instant, seq: u64) {
        let p = &mut self.persist;
        p.persisted = p.persisted.max(seq.min(p.seq));
        self.release_acks();
    }

    /// Restores a session from the store, before connections are opened. `age` is how
    /// long ago the operation that carried the record was made, by a clock the store keeps
    /// (wall-clock time of the write, say); with `Duration::ZERO` that time does not count.
    ///
    /// The session comes back without a connection: its subscriptions, offline queue and
    /// in-flight messages as stored; its expiry, its pending will and the expiry of its
    /// queued messages with the time that was left, less `age`, from `now`. A session
    /// stored while it had a connection is restored as if that connection had broken at
    /// `now` (its will waits for its delay, its expiry starts). Policies (authorization,
    /// limits) are not applied again, except the offline queue bound. Restoring writes
    /// nothing to the store, and publishes nothing: a will or expiry that is due comes at
    /// the next [`handle_timeout`](Self::handle_timeout).
    ///
    /// A session of the same client identifier without a connection is replaced.
    ///
    /// # Errors
    /// [`RestoreError::State`] if the session state bytes do not decode,
    /// [`RestoreError::Connected`] if the session has a connection; the broker is unchanged.
    pub fn restore_session(
        &mut self,
        now: Instant,
        record: SessionRecord,
        age: Duration,
    ) -> Result<(), RestoreError> {
        let SessionRecord {
            client_id,
            version,
            expiry_interval: expiry,
            expires_in,
            subscriptions,
            will,
            will_in,
            state,
        } = record;
        let existing = self.by_client_id.get(&client_id).copied();
        if let Some(key) = existing
            && self
                .session(key)
                .is_some_and(|s| s.conn.is_some() || s.takeover.is_some())
        {
            return Err(RestoreError::Connected);
        }
        let was_connected = state.is_none();
        let mut state = match state {
            Some(bytes) => SessionState::decode_aged(bytes, now, age)?,
            None => SessionState::new(),
        };
        while state.queued_len() > self.config.max_queued_messages {
            state.pop_oldest_queued();
            self.stats.messages_dropped += 1;
        }
        if let Some(key) = existing {
            self.drop_session(key);
        }
        // A pending delete of an earlier session of the client would undo the store's record.
        self.persist.deleted.retain(|c| *c != client_id);
        let secs = |s: u32| now + Duration::from_secs(u64::from(s));
        let left = |d: Duration| now + d.saturating_sub(age);
        let will = will.map(|w| {
            let delay = will_delay(version, &w);
            (w, delay)
        });
        let (will_at, expires_at) = if was_connected {
            let will_at = will.as_ref().map(|(_, delay)| secs((*delay).min(expiry)));
            (will_at, (expiry != u32::MAX).then(|| secs(expiry)))
        } else {
            let will_at = will_in.filter(|_| will.is_some()).map(left);
            (will_at, expires_in.map(left))
        };
        let key = self.new_session(client_id, version);
        for (filter, sub) in &subscriptions {
            self.subscriptions.insert(filter, key, *sub);
        }
        if let Some(s) = self.session_mut(key) {
            s.expiry = expiry;
            s.expires_at = expires_at;
            s.subscriptions = subscriptions;
            s.will = will.map(Box::new);
            s.will_at = will_at;
            s.state = Some(state);
            s.stored = true;
        }
        for at in [will_at, expires_at].into_iter().flatten() {
            self.timers.insert((at, key));
        }
        Ok(())
    }

    /// Restores a retained message from the store, before connections are opened. `age`
    /// is how long ago the operation that carried the record was made, as for
    /// [`restore_session`](Self::restore_session): its message expiry counts from `now`
    /// with the time that was left, less `age`. One with no time left is not restored, nor
    /// one beyond `max_retained` (counted as dropped), nor any when retained messages are
    /// not available. Restoring writes nothing to the store.
    pub fn restore_retained(&mut self, now: Instant, record: RetainedRecord, age: Duration) {
        let RetainedRecord {
            topic,
            qos,
            properties,
            payload,
            expires_in,
        } = record;
        let expires_in = expires_in.map(|d| d.saturating_sub(age));
        if !self.config.retain_available
            || payload.is_empty()
            || expires_in.is_some_and(|d| d.is_zero())
        {
            return;
        }
        if self.retained.len() >= self.config.max_retained && self.retained.get(&topic).is_none() {
            self.stats.messages_dropped += 1;
            return;
        }
        let message = StoredMessage {
            topic: topic.clone(),
            qos,
            properties,
            payload,
            expires_at: expires_in.map(|d| now + d),
        };
        self.retained.set(&topic, Arc::new(message));
    }

    /// Whether changes are turned into operations.
    pub(crate) fn persisting(&self) -> bool {
        self.config.persistence != Persistence::Off
    }

    /// Marks a session as changed.
    pub(crate) fn mark_session(&mut self, key: SessionKey) {
        if self.persisting()
            && let Some(s) = self.sessions.get_mut(key as usize).and_then(Option::as_mut)
        {
            self.persist.mark(key, s);
        }
    }

    /// A session ended: its record goes.
    pub(crate) fn session_ended(&mut self, session: &Session) {
        if session.stored {
            self.persist.deleted.push(session.client_id.clone());
        }
    }

    /// Marks a retained topic as set or deleted. `$SYS` topics are the broker's own and are
    /// published again after a restart: they are not stored.
    pub(crate) fn mark_retained(&mut self, topic: &TopicName) {
        if self.persisting() && !topic.as_str().starts_with("$SYS") {
            self.persist.retained.insert(topic.clone());
        }
    }

    /// The operation for the next change, if any.
    fn next_change(&mut self, now: Instant) -> Option<PersistKind> {
        if let Some(client_id) = self.persist.deleted.pop() {
            // Before any put: a session that ended may have been followed by a new one of
            // the same client identifier.
            return Some(PersistKind::DeleteSession { client_id });
        }
        while let Some(key) = self.persist.sessions.pop() {
            let Some(s) = self.sessions.get_mut(key as usize).and_then(Option::as_mut) else {
                continue;
            };
            if !std::mem::take(&mut s.dirty) {
                continue;
            }
            if s.expiry == 0 {
                // It ends with its connection, so it cannot outlive a restart.
                if std::mem::take(&mut s.stored) {
                    let client_id = s.client_id.clone();
                    return Some(PersistKind::DeleteSession { client_id });
                }
                continue;
            }
            s.stored = true;
            return Some(PersistKind::PutSession(Box::new(session_record(s, now))));
        }
        let topic = self.persist.retained.pop_first()?;
        Some(match self.retained.get(&topic) {
            Some(m) => PersistKind::PutRetained(RetainedRecord {
                topic,
                qos: m.qos,
                properties: m.properties.clone(),
                payload: m.payload.clone(),
                expires_in: m.expires_at.map(|t| t.saturating_duration_since(now)),
            }),
            None => PersistKind::DeleteRetained { topic },
        })
    }

    /// Sends an acknowledgement, or with `Persistence::Durable` holds it until what it
    /// acknowledges is durable.
    pub(crate) fn acknowledge(&mut self, out: Output) {
        if self.config.persistence != Persistence::Durable {
            return self.outputs.push_back(out);
        }
        let p = &mut self.persist;
        if p.has_changes() || !p.unflushed.is_empty() {
            p.unflushed.push_back(out);
        } else {
            p.held.push_back((p.seq, out));
            self.release_acks();
        }
    }

    /// A connection closed: acknowledgements still held for it are dropped (its client
    /// resends what was not acknowledged).
    pub(crate) fn forget_acks(&mut self, conn: ConnId) {
        let p = &mut self.persist;
        if !p.held.is_empty() || !p.unflushed.is_empty() {
            p.held.retain(|(_, out)| out.conn() != conn);
            p.unflushed.retain(|out| out.conn() != conn);
        }
    }

    fn release_acks(&mut self) {
        let p = &mut self.persist;
        while let Some((seq, _)) = p.held.front()
            && *seq <= p.persisted
        {
            if let Some((_, out)) = p.held.pop_front() {
                self.outputs.push_back(out);
            }
        }
    }
}

/// The record of a session at `now`.
fn session_record(s: &Session, now: Instant) -> SessionRecord {
    let left = |t: Instant| t.saturating_duration_since(now);
    let state = s.state.as_ref().map(|state| {
        let mut buf = BytesMut::new();
        if state.encode(now, &mut buf).is_err() {
            // Cannot happen: every message in it was decoded from a packet, and encodes as
            // 5.0. Should it, the session is stored without its messages.
            buf.clear();
            let _ = SessionState::new().encode(now, &mut buf);
        }
        buf.freeze()
    });
    SessionRecord {
        client_id: s.client_id.clone(),
        version: s.version,
        expiry_interval: s.expiry,
        expires_in: s.expires_at.map(left),
        subscriptions: s.subscriptions.clone(),
        will: s.will.as_deref().map(|(w, _)| w.clone()),
        will_in: s.will_at.map(left),
        state,
    }
}

#[cfg(test)]
mod tests;
