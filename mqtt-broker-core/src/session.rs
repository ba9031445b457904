//! What the broker keeps per MQTT session.

use std::time::Instant;

use mqtt_proto::{ProtocolVersion, SubscriptionId, SubscriptionOptions, TopicFilter, Will};
use mqtt_session::SessionState;

use crate::ConnId;

/// One subscription as the broker keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    /// Options, with the QoS as granted.
    pub options: SubscriptionOptions,
    /// Subscription identifier (5.0).
    pub id: Option<SubscriptionId>,
}

/// Key of a session in the broker's maps and subscription tree.
pub(crate) type SessionKey = u64;

pub(crate) struct Session {
    pub(crate) client_id: mqtt_proto::MqttString,
    pub(crate) version: ProtocolVersion,
    /// The connection serving the session.
    pub(crate) conn: Option<ConnId>,
    /// The protocol state while no connection owns it.
    pub(crate) state: Option<SessionState>,
    pub(crate) subscriptions: Vec<(TopicFilter, Subscription)>,
    /// Session expiry interval in seconds (`u32::MAX`: never).
    pub(crate) expiry: u32,
    /// When the session ends, while it has no connection.
    pub(crate) expires_at: Option<Instant>,
    /// The will of the current or last connection, with its delay in seconds (boxed: most
    /// sessions have none, and every session slot is as large as a session).
    pub(crate) will: Option<Box<(Will, u32)>>,
    /// When a pending will is published.
    pub(crate) will_at: Option<Instant>,
    /// A connection waiting to take this session over once the old one hands it back.
    pub(crate) takeover: Option<crate::broker::Waiting>,
    /// Changed since its last persistence operation (it is in `Persist::sessions`).
    pub(crate) dirty: bool,
    /// The store holds a record of it (a `PutSession` went out or it was restored).
    pub(crate) stored: bool,
}

impl Session {
    pub(crate) fn new(client_id: mqtt_proto::MqttString, version: ProtocolVersion) -> Self {
        Self {
            client_id,
            version,
            conn: None,
            state: Some(SessionState::new()),
            subscriptions: Vec::new(),
            expiry: 0,
            expires_at: None,
            will: None,
            will_at: None,
            takeover: None,
            dirty: false,
            stored: false,
        }
    }
}

/// The Will Delay Interval of a will, in seconds (5.0 only).
pub(crate) fn will_delay(version: ProtocolVersion, will: &Will) -> u32 {
    if version.is_v5() {
        will.properties.will_delay_interval.unwrap_or(0)
    } else {
        0
    }
}
