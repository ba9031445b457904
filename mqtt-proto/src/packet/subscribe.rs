//! SUBSCRIBE (MQTT 5.0 section 3.8, MQTT 3.1.1 section 3.8).

use super::{
    Laid, Out, PacketType, Read, checked_rem, count_entries, list_len, put_id_and_properties,
    put_prefixed,
};
use crate::codec::Reader;
use crate::property::SubscribeProperties;
use crate::{DecodeError, EncodeError, PacketId, ProtocolVersion, QoS, TopicFilter};

/// Whether retained messages are sent when a subscription is made (MQTT 5.0 section
/// 3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// 1: send them only if the subscription did not exist.
    SendAtSubscribeIfNew = 1,
    /// 2: do not send them.
    DoNotSend = 2,
}

/// The options byte of one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS the server may deliver with on this subscription.
    pub qos: QoS,
    /// 5.0: do not send the client's own publications back to it.
    pub no_local: bool,
    /// 5.0: keep the RETAIN flag of forwarded messages as published.
    pub retain_as_published: bool,
    /// 5.0: when to send retained messages.
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with a maximum QoS and 3.x-compatible defaults.
    #[must_use]
    pub fn new(qos: QoS) -> Self {
        Self {
            qos,
            ..Self::default()
        }
    }

    /// The bits of the options other than QoS, which only 5.0 has.
    #[inline]
    fn v5_bits(self) -> u8 {
        u8::from(self.no_local) << 2
            | u8::from(self.retain_as_published) << 3
            | (self.retain_handling as u8) << 4
    }

    /// Non-zero when the options byte holds more than the QoS.
    #[inline]
    fn more_than_qos(self) -> u8 {
        u8::from(self.no_local) | u8::from(self.retain_as_published) | self.retain_handling as u8
    }

    /// The options byte.
    #[inline]
    fn bits(self) -> u8 {
        self.qos.as_u8() | self.v5_bits()
    }

    /// Checks that `version` can carry the options.
    #[inline]
    fn to_byte(self, version: ProtocolVersion) -> Result<u8, EncodeError> {
        if self.v5_bits() != 0 && !version.is_v5() {
            return Err(EncodeError::NotInVersion {
                field: "subscription options other than QoS",
                version,
            });
        }
        Ok(self.bits())
    }

    fn from_byte(b: u8, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let invalid = DecodeError::InvalidSubscriptionOptions(b);
        // [MQTT-3.8.3-5] (5.0): bits 6 and 7 are reserved. 3.1.1 [MQTT-3-8.3-4]: bits 2-7.
        let reserved = if version.is_v5() {
            0b1100_0000
        } else {
            0b1111_1100
        };
        if b & reserved != 0 {
            return Err(invalid);
        }
        // QoS 3 is malformed in 3.1.1 [MQTT-3-8.3-4] and a Protocol Error in 5.0, as is
        // Retain Handling 3 (section 3.8.3.1).
        let bad_value = || {
            if version.is_v5() {
                DecodeError::InvalidSubscriptionOptionValue(b)
            } else {
                invalid.clone()
            }
        };
        let qos = QoS::from_u8(b & 0b11).ok_or_else(bad_value)?;
        let retain_handling = match (b >> 4) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtSubscribeIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(bad_value()),
        };
        Ok(Self {
            qos,
            no_local: b & 0b0100 != 0,
            retain_as_published: b & 0b1000 != 0,
            retain_handling,
        })
    }
}

/// A request to create or replace subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// Packet identifier, echoed in the SUBACK.
    pub packet_id: PacketId,
    /// SUBSCRIBE properties (5.0 only).
    pub properties: SubscribeProperties,
    /// At least one topic filter with its options.
    pub filters: Vec<(TopicFilter, SubscriptionOptions)>,
}

/// The sizes of an encoded SUBSCRIBE.
pub(crate) struct SubscribeLayout {
    /// The length of the property list's properties (5.0).
    properties: Option<u32>,
    /// Whether every options byte is just the QoS.
    qos_only: bool,
}

impl Laid for Subscribe {
    type Layout = SubscribeLayout;

    #[inline(always)]
    fn layout(&self, version: ProtocolVersion) -> Result<(u32, SubscribeLayout), EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::Empty(PacketType::Subscribe));
        }
        let (properties, mut rem) = if version.is_v5() {
            let (n, len) = list_len(&self.properties)?;
            (Some(n), 2 + len)
        } else if !self.properties.is_empty() {
            return Err(EncodeError::NotInVersion {
                field: "SUBSCRIBE properties",
                version,
            });
        } else {
            (None, 2)
        };
        // One pass sums the lengths and notes whether any options byte has more than the
        // QoS; only then a second pass checks each filter in turn (No Local is one of
        // those bits), so that the first error is the one reported.
        let mut more_than_qos = 0;
        for (filter, options) in &self.filters {
            more_than_qos |= options.more_than_qos();
            rem += 3 + filter.as_mqtt_str().len();
        }
        if more_than_qos != 0 {
            for (filter, options) in &self.filters {
                // [MQTT-3.8.3-4]: No Local on a shared subscription is a Protocol Error.
                if options.no_local && filter.is_shared() {
                    return Err(EncodeError::InvalidValue(
                        "No Local on a shared subscription",
                    ));
                }
                options.to_byte(version)?;
            }
        }
        let layout = SubscribeLayout {
            properties,
            qos_only: more_than_qos == 0,
        };
        Ok((checked_rem(rem)?, layout))
    }

    #[inline(always)]
    fn write<S: Out>(
        &self,
        _: ProtocolVersion,
        rem: u32,
        layout: &SubscribeLayout,
        buf: &mut S,
    ) -> Result<(), EncodeError> {
        let first = ((PacketType::Subscribe as u8) << 4) | PacketType::Subscribe.fixed_flags();
        put_id_and_properties(
            buf,
            first,
            rem,
            self.packet_id,
            &self.properties,
            layout.properties,
        )?;
        if layout.qos_only {
            put_filters(&self.filters, buf, |o| o.qos.as_u8());
        } else {
            put_filters(&self.filters, buf, SubscriptionOptions::bits);
        }
        Ok(())
    }
}

/// Writes the filters and their options bytes, each options byte together with the length
/// of the next filter.
#[inline(always)]
fn put_filters<S: Out>(
    filters: &[(TopicFilter, SubscriptionOptions)],
    buf: &mut S,
    byte: impl Fn(SubscriptionOptions) -> u8,
) {
    let mut filters = filters.iter();
    let Some((filter, options)) = filters.next() else {
        return;
    };
    put_prefixed(buf, filter.as_mqtt_str().as_bytes());
    let mut options = *options;
    for (filter, next) in filters {
        let bytes = filter.as_mqtt_str().as_bytes();
        // A filter is at most 65,535 bytes by construction.
        let [hi, lo] = (bytes.len() as u16).to_be_bytes();
        buf.put_array([byte(options), hi, lo]);
        buf.put_bytes(bytes);
        options = *next;
    }
    buf.put_array([byte(options)]);
}

impl Read for Subscribe {
    fn read(_: u8, r: &mut Reader) -> Result<Self, DecodeError> {
        let packet_id = r.packet_id()?;
        let properties = if r.version.is_v5() {
            SubscribeProperties::read(r)?
        } else {
            SubscribeProperties::default()
        };
        // The payload is read by a reader of its own, after its entries are counted.
        let (version, strict) = (r.version, r.strict_strings);
        let payload = r.rest();
        let mut filters = Vec::with_capacity(count_entries(&payload, 1));
        let r = &mut Reader::new(payload, version, strict);
        while !r.is_empty() {
            let filter = TopicFilter::from_wire(r.binary()?, version, strict)?;
            let options = SubscriptionOptions::from_byte(r.u8()?, version)?;
            // [MQTT-3.8.3-4] (5.0): No Local on a shared subscription is a Protocol Error.
            if options.no_local && filter.is_shared() {
                return Err(DecodeError::NoLocalOnSharedSubscription);
            }
            filters.push((filter, options));
        }
        // [MQTT-3.8.3-2] (5.0) / [MQTT-3.8.3-3] (3.1.1): at least one filter.
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters(PacketType::Subscribe));
        }
        Ok(Self {
            packet_id,
            properties,
            filters,
        })
    }
}
