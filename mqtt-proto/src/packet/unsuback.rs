//! UNSUBACK (MQTT 5.0 section 3.11, MQTT 3.1.1 section 3.11).

use super::{Body, PacketType, Read};
use crate::codec::{Reader, Sink};
use crate::property::{AckProperties, write_list};
use crate::{DecodeError, EncodeError, PacketId, ProtocolVersion, ReasonCode};

/// The answer to UNSUBSCRIBE. In 5.0 it has one reason code per filter; in 3.x only the
/// packet identifier, so `reason_codes` is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// Identifier of the UNSUBSCRIBE this answers.
    pub packet_id: PacketId,
    /// Properties (5.0 only).
    pub properties: AckProperties,
    /// One code per filter (5.0 only).
    pub reason_codes: Vec<ReasonCode>,
}

impl Body for UnsubAck {
    const TYPE: PacketType = PacketType::UnsubAck;

    fn write<S: Sink>(&self, version: ProtocolVersion, s: &mut S) -> Result<(), EncodeError> {
        s.put_u16(self.packet_id.get());
        if !version.is_v5() {
            if !self.properties.is_empty() || !self.reason_codes.is_empty() {
                return Err(EncodeError::NotInVersion {
                    field: "UNSUBACK reason codes and properties",
                    version,
                });
            }
            return Ok(());
        }
        if self.reason_codes.is_empty() {
            return Err(EncodeError::Empty(Self::TYPE));
        }
        write_list(s, &self.properties)?;
        for &rc in &self.reason_codes {
            if !rc.is_allowed_in(Self::TYPE) {
                return Err(EncodeError::InvalidReasonCode {
                    code: rc,
                    packet: Self::TYPE,
                });
            }
            s.put_u8(rc.as_u8());
        }
        Ok(())
    }
}

impl Read for UnsubAck {
    fn read(_: u8, r: &mut Reader) -> Result<Self, DecodeError> {
        let packet_id = r.packet_id()?;
        let mut properties = AckProperties::default();
        let mut reason_codes = Vec::new();
        if r.version.is_v5() {
            properties = AckProperties::read(r)?;
            reason_codes.reserve(r.remaining());
            while !r.is_empty() {
                let code = r.u8()?;
                let rc = ReasonCode::from_u8(code)
                    .filter(|rc| rc.is_allowed_in(Self::TYPE))
                    .ok_or(DecodeError::InvalidReasonCode {
                        code,
                        packet: Self::TYPE,
                    })?;
                reason_codes.push(rc);
            }
            if reason_codes.is_empty() {
                return Err(DecodeError::NoReasonCodes(Self::TYPE));
            }
        }
        r.finish()?;
        Ok(Self {
            packet_id,
            properties,
            reason_codes,
        })
    }
}
