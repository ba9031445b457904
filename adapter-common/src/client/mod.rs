//! The MQTT client, shared by the runtime adapters.
//!
//! A [`Client`] is a cheap, cloneable handle to one background task that owns the
//! transport and the sans-IO [`ClientConnection`](mqtt_session::ClientConnection). The
//! handles talk to the task through a bounded command queue; the task answers each request
//! through its own handle ([`PublishHandle`], or the future of `subscribe`) and reports
//! received messages and connection changes on one [`Events`] stream.
//!
//! - Publishing never waits for the network, nor for anyone to read [`Events`]:
//!   [`Client::try_publish`] fails at once with [`ClientError::QueueFull`] when the command
//!   queue is full, [`Client::publish`] waits only for room in it. Both return a
//!   [`PublishHandle`] that resolves when the message is delivered (QoS 1/2) or written
//!   (QoS 0), or with why it was dropped.
//! - When the event channel is full the task stops reading from the server: the server
//!   holds back its messages, and nothing is lost or blocks.
//! - A lost connection is re-established with exponential backoff and jitter
//!   ([`ReconnectPolicy`]). The session state moves to the new connection, so
//!   unacknowledged QoS 1/2 messages are sent again; requests made meanwhile are held
//!   (bounded) and sent once connected; subscriptions are sent again when the server
//!   did not keep the session.
//!
//! [`Transport`] selects TCP, TLS, WebSocket or WebSocket over TLS.
//!
//! # Layers
//! - `ClientDriver` (`driver.rs`) is the sans-IO core: the connection, the
//!   requests waiting for their answers, the requests held while disconnected, the
//!   subscriptions to send again, the session state carried across connections, the
//!   events and the write queue. It never awaits and never reads a clock.
//! - The connection task (`task.rs`) is one loop around the driver, generic over a
//!   [`ClientRuntime`]: what a runtime adapter supplies (the clock, a timer, opening a
//!   [`Transport`] into a [`ClientIo`] byte stream). The channels between the
//!   handles and the task are `futures-channel`'s, which work under any executor.
//! - `adapter_tokio::client` and `adapter_smol::client` name [`Client`] and
//!   [`ClientBuilder`] for their runtime and implement [`ClientRuntime`]; nothing else
//!   of the client is written per runtime.

mod backoff;
mod builder;
mod driver;
mod error;
mod event;
mod task;
mod transport;

use std::fmt;
use std::future::poll_fn;
use std::marker::PhantomData;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use futures_channel::{mpsc, oneshot};
use mqtt_proto::{
    Disconnect, MqttString, ProtocolVersion, QoS, ReasonCode, SubAck, SubscribeProperties,
    SubscriptionOptions, TopicFilter, TopicName, UnsubAck, UnsubscribeProperties,
};
use mqtt_session::OutgoingMessage;

pub use backoff::{Backoff, ReconnectPolicy};
pub use builder::{ClientBuilder, ClientTask};
pub use error::{ClientError, ConnectError, DisconnectReason};
pub use event::{Event, Events, Message, PublishHandle, PublishOutcome};
pub use task::{ClientIo, ClientRuntime, SpawnClient};
pub use transport::Transport;

use driver::Command;

/// A handle to an MQTT client; clones share one connection.
///
/// The client stops when [`disconnect`](Self::disconnect) is called or when every handle
/// is dropped (it then sends a normal DISCONNECT).
///
/// The adapters' module documentation shows it at work (`adapter_tokio::client`,
/// `adapter_smol::client`, as compiled examples).
///
/// `R` is the runtime whose task runs the client: the adapters name the type for theirs
/// (`adapter_tokio::client::Client`, `adapter_smol::client::Client`).
pub struct Client<R> {
    /// This handle's sender: a `futures-channel` queue holds its buffer plus one message
    /// per sender, and `try_send` needs `&mut`.
    commands: Mutex<mpsc::Sender<Command>>,
    version: ProtocolVersion,
    runtime: PhantomData<fn() -> R>,
}

impl<R> Clone for Client<R> {
    fn clone(&self) -> Self {
        Self::new(self.sender().clone(), self.version)
    }
}

impl<R> fmt::Debug for Client<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("version", &self.version)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl<R: ClientRuntime> Client<R> {
    /// Options for a client reaching the server over `transport`.
    #[must_use]
    pub fn builder(transport: Transport) -> ClientBuilder<R> {
        ClientBuilder::new(transport)
    }
}

impl<R> Client<R> {
    fn new(commands: mpsc::Sender<Command>, version: ProtocolVersion) -> Self {
        Self {
            commands: Mutex::new(commands),
            version,
            runtime: PhantomData,
        }
    }

    fn sender(&self) -> MutexGuard<'_, mpsc::Sender<Command>> {
        // The sender stays consistent whatever panicked while it was locked.
        self.commands.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a message if the command queue has room, without waiting.
    ///
    /// # Errors
    /// [`ClientError::QueueFull`], [`ClientError::Closed`], or
    /// [`ClientError::InvalidTopic`].
    pub fn try_publish(
        &self,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: impl Into<Bytes>,
    ) -> Result<PublishHandle, ClientError> {
        self.try_publish_message(message(topic, qos, retain, payload)?)
    }

    /// As [`try_publish`](Self::try_publish), for a message with properties.
    ///
    /// # Errors
    /// As [`try_publish`](Self::try_publish).
    pub fn try_publish_message(
        &self,
        message: OutgoingMessage,
    ) -> Result<PublishHandle, ClientError> {
        let (done, handle) = oneshot::channel();
        self.sender()
            .try_send(Command::Publish { message, done })
            .map_err(|e| {
                if e.is_full() {
                    ClientError::QueueFull
                } else {
                    ClientError::Closed
                }
            })?;
        Ok(PublishHandle::new(handle))
    }

    /// Queues a message, waiting only for room in the command queue (never for the
    /// network, nor for the [`Events`] stream to be read).
    ///
    /// # Errors
    /// [`ClientError::Closed`] or [`ClientError::InvalidTopic`].
    pub async fn publish(
        &self,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: impl Into<Bytes>,
    ) -> Result<PublishHandle, ClientError> {
        self.publish_message(message(topic, qos, retain, payload)?)
            .await
    }

    /// As [`publish`](Self::publish), for a message with properties.
    ///
    /// # Errors
    /// [`ClientError::Closed`].
    pub async fn publish_message(
        &self,
        message: OutgoingMessage,
    ) -> Result<PublishHandle, ClientError> {
        let (done, handle) = oneshot::channel();
        self.send(Command::Publish { message, done }).await?;
        Ok(PublishHandle::new(handle))
    }

    /// Subscribes to one filter and waits for the SUBACK; returns its reason code (for
    /// example [`ReasonCode::GrantedQoS1`], or an error code such as
    /// [`ReasonCode::NotAuthorized`]). While disconnected, the request waits for the next
    /// connection.
    ///
    /// # Errors
    /// [`ClientError::InvalidTopic`], [`ClientError::Closed`], or
    /// [`ClientError::Rejected`].
    pub async fn subscribe(&self, filter: &str, qos: QoS) -> Result<ReasonCode, ClientError> {
        let filters = vec![(self.filter(filter)?, SubscriptionOptions::new(qos))];
        let ack = self
            .subscribe_with(filters, SubscribeProperties::default())
            .await?;
        Ok(ack
            .reason_codes
            .first()
            .copied()
            .unwrap_or(ReasonCode::UnspecifiedError))
    }

    /// Subscribes to several filters with options and properties (5.0) and waits for the
    /// SUBACK. Accepted subscriptions are remembered and sent again to a server that did
    /// not keep the session.
    ///
    /// # Errors
    /// [`ClientError::Closed`], or [`ClientError::Rejected`] (for example no filters, or
    /// 5.0 options on a 3.1.1 connection).
    pub async fn subscribe_with(
        &self,
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        properties: SubscribeProperties,
    ) -> Result<SubAck, ClientError> {
        let (done, ack) = oneshot::channel();
        self.send(Command::Subscribe {
            filters,
            properties,
            done: Some(done),
        })
        .await?;
        ack.await.unwrap_or(Err(ClientError::Closed))
    }

    /// Unsubscribes from one filter and waits for the UNSUBACK; returns its reason code
    /// (always `Success` with 3.x, which has none).
    ///
    /// # Errors
    /// As [`subscribe`](Self::subscribe).
    pub async fn unsubscribe(&self, filter: &str) -> Result<ReasonCode, ClientError> {
        let filters = vec![self.filter(filter)?];
        let ack = self
            .unsubscribe_with(filters, UnsubscribeProperties::default())
            .await?;
        Ok(ack
            .reason_codes
            .first()
            .copied()
            .unwrap_or(ReasonCode::Success))
    }

    /// Unsubscribes from several filters and waits for the UNSUBACK.
    ///
    /// # Errors
    /// As [`subscribe_with`](Self::subscribe_with).
    pub async fn unsubscribe_with(
        &self,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
    ) -> Result<UnsubAck, ClientError> {
        let (done, ack) = oneshot::channel();
        self.send(Command::Unsubscribe {
            filters,
            properties,
            done,
        })
        .await?;
        ack.await.unwrap_or(Err(ClientError::Closed))
    }

    /// Sends a normal DISCONNECT (the server discards the will) after the requests queued
    /// before it, and stops the client; returns once it has stopped. Requests still
    /// waiting fail with [`ClientError::Closed`].
    pub async fn disconnect(&self) {
        self.disconnect_with(Disconnect::new(ReasonCode::Success))
            .await;
    }

    /// As [`disconnect`](Self::disconnect) with a DISCONNECT of one's own (5.0), for
    /// example [`ReasonCode::DisconnectWithWill`] or a new session expiry interval.
    pub async fn disconnect_with(&self, packet: Disconnect) {
        let (done, stopped) = oneshot::channel();
        if self
            .send(Command::Disconnect { packet, done })
            .await
            .is_ok()
        {
            let _ = stopped.await;
        }
    }

    /// Whether the client has stopped.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.sender().is_closed()
    }

    /// Test support: drops the transport abruptly, without DISCONNECT, as a crash or a
    /// network failure would (the server publishes the will; the client reconnects if its
    /// policy allows).
    #[doc(hidden)]
    pub async fn drop_transport(&self) {
        let _ = self.send(Command::DropTransport).await;
    }

    /// Sends `command`, then waits until the queue has room for it.
    ///
    /// A sender of its own, so that concurrent callers each wait for their own message
    /// (a `futures-channel` sender parks one task); the queue takes the message at once
    /// and holds the sender back until it is within the queue's capacity.
    async fn send(&self, command: Command) -> Result<(), ClientError> {
        let mut commands = self.sender().clone();
        commands
            .start_send(command)
            .map_err(|_| ClientError::Closed)?;
        // An error now means the task has stopped: the request's answer says so.
        let _ = poll_fn(|cx| commands.poll_ready(cx)).await;
        Ok(())
    }

    fn filter(&self, filter: &str) -> Result<TopicFilter, ClientError> {
        Ok(TopicFilter::for_version(
            MqttString::try_from(filter).map_err(mqtt_proto::TopicError::from)?,
            self.version,
        )?)
    }
}

fn message(
    topic: &str,
    qos: QoS,
    retain: bool,
    payload: impl Into<Bytes>,
) -> Result<OutgoingMessage, ClientError> {
    let topic = TopicName::new(MqttString::try_from(topic).map_err(mqtt_proto::TopicError::from)?)?;
    let mut message = OutgoingMessage::new(topic, qos, payload);
    message.retain = retain;
    Ok(message)
}
