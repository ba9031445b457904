//! UNSUBSCRIBE (MQTT 5.0 section 3.10, MQTT 3.1.1 section 3.10).

use super::{
    Laid, Out, PacketType, Read, checked_rem, count_entries, list_len, put_id_and_properties,
    put_prefixed,
};
use crate::codec::Reader;
use crate::property::UnsubscribeProperties;
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

impl Laid for Unsubscribe {
    /// The length of the property list's properties (5.0).
    type Layout = Option<u32>;

    #[inline]
    fn layout(&self, version: ProtocolVersion) -> Result<(u32, Option<u32>), EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::Empty(PacketType::Unsubscribe));
        }
        let (properties, mut rem) = if version.is_v5() {
            let (n, len) = list_len(&self.properties)?;
            (Some(n), 2 + len)
        } else if !self.properties.is_empty() {
            return Err(EncodeError::NotInVersion {
                field: "UNSUBSCRIBE properties",
                version,
            });
        } else {
            (None, 2)
        };
        for filter in &self.filters {
            rem += 2 + filter.as_mqtt_str().len();
        }
        Ok((checked_rem(rem)?, properties))
    }

    #[inline(always)]
    fn write<S: Out>(
        &self,
        _: ProtocolVersion,
        rem: u32,
        properties: &Option<u32>,
        buf: &mut S,
    ) -> Result<(), EncodeError> {
        let first = ((PacketType::Unsubscribe as u8) << 4) | PacketType::Unsubscribe.fixed_flags();
        put_id_and_properties(
            buf,
            first,
            rem,
            self.packet_id,
            &self.properties,
            *properties,
        )?;
        for filter in &self.filters {
            put_prefixed(buf, filter.as_mqtt_str().as_bytes());
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
            return Err(DecodeError::NoTopicFilters(PacketType::Unsubscribe));
        }
        Ok(Self {
            packet_id,
            properties,
            filters,
        })
    }
}
