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
//!   `handle_timeout`;
//! - outputs: `poll_output` (drain after every input), `poll_timeout`.
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
mod retained;
mod routing;
mod session;
mod stats;
mod subscriptions;

pub use auth::{AllowAll, Authorizer};
pub use broker::{Broker, PendingConnect};
pub use config::BrokerConfig;
pub use output::{ConnId, Output};
pub use retained::RetainedStore;
pub use routing::{RetainedMessage, StoredMessage};
pub use session::Subscription;
pub use stats::Stats;
pub use subscriptions::{GroupMembers, Match, SubscriptionTree};
