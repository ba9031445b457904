//! UNSUBSCRIBE (MQTT 5.0 section 3.10, MQTT 3.1.1 section 3.10).

use super::{Body, PacketType, Read, count_entries};
use crate::codec::{Reader, Sink};
use crate::property::{UnsubscribeProperties, write_list};
use crate::{DecodeError, EncodeError, PacketId, ProtocolVersion, TopicFilter};

/// A request to remove subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Packet identifier, echoed in the UNSUBACK.
    pub packet_id: PacketId,
    /// UNSUBSCRIBE properties (5.0 only).
    pub properties: UnsubscribeProperties,
    /// At least one topic filter.
    pub filters: Vec<TopicFilter>,
}

impl Body for Unsubscribe {
    const TYPE: PacketType = PacketType::Unsubscribe;

    fn write<S: Sink>(&self, version: ProtocolVersion, s: &mut S) -> Result<(), EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::Empty(Self::TYPE));
        }
        s.put_u16(self.packet_id.get());
        if version.is_v5() {
            write_list(s, &self.properties)?;
        } else if !self.properties.is_empty() {
            return Err(EncodeError::NotInVersion {
                field: "UNSUBSCRIBE properties",
                version,
            });
        }
        for filter in &self.filters {
            s.put_string(filter.as_mqtt_str());
        }
        Ok(())
    }
}

impl Read for Unsubscribe {
    fn read(_: u8, r: &mut Reader) -> Result<Self, DecodeError> {
        let packet_id = r.packet_id()?;
        let properties = if r.version.is_v5() {
            UnsubscribeProperties::read(r)?
        } else {
            UnsubscribeProperties::default()
        };
        // The payload is read by a reader of its own, after its entries are counted.
        let (version, strict) = (r.version, r.strict_strings);
        let payload = r.rest();
        let mut filters = Vec::with_capacity(count_entries(&payload, 0));
        let r = &mut Reader::new(payload, version, strict);
        while !r.is_empty() {
            filters.push(TopicFilter::from_wire(r.binary()?, version, strict)?);
        }
        // [MQTT-3.10.3-2]: at least one filter.
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters(Self::TYPE));
        }
        Ok(Self {
            packet_id,
            properties,
            filters,
        })
    }
}
