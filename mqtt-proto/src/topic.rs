//! Topic Names, Topic Filters (including shared subscriptions) and matching.

use core::fmt;

use bytes::Bytes;

use crate::string::find_special;
use crate::{DecodeError, MqttString, ProtocolVersion, StringError};

/// Why a string is not a valid Topic Name or Topic Filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Topic Names and Topic Filters are at least one character long [MQTT-4.7.3-1].
    #[error("topic is empty")]
    Empty,
    /// Not a valid MQTT string (too long, not UTF-8, U+0000) [MQTT-4.7.3-2] [MQTT-4.7.3-3].
    #[error("{0}")]
    String(#[from] StringError),
    /// A Topic Name contains `+` or `#` [MQTT-3.3.2-2] [MQTT-4.7.0-1].
    #[error("topic name contains a wildcard")]
    WildcardInName,
    /// `#` is not alone in the last level of a filter (5.0 [MQTT-4.7.1-1], 3.1.1
    /// [MQTT-4.7.1-2]).
    #[error("'#' must be the whole last level of a topic filter")]
    InvalidMultiLevelWildcard,
    /// `+` is not alone in its level (5.0 [MQTT-4.7.1-2], 3.1.1 [MQTT-4.7.1-3]).
    #[error("'+' must occupy a whole level of a topic filter")]
    InvalidSingleLevelWildcard,
    /// A `$share/` filter without a share name, with a wildcard in the share name, or
    /// without a filter after it [MQTT-4.8.2-1] [MQTT-4.8.2-2].
    #[error("invalid shared subscription")]
    InvalidSharedSubscription,
}

/// A validated Topic Name: non-empty, at most 65,535 bytes of UTF-8, no wildcards.
///
/// ```
/// use mqtt_proto::TopicName;
/// let t = TopicName::try_from("sensors/room1/temp").unwrap();
/// assert_eq!(t.levels().count(), 3);
/// assert!(TopicName::try_from("sensors/+").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(MqttString);

impl TopicName {
    /// Validates a string as a Topic Name.
    ///
    /// # Errors
    /// [`TopicError::Empty`] and [`TopicError::WildcardInName`].
    pub fn new(s: MqttString) -> Result<Self, TopicError> {
        if s.is_empty() {
            return Err(TopicError::Empty);
        }
        if find_special(s.as_bytes()).wildcard {
            return Err(TopicError::WildcardInName);
        }
        Ok(Self(s))
    }

    /// A Topic Name from the bytes of a received string, checked in one pass for U+0000
    /// and wildcards before the UTF-8 check. String errors (a Malformed Packet) come before
    /// the Topic Name rules.
    #[inline]
    pub(crate) fn from_wire(bytes: Bytes, strict: bool) -> Result<Self, DecodeError> {
        let found = find_special(&bytes);
        if found.nul {
            return Err(StringError::NullCharacter.into());
        }
        let s = MqttString::from_bytes_without_nul(bytes, strict)?;
        if s.is_empty() {
            return Err(DecodeError::InvalidTopicName(TopicError::Empty));
        }
        if found.wildcard {
            return Err(DecodeError::InvalidTopicName(TopicError::WildcardInName));
        }
        Ok(Self(s))
    }

    /// A topic name from a literal.
    ///
    /// # Panics
    /// If `s` is not a valid Topic Name: this is meant for literals.
    #[must_use]
    pub fn from_static(s: &'static str) -> Self {
        match Self::new(MqttString::from_static(s)) {
            Ok(t) => t,
            Err(e) => panic!("invalid topic name literal: {e}"),
        }
    }

    /// The topic as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The topic as an MQTT string (shared bytes).
    #[must_use]
    pub fn as_mqtt_str(&self) -> &MqttString {
        &self.0
    }

    /// The topic's levels, split at `/`; empty levels are kept.
    pub fn levels(&self) -> core::str::Split<'_, char> {
        self.as_str().split('/')
    }

    /// Whether the topic starts with `$` (like `$SYS/...`), which wildcards in the first
    /// level of a filter do not match [MQTT-4.7.2-1].
    #[must_use]
    pub fn is_dollar(&self) -> bool {
        self.as_str().starts_with('$')
    }

    /// Length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a Topic Name is never empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// A validated Topic Filter, possibly a shared subscription `$share/{group}/{filter}`.
///
/// ```
/// use mqtt_proto::TopicFilter;
/// let f = TopicFilter::try_from("sport/tennis/+").unwrap();
/// assert!(f.matches("sport/tennis/player1"));
/// assert!(!f.matches("sport/tennis/player1/ranking"));
///
/// let shared = TopicFilter::try_from("$share/workers/jobs/#").unwrap();
/// assert_eq!(shared.share_group(), Some("workers"));
/// assert_eq!(shared.filter(), "jobs/#");
/// assert!(shared.matches("jobs/1"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter {
    raw: MqttString,
    /// Byte offset of the filter proper: 0, or just after `$share/{group}/`.
    filter_start: usize,
}

const SHARE_PREFIX: &str = "$share/";

impl TopicFilter {
    /// Validates a string as a Topic Filter.
    ///
    /// A filter that starts with `$share/` must be a valid shared subscription, for every
    /// protocol version.
    ///
    /// # Errors
    /// A [`TopicError`] naming the rule the filter breaks.
    pub fn new(raw: MqttString) -> Result<Self, TopicError> {
        let filter_start = match raw.as_str().strip_prefix(SHARE_PREFIX) {
            Some(rest) => {
                let (group, filter) = rest
                    .split_once('/')
                    .ok_or(TopicError::InvalidSharedSubscription)?;
                if group.is_empty() || group.contains(['+', '#']) || filter.is_empty() {
                    return Err(TopicError::InvalidSharedSubscription);
                }
                SHARE_PREFIX.len() + group.len() + 1
            }
            None => 0,
        };
        let filter = raw.as_str().get(filter_start..).unwrap_or_default();
        validate_filter(filter)?;
        Ok(Self { raw, filter_start })
    }

    /// A topic filter from a literal.
    ///
    /// # Panics
    /// If `s` is not a valid Topic Filter: this is meant for literals.
    #[must_use]
    pub fn from_static(s: &'static str) -> Self {
        match Self::new(MqttString::from_static(s)) {
            Ok(t) => t,
            Err(e) => panic!("invalid topic filter literal: {e}"),
        }
    }

    /// The whole filter as received, including any `$share/{group}/` prefix.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.raw.as_str()
    }

    /// The whole filter as an MQTT string (shared bytes).
    #[must_use]
    pub fn as_mqtt_str(&self) -> &MqttString {
        &self.raw
    }

    /// The filter that topics are matched against (without a `$share/{group}/` prefix).
    #[must_use]
    pub fn filter(&self) -> &str {
        self.raw
            .as_str()
            .get(self.filter_start..)
            .unwrap_or_default()
    }

    /// The share name of a shared subscription.
    #[must_use]
    pub fn share_group(&self) -> Option<&str> {
        if self.filter_start == 0 {
            return None;
        }
        self.raw
            .as_str()
            .get(SHARE_PREFIX.len()..self.filter_start - 1)
    }

    /// Whether this is a shared subscription (`$share/{group}/{filter}`).
    #[must_use]
    pub fn is_shared(&self) -> bool {
        self.filter_start != 0
    }

    /// Whether the filter contains `+` or `#`.
    #[must_use]
    pub fn has_wildcards(&self) -> bool {
        self.filter().contains(['+', '#'])
    }

    /// The levels of the filter proper, split at `/`.
    pub fn levels(&self) -> core::str::Split<'_, char> {
        self.filter().split('/')
    }

    /// Whether a topic name matches this filter (MQTT 5.0 section 4.7).
    ///
    /// `#` matches its parent level and any number of child levels, `+` exactly one
    /// level (section 4.7.1), and a wildcard in the first level never matches a
    /// topic starting with `$` [MQTT-4.7.2-1]. Shared subscriptions match with their
    /// filter proper.
    #[must_use]
    pub fn matches(&self, topic: &str) -> bool {
        matches_filter(self.filter(), topic)
    }

    /// Validates a filter received on a connection of `version`. MQTT 3.x has no shared
    /// subscriptions: there a `$share/` filter that is not a valid shared subscription is
    /// an ordinary filter (for example `$share//x`), while a valid one is shared, as
    /// brokers commonly accept from 3.1.1 clients.
    ///
    /// # Errors
    /// A [`TopicError`] naming the rule the filter breaks.
    pub fn for_version(raw: MqttString, version: ProtocolVersion) -> Result<Self, TopicError> {
        match Self::new(raw.clone()) {
            Err(TopicError::InvalidSharedSubscription) if !version.is_v5() => {
                validate_filter(raw.as_str())?;
                Ok(Self {
                    raw,
                    filter_start: 0,
                })
            }
            other => other,
        }
    }
}

/// Checks the wildcard rules of a filter (without a share prefix).
fn validate_filter(filter: &str) -> Result<(), TopicError> {
    if filter.is_empty() {
        return Err(TopicError::Empty);
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(TopicError::InvalidMultiLevelWildcard);
        }
        if level.contains('+') && level != "+" {
            return Err(TopicError::InvalidSingleLevelWildcard);
        }
    }
    Ok(())
}

/// Matches a topic against a filter proper, level by level.
fn matches_filter(filter: &str, topic: &str) -> bool {
    let (filter, topic) = (filter.as_bytes(), topic.as_bytes());
    if topic.first() == Some(&b'$') && matches!(filter.first(), Some(b'+' | b'#')) {
        return false;
    }
    let mut f = filter.split(|&b| b == b'/');
    let mut t = topic.split(|&b| b == b'/');
    loop {
        match (f.next(), t.next()) {
            (Some(b"#"), _) => return true,
            (Some(b"+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

macro_rules! topic_conversions {
    ($ty:ty, $what:literal) => {
        impl TryFrom<&str> for $ty {
            type Error = TopicError;
            fn try_from(s: &str) -> Result<Self, TopicError> {
                Self::new(MqttString::try_from(s)?)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = TopicError;
            fn try_from(s: String) -> Result<Self, TopicError> {
                Self::new(MqttString::try_from(s)?)
            }
        }

        impl TryFrom<MqttString> for $ty {
            type Error = TopicError;
            fn try_from(s: MqttString) -> Result<Self, TopicError> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($what, "({:?})"), self.as_str())
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

topic_conversions!(TopicName, "TopicName");
topic_conversions!(TopicFilter, "TopicFilter");

#[cfg(test)]
mod tests;
