//! The MQTT broker as a pure state machine.
//!
//! [`Broker`] owns what the connections of a broker share: sessions (with their
//! subscriptions, offline queues and wills), the subscription tree (wildcards, `$` topics,
//! shared subscriptions), retained messages and `$SYS` statistics. Each network connection
//! runs its own [`mqtt_session::ServerConnection`] and forwards its events to the broker;
//! the broker answers with [`Output`]s for the connections. Time is passed in; nothing
//! here does I/O, reads a clock or spawns a thread, so a broker can be embedded into any
//! server and tested with a virtual clock.
//!
//! # Method classes
//! - inputs: `open_connection`, `handle_connect` then `accept` / `refuse`,
//!   `handle_publish`, `handle_subscribe`, `handle_unsubscribe`, `handle_closed`,
//!   `handle_timeout`, `handle_persisted`;
//! - start-up: `restore_session`, `restore_retained` (from a store);
//! - outputs: `poll_persist` (persistence operations, when [`Persistence`] is on), then
//!   `poll_output` (drain both after every input), then `poll_timeout`.
//!
//! # Persistence
//! What must survive a restart (sessions with their subscriptions, queued and in-flight
//! messages and wills; retained messages) goes out as plain-data [`PersistOp`]s, and comes
//! back with [`Broker::restore_session`] and [`Broker::restore_retained`]. With
//! [`Persistence::Durable`] an acknowledgement waits for the store to confirm
//! ([`Broker::handle_persisted`]). The default, [`Persistence::Off`], needs no store.
//!
//! # Panics
//! Nothing reachable from client input panics.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod auth;
mod broker;
mod config;
#[doc(hidden)]
pub mod fuzz;
mod output;
mod persist;
mod retained;
mod routing;
mod session;
mod stats;
mod subscriptions;

pub use auth::{AllowAll, Authorizer};
pub use broker::{Broker, PendingConnect};
pub use config::{BrokerConfig, Persistence};
pub use output::{ConnId, Output};
pub use persist::{
    PersistKind, PersistOp, RecordError, RestoreError, RetainedRecord, SessionRecord,
};
pub use retained::RetainedStore;
pub use routing::{RetainedMessage, StoredMessage};
pub use session::Subscription;
pub use stats::Stats;
pub use subscriptions::{GroupMembers, Match, SubscriptionTree};
