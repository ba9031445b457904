//! PUBLISH (MQTT 5.0 section 3.3, MQTT 3.1.1 section 3.3).

use bytes::{BufMut, Bytes};

use super::{PacketType, Read, check_room, put_header};
use crate::codec::{Counter, Reader, Sink, Writer, var_int_len};
use crate::property::{PropertyList, PublishProperties};
use crate::{DecodeError, EncodeError, OptBox, PacketId, ProtocolVersion, QoS, TopicName};

/// The QoS of a PUBLISH together with its packet identifier, which exists exactly when the
/// QoS is above 0 [MQTT-2.2.1-2].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QoSPid {
    /// QoS 0, no packet identifier.
    AtMostOnce,
    /// QoS 1 with its packet identifier.
    AtLeastOnce(PacketId),
    /// QoS 2 with its packet identifier.
    ExactlyOnce(PacketId),
}

impl QoSPid {
    /// The QoS level.
    #[must_use]
    pub const fn qos(self) -> QoS {
        match self {
            Self::AtMostOnce => QoS::AtMostOnce,
            Self::AtLeastOnce(_) => QoS::AtLeastOnce,
            Self::ExactlyOnce(_) => QoS::ExactlyOnce,
        }
    }

    /// The packet identifier, for QoS 1 and 2.
    #[must_use]
    pub const fn packet_id(self) -> Option<PacketId> {
        match self {
            Self::AtMostOnce => None,
            Self::AtLeastOnce(id) | Self::ExactlyOnce(id) => Some(id),
        }
    }

    /// Combines a QoS with an identifier (ignored for QoS 0).
    #[must_use]
    pub const fn new(qos: QoS, id: PacketId) -> Self {
        match qos {
            QoS::AtMostOnce => Self::AtMostOnce,
            QoS::AtLeastOnce => Self::AtLeastOnce(id),
            QoS::ExactlyOnce => Self::ExactlyOnce(id),
        }
    }
}

/// An application message.
///
/// The payload and the topic are slices of the received buffer after decoding; encoding
/// can leave the payload out ([`Publish::encode_header`]) so that a transport writes it
/// from the shared [`Bytes`] without copying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// DUP: this is a redelivery (QoS 1 and 2 only) [MQTT-3.3.1-1].
    pub dup: bool,
    /// QoS and packet identifier.
    pub qos_pid: QoSPid,
    /// RETAIN.
    pub retain: bool,
    /// Topic name; `None` only in 5.0 when a topic alias stands for it.
    pub topic: Option<TopicName>,
    /// PUBLISH properties (5.0 only); stored on the heap only when some are set.
    pub properties: OptBox<PublishProperties>,
    /// Application payload.
    pub payload: Bytes,
}

impl Publish {
    /// A message to `topic` with default flags and no properties.
    ///
    /// ```
    /// use mqtt_proto::{Publish, QoSPid, TopicName};
    /// let p = Publish::new(TopicName::from_static("a/b"), QoSPid::AtMostOnce, "hi");
    /// assert_eq!(&p.payload[..], b"hi");
    /// ```
    #[must_use]
    pub fn new(topic: TopicName, qos_pid: QoSPid, payload: impl Into<Bytes>) -> Self {
        Self {
            dup: false,
            qos_pid,
            retain: false,
            topic: Some(topic),
            properties: OptBox::none(),
            payload: payload.into(),
        }
    }

    /// The QoS level.
    #[must_use]
    pub fn qos(&self) -> QoS {
        self.qos_pid.qos()
    }

    /// The packet identifier, for QoS 1 and 2.
    #[must_use]
    pub fn packet_id(&self) -> Option<PacketId> {
        self.qos_pid.packet_id()
    }

    /// Appends the encoded packet to `buf`, returning the number of bytes written.
    ///
    /// # Errors
    /// An [`EncodeError`] if the packet holds something `version` cannot carry (properties
    /// in 3.x, no topic and no alias), DUP on QoS 0, or `buf` lacks room (nothing is
    /// written then).
    #[inline]
    pub fn encode<B: BufMut + ?Sized>(
        &self,
        version: ProtocolVersion,
        buf: &mut B,
    ) -> Result<usize, EncodeError> {
        let layout = self.layout(version)?;
        let total = layout.total();
        check_room(buf, total)?;
        self.write_header(&layout, buf)?;
        buf.put_slice(&self.payload);
        Ok(total)
    }

    /// The number of bytes [`Publish::encode`] writes, from the same layout computation.
    ///
    /// # Errors
    /// The same errors as [`Publish::encode`], but for buffer space.
    #[inline]
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        Ok(self.layout(version)?.total())
    }

    /// Writes everything but the payload: the fixed header (whose remaining length counts
    /// the payload), the topic, packet identifier and properties. The caller then writes
    /// `self.payload`, for example as a second buffer of a vectored write.
    ///
    /// Returns the number of bytes written, which is [`Publish::encoded_len`] minus the
    /// payload length.
    ///
    /// # Errors
    /// As [`Publish::encode`].
    #[inline]
    pub fn encode_header<B: BufMut + ?Sized>(
        &self,
        version: ProtocolVersion,
        buf: &mut B,
    ) -> Result<usize, EncodeError> {
        let layout = self.layout(version)?;
        let header = layout.total() - self.payload.len();
        check_room(buf, header)?;
        self.write_header(&layout, buf)?;
        Ok(header)
    }

    /// Checks that `version` can carry the packet and computes its sizes from the field
    /// lengths; only a property list is counted by walking it.
    #[inline(always)]
    fn layout(&self, version: ProtocolVersion) -> Result<Layout, EncodeError> {
        if self.dup && self.qos_pid == QoSPid::AtMostOnce {
            // [MQTT-3.3.1-2]
            return Err(EncodeError::InvalidValue("DUP on a QoS 0 PUBLISH"));
        }
        // Only a stored property set needs looking at (most messages have none).
        let stored = OptBox::get(&self.properties);
        let properties = if version.is_v5() {
            if self.topic.is_none() && stored.is_none_or(|p| p.topic_alias.is_none()) {
                return Err(EncodeError::MissingTopic);
            }
            let mut c = Counter::default();
            if let Some(p) = stored {
                p.write_fields(&mut c)?;
            }
            Some(u32::try_from(c.0).map_err(|_| EncodeError::PacketTooLarge)?)
        } else {
            if self.topic.is_none() {
                return Err(EncodeError::MissingTopic);
            }
            if stored.is_some_and(|p| !p.is_empty()) {
                return Err(EncodeError::NotInVersion {
                    field: "PUBLISH properties",
                    version,
                });
            }
            None
        };
        let topic = self.topic.as_ref().map_or(0, TopicName::len);
        let id = if self.qos_pid == QoSPid::AtMostOnce {
            0
        } else {
            2
        };
        let props = properties.map_or(0, |n| var_int_len(n) + n as usize);
        let rem = 2 + topic + id + props + self.payload.len();
        let rem = u32::try_from(rem)
            .ok()
            .filter(|&r| r <= crate::codec::MAX_VAR_INT)
            .ok_or(EncodeError::PacketTooLarge)?;
        Ok(Layout { rem, properties })
    }

    /// Writes the fixed header, topic, packet identifier and properties of `layout`, into
    /// a buffer whose room was checked.
    #[inline(always)]
    fn write_header<B: BufMut + ?Sized>(
        &self,
        layout: &Layout,
        buf: &mut B,
    ) -> Result<(), EncodeError> {
        // The fixed header and the topic length go out as one slice of constant length.
        let first = ((PacketType::Publish as u8) << 4) | self.flags();
        let topic: &[u8] = self
            .topic
            .as_ref()
            .map_or(&[], |t| t.as_mqtt_str().as_bytes());
        let mut w = Writer(buf);
        // A topic name is at most 65,535 bytes by construction.
        put_header(
            &mut w,
            first,
            layout.rem,
            (topic.len() as u16).to_be_bytes(),
        );
        w.put_slice(topic);
        if let Some(id) = self.qos_pid.packet_id() {
            w.put_u16(id.get());
        }
        if let Some(n) = layout.properties {
            w.put_var_int(n)?;
            if let Some(p) = OptBox::get(&self.properties) {
                p.write_fields(&mut w)?;
            }
        }
        Ok(())
    }

    /// The four flag bits of the fixed header.
    #[inline]
    fn flags(&self) -> u8 {
        let mut f = self.qos_pid.qos().as_u8() << 1;
        if self.dup {
            f |= DUP;
        }
        if self.retain {
            f |= RETAIN;
        }
        f
    }
}

/// The sizes of an encoded PUBLISH.
struct Layout {
    /// The remaining length.
    rem: u32,
    /// The length of the property list (5.0 only).
    properties: Option<u32>,
}

impl Layout {
    fn total(&self) -> usize {
        let rem = self.rem as usize;
        1 + var_int_len(self.rem) + rem
    }
}

const DUP: u8 = 0b1000;
const RETAIN: u8 = 0b0001;

impl Read for Publish {
    #[inline]
    fn read(flags: u8, r: &mut Reader) -> Result<Self, DecodeError> {
        let qos_bits = (flags >> 1) & 0b11;
        // [MQTT-3.3.1-4]: QoS 3 is malformed.
        let qos = QoS::from_u8(qos_bits).ok_or(DecodeError::InvalidQoS(qos_bits))?;
        let dup = flags & DUP != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupOnQoS0);
        }
        let v5 = r.version.is_v5();
        // The topic is read as a string (a string error is a Malformed Packet), then
        // checked as a Topic Name. An empty one is only possible in 5.0, with a topic alias
        // (checked below).
        let raw_topic = r.binary()?;
        let topic = if raw_topic.is_empty() && v5 {
            None
        } else {
            Some(TopicName::from_wire(raw_topic, r.strict_strings)?)
        };
        let qos_pid = match qos {
            QoS::AtMostOnce => QoSPid::AtMostOnce,
            QoS::AtLeastOnce => QoSPid::AtLeastOnce(r.packet_id()?),
            QoS::ExactlyOnce => QoSPid::ExactlyOnce(r.packet_id()?),
        };
        let properties = if v5 {
            PublishProperties::read_boxed(r)?
        } else {
            OptBox::none()
        };
        if topic.is_none() && properties.topic_alias.is_none() {
            return Err(DecodeError::MissingTopic);
        }
        Ok(Self {
            dup,
            qos_pid,
            retain: flags & RETAIN != 0,
            topic,
            properties,
            payload: r.rest(),
        })
    }
}
