//! The async MQTT client on tokio.
//!
//! The client is `adapter_common::client`, whole but for the runtime: this module names
//! its types for tokio ([`Client`] is `adapter_common::client::Client<Tokio>`) and supplies
//! what the runtime does ([`Tokio`]: tokio's clock and timers, `tokio::net` sockets,
//! `tokio-rustls`, `tokio-tungstenite`). [`ClientBuilder::connect`] and
//! [`ClientBuilder::spawn`] start the client's task with `tokio::spawn`.
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
//! ```no_run
//! use adapter_tokio::client::{Client, Event, Transport};
//! use futures_util::StreamExt;
//! use mqtt_proto::{ProtocolVersion, QoS};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let (client, mut events) = Client::builder(Transport::tcp("localhost", 1883))
//!     .protocol(ProtocolVersion::V5)
//!     .client_id("sensor-7")
//!     .will("sensors/7/status", "offline", QoS::AtLeastOnce, true)
//!     .connect()
//!     .await?;
//! client.subscribe("commands/7/#", QoS::AtLeastOnce).await?;
//!
//! // Queued at once; the handle resolves at PUBACK.
//! let delivered = client
//!     .publish("sensors/7/temperature", QoS::AtLeastOnce, false, "21.5")
//!     .await?;
//! println!("PUBACK: {}", delivered.await?.reason_code);
//!
//! while let Some(event) = events.next().await {
//!     match event {
//!         Event::Message(m) => println!("{}: {:?}", m.topic(), m.payload()),
//!         Event::Disconnected { reason } => eprintln!("connection lost: {reason}"),
//!         _ => {}
//!     }
//! }
//! client.disconnect().await;
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Instant;

use adapter_common::client::{ClientIo, ClientRuntime, ClientTask, SpawnClient};
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::ws;

pub use adapter_common::client::{
    Backoff, ClientError, ConnectError, DisconnectReason, Event, Events, Message, PublishHandle,
    PublishOutcome, ReconnectPolicy, Transport,
};

/// A handle to an MQTT client on tokio; clones share one connection. See
/// [`adapter_common::client::Client`].
pub type Client = adapter_common::client::Client<Tokio>;

/// The options of a [`Client`] on tokio. See [`adapter_common::client::ClientBuilder`].
pub type ClientBuilder = adapter_common::client::ClientBuilder<Tokio>;

/// The tokio runtime, for the client: tokio's clock (so paused-time tests control it) and
/// timers, `tokio::net`, `tokio-rustls` and `tokio-tungstenite`; tasks go to `tokio::spawn`.
#[derive(Debug, Clone, Copy)]
pub struct Tokio;

impl ClientRuntime for Tokio {
    fn now() -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep_until(deadline: Instant) -> impl Future + Send {
        tokio::time::sleep_until(deadline.into())
    }

    async fn open(transport: &Transport) -> Result<Box<dyn ClientIo>, ConnectError> {
        let (host, port) = transport.address()?;
        let tcp = TcpStream::connect((host.as_str(), port)).await?;
        // MQTT packets are small and latency matters more than segment count.
        tcp.set_nodelay(true)?;
        let url = transport.websocket_url();
        Ok(match (transport.tls_config()?, url) {
            (None, None) => Box::new(TokioStream(tcp)),
            (None, Some(url)) => Box::new(TokioStream(ws::connect(tcp, url).await?)),
            (Some((config, name)), url) => {
                let tls = TlsConnector::from(config).connect(name, tcp).await?;
                match url {
                    None => Box::new(TokioStream(tls)),
                    Some(url) => Box::new(TokioStream(ws::connect(tls, url).await?)),
                }
            }
        })
    }
}

/// A tokio byte stream, driven by the client's task through [`ClientIo`].
struct TokioStream<S>(S);

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> ClientIo for TokioStream<S> {
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        // `read_buf` reads into the uninitialized capacity; a pending poll read nothing.
        pin!(self.0.read_buf(buf)).poll(cx)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl SpawnClient for Tokio {
    /// # Panics
    /// Outside a tokio runtime.
    fn spawn(task: ClientTask) {
        drop(tokio::spawn(task));
    }
}
