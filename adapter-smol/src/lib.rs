//! MQTT broker and client on smol.
//!
//! This crate will wire `mqtt-broker-core` and `mqtt-session` to smol's `async-io` sockets
//! (TCP, TLS, WebSockets) using only `futures-io`-level APIs, so it also runs on async-std's
//! executor.
