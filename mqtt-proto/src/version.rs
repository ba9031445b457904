//! Protocol levels.

use core::fmt;

/// The MQTT protocol level a connection speaks, fixed by its CONNECT packet.
///
/// The codec is one model for all three levels: fields that a level does not have (for
/// example properties before 5.0) must be empty when encoding for that level, and are
/// absent after decoding from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// MQTT 3.1, protocol name `MQIsdp`, protocol level 3.
    V3_1,
    /// MQTT 3.1.1 (ISO/IEC 20922), protocol name `MQTT`, protocol level 4.
    V3_1_1,
    /// MQTT 5.0, protocol name `MQTT`, protocol level 5.
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte of the CONNECT variable header.
    #[must_use]
    pub const fn level(self) -> u8 {
        match self {
            Self::V3_1 => 3,
            Self::V3_1_1 => 4,
            Self::V5 => 5,
        }
    }

    /// The protocol name of the CONNECT variable header.
    #[must_use]
    pub const fn protocol_name(self) -> &'static str {
        match self {
            Self::V3_1 => "MQIsdp",
            Self::V3_1_1 | Self::V5 => "MQTT",
        }
    }

    /// The version for a protocol level byte, if it is one this crate speaks.
    #[must_use]
    pub const fn from_level(level: u8) -> Option<Self> {
        match level {
            3 => Some(Self::V3_1),
            4 => Some(Self::V3_1_1),
            5 => Some(Self::V5),
            _ => None,
        }
    }

    /// Whether this level has properties, reason codes and AUTH (MQTT 5.0).
    #[must_use]
    pub const fn is_v5(self) -> bool {
        matches!(self, Self::V5)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V3_1 => "MQTT 3.1",
            Self::V3_1_1 => "MQTT 3.1.1",
            Self::V5 => "MQTT 5.0",
        })
    }
}
