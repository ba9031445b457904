//! The async MQTT client on smol, also runnable on async-std's executor.
//!
//! The client is `adapter_common::client`, whole but for the runtime, the same as
//! `adapter_tokio::client`: this module names its types for smol ([`Client`] is
//! `adapter_common::client::Client<Smol>`) and supplies what the runtime does ([`Smol`]:
//! the system clock, `async-io` timers, `async-net` sockets, `futures-rustls` and
//! `async-tungstenite`, all at the `futures-io` level).
//!
//! # Executors
//! The client runs one background task, which the caller spawns on its executor:
//! [`ClientBuilder::connect_with`] and [`ClientBuilder::spawn_with`] take a spawner, a
//! function that must run the task to completion. Nothing depends on a global executor, so
//! the client runs under `smol`, `async-executor`, or async-std's executor alike. Sockets
//! and timers are `async-io`'s, whose reactor runs in `async_io::block_on`
//! (`smol::block_on`) or, under other executors, in its own thread.
//!
//! ```no_run
//! use adapter_smol::client::{Client, Event, Transport};
//! use mqtt_proto::{ProtocolVersion, QoS};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! smol::block_on(async {
//!     let (client, mut events) = Client::builder(Transport::tcp("localhost", 1883))
//!         .protocol(ProtocolVersion::V5)
//!         .client_id("sensor-7")
//!         // With async-std: `.connect_with(|task| drop(async_std::task::spawn(task)))`.
//!         .connect_with(|task| smol::spawn(task).detach())
//!         .await?;
//!     client.subscribe("commands/7/#", QoS::AtLeastOnce).await?;
//!     let delivered = client
//!         .publish("sensors/7/temperature", QoS::AtLeastOnce, false, "21.5")
//!         .await?;
//!     println!("PUBACK: {}", delivered.await?.reason_code);
//!     while let Some(event) = events.recv().await {
//!         if let Event::Message(m) = event {
//!             println!("{}: {:?}", m.topic(), m.payload());
//!         }
//!     }
//!     client.disconnect().await;
//!     Ok(())
//! })
//! # }
//! ```

use std::future::Future;
use std::time::Instant;

use adapter_common::client::{ClientIo, ClientRuntime};
use async_io::Timer;
use async_net::TcpStream;
use futures_rustls::TlsConnector;

use crate::ws;

pub use adapter_common::client::{
    Backoff, ClientError, ClientTask, ConnectError, DisconnectReason, Event, Events, Message,
    PublishHandle, PublishOutcome, ReconnectPolicy, Transport,
};

/// A handle to an MQTT client on smol; clones share one connection. See
/// [`adapter_common::client::Client`].
pub type Client = adapter_common::client::Client<Smol>;

/// The options of a [`Client`] on smol; start it with
/// [`connect_with`](adapter_common::client::ClientBuilder::connect_with) or
/// [`spawn_with`](adapter_common::client::ClientBuilder::spawn_with) and a spawner.
pub type ClientBuilder = adapter_common::client::ClientBuilder<Smol>;

/// The smol runtime, for the client: `futures-io` level APIs only, so any executor runs it.
#[derive(Debug, Clone, Copy)]
pub struct Smol;

impl ClientRuntime for Smol {
    fn now() -> Instant {
        Instant::now()
    }

    fn sleep_until(deadline: Instant) -> impl Future + Send {
        Timer::at(deadline)
    }

    /// Every stream here is a `futures-io` one, which is a [`ClientIo`] as it is.
    async fn open(transport: &Transport) -> Result<Box<dyn ClientIo>, ConnectError> {
        let (host, port) = transport.address()?;
        let stream = TcpStream::connect((host.as_str(), port)).await?;
        // MQTT packets are small and latency matters more than segment count.
        stream.set_nodelay(true)?;
        let ws_url = transport.websocket_url();
        let Some((config, name)) = transport.tls_config()? else {
            return Ok(match ws_url {
                Some(url) => Box::new(ws::connect(stream, url).await?),
                None => Box::new(stream),
            });
        };
        let stream = TlsConnector::from(config).connect(name, stream).await?;
        Ok(match ws_url {
            Some(url) => Box::new(ws::connect(stream, url).await?),
            None => Box::new(stream),
        })
    }
}
