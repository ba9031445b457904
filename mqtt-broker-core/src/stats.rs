//! Counters behind the `$SYS` topics.

/// Broker statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections with an accepted CONNECT.
    pub connected: u64,
    /// Most connections at once.
    pub max_connected: u64,
    /// PUBLISH packets received from clients.
    pub messages_received: u64,
    /// Messages handed to connections or offline queues.
    pub messages_sent: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Messages dropped (offline queue full, QoS 0 for an offline client, retained store
    /// full).
    pub messages_dropped: u64,
}
