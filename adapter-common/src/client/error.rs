//! What can go wrong, for connecting and for each request.

use std::io;

use mqtt_proto::{ReasonCode, TopicError};
use mqtt_session::{CloseReason, DropReason};

use crate::tls::TlsError;
use crate::ws::WsError;

/// Why a connection could not be established.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The builder's options do not make a valid CONNECT or transport.
    #[error("invalid client options: {0}")]
    InvalidOptions(String),
    /// Opening the transport failed (TCP connect or TLS handshake).
    #[error("transport: {0}")]
    Io(#[from] io::Error),
    /// The TLS configuration could not be built (a certificate or key file).
    #[error("TLS configuration: {0}")]
    Tls(#[from] TlsError),
    /// The WebSocket handshake failed.
    #[error("{0}")]
    WebSocket(#[from] WsError),
    /// The transport or the server did not answer within the connect timeout.
    #[error("timed out")]
    Timeout,
    /// The server refused the CONNECT.
    #[error("refused by the server: {0}")]
    Refused(ReasonCode),
    /// The connection ended before the server accepted it.
    #[error("closed before CONNACK: {}", describe(.0))]
    Closed(CloseReason),
    /// The client was closed before it connected.
    #[error("client closed")]
    ClientClosed,
}

impl ConnectError {
    /// Whether retrying with the same options cannot help (the options are invalid).
    pub(crate) fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::InvalidOptions(_) | Self::Tls(_) | Self::ClientClosed
        )
    }
}

impl From<CloseReason> for ConnectError {
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::Refused(code) => Self::Refused(code),
            CloseReason::ConnectTimeout => Self::Timeout,
            other => Self::Closed(other),
        }
    }
}

/// Why a connection ended ([`Event::Disconnected`](super::Event::Disconnected)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// An established connection ended.
    #[error("{}", describe(.0))]
    Closed(CloseReason),
    /// A connection attempt failed.
    #[error("{0}")]
    Connect(ConnectError),
}

/// A request that did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A topic name or filter is not valid.
    #[error("invalid topic: {0}")]
    InvalidTopic(#[from] TopicError),
    /// The command queue is full (only [`Client::try_publish`](super::Client::try_publish)
    /// reports this; the async methods wait for room), or the client's queue of messages
    /// waiting for a connection or for the server's receive maximum is full.
    #[error("queue full")]
    QueueFull,
    /// The client was closed, or ended after losing its connection with reconnection
    /// disabled.
    #[error("client closed")]
    Closed,
    /// A QoS 0 message was not written before the connection was lost.
    #[error("connection lost before the message was written")]
    ConnectionLost,
    /// The message was discarded without being delivered.
    #[error("message dropped: {}", describe_drop(*.0))]
    Dropped(DropReason),
    /// The connection refused the request (for example a QoS above the server's Maximum
    /// QoS, or 5.0 options on a 3.1.1 connection).
    #[error("rejected: {0}")]
    Rejected(mqtt_session::Error),
}

fn describe(reason: &CloseReason) -> String {
    match reason {
        CloseReason::PeerDisconnect(code) => format!("the server disconnected: {code}"),
        CloseReason::Violation(v) => format!("protocol violation: {v}"),
        CloseReason::KeepAliveTimeout => "the server stopped answering (keep alive)".into(),
        CloseReason::ConnectTimeout => "no CONNACK in time".into(),
        CloseReason::Refused(code) => format!("connection refused: {code}"),
        CloseReason::LocalDisconnect(code) => format!("disconnected: {code}"),
        CloseReason::TransportClosed => "the transport closed".into(),
    }
}

fn describe_drop(why: DropReason) -> &'static str {
    match why {
        DropReason::Expired => "its message expiry interval passed",
        DropReason::TooLarge => "larger than the server's maximum packet size",
        DropReason::QueueFull => "the outgoing queue was full",
        DropReason::SessionLost => "the server did not resume the session it was sent in",
    }
}
