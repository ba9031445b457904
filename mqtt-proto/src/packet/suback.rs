//! SUBACK (MQTT 5.0 section 3.9, MQTT 3.1.1 section 3.9).

use super::{Body, PacketType, Read};
use crate::codec::{Reader, Sink};
use crate::property::{AckProperties, write_list};
use crate::{DecodeError, EncodeError, PacketId, ProtocolVersion, ReasonCode};

/// The answer to SUBSCRIBE: one reason code per requested filter, in order.
///
/// In 3.x only Granted QoS 0, 1, 2 and Unspecified error (0x80, the 3.1.1 "Failure")
/// exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// Identifier of the SUBSCRIBE this answers.
    pub packet_id: PacketId,
    /// Properties (5.0 only).
    pub properties: AckProperties,
    /// One code per filter.
    pub reason_codes: Vec<ReasonCode>,
}

fn in_v3(rc: ReasonCode) -> bool {
    matches!(
        rc,
        ReasonCode::Success
            | ReasonCode::GrantedQoS1
            | ReasonCode::GrantedQoS2
            | ReasonCode::UnspecifiedError
    )
}

impl Body for SubAck {
    const TYPE: PacketType = PacketType::SubAck;

    fn write<S: Sink>(&self, version: ProtocolVersion, s: &mut S) -> Result<(), EncodeError> {
        if self.reason_codes.is_empty() {
            return Err(EncodeError::Empty(Self::TYPE));
        }
        s.put_u16(self.packet_id.get());
        if version.is_v5() {
            write_list(s, &self.properties)?;
        } else if !self.properties.is_empty() {
            return Err(EncodeError::NotInVersion {
                field: "SUBACK properties",
                version,
            });
        }
        for &rc in &self.reason_codes {
            let ok = if version.is_v5() {
                rc.is_allowed_in(Self::TYPE)
            } else {
                in_v3(rc)
            };
            if !ok {
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

impl Read for SubAck {
    fn read(_: u8, r: &mut Reader) -> Result<Self, DecodeError> {
        let packet_id = r.packet_id()?;
        let v5 = r.version.is_v5();
        let properties = if v5 {
            AckProperties::read(r)?
        } else {
            AckProperties::default()
        };
        let mut reason_codes = Vec::with_capacity(r.remaining());
        while !r.is_empty() {
            let code = r.u8()?;
            let rc = ReasonCode::from_u8(code)
                .filter(|&rc| {
                    if v5 {
                        rc.is_allowed_in(Self::TYPE)
                    } else {
                        in_v3(rc)
                    }
                })
                .ok_or(DecodeError::InvalidReasonCode {
                    code,
                    packet: Self::TYPE,
                })?;
            reason_codes.push(rc);
        }
        if reason_codes.is_empty() {
            return Err(DecodeError::NoReasonCodes(Self::TYPE));
        }
        Ok(Self {
            packet_id,
            properties,
            reason_codes,
        })
    }
}
