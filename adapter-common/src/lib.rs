//! What the tokio and smol MQTT adapters share, free of any async runtime.
//!
//! - [`client`]: the MQTT client, whole but for the runtime: the handles, the builder, the
//!   events, the sans-IO driver and the connection task's loop, generic over a
//!   [`client::ClientRuntime`] the adapters implement.
//! - [`config`]: the broker's TOML configuration, and the core configurations made from it.
//! - [`cli`]: the flags of the broker binaries, applied over the configuration file.
//! - [`auth`]: authentication of CONNECT packets (an async trait object any runtime can
//!   await).
//! - [`hub`]: the broker task's logic: [`hub::Hub`] wraps `mqtt_broker_core::Broker`, takes
//!   the connections' messages and puts the broker's instructions into per-connection
//!   [`hub::Mailbox`]es, waking their tasks.
//! - [`driver`]: the connection task's logic: [`driver::ServerDriver`] joins one
//!   `ServerConnection` to the hub, with the write queue, backpressure and the hand-back of
//!   the session state on close.
//! - [`io`]: byte-stream helpers over the `futures-io` traits.
//! - [`server`]: a server before it runs ([`server::Setup`]: listeners, TLS, authentication,
//!   the shutdown signal), the transport handshakes' bookkeeping ([`server::Accepted`]) and
//!   the connection task's steps around the driver that need no I/O
//!   ([`server::Connections`]); [`define_server!`] stamps out the adapters' `Server` type
//!   with the methods they share.
//! - [`tls`]: rustls configurations from PEM files (ring provider) and the client
//!   certificate's Common Name.
//! - [`ws`]: MQTT over WebSocket: a byte stream over binary frames
//!   ([`ws::WsBytes`]), the `mqtt` subprotocol negotiation and path check.
//!
//! An adapter only adds sockets, the clock, channels and tasks: its connection task is a loop
//! that waits on read / write / mailbox / timer and calls the driver; its broker task waits on
//! its channel / timer / shutdown signal and calls the hub.
#![forbid(unsafe_code)]

pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod driver;
pub mod hub;
pub mod io;
pub mod server;
pub mod tls;
pub mod ws;
