//! What the client hands back: the event stream, received messages and publish handles.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use futures_core::Stream;
use mqtt_proto::{PacketId, Publish, QoS, ReasonCode};

use super::{ClientError, DisconnectReason};

/// Something that happened on the client: a message arrived or the connection changed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// An application message from the server.
    Message(Message),
    /// The server accepted a connection. Without `session_present` the server started a
    /// new session: the client has already subscribed again to what it was subscribed to.
    Connected {
        /// Whether the server resumed an existing session.
        session_present: bool,
    },
    /// A connection ended or a connection attempt failed.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// The client will try to connect again after `delay`.
    Reconnecting {
        /// Attempts since the last successful connection, from 1.
        attempt: u32,
        /// How long the client waits first.
        delay: Duration,
    },
}

/// A received application message.
///
/// With [`manual_ack`](super::ClientBuilder::manual_ack), a QoS 1 or 2 message is
/// acknowledged to the server only by [`ack`](Self::ack) or [`ack_with`](Self::ack_with);
/// until then it counts against the client's Receive Maximum (5.0), and a message never
/// acknowledged before the connection ends is sent again by the server on the resumed
/// session.
pub struct Message {
    /// The PUBLISH as received, with any topic alias resolved.
    pub publish: Publish,
    ack: Option<AckToken>,
}

/// A manual acknowledgement for the connection task.
#[derive(Debug)]
pub(crate) struct Ack {
    /// The connection the message arrived on: packet identifiers mean nothing on another.
    pub(crate) generation: u64,
    pub(crate) packet_id: PacketId,
    pub(crate) reason_code: ReasonCode,
}

/// What the connection task needs to acknowledge one message.
struct AckToken {
    /// A channel of its own, so unread messages in the event channel do not keep the
    /// command queue, and so the client, alive.
    acks: mpsc::UnboundedSender<Ack>,
    generation: u64,
    packet_id: PacketId,
}

impl Message {
    pub(crate) fn new(
        publish: Publish,
        ack: Option<(mpsc::UnboundedSender<Ack>, u64, PacketId)>,
    ) -> Self {
        let ack = ack.map(|(acks, generation, packet_id)| AckToken {
            acks,
            generation,
            packet_id,
        });
        Self { publish, ack }
    }

    /// The topic.
    #[must_use]
    pub fn topic(&self) -> &str {
        self.publish.topic.as_ref().map_or("", |t| t.as_str())
    }

    /// The payload.
    #[must_use]
    pub fn payload(&self) -> &Bytes {
        &self.publish.payload
    }

    /// The QoS it was delivered with.
    #[must_use]
    pub fn qos(&self) -> QoS {
        self.publish.qos()
    }

    /// Whether it is a retained message sent because of a new subscription.
    #[must_use]
    pub fn retain(&self) -> bool {
        self.publish.retain
    }

    /// Whether the server still waits for this message to be acknowledged
    /// ([`manual_ack`](super::ClientBuilder::manual_ack) only).
    #[must_use]
    pub fn needs_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Acknowledges the message with success (PUBACK or PUBREC). Does nothing if it needs
    /// no acknowledgement or was acknowledged already.
    ///
    /// # Errors
    /// [`ClientError::Closed`] if the client is closed.
    pub async fn ack(&mut self) -> Result<(), ClientError> {
        self.ack_with(ReasonCode::Success).await
    }

    /// Acknowledges the message with a reason code (5.0; 3.x always sends success), for
    /// example [`ReasonCode::ImplementationSpecificError`] to refuse it. Never waits: the
    /// acknowledgements have a queue of their own. An acknowledgement for a connection that has since been
    /// lost is ignored: the server sends the message again.
    ///
    /// # Errors
    /// [`ClientError::Closed`] if the client is closed.
    pub async fn ack_with(&mut self, reason_code: ReasonCode) -> Result<(), ClientError> {
        let Some(token) = self.ack.take() else {
            return Ok(());
        };
        let ack = Ack {
            generation: token.generation,
            packet_id: token.packet_id,
            reason_code,
        };
        token
            .acks
            .unbounded_send(ack)
            .map_err(|_| ClientError::Closed)
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("publish", &self.publish)
            .field("needs_ack", &self.needs_ack())
            .finish()
    }
}

/// The stream of [`Event`]s of one client; it ends when the client has stopped.
///
/// The channel behind it is bounded: while it is full the client stops reading from the
/// server (which then holds back its messages), but keeps sending, so publishing never
/// blocks on this stream being read. Acknowledgements from the server are not read either
/// meanwhile, so QoS 1/2 [`PublishHandle`]s resolve only once the stream is read again.
/// Dropping the stream discards later events (and, with manual acknowledgement,
/// acknowledges their messages at once).
#[derive(Debug)]
pub struct Events {
    rx: mpsc::Receiver<Event>,
}

impl Events {
    pub(crate) fn new(rx: mpsc::Receiver<Event>) -> Self {
        Self { rx }
    }

    /// The next event; `None` once the client has stopped and every event was read.
    pub async fn recv(&mut self) -> Option<Event> {
        std::future::poll_fn(|cx| Pin::new(&mut self.rx).poll_next(cx)).await
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        Pin::new(&mut self.rx).poll_next(cx)
    }
}

/// How a publication ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishOutcome {
    /// The server's reason code (PUBACK, PUBREC or PUBCOMP); `Success` for QoS 0 and for
    /// 3.x servers that accepted the message.
    pub reason_code: ReasonCode,
}

impl PublishOutcome {
    /// Whether the server accepted the message (the reason code is not an error).
    #[must_use]
    pub fn is_success(&self) -> bool {
        !self.reason_code.is_error()
    }
}

pub(crate) type Responder<T> = oneshot::Sender<Result<T, ClientError>>;

/// Resolves when a queued publication completes: QoS 0 once written to the transport,
/// QoS 1 at PUBACK, QoS 2 at PUBCOMP (or a PUBREC with an error code).
///
/// It fails with why the message was not delivered: [`ClientError::Dropped`] (too large
/// for the server, expired, or lost with a session the server did not resume),
/// [`ClientError::Rejected`], [`ClientError::QueueFull`], [`ClientError::ConnectionLost`]
/// (QoS 0) or [`ClientError::Closed`]. Dropping the handle does not cancel the message.
#[derive(Debug)]
pub struct PublishHandle {
    rx: oneshot::Receiver<Result<PublishOutcome, ClientError>>,
}

impl PublishHandle {
    pub(crate) fn new(rx: oneshot::Receiver<Result<PublishOutcome, ClientError>>) -> Self {
        Self { rx }
    }
}

impl Future for PublishHandle {
    type Output = Result<PublishOutcome, ClientError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(ClientError::Closed)))
    }
}
