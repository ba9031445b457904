//! The broker's store in the harness: records kept as bytes under their keys, as a storage
//! engine keeps them.

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use mqtt_broker_core::{Broker, PersistKind, PersistOp, RetainedRecord, SessionRecord};

/// A store as a storage engine keeps it: each record's bytes under its key, with the
/// (virtual) time it was written.
#[derive(Debug, Default, Clone)]
pub(crate) struct Store {
    pub(crate) sessions: BTreeMap<String, (Instant, Bytes)>,
    pub(crate) retained: BTreeMap<String, (Instant, Bytes)>,
    /// Every operation, in order (each broker instance numbers its own from 1).
    pub(crate) log: Vec<PersistOp>,
    /// The sequence number of the current broker's last operation.
    pub(crate) last_seq: u64,
    /// The current broker's operations up to this one were confirmed.
    pub(crate) confirmed: u64,
}

impl Store {
    pub(crate) fn apply(&mut self, now: Instant, op: PersistOp) {
        assert_eq!(
            op.seq,
            self.last_seq + 1,
            "operations are numbered in order"
        );
        self.last_seq = op.seq;
        let mut buf = BytesMut::new();
        match &op.kind {
            PersistKind::PutSession(r) => {
                r.encode(&mut buf).unwrap();
                let key = r.client_id.as_str().to_owned();
                self.sessions.insert(key, (now, buf.freeze()));
            }
            PersistKind::DeleteSession { client_id } => {
                self.sessions.remove(client_id.as_str());
            }
            PersistKind::PutRetained(r) => {
                r.encode(&mut buf).unwrap();
                let key = r.topic.as_str().to_owned();
                self.retained.insert(key, (now, buf.freeze()));
            }
            PersistKind::DeleteRetained { topic } => {
                self.retained.remove(topic.as_str());
            }
        }
        self.log.push(op);
    }

    pub(crate) fn session(&self, client_id: &str) -> Option<SessionRecord> {
        let (_, bytes) = self.sessions.get(client_id)?;
        Some(SessionRecord::decode(bytes.clone()).unwrap())
    }

    pub(crate) fn retained(&self, topic: &str) -> Option<RetainedRecord> {
        let (_, bytes) = self.retained.get(topic)?;
        Some(RetainedRecord::decode(bytes.clone()).unwrap())
    }

    /// Restores every record into `broker`, each with its age at `now`. Sessions are
    /// restored shortest client identifier first (`c9` before `c10`): the broker handles
    /// deadlines of the same instant (wills, expiry) in the order it made the sessions, and
    /// the simulation's model in the order of the clients' numbers.
    pub(crate) fn restore(&self, broker: &mut Broker, now: Instant) {
        let mut sessions: Vec<_> = self.sessions.iter().collect();
        sessions.sort_by_key(|(id, _)| (id.len(), *id));
        for (_, (written, bytes)) in sessions {
            let record = SessionRecord::decode(bytes.clone()).unwrap();
            broker.restore_session(now, record, now - *written).unwrap();
        }
        for (written, bytes) in self.retained.values() {
            let record = RetainedRecord::decode(bytes.clone()).unwrap();
            broker.restore_retained(now, record, now - *written);
        }
    }
}
