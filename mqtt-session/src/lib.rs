//! Sans-IO MQTT connection state machines.
//!
//! This crate holds the protocol rules between the codec ([`mqtt_proto`]) and an
//! application or broker: packet identifiers, the QoS 1 and 2 handshakes in both
//! directions, retransmission on session resumption, keep alive, receive maximum, topic
//! aliases and maximum packet size. It performs no I/O, reads no clock and spawns no
//! thread: bytes and instants go in, bytes, events and the next deadline come out.
//!
//! - [`ServerConnection`]: the broker's side of one network connection.
//! - [`ClientConnection`]: the client's side.
//! - [`SessionState`]: what outlives a connection (publications in flight, queued
//!   messages, incoming QoS 2 identifiers); moved by value from one connection to the next.
//!
//! # Method classes
//! - inputs: `handle_read(now, &mut BytesMut)`, `handle_timeout(now)`,
//!   `handle_transport_closed(now)`;
//! - commands: `accept`, `publish`, `suback`, `disconnect`, ... (they return `Err` only for
//!   local misuse);
//! - outputs: `poll_transmit(now)`, `poll_event()`, `poll_timeout()`, `wants_read()`.
//!
//! After each input or command, drain the transmit queue, then the events, then read the
//! timeout. A protocol violation by the peer is never an `Err`: it becomes a DISCONNECT
//! (5.0) and a `Closed` event.
//!
//! # Panics
//! Nothing reachable from received bytes panics.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod alias;
mod client;
mod close;
mod error;
mod flow;
mod server;
mod state;
mod transmit;

pub use client::{ClientConfig, ClientConnection, ClientEvent};
pub use close::CloseReason;
pub use error::{Error, Violation};
pub use flow::DropReason;
pub use server::{Accept, ServerConfig, ServerConnection, ServerEvent};
pub use state::{Inflight, MessageId, OutgoingMessage, SessionState};
