//! Quality of service levels and packet identifiers.

use core::fmt;
use core::num::NonZeroU16;

/// A quality of service level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum QoS {
    /// QoS 0: at most once, no acknowledgement.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: at least once, PUBLISH then PUBACK.
    AtLeastOnce = 1,
    /// QoS 2: exactly once, PUBLISH, PUBREC, PUBREL, PUBCOMP.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for its two-bit wire value; `None` for 3, which no packet may carry.
    #[must_use]
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::AtMostOnce),
            1 => Some(Self::AtLeastOnce),
            2 => Some(Self::ExactlyOnce),
            _ => None,
        }
    }

    /// The wire value.
    #[must_use]
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

/// A non-zero packet identifier [MQTT-2.3.1-1] / [MQTT-2.2.1-3].
///
/// Zero is not a packet identifier, so an absent identifier is `Option<PacketId>` and never
/// a zero that means "none".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketId(NonZeroU16);

impl PacketId {
    /// Identifier 1, where allocation starts.
    pub const MIN: Self = Self(NonZeroU16::MIN);

    /// The identifier for a wire value; `None` for zero.
    ///
    /// ```
    /// use mqtt_proto::PacketId;
    /// assert_eq!(PacketId::new(7).map(PacketId::get), Some(7));
    /// assert_eq!(PacketId::new(0), None);
    /// ```
    #[must_use]
    pub const fn new(v: u16) -> Option<Self> {
        match NonZeroU16::new(v) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// The wire value, never zero.
    #[must_use]
    pub const fn get(self) -> u16 {
        self.0.get()
    }

    /// The next identifier after this one, wrapping from 65535 to 1.
    #[must_use]
    pub const fn next(self) -> Self {
        match NonZeroU16::new(self.0.get().wrapping_add(1)) {
            Some(v) => Self(v),
            None => Self(NonZeroU16::MIN),
        }
    }
}

impl From<NonZeroU16> for PacketId {
    fn from(v: NonZeroU16) -> Self {
        Self(v)
    }
}

impl fmt::Display for PacketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_id_wraps_to_one() {
        assert_eq!(
            PacketId::new(u16::MAX).map(PacketId::next),
            PacketId::new(1)
        );
        assert_eq!(PacketId::new(1).map(PacketId::next), PacketId::new(2));
    }

    #[test]
    fn qos_three_is_not_a_qos() {
        assert_eq!(QoS::from_u8(3), None);
        for q in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            assert_eq!(QoS::from_u8(q.as_u8()), Some(q));
        }
    }
}
