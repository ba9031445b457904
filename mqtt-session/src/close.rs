//! Why a connection ended, for both sides.

use mqtt_proto::{PacketType, ReasonCode};

use crate::Violation;

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer sent DISCONNECT with this reason code. From a client, `Success` is a
    /// normal disconnection and `DisconnectWithWill` asks for the will.
    PeerDisconnect(ReasonCode),
    /// The peer broke the protocol.
    Violation(Violation),
    /// Server side: nothing arrived for one and a half times the keep alive (5.0
    /// [MQTT-3.1.2-22], 3.1.1 [MQTT-3.1.2-24]). Client side: no PINGRESP arrived in time.
    KeepAliveTimeout,
    /// Server side: no CONNECT arrived in time. Client side: no CONNACK.
    ConnectTimeout,
    /// The CONNECT was refused with this reason code.
    Refused(ReasonCode),
    /// This side closed it (`disconnect`), with this reason code.
    LocalDisconnect(ReasonCode),
    /// The transport closed or failed.
    TransportClosed,
}

impl CloseReason {
    /// Server side: whether the client's will message is to be published. It is, unless
    /// the client sent DISCONNECT with reason 0x00 [MQTT-3.1.2-8] [MQTT-3.14.4-3] or the
    /// connection never got past CONNECT.
    #[must_use]
    pub fn publishes_will(&self) -> bool {
        !matches!(
            self,
            Self::PeerDisconnect(ReasonCode::Success) | Self::Refused(_) | Self::ConnectTimeout
        )
    }

    /// The reason code of the DISCONNECT a 5.0 peer is sent for this close, if any.
    pub(crate) fn disconnect_code(&self) -> Option<ReasonCode> {
        match self {
            Self::Violation(v) if v.reason_code.is_allowed_in(PacketType::Disconnect) => {
                Some(v.reason_code)
            }
            Self::Violation(_) => Some(ReasonCode::ProtocolError),
            Self::KeepAliveTimeout => Some(ReasonCode::KeepAliveTimeout),
            Self::LocalDisconnect(rc) => Some(*rc),
            _ => None,
        }
    }
}
