//! PUBACK, PUBREC, PUBREL and PUBCOMP (MQTT 5.0 sections 3.4 to 3.7): four packets with
//! one layout, a packet identifier, a reason code and properties, so declared once.

use super::{Body, PacketType, Read};
use crate::codec::{Reader, Sink};
use crate::property::{AckProperties, write_list};
use crate::{DecodeError, EncodeError, PacketId, ProtocolVersion, ReasonCode};

macro_rules! publish_ack {
    ($( $(#[$doc:meta])* $name:ident; )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            /// Identifier of the publication this answers.
            pub packet_id: PacketId,
            /// Outcome (5.0); always `Success` in 3.x.
            pub reason_code: ReasonCode,
            /// Properties (5.0 only).
            pub properties: AckProperties,
        }

        impl $name {
            /// A successful acknowledgement without properties.
            #[must_use]
            pub fn new(packet_id: PacketId) -> Self {
                Self {
                    packet_id,
                    reason_code: ReasonCode::Success,
                    properties: AckProperties::default(),
                }
            }
        }

        impl Body for $name {
            const TYPE: PacketType = PacketType::$name;

            fn write<S: Sink>(&self, version: ProtocolVersion, s: &mut S) -> Result<(), EncodeError> {
                write_ack(Self::TYPE, self.packet_id, self.reason_code, &self.properties, version, s)
            }

        }

        impl Read for $name {
            fn read(_: u8, r: &mut Reader) -> Result<Self, DecodeError> {
                let (packet_id, reason_code, properties) = read_ack(Self::TYPE, r)?;
                Ok(Self { packet_id, reason_code, properties })
            }
        }
    )*};
}

publish_ack! {
    /// PUBACK: the answer to a QoS 1 PUBLISH.
    PubAck;
    /// PUBREC: the first answer to a QoS 2 PUBLISH.
    PubRec;
    /// PUBREL: the answer to PUBREC, releasing the packet identifier.
    PubRel;
    /// PUBCOMP: the answer to PUBREL, ending the QoS 2 exchange.
    PubComp;
}

/// The reason code and property length may be left out when the reason is Success and
/// there are no properties, and the property length when there are no properties (MQTT 5.0
/// section 3.4.2.1); the shortest form is always written.
fn write_ack<S: Sink>(
    ty: PacketType,
    packet_id: PacketId,
    reason_code: ReasonCode,
    properties: &AckProperties,
    version: ProtocolVersion,
    s: &mut S,
) -> Result<(), EncodeError> {
    s.put_u16(packet_id.get());
    if !version.is_v5() {
        if reason_code != ReasonCode::Success || !properties.is_empty() {
            return Err(EncodeError::NotInVersion {
                field: "acknowledgement reason codes and properties",
                version,
            });
        }
        return Ok(());
    }
    if !reason_code.is_allowed_in(ty) {
        return Err(EncodeError::InvalidReasonCode {
            code: reason_code,
            packet: ty,
        });
    }
    if properties.is_empty() {
        if reason_code != ReasonCode::Success {
            s.put_u8(reason_code.as_u8());
        }
        return Ok(());
    }
    s.put_u8(reason_code.as_u8());
    write_list(s, properties)
}

fn read_ack(
    ty: PacketType,
    r: &mut Reader,
) -> Result<(PacketId, ReasonCode, AckProperties), DecodeError> {
    let packet_id = r.packet_id()?;
    let mut reason_code = ReasonCode::Success;
    let mut properties = AckProperties::default();
    if r.version.is_v5() && !r.is_empty() {
        let code = r.u8()?;
        reason_code = ReasonCode::from_u8(code)
            .filter(|rc| rc.is_allowed_in(ty))
            .ok_or(DecodeError::InvalidReasonCode { code, packet: ty })?;
        if !r.is_empty() {
            properties = AckProperties::read(r)?;
        }
    }
    r.finish()?;
    Ok((packet_id, reason_code, properties))
}
