//! CONNACK (MQTT 5.0 section 3.2, MQTT 3.1.1 section 3.2).

use super::{Body, PacketType, Read};
use crate::codec::{Reader, Sink};
use crate::property::{ConnAckProperties, write_list};
use crate::{DecodeError, EncodeError, ProtocolVersion, ReasonCode};

/// The server's answer to CONNECT.
///
/// For MQTT 3.x the reason code stands for the 3.x return code (see
/// [`ReasonCode::to_v3_connect_return_code`]); a code 3.x cannot express is an
/// [`EncodeError`] for a 3.x connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// Whether the server resumed a stored session (3.1.1 and 5.0).
    pub session_present: bool,
    /// Success or why the connection is refused.
    pub reason_code: ReasonCode,
    /// CONNACK properties (5.0 only).
    pub properties: ConnAckProperties,
}

impl ConnAck {
    /// A CONNACK with a reason code and no properties.
    #[must_use]
    pub fn new(session_present: bool, reason_code: ReasonCode) -> Self {
        Self {
            session_present,
            reason_code,
            properties: ConnAckProperties::default(),
        }
    }
}

impl Body for ConnAck {
    const TYPE: PacketType = PacketType::ConnAck;

    fn write<S: Sink>(&self, version: ProtocolVersion, s: &mut S) -> Result<(), EncodeError> {
        let not_in = |field| EncodeError::NotInVersion { field, version };
        // [MQTT-3.2.2-6] (5.0) / [MQTT-3.2.2-4] (3.1.1): a refusal has Session Present 0.
        if self.session_present && self.reason_code != ReasonCode::Success {
            return Err(EncodeError::InvalidValue(
                "Session Present on a refused connection",
            ));
        }
        if version == ProtocolVersion::V3_1 && self.session_present {
            return Err(not_in("Session Present"));
        }
        s.put_u8(u8::from(self.session_present));
        if version.is_v5() {
            if !self.reason_code.is_allowed_in(PacketType::ConnAck) {
                return Err(EncodeError::InvalidReasonCode {
                    code: self.reason_code,
                    packet: PacketType::ConnAck,
                });
            }
            s.put_u8(self.reason_code.as_u8());
            write_list(s, &self.properties)
        } else {
            if !self.properties.is_empty() {
                return Err(not_in("CONNACK properties"));
            }
            let code = self
                .reason_code
                .to_v3_connect_return_code()
                .ok_or_else(|| not_in("this CONNACK reason code"))?;
            s.put_u8(code);
            Ok(())
        }
    }
}

impl Read for ConnAck {
    fn read(_: u8, r: &mut Reader) -> Result<Self, DecodeError> {
        let flags = r.u8()?;
        // [MQTT-3.2.2-1]: bits 7-1 of the acknowledge flags are reserved.
        if flags & 0xFE != 0 {
            return Err(DecodeError::ReservedConnAckFlags(flags));
        }
        let code = r.u8()?;
        let invalid = DecodeError::InvalidReasonCode {
            code,
            packet: PacketType::ConnAck,
        };
        let (reason_code, properties) = if r.version.is_v5() {
            let rc = ReasonCode::from_u8(code)
                .filter(|rc| rc.is_allowed_in(PacketType::ConnAck))
                .ok_or(invalid)?;
            (rc, ConnAckProperties::read(r)?)
        } else {
            let rc = ReasonCode::from_v3_connect_return_code(code).ok_or(invalid)?;
            (rc, ConnAckProperties::default())
        };
        r.finish()?;
        // MQTT 3.1 has no Session Present: the whole byte is reserved, and not used.
        let session_present = flags & 1 != 0 && r.version != ProtocolVersion::V3_1;
        if session_present && reason_code != ReasonCode::Success {
            return Err(DecodeError::SessionPresentOnRefusal);
        }
        Ok(Self {
            session_present,
            reason_code,
            properties,
        })
    }
}
