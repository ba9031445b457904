//! Reason codes (MQTT 5.0 section 2.4) and the MQTT 3.x return codes they map to.

use core::fmt;

use crate::PacketType;

macro_rules! reason_codes {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, $text:literal, [$($pkt:ident),*]; )*) => {
        /// An MQTT 5.0 reason code.
        ///
        /// The value 0x00 is `Success` in every packet; it is called "Normal disconnection"
        /// in DISCONNECT and "Granted QoS 0" in SUBACK (see the associated constants).
        /// [`ReasonCode::is_allowed_in`] tells which packets may carry each code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum ReasonCode {
            $( $(#[$doc])* $name = $value, )*
        }

        impl ReasonCode {
            /// The reason code for a byte, if the specification defines one.
            #[must_use]
            pub const fn from_u8(v: u8) -> Option<Self> {
                match v {
                    $( $value => Some(Self::$name), )*
                    _ => None,
                }
            }

            /// The specification's name for the code.
            #[must_use]
            pub const fn description(self) -> &'static str {
                match self {
                    $( Self::$name => $text, )*
                }
            }

            /// Whether a packet of type `packet` may carry this code (MQTT 5.0 Table 2-6).
            ///
            /// ```
            /// use mqtt_proto::{PacketType, ReasonCode};
            /// assert!(ReasonCode::NoMatchingSubscribers.is_allowed_in(PacketType::PubAck));
            /// assert!(!ReasonCode::NoMatchingSubscribers.is_allowed_in(PacketType::PubRel));
            /// ```
            #[must_use]
            pub const fn is_allowed_in(self, packet: PacketType) -> bool {
                match self {
                    $( Self::$name => matches!(packet, $(PacketType::$pkt)|*), )*
                }
            }
        }
    };
}

reason_codes! {
    /// 0x00: Success, Normal disconnection (DISCONNECT) or Granted QoS 0 (SUBACK).
    Success = 0x00, "Success",
        [ConnAck, PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck, Disconnect, Auth];
    /// 0x01: Granted QoS 1.
    GrantedQoS1 = 0x01, "Granted QoS 1", [SubAck];
    /// 0x02: Granted QoS 2.
    GrantedQoS2 = 0x02, "Granted QoS 2", [SubAck];
    /// 0x04: Disconnect with Will Message.
    DisconnectWithWill = 0x04, "Disconnect with Will Message", [Disconnect];
    /// 0x10: No matching subscribers.
    NoMatchingSubscribers = 0x10, "No matching subscribers", [PubAck, PubRec];
    /// 0x11: No subscription existed.
    NoSubscriptionExisted = 0x11, "No subscription existed", [UnsubAck];
    /// 0x18: Continue authentication.
    ContinueAuthentication = 0x18, "Continue authentication", [Auth];
    /// 0x19: Re-authenticate.
    ReAuthenticate = 0x19, "Re-authenticate", [Auth];
    /// 0x80: Unspecified error.
    UnspecifiedError = 0x80, "Unspecified error",
        [ConnAck, PubAck, PubRec, SubAck, UnsubAck, Disconnect];
    /// 0x81: Malformed Packet.
    MalformedPacket = 0x81, "Malformed Packet", [ConnAck, Disconnect];
    /// 0x82: Protocol Error.
    ProtocolError = 0x82, "Protocol Error", [ConnAck, Disconnect];
    /// 0x83: Implementation specific error.
    ImplementationSpecificError = 0x83, "Implementation specific error",
        [ConnAck, PubAck, PubRec, SubAck, UnsubAck, Disconnect];
    /// 0x84: Unsupported Protocol Version.
    UnsupportedProtocolVersion = 0x84, "Unsupported Protocol Version", [ConnAck];
    /// 0x85: Client Identifier not valid.
    ClientIdentifierNotValid = 0x85, "Client Identifier not valid", [ConnAck];
    /// 0x86: Bad User Name or Password.
    BadUserNameOrPassword = 0x86, "Bad User Name or Password", [ConnAck];
    /// 0x87: Not authorized.
    NotAuthorized = 0x87, "Not authorized",
        [ConnAck, PubAck, PubRec, SubAck, UnsubAck, Disconnect];
    /// 0x88: Server unavailable.
    ServerUnavailable = 0x88, "Server unavailable", [ConnAck];
    /// 0x89: Server busy.
    ServerBusy = 0x89, "Server busy", [ConnAck, Disconnect];
    /// 0x8A: Banned.
    Banned = 0x8A, "Banned", [ConnAck];
    /// 0x8B: Server shutting down.
    ServerShuttingDown = 0x8B, "Server shutting down", [Disconnect];
    /// 0x8C: Bad authentication method.
    BadAuthenticationMethod = 0x8C, "Bad authentication method", [ConnAck, Disconnect];
    /// 0x8D: Keep Alive timeout.
    KeepAliveTimeout = 0x8D, "Keep Alive timeout", [Disconnect];
    /// 0x8E: Session taken over.
    SessionTakenOver = 0x8E, "Session taken over", [Disconnect];
    /// 0x8F: Topic Filter invalid.
    TopicFilterInvalid = 0x8F, "Topic Filter invalid", [SubAck, UnsubAck, Disconnect];
    /// 0x90: Topic Name invalid.
    TopicNameInvalid = 0x90, "Topic Name invalid", [ConnAck, PubAck, PubRec, Disconnect];
    /// 0x91: Packet Identifier in use.
    PacketIdentifierInUse = 0x91, "Packet Identifier in use", [PubAck, PubRec, SubAck, UnsubAck];
    /// 0x92: Packet Identifier not found.
    PacketIdentifierNotFound = 0x92, "Packet Identifier not found", [PubRel, PubComp];
    /// 0x93: Receive Maximum exceeded.
    ReceiveMaximumExceeded = 0x93, "Receive Maximum exceeded", [Disconnect];
    /// 0x94: Topic Alias invalid.
    TopicAliasInvalid = 0x94, "Topic Alias invalid", [Disconnect];
    /// 0x95: Packet too large.
    PacketTooLarge = 0x95, "Packet too large", [ConnAck, Disconnect];
    /// 0x96: Message rate too high.
    MessageRateTooHigh = 0x96, "Message rate too high", [Disconnect];
    /// 0x97: Quota exceeded.
    QuotaExceeded = 0x97, "Quota exceeded", [ConnAck, PubAck, PubRec, SubAck, Disconnect];
    /// 0x98: Administrative action.
    AdministrativeAction = 0x98, "Administrative action", [Disconnect];
    /// 0x99: Payload format invalid.
    PayloadFormatInvalid = 0x99, "Payload format invalid", [ConnAck, PubAck, PubRec, Disconnect];
    /// 0x9A: Retain not supported.
    RetainNotSupported = 0x9A, "Retain not supported", [ConnAck, Disconnect];
    /// 0x9B: QoS not supported.
    QoSNotSupported = 0x9B, "QoS not supported", [ConnAck, Disconnect];
    /// 0x9C: Use another server.
    UseAnotherServer = 0x9C, "Use another server", [ConnAck, Disconnect];
    /// 0x9D: Server moved.
    ServerMoved = 0x9D, "Server moved", [ConnAck, Disconnect];
    /// 0x9E: Shared Subscriptions not supported.
    SharedSubscriptionsNotSupported = 0x9E, "Shared Subscriptions not supported",
        [SubAck, Disconnect];
    /// 0x9F: Connection rate exceeded.
    ConnectionRateExceeded = 0x9F, "Connection rate exceeded", [ConnAck, Disconnect];
    /// 0xA0: Maximum connect time.
    MaximumConnectTime = 0xA0, "Maximum connect time", [Disconnect];
    /// 0xA1: Subscription Identifiers not supported.
    SubscriptionIdentifiersNotSupported = 0xA1, "Subscription Identifiers not supported",
        [SubAck, Disconnect];
    /// 0xA2: Wildcard Subscriptions not supported.
    WildcardSubscriptionsNotSupported = 0xA2, "Wildcard Subscriptions not supported",
        [SubAck, Disconnect];
}

impl ReasonCode {
    /// 0x00 in DISCONNECT.
    pub const NORMAL_DISCONNECTION: Self = Self::Success;
    /// 0x00 in SUBACK.
    pub const GRANTED_QOS_0: Self = Self::Success;

    /// The byte on the wire.
    #[must_use]
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Whether the code reports an error (0x80 and above) [MQTT-2.4].
    #[must_use]
    pub const fn is_error(self) -> bool {
        self.as_u8() >= 0x80
    }

    /// The MQTT 3.x CONNACK return code for this reason, where 3.x has one.
    ///
    /// 3.x has six return codes: 0 accepted, 1 unacceptable protocol version, 2 identifier
    /// rejected, 3 server unavailable, 4 bad user name or password, 5 not authorized.
    #[must_use]
    pub const fn to_v3_connect_return_code(self) -> Option<u8> {
        match self {
            Self::Success => Some(0),
            Self::UnsupportedProtocolVersion => Some(1),
            Self::ClientIdentifierNotValid => Some(2),
            Self::ServerUnavailable => Some(3),
            Self::BadUserNameOrPassword => Some(4),
            Self::NotAuthorized => Some(5),
            _ => None,
        }
    }

    /// The reason code for an MQTT 3.x CONNACK return code.
    #[must_use]
    pub const fn from_v3_connect_return_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Success),
            1 => Some(Self::UnsupportedProtocolVersion),
            2 => Some(Self::ClientIdentifierNotValid),
            3 => Some(Self::ServerUnavailable),
            4 => Some(Self::BadUserNameOrPassword),
            5 => Some(Self::NotAuthorized),
            _ => None,
        }
    }

    /// The closest MQTT 3.x CONNACK return code, for a server refusing a 3.x client with a
    /// reason only 5.0 can name: authorization-like refusals become 5 (not authorized),
    /// everything else 3 (server unavailable).
    #[must_use]
    pub const fn v3_connect_return_code_fallback(self) -> u8 {
        match self.to_v3_connect_return_code() {
            Some(code) => code,
            None => match self {
                Self::Banned | Self::BadAuthenticationMethod => 5,
                _ => 3,
            },
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:02X})", self.description(), self.as_u8())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips() {
        let mut defined = 0;
        for b in 0..=u8::MAX {
            if let Some(rc) = ReasonCode::from_u8(b) {
                assert_eq!(rc.as_u8(), b);
                defined += 1;
            }
        }
        // MQTT 5.0 Table 2-6 defines 43 distinct values.
        assert_eq!(defined, 43);
    }

    #[test]
    fn errors_start_at_0x80() {
        assert!(!ReasonCode::NoMatchingSubscribers.is_error());
        assert!(ReasonCode::UnspecifiedError.is_error());
    }

    #[test]
    fn v3_return_codes_map_both_ways() {
        for code in 0..=5 {
            let rc = ReasonCode::from_v3_connect_return_code(code).unwrap();
            assert_eq!(rc.to_v3_connect_return_code(), Some(code));
        }
        assert_eq!(ReasonCode::from_v3_connect_return_code(6), None);
        assert_eq!(ReasonCode::Banned.v3_connect_return_code_fallback(), 5);
        assert_eq!(ReasonCode::ServerBusy.v3_connect_return_code_fallback(), 3);
    }

    #[test]
    fn packet_identifier_not_found_only_in_pubrel_and_pubcomp() {
        let rc = ReasonCode::PacketIdentifierNotFound;
        assert!(rc.is_allowed_in(PacketType::PubRel));
        assert!(rc.is_allowed_in(PacketType::PubComp));
        assert!(!rc.is_allowed_in(PacketType::PubAck));
        assert!(!rc.is_allowed_in(PacketType::Disconnect));
    }
}
