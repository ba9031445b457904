//! Live-wire interoperability of the codec with real MQTT peers, in both directions.
//!
//! * Real clients against us: `mosquitto_pub`, `mosquitto_sub` (Debian mosquitto-clients
//!   2.0.11) and a paho-mqtt 2.x script connect to a listener of the test, which plays a
//!   minimal server with nothing but `mqtt-proto`: every packet the client sends is decoded
//!   and checked, every answer is encoded by the codec, and the client must be satisfied
//!   with the answers (exit status 0, and its output shows what we sent).
//! * Us against a real broker: a private `mosquitto` on an OS-assigned port, driven over a
//!   plain `TcpStream` with packets encoded by the codec, and everything it sends back
//!   decoded and checked.
//!
//! MQTT 3.1, 3.1.1 and 5.0 are covered where the peer supports them. Everything runs on
//! 127.0.0.1 with ports from the OS; every test has an overall deadline, socket timeouts,
//! and runs each program under `timeout` in a process group that is killed on drop.
//!
//! A missing peer program skips the test with a `SKIPPED: <program> not installed` line on
//! stderr, or fails it when `CI=true`.
#![allow(
    clippy::disallowed_methods,
    reason = "the clock and thread bans of clippy.toml are for the pure library; these \
              tests do real I/O and need deadlines"
)]

mod flows;
mod support;

mod broker_v3;
mod broker_v5;
mod mosquitto_pub;
mod mosquitto_sub;
mod paho;
