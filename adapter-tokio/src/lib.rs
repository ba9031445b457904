//! MQTT broker and client on tokio.
//!
//! - [`server`]: the broker. [`server::Server`] runs `mqtt-broker-core` behind any number of
//!   TCP, TLS, WebSocket and secure WebSocket listeners; the `mqttd` binary wraps it.
//! - [`client`]: the async client ([`client::Client`]), with per-message acknowledgement
//!   handles and automatic reconnection; the `mqtt` binary wraps it.
//! - [`config`]: the broker's configuration file.
//! - [`tls`] and [`ws`]: the TLS and WebSocket transports both sides share.

pub mod bench;
pub mod client;
pub use adapter_common::config;
pub mod server;
pub mod tls;
pub mod ws;
