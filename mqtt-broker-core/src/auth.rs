//! Authorization decisions the embedder owns.

use mqtt_proto::{TopicFilter, TopicName};

/// Decides, for every PUBLISH and every SUBSCRIBE filter, whether a client may do it.
/// Called synchronously on the routing path: keep it fast (precomputed rules).
pub trait Authorizer: Send {
    /// May `client_id` publish to `topic`?
    fn may_publish(&self, client_id: &str, topic: &TopicName) -> bool;
    /// May `client_id` subscribe to `filter`?
    fn may_subscribe(&self, client_id: &str, filter: &TopicFilter) -> bool;
}

/// Allows everything (the default), except what the broker itself refuses (publishing to
/// `$SYS`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Authorizer for AllowAll {
    fn may_publish(&self, _: &str, _: &TopicName) -> bool {
        true
    }
    fn may_subscribe(&self, _: &str, _: &TopicFilter) -> bool {
        true
    }
}
