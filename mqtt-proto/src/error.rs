//! Decode errors (the peer sent something wrong) and encode errors (the caller asked for
//! something the protocol cannot say), kept apart.

use crate::property::PropertyId;
use crate::{PacketType, ReasonCode, StringError, TopicError};

/// Why received bytes are not a valid MQTT packet.
///
/// Every variant maps to the MQTT 5.0 reason code to close the connection with
/// ([`DecodeError::reason_code`]). After an error the byte stream cannot be resynchronised:
/// the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A variable byte integer has a fifth byte [MQTT-1.5.5-1].
    #[error("variable byte integer is longer than four bytes")]
    VarIntTooLong,
    /// A variable byte integer (MQTT 5.0) does not use the fewest bytes [MQTT-1.5.5-1].
    #[error("variable byte integer is not minimally encoded")]
    VarIntNotMinimal,
    /// The packet is larger than the receiver's maximum packet size [MQTT-3.2.2-15].
    #[error("packet of {size} bytes exceeds the maximum packet size of {max} bytes")]
    PacketTooLarge {
        /// Declared size of the whole packet.
        size: usize,
        /// The limit in force.
        max: u32,
    },
    /// Packet type 0, or AUTH (15) before MQTT 5.0 (section 2.1.2).
    #[error("packet type {0} is reserved")]
    ReservedPacketType(u8),
    /// The fixed header flags differ from the ones the packet type requires [MQTT-2.1.3-1].
    #[error("invalid fixed header flags {flags:#06b} for {packet}")]
    InvalidFlags {
        /// The packet type.
        packet: PacketType,
        /// The four flag bits received.
        flags: u8,
    },
    /// A field runs past the end of the packet.
    #[error("packet ends in the middle of a field")]
    UnexpectedEnd,
    /// Bytes remain after the last field of a packet that has no payload to hold them.
    #[error("{0} unexpected bytes at the end of the packet")]
    TrailingBytes(usize),
    /// A string is not a valid MQTT UTF-8 string [MQTT-1.5.4-1] [MQTT-1.5.4-2].
    #[error("invalid string: {0}")]
    InvalidString(#[from] StringError),
    /// A QoS field holds 3 [MQTT-3.3.1-4].
    #[error("invalid QoS value {0}")]
    InvalidQoS(u8),
    /// DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2].
    #[error("DUP flag set on a QoS 0 PUBLISH")]
    DupOnQoS0,
    /// A packet identifier of zero [MQTT-2.2.1-3].
    #[error("packet identifier 0")]
    ZeroPacketId,
    /// An invalid Topic Name [MQTT-3.3.2-2] [MQTT-4.7.3-1].
    #[error("invalid topic name: {0}")]
    InvalidTopicName(TopicError),
    /// An invalid Topic Filter [MQTT-4.7.1-1] [MQTT-4.7.3-1] [MQTT-4.8.2-1].
    #[error("invalid topic filter: {0}")]
    InvalidTopicFilter(TopicError),
    /// A PUBLISH with an empty Topic Name and no Topic Alias [MQTT-3.3.2-1].
    #[error("PUBLISH has neither a topic name nor a topic alias")]
    MissingTopic,
    /// A Topic Alias of 0 [MQTT-3.3.2-8].
    #[error("topic alias 0")]
    TopicAliasZero,
    /// The CONNECT protocol name is not `MQTT` (or `MQIsdp` for level 3) [MQTT-3.1.2-1].
    #[error("unsupported protocol name")]
    UnsupportedProtocolName,
    /// The CONNECT protocol level is not 3, 4 or 5 [MQTT-3.1.2-2].
    #[error("unsupported protocol level {0}")]
    UnsupportedProtocolVersion(u8),
    /// The CONNECT reserved flag is set [MQTT-3.1.2-3].
    #[error("reserved CONNECT flag is set")]
    ReservedConnectFlag,
    /// Will QoS or Will Retain set without the Will Flag [MQTT-3.1.2-11] [MQTT-3.1.2-13].
    #[error("will QoS or will retain set without a will")]
    WillFlagsWithoutWill,
    /// Password flag without user name flag in MQTT 3.x [MQTT-3.1.2-22].
    #[error("password without user name")]
    PasswordWithoutUsername,
    /// Reserved CONNACK acknowledge flags set [MQTT-3.2.2-1].
    #[error("reserved CONNACK flags {0:#04x}")]
    ReservedConnAckFlags(u8),
    /// A CONNACK refusing the connection with Session Present set (5.0 [MQTT-3.2.2-6],
    /// 3.1.1 [MQTT-3.2.2-4]).
    #[error("CONNACK refuses the connection but sets Session Present")]
    SessionPresentOnRefusal,
    /// A CONNACK return code or reason code the packet may not carry.
    #[error("reason code {code:#04x} is not valid in {packet}")]
    InvalidReasonCode {
        /// The byte received.
        code: u8,
        /// The packet it came in.
        packet: PacketType,
    },
    /// A property identifier the specification does not define (5.0 section 2.2.2.2).
    #[error("unknown property identifier {0:#04x}")]
    UnknownProperty(u32),
    /// A property that this packet may not carry (5.0 section 2.2.2.2).
    #[error("property {id:?} is not allowed in {context}")]
    PropertyNotAllowed {
        /// The property.
        id: PropertyId,
        /// The packet or property list.
        context: &'static str,
    },
    /// A property given more than once where the specification forbids it.
    #[error("property {0:?} appears more than once")]
    DuplicateProperty(PropertyId),
    /// A property value outside what the specification allows (for example Receive
    /// Maximum 0).
    #[error("invalid value for property {0:?}")]
    InvalidPropertyValue(PropertyId),
    /// Subscription options with reserved bits set (5.0 [MQTT-3.8.3-5]; in 3.1.1 bits 2
    /// to 7 and QoS 3, [MQTT-3-8.3-4]).
    #[error("invalid subscription options {0:#04x}")]
    InvalidSubscriptionOptions(u8),
    /// 5.0 subscription options with Maximum QoS 3 or Retain Handling 3: a Protocol Error
    /// (section 3.8.3.1).
    #[error("subscription options {0:#04x} hold QoS 3 or Retain Handling 3")]
    InvalidSubscriptionOptionValue(u8),
    /// An AUTH packet with a body but no Authentication Method (section 3.15.2.2.2).
    #[error("AUTH without an Authentication Method")]
    MissingAuthenticationMethod,
    /// No Local set on a shared subscription [MQTT-3.8.3-4].
    #[error("No Local on a shared subscription")]
    NoLocalOnSharedSubscription,
    /// A SUBSCRIBE or UNSUBSCRIBE without any topic filter [MQTT-3.8.3-2] [MQTT-3.10.3-2].
    #[error("{0} carries no topic filter")]
    NoTopicFilters(PacketType),
    /// A SUBACK or UNSUBACK (MQTT 5.0) without any reason code.
    #[error("{0} carries no reason code")]
    NoReasonCodes(PacketType),
}

impl DecodeError {
    /// The MQTT 5.0 reason code to send in the DISCONNECT (or CONNACK) that closes the
    /// connection after this error.
    ///
    /// ```
    /// use mqtt_proto::{DecodeError, ReasonCode};
    /// assert_eq!(DecodeError::UnexpectedEnd.reason_code(), ReasonCode::MalformedPacket);
    /// ```
    #[must_use]
    pub const fn reason_code(&self) -> ReasonCode {
        match self {
            Self::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            Self::UnsupportedProtocolName | Self::UnsupportedProtocolVersion(_) => {
                ReasonCode::UnsupportedProtocolVersion
            }
            Self::TopicAliasZero => ReasonCode::TopicAliasInvalid,
            Self::ZeroPacketId
            | Self::InvalidTopicName(_)
            | Self::InvalidTopicFilter(_)
            | Self::MissingTopic
            | Self::PasswordWithoutUsername
            | Self::InvalidReasonCode { .. }
            | Self::DuplicateProperty(_)
            | Self::InvalidPropertyValue(_)
            | Self::NoLocalOnSharedSubscription
            | Self::NoTopicFilters(_)
            | Self::NoReasonCodes(_)
            | Self::SessionPresentOnRefusal
            | Self::InvalidSubscriptionOptionValue(_)
            | Self::MissingAuthenticationMethod => ReasonCode::ProtocolError,
            Self::VarIntTooLong
            | Self::VarIntNotMinimal
            | Self::ReservedPacketType(_)
            | Self::InvalidFlags { .. }
            | Self::UnexpectedEnd
            | Self::TrailingBytes(_)
            | Self::InvalidString(_)
            | Self::InvalidQoS(_)
            | Self::DupOnQoS0
            | Self::ReservedConnectFlag
            | Self::WillFlagsWithoutWill
            | Self::ReservedConnAckFlags(_)
            | Self::UnknownProperty(_)
            | Self::PropertyNotAllowed { .. }
            | Self::InvalidSubscriptionOptions(_) => ReasonCode::MalformedPacket,
        }
    }
}

/// Why a packet cannot be encoded for the requested protocol version.
///
/// These are errors of the caller, never of the peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The packet would exceed the largest remaining length (268,435,455 bytes).
    #[error("packet is larger than the 268435455 bytes MQTT can frame")]
    PacketTooLarge,
    /// A string or binary field is longer than 65,535 bytes.
    #[error("{0} is longer than 65535 bytes")]
    FieldTooLong(&'static str),
    /// A field or packet that the target protocol version does not have.
    #[error("{field} cannot be encoded in {version}")]
    NotInVersion {
        /// What was asked for.
        field: &'static str,
        /// The target version.
        version: crate::ProtocolVersion,
    },
    /// A value outside the range the specification allows.
    #[error("invalid value for {0}")]
    InvalidValue(&'static str),
    /// A reason code this packet may not carry.
    #[error("reason code {code} is not valid in {packet}")]
    InvalidReasonCode {
        /// The code.
        code: ReasonCode,
        /// The packet.
        packet: PacketType,
    },
    /// A SUBSCRIBE, UNSUBSCRIBE or SUBACK without entries.
    #[error("{0} needs at least one entry")]
    Empty(PacketType),
    /// A PUBLISH with neither a topic name nor a topic alias.
    #[error("PUBLISH needs a topic name or a topic alias")]
    MissingTopic,
    /// The destination buffer is too small for the packet.
    #[error("buffer has {available} bytes free, packet needs {needed}")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes free.
        available: usize,
    },
}
