//! Sans-IO MQTT connection state machines.
//!
//! This crate will hold `ClientConnection` and `ServerConnection`: the per-connection
//! protocol rules between the codec (`mqtt-proto`) and an application or broker (packet
//! identifiers, QoS 1 and 2 handshakes, keepalive, receive maximum, topic aliases, session
//! resumption). Bytes and timestamps go in; bytes, events and the next deadline come out.
//! It performs no I/O, reads no clock and spawns no thread.
#![forbid(unsafe_code)]
