//! DISCONNECT (MQTT 5.0 section 3.14, MQTT 3.1.1 section 3.14).

use super::{Body, PacketType, Read};
use crate::codec::{Reader, Sink};
use crate::property::{DisconnectProperties, write_list};
use crate::{DecodeError, EncodeError, ProtocolVersion, ReasonCode};

/// The last packet of a connection. In 3.x only a client sends it and it has no body; in
/// 5.0 either side sends it, with a reason code and properties.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// Why the connection ends (5.0); `Success` is "Normal disconnection".
    pub reason_code: ReasonCode,
    /// Properties (5.0 only).
    pub properties: DisconnectProperties,
}

impl Default for ReasonCode {
    /// `Success` (0x00).
    fn default() -> Self {
        Self::Success
    }
}

impl Disconnect {
    /// A DISCONNECT with a reason code and no properties.
    #[must_use]
    pub fn new(reason_code: ReasonCode) -> Self {
        Self {
            reason_code,
            properties: DisconnectProperties::default(),
        }
    }
}

impl Body for Disconnect {
    const TYPE: PacketType = PacketType::Disconnect;

    fn write<S: Sink>(&self, version: ProtocolVersion, s: &mut S) -> Result<(), EncodeError> {
        if !version.is_v5() {
            if self.reason_code != ReasonCode::Success || !self.properties.is_empty() {
                return Err(EncodeError::NotInVersion {
                    field: "DISCONNECT reason codes and properties",
                    version,
                });
            }
            return Ok(());
        }
        if !self.reason_code.is_allowed_in(Self::TYPE) {
            return Err(EncodeError::InvalidReasonCode {
                code: self.reason_code,
                packet: Self::TYPE,
            });
        }
        // The reason code may be left out for a normal disconnection without properties,
        // and the property length when there are no properties (section 3.14.2.1).
        if self.properties.is_empty() {
            if self.reason_code != ReasonCode::Success {
                s.put_u8(self.reason_code.as_u8());
            }
            return Ok(());
        }
        s.put_u8(self.reason_code.as_u8());
        write_list(s, &self.properties)
    }
}

impl Read for Disconnect {
    fn read(_: u8, r: &mut Reader) -> Result<Self, DecodeError> {
        let mut this = Self::default();
        if r.version.is_v5() && !r.is_empty() {
            let code = r.u8()?;
            this.reason_code = ReasonCode::from_u8(code)
                .filter(|rc| rc.is_allowed_in(Self::TYPE))
                .ok_or(DecodeError::InvalidReasonCode {
                    code,
                    packet: Self::TYPE,
                })?;
            if !r.is_empty() {
                this.properties = DisconnectProperties::read(r)?;
            }
        }
        r.finish()?;
        Ok(this)
    }
}
