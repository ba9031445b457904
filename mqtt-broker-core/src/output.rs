//! What the broker asks its embedder to do.

use mqtt_proto::{PacketId, ReasonCode, SubAck, UnsubAck};
use mqtt_session::{Accept, OutgoingMessage};

/// Opaque identifier of one network connection, given out by
/// [`Broker::open_connection`](crate::Broker::open_connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub(crate) u64);

impl ConnId {
    /// The number behind the identifier (for logs).
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }
}

/// An instruction for one connection, to be carried out on its
/// [`ServerConnection`](mqtt_session::ServerConnection) in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Accept the CONNECT: `ServerConnection::accept(now, accept)`. If the connection has
    /// closed meanwhile, the session state inside is handed back with
    /// [`Broker::handle_closed`](crate::Broker::handle_closed) instead, so that nothing in
    /// it is lost.
    Accept {
        /// The connection.
        conn: ConnId,
        /// Session state and CONNACK properties.
        accept: Box<Accept>,
    },
    /// Refuse the CONNECT: `ServerConnection::refuse(now, reason_code)`.
    Refuse {
        /// The connection.
        conn: ConnId,
        /// Why.
        reason_code: ReasonCode,
    },
    /// Send a message: `ServerConnection::publish(now, message)`. If the connection has
    /// closed meanwhile, add the message to the session state it hands back
    /// ([`SessionState::enqueue`](mqtt_session::SessionState::enqueue)) so that a QoS 1/2
    /// message is not lost.
    Deliver {
        /// The connection.
        conn: ConnId,
        /// The message, with the subscriber's QoS, RETAIN flag and subscription ids.
        message: OutgoingMessage,
    },
    /// Acknowledge an incoming publication: `ServerConnection::acknowledge`.
    Ack {
        /// The connection.
        conn: ConnId,
        /// The publication.
        packet_id: PacketId,
        /// The outcome (5.0).
        reason_code: ReasonCode,
    },
    /// Answer a SUBSCRIBE: `ServerConnection::suback`.
    SubAck {
        /// The connection.
        conn: ConnId,
        /// The answer.
        suback: SubAck,
    },
    /// Answer an UNSUBSCRIBE: `ServerConnection::unsuback`.
    UnsubAck {
        /// The connection.
        conn: ConnId,
        /// The answer.
        unsuback: UnsubAck,
    },
    /// Close the connection: `ServerConnection::disconnect(now, reason_code)` (for example
    /// 0x8E Session taken over), then hand its session back with
    /// [`Broker::handle_closed`](crate::Broker::handle_closed).
    Disconnect {
        /// The connection.
        conn: ConnId,
        /// Why.
        reason_code: ReasonCode,
    },
}

impl Output {
    /// The connection the instruction is for.
    #[must_use]
    pub fn conn(&self) -> ConnId {
        match self {
            Self::Accept { conn, .. }
            | Self::Refuse { conn, .. }
            | Self::Deliver { conn, .. }
            | Self::Ack { conn, .. }
            | Self::SubAck { conn, .. }
            | Self::UnsubAck { conn, .. }
            | Self::Disconnect { conn, .. } => *conn,
        }
    }
}
