//! AUTH (MQTT 5.0 section 3.15): enhanced authentication exchanges.

use super::{Body, PacketType, Read};
use crate::codec::{Reader, Sink};
use crate::property::{AuthProperties, write_list};
use crate::{DecodeError, EncodeError, ProtocolVersion, ReasonCode};

/// One step of an enhanced authentication or re-authentication exchange (5.0 only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    /// Success (0x00), Continue authentication (0x18) or Re-authenticate (0x19).
    pub reason_code: ReasonCode,
    /// Properties: authentication method and data, reason string, user properties.
    pub properties: AuthProperties,
}

impl Body for Auth {
    const TYPE: PacketType = PacketType::Auth;

    fn write<S: Sink>(&self, version: ProtocolVersion, s: &mut S) -> Result<(), EncodeError> {
        if !version.is_v5() {
            return Err(EncodeError::NotInVersion {
                field: "AUTH",
                version,
            });
        }
        if !self.reason_code.is_allowed_in(Self::TYPE) {
            return Err(EncodeError::InvalidReasonCode {
                code: self.reason_code,
                packet: Self::TYPE,
            });
        }
        // Success without properties may be sent as an empty body (section 3.15.2.1).
        if self.reason_code == ReasonCode::Success && self.properties.is_empty() {
            return Ok(());
        }
        // Section 3.15.2.2.2: otherwise the Authentication Method is required.
        if self.properties.authentication_method.is_none() {
            return Err(EncodeError::InvalidValue(
                "AUTH without Authentication Method",
            ));
        }
        s.put_u8(self.reason_code.as_u8());
        write_list(s, &self.properties)
    }
}

impl Read for Auth {
    fn read(_: u8, r: &mut Reader) -> Result<Self, DecodeError> {
        let mut this = Self::default();
        if !r.is_empty() {
            let code = r.u8()?;
            this.reason_code = ReasonCode::from_u8(code)
                .filter(|rc| rc.is_allowed_in(Self::TYPE))
                .ok_or(DecodeError::InvalidReasonCode {
                    code,
                    packet: Self::TYPE,
                })?;
            if !r.is_empty() {
                this.properties = AuthProperties::read(r)?;
            }
            // Section 3.15.2.2.2: only the empty form may leave out the method.
            if this.properties.authentication_method.is_none() {
                return Err(DecodeError::MissingAuthenticationMethod);
            }
        }
        r.finish()?;
        Ok(this)
    }
}
