//! Broker-wide limits and policies.

use std::time::Duration;

use mqtt_proto::QoS;

/// Limits and policies of a broker. Those the MQTT 5.0 CONNACK can carry are advertised
/// to 5.0 clients.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Highest QoS the broker grants and accepts (advertised as Maximum QoS).
    pub max_qos: QoS,
    /// Whether retained messages are supported (Retain Available).
    pub retain_available: bool,
    /// Whether wildcard subscriptions are allowed (Wildcard Subscription Available).
    pub wildcard_subscriptions: bool,
    /// Whether subscription identifiers are supported.
    pub subscription_identifiers: bool,
    /// Whether shared subscriptions are supported.
    pub shared_subscriptions: bool,
    /// Largest keep alive granted; a client asking for more (or for 0) gets this as
    /// Server Keep Alive (5.0). `None` accepts any.
    pub max_keep_alive: Option<u16>,
    /// Longest session expiry interval granted, in seconds; 3.1.1 persistent sessions
    /// (which never expire by the protocol) expire after this too. `u32::MAX` = never.
    pub max_session_expiry: u32,
    /// Most messages queued for one session while its client is offline (or while its
    /// in-flight window is full); beyond it the oldest is dropped and counted.
    pub max_queued_messages: usize,
    /// Whether QoS 0 messages are queued for offline clients too.
    pub queue_qos0_offline: bool,
    /// Most retained messages kept; a new retained topic beyond it is not stored.
    pub max_retained: usize,
    /// Most connections at once.
    pub max_connections: usize,
    /// How often `$SYS` statistics are published; `None` disables them.
    pub sys_interval: Option<Duration>,
    /// Whether changes go out as persistence operations, and whether acknowledgements
    /// wait for them to be stored (see [`Persistence`]).
    pub persistence: Persistence,
}

/// What the broker does for a store that keeps sessions and retained messages across a
/// restart (see [`Broker::poll_persist`](crate::Broker::poll_persist)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Persistence {
    /// Everything lives in memory only: no operations, no extra work.
    #[default]
    Off,
    /// Changes go out as [`PersistOp`](crate::PersistOp)s; acknowledgements do not wait
    /// for them to be stored.
    Operations,
    /// Changes go out as operations, and an acknowledgement (`Output::Ack` of a QoS 1 or
    /// 2 PUBLISH, `Output::SubAck`, `Output::UnsubAck`) waits until the operations that
    /// made its effect durable are confirmed with
    /// [`Broker::handle_persisted`](crate::Broker::handle_persisted). The operations must
    /// be drained for acknowledgements to go out at all.
    Durable,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            max_qos: QoS::ExactlyOnce,
            retain_available: true,
            wildcard_subscriptions: true,
            subscription_identifiers: true,
            shared_subscriptions: true,
            max_keep_alive: None,
            max_session_expiry: u32::MAX,
            max_queued_messages: 10_000,
            queue_qos0_offline: false,
            max_retained: 1_000_000,
            max_connections: 1_000_000,
            sys_interval: Some(Duration::from_secs(10)),
            persistence: Persistence::Off,
        }
    }
}
