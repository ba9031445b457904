//! PUBLISH (MQTT 5.0 section 3.3, MQTT 3.1.1 section 3.3).

use bytes::{BufMut, Bytes};

use super::{Body, PacketType, write_fixed_header};
use crate::codec::{Counter, Reader, Sink, Writer, var_int_len};
use crate::property::{PublishProperties, write_list};
use crate::{DecodeError, EncodeError, PacketId, ProtocolVersion, QoS, TopicName};

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
    /// PUBLISH properties (5.0 only).
    pub properties: PublishProperties,
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
            properties: PublishProperties::default(),
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

    /// Writes everything but the payload: the fixed header (whose remaining length counts
    /// the payload), the topic, packet identifier and properties. The caller then writes
    /// `self.payload`, for example as a second buffer of a vectored write.
    ///
    /// Returns the number of bytes written, which is [`Publish::encoded_len`] minus the
    /// payload length.
    ///
    /// # Errors
    /// As [`Publish::encode`].
    pub fn encode_header<B: BufMut + ?Sized>(
        &self,
        version: ProtocolVersion,
        buf: &mut B,
    ) -> Result<usize, EncodeError> {
        let mut c = Counter::default();
        self.write_header(version, &mut c)?;
        let rem = c.0 + self.payload.len();
        if rem > crate::codec::MAX_VAR_INT as usize {
            return Err(EncodeError::PacketTooLarge);
        }
        let header = 1 + var_int_len(rem as u32) + c.0;
        write_fixed_header(self, rem, header, buf)?;
        self.write_header(version, &mut Writer(buf))?;
        Ok(header)
    }

    /// The variable header: topic, packet identifier, properties.
    fn write_header<S: Sink>(
        &self,
        version: ProtocolVersion,
        s: &mut S,
    ) -> Result<(), EncodeError> {
        if self.dup && self.qos_pid == QoSPid::AtMostOnce {
            // [MQTT-3.3.1-2]
            return Err(EncodeError::InvalidValue("DUP on a QoS 0 PUBLISH"));
        }
        if version.is_v5() {
            if self.topic.is_none() && self.properties.topic_alias.is_none() {
                return Err(EncodeError::MissingTopic);
            }
        } else if !self.properties.is_empty() {
            return Err(EncodeError::NotInVersion {
                field: "PUBLISH properties",
                version,
            });
        }
        match &self.topic {
            Some(t) => s.put_string(t.as_mqtt_str()),
            None if version.is_v5() => s.put_u16(0),
            None => return Err(EncodeError::MissingTopic),
        }
        if let Some(id) = self.qos_pid.packet_id() {
            s.put_u16(id.get());
        }
        if version.is_v5() {
            write_list(s, &self.properties)?;
        }
        Ok(())
    }
}

const DUP: u8 = 0b1000;
const RETAIN: u8 = 0b0001;

impl Body for Publish {
    const TYPE: PacketType = PacketType::Publish;

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

    fn write<S: Sink>(&self, version: ProtocolVersion, s: &mut S) -> Result<(), EncodeError> {
        self.write_header(version, s)?;
        s.put_slice(&self.payload);
        Ok(())
    }

    fn read(flags: u8, r: &mut Reader) -> Result<Self, DecodeError> {
        let qos_bits = (flags >> 1) & 0b11;
        // [MQTT-3.3.1-4]: QoS 3 is malformed.
        let qos = QoS::from_u8(qos_bits).ok_or(DecodeError::InvalidQoS(qos_bits))?;
        let dup = flags & DUP != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupOnQoS0);
        }
        let v5 = r.version.is_v5();
        // A string error is a Malformed Packet; only then are the topic rules checked.
        let raw_topic = r.string()?;
        // An empty topic name is only possible in 5.0, with a topic alias (checked below).
        let topic = if raw_topic.is_empty() && v5 {
            None
        } else {
            Some(TopicName::new(raw_topic).map_err(DecodeError::InvalidTopicName)?)
        };
        let qos_pid = match qos {
            QoS::AtMostOnce => QoSPid::AtMostOnce,
            QoS::AtLeastOnce => QoSPid::AtLeastOnce(r.packet_id()?),
            QoS::ExactlyOnce => QoSPid::ExactlyOnce(r.packet_id()?),
        };
        let properties = if v5 {
            PublishProperties::read(r)?
        } else {
            PublishProperties::default()
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
