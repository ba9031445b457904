//! Errors: the peer's protocol violations (which close the connection) and local misuse
//! (which is returned to the caller), kept apart.

use std::borrow::Cow;

use mqtt_proto::{DecodeError, EncodeError, PacketId, ReasonCode};

/// A protocol violation by the peer. The connection closes with this reason code (sent in
/// a DISCONNECT to a 5.0 peer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail} ({reason_code})")]
pub struct Violation {
    /// The MQTT 5.0 reason code.
    pub reason_code: ReasonCode,
    /// What was wrong.
    pub detail: Cow<'static, str>,
}

impl Violation {
    pub(crate) fn new(reason_code: ReasonCode, detail: &'static str) -> Self {
        Self {
            reason_code,
            detail: Cow::Borrowed(detail),
        }
    }

    /// An internal failure while answering the peer.
    pub(crate) fn local(e: Error) -> Self {
        Self {
            reason_code: ReasonCode::ImplementationSpecificError,
            detail: Cow::Owned(e.to_string()),
        }
    }
}

impl From<DecodeError> for Violation {
    fn from(e: DecodeError) -> Self {
        Self {
            reason_code: e.reason_code(),
            detail: Cow::Owned(e.to_string()),
        }
    }
}

/// A command that cannot be carried out: the caller's mistake or a full queue, never the
/// peer's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection is not (yet, or any more) in a state that allows this.
    #[error("not allowed in the connection's current state: {0}")]
    InvalidState(&'static str),
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
    /// No incoming publication with this packet identifier awaits acknowledgement.
    #[error("no incoming publication {0} awaits acknowledgement")]
    UnknownPacketId(PacketId),
    /// The queue of outgoing messages is full.
    #[error("outgoing queue full")]
    QueueFull,
    /// All 65,535 packet identifiers are in use.
    #[error("no free packet identifier")]
    PacketIdsExhausted,
    /// The packet cannot be encoded for this connection's protocol version.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}
