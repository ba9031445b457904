//! MQTT broker and client on smol, also runnable on async-std's executor.
//!
//! The same runtime-free cores as the tokio adapter do all the work (`adapter_common`:
//! configuration, the hub around `mqtt-broker-core`, the connection driver around
//! `mqtt-session`, TLS configuration, WebSocket framing); this crate adds only `async-net`
//! sockets, `async-io` timers, `async-channel` channels, `futures-rustls`,
//! `async-tungstenite`, and an `async-executor` it owns, so it runs under any executor that
//! polls its futures (`smol::block_on`, `async_std::task::block_on`).
//!
//! - [`server`]: the broker. [`server::Server`] runs `mqtt-broker-core` behind any number of
//!   TCP, TLS, WebSocket and secure WebSocket listeners; the `mqttd-smol` binary wraps it.
//! - [`client`]: the async client ([`client::Client`]), the same as the tokio adapter's;
//!   the caller spawns its task on any executor.
//! - [`config`]: the broker's configuration file (the same format as `mqttd`'s).
//! - [`tls`] and [`ws`]: the TLS configuration and the WebSocket transport.

pub mod client;
pub use adapter_common::config;
pub mod server;
pub mod tls;
pub mod ws;
