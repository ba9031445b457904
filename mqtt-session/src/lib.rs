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
//! # The run loop
//!
//! An adapter owns the socket and drives one connection like this (here with the bytes of
//! a 3.1.1 CONNECT and PINGREQ standing in for the socket):
//!
//! ```
//! use std::time::Instant;
//! use bytes::BytesMut;
//! use mqtt_session::{Accept, ServerConfig, ServerConnection, ServerEvent};
//!
//! let mut conn = ServerConnection::new(Instant::now(), ServerConfig::default());
//! let mut read_buf = BytesMut::new();
//! let mut written = Vec::new();
//! // CONNECT (client id "c", keep alive 10 s), then PINGREQ.
//! let socket_input = [&b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x0a\x00\x01c"[..], b"\xc0\x00"];
//! for bytes in socket_input {
//!     // One wake-up: read the clock once, feed the input...
//!     let now = Instant::now();
//!     read_buf.extend_from_slice(bytes);
//!     conn.handle_read(now, &mut read_buf);
//!     // ...then drain transmit, then events, then read the timeout.
//!     loop {
//!         while let Some(chunk) = conn.poll_transmit(now) {
//!             written.extend_from_slice(&chunk); // socket.write_all(&chunk)
//!         }
//!         let Some(event) = conn.poll_event() else { break };
//!         match event {
//!             ServerEvent::Connect(_connect) => {
//!                 conn.accept(now, Accept::default()).unwrap();
//!                 // Packets that arrived behind the CONNECT are processed now.
//!                 conn.handle_read(now, &mut read_buf);
//!             }
//!             ServerEvent::Closed { reason } => println!("closed: {reason:?}"),
//!             _ => {}
//!         }
//!     }
//!     let _next_wake_up = conn.poll_timeout(); // sleep until then, or until readable
//! }
//! // CONNACK (accepted), then PINGRESP.
//! assert_eq!(written, b"\x20\x02\x00\x00\xd0\x00");
//! ```
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
#[doc(hidden)]
pub mod fuzz;
mod persist;
mod server;
mod state;
mod transmit;

pub use client::{ClientConfig, ClientConnection, ClientEvent};
pub use close::CloseReason;
pub use error::{Error, Violation};
pub use flow::DropReason;
pub use persist::PersistError;
pub use server::{Accept, ServerConfig, ServerConnection, ServerEvent};
pub use state::{Inflight, MessageId, OutgoingMessage, SessionState};
