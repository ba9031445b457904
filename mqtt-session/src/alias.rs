//! Topic alias maps (MQTT 5.0 section 3.3.2.3.4), one per direction.

use std::num::NonZeroU16;

use mqtt_proto::{ReasonCode, TopicName};

use crate::Violation;

/// Aliases the peer set towards us, up to our Topic Alias Maximum.
#[derive(Debug, Default)]
pub(crate) struct InboundAliases {
    max: u16,
    /// Index `alias - 1`; grows only as far as the peer actually uses.
    topics: Vec<Option<TopicName>>,
}

impl InboundAliases {
    pub(crate) fn new(max: u16) -> Self {
        Self {
            max,
            topics: Vec::new(),
        }
    }

    fn check(&self, alias: NonZeroU16) -> Result<usize, Violation> {
        // An alias above our maximum breaks [MQTT-3.3.2-9] (from a client) or
        // [MQTT-3.3.2-11] (from a server) and is "Topic Alias invalid" (section 3.3.4,
        // untagged); every alias from 1 to the maximum is accepted ([MQTT-3.3.2-12] on a
        // server, [MQTT-3.3.2-10] on a client).
        if alias.get() > self.max {
            return Err(Violation::new(
                ReasonCode::TopicAliasInvalid,
                "topic alias above the Topic Alias Maximum",
            ));
        }
        Ok(usize::from(alias.get()) - 1)
    }

    pub(crate) fn set(&mut self, alias: NonZeroU16, topic: TopicName) -> Result<(), Violation> {
        let i = self.check(alias)?;
        if self.topics.len() <= i {
            self.topics.resize(i + 1, None);
        }
        if let Some(slot) = self.topics.get_mut(i) {
            *slot = Some(topic);
        }
        Ok(())
    }

    pub(crate) fn get(&self, alias: NonZeroU16) -> Result<TopicName, Violation> {
        let i = self.check(alias)?;
        self.topics.get(i).cloned().flatten().ok_or_else(|| {
            Violation::new(
                ReasonCode::ProtocolError,
                "PUBLISH with an empty topic and an unknown topic alias",
            )
        })
    }
}

/// Aliases we give topics towards the peer: least recently used replacement, up to the
/// peer's Topic Alias Maximum (0 disables aliasing).
#[derive(Debug, Default)]
pub(crate) struct OutboundAliases {
    max: u16,
    /// (topic, alias, last use); a few entries, searched linearly.
    entries: Vec<(TopicName, NonZeroU16, u64)>,
    clock: u64,
}

impl OutboundAliases {
    pub(crate) fn new(max: u16) -> Self {
        Self {
            max,
            entries: Vec::new(),
            clock: 0,
        }
    }

    /// The alias to send `topic` with, and whether the peer already knows it (then the
    /// topic name can be left out).
    pub(crate) fn lookup(&mut self, topic: &TopicName) -> Option<(NonZeroU16, bool)> {
        if self.max == 0 {
            return None;
        }
        self.clock += 1;
        if let Some(e) = self.entries.iter_mut().find(|e| e.0 == *topic) {
            e.2 = self.clock;
            return Some((e.1, true));
        }
        if self.entries.len() < usize::from(self.max) {
            let alias = NonZeroU16::new(self.entries.len() as u16 + 1)?;
            self.entries.push((topic.clone(), alias, self.clock));
            return Some((alias, false));
        }
        let lru = self.entries.iter_mut().min_by_key(|e| e.2)?;
        lru.0 = topic.clone();
        lru.2 = self.clock;
        Some((lru.1, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alias(n: u16) -> NonZeroU16 {
        NonZeroU16::new(n).unwrap()
    }

    #[test]
    fn inbound_alias_above_maximum_is_topic_alias_invalid() {
        let mut a = InboundAliases::new(2);
        let t = TopicName::from_static("a");
        assert!(a.set(alias(2), t.clone()).is_ok());
        assert_eq!(a.get(alias(2)), Ok(t.clone()));
        let err = a.set(alias(3), t).unwrap_err();
        assert_eq!(err.reason_code, ReasonCode::TopicAliasInvalid);
        assert_eq!(
            a.get(alias(1)).unwrap_err().reason_code,
            ReasonCode::ProtocolError
        );
    }

    #[test]
    fn outbound_aliases_replace_the_least_recently_used() {
        let mut a = OutboundAliases::new(2);
        let (x, y, z) = (
            TopicName::from_static("x"),
            TopicName::from_static("y"),
            TopicName::from_static("z"),
        );
        assert_eq!(a.lookup(&x), Some((alias(1), false)));
        assert_eq!(a.lookup(&y), Some((alias(2), false)));
        assert_eq!(a.lookup(&x), Some((alias(1), true)));
        // y is least recently used: z takes its alias.
        assert_eq!(a.lookup(&z), Some((alias(2), false)));
        assert_eq!(a.lookup(&z), Some((alias(2), true)));
        assert_eq!(OutboundAliases::new(0).lookup(&x), None);
    }
}
