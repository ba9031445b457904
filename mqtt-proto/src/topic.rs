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
        let filter_start = locate_filter(raw.as_str())?;
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
        let filter_start = filter_start_for_version(raw.as_str(), version)?;
        Ok(Self { raw, filter_start })
    }

    /// A Topic Filter from the bytes of a received string. One pass over the bytes finds
    /// U+0000 and checks the wildcard rules, before the UTF-8 check. String errors (a
    /// Malformed Packet) come before the Topic Filter rules, as in
    /// [`TopicFilter::for_version`] after reading a string.
    #[inline]
    pub(crate) fn from_wire(
        bytes: Bytes,
        version: ProtocolVersion,
        strict: bool,
    ) -> Result<Self, DecodeError> {
        let scan = scan_filter(&bytes);
        if scan.nul {
            return Err(StringError::NullCharacter.into());
        }
        let raw = MqttString::from_bytes_without_nul(bytes, strict)?;
        let filter_start = if scan.plain_ok && !raw.as_str().starts_with(SHARE_PREFIX) {
            // Not empty, not shared, and every wildcard occupies a whole level.
            0
        } else {
            filter_start_for_version(raw.as_str(), version)
                .map_err(DecodeError::InvalidTopicFilter)?
        };
        Ok(Self { raw, filter_start })
    }
}

/// The byte offset of the filter proper in `raw` after checking it: 0, or just after a
/// valid `$share/{group}/` prefix. A filter that starts with `$share/` must be a valid
/// shared subscription.
fn locate_filter(raw: &str) -> Result<usize, TopicError> {
    let filter_start = match raw.strip_prefix(SHARE_PREFIX) {
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
    validate_filter(raw.get(filter_start..).unwrap_or_default())?;
    Ok(filter_start)
}

/// [`locate_filter`] for a connection of `version`: in MQTT 3.x a `$share/` filter that is
/// not a valid shared subscription is checked as an ordinary filter.
fn filter_start_for_version(raw: &str, version: ProtocolVersion) -> Result<usize, TopicError> {
    match locate_filter(raw) {
        Err(TopicError::InvalidSharedSubscription) if !version.is_v5() => {
            validate_filter(raw)?;
            Ok(0)
        }
        other => other,
    }
}

/// Checks the wildcard rules of a filter (without a share prefix).
fn validate_filter(filter: &str) -> Result<(), TopicError> {
    if scan_filter(filter.as_bytes()).plain_ok {
        return Ok(());
    }
    // Some level breaks a rule: find the first one, and which rule it breaks.
    check_levels(filter)
}

/// The wildcard rules level by level, as the specification states them (the reference the
/// one-pass scan of [`validate_filter`] is tested against).
fn check_levels(filter: &str) -> Result<(), TopicError> {
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

/// What one pass over the bytes of a filter found.
struct FilterScan {
    /// A zero byte (U+0000).
    nul: bool,
    /// Not empty, and every `+` and `#` is a whole level, `#` the last one: the filter
    /// is valid if it is not a shared subscription.
    plain_ok: bool,
}

/// Scans a filter eight bytes at a time for U+0000 and for wildcards that are not a whole
/// level. Levels are valid exactly when every wildcard byte follows a `/` (or the start),
/// a `+` is followed by a `/` (or the end) and nothing follows a `#`. None of these bytes
/// occurs inside a multi-byte UTF-8 sequence, so checking bytes checks characters.
#[inline]
fn scan_filter(bytes: &[u8]) -> FilterScan {
    /// Bit 7 of each byte of `v` that is zero (exact per byte: no borrow between bytes).
    #[inline(always)]
    const fn zero_bytes(v: u64) -> u64 {
        !(((v & LOW7) + LOW7) | v) & HIGH
    }
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const SLASH: u64 = ONES * b'/' as u64;
    const PLUS: u64 = ONES * b'+' as u64;
    const HASH: u64 = ONES * b'#' as u64;
    /// Bit 7 of byte 0: the flag of the byte before a word (its last byte's flag).
    const FIRST: u64 = 0x80;
    let (words, tail) = bytes.as_chunks::<8>();
    // Flags of the byte before the current word: the start counts as a `/`.
    let (mut slash_before, mut plus_before, mut hash_before) = (FIRST, 0u64, 0u64);
    let (mut nul, mut bad) = (0u64, 0u64);
    let mut word = |v: u64, valid: u64| {
        let slash = zero_bytes(v ^ SLASH) & valid;
        let plus = zero_bytes(v ^ PLUS) & valid;
        let hash = zero_bytes(v ^ HASH) & valid;
        nul |= zero_bytes(v) & valid;
        // Flags of each byte's predecessor: shift by one byte, carry in the previous word's.
        let prev_slash = (slash << 8) | slash_before;
        let prev_plus = (plus << 8) | plus_before;
        let prev_hash = (hash << 8) | hash_before;
        bad |= ((plus | hash) & !prev_slash) | (prev_plus & !slash & valid) | (prev_hash & valid);
        slash_before = slash >> 56;
        plus_before = plus >> 56;
        hash_before = hash >> 56;
    };
    for w in words {
        word(u64::from_le_bytes(*w), HIGH);
    }
    if !tail.is_empty() {
        let mut v = 0u64;
        for (i, &b) in tail.iter().enumerate() {
            v |= u64::from(b) << (8 * i);
        }
        // Only the tail's bytes count; the zero padding above them is ignored.
        word(v, HIGH >> (8 * (8 - tail.len())));
    }
    FilterScan {
        nul: nul != 0,
        plain_ok: bad == 0 && !bytes.is_empty(),
    }
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
