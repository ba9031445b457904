//! CONNECT (MQTT 5.0 section 3.1, MQTT 3.1.1 section 3.1).

use bytes::Bytes;

use super::{
    Laid, Out, PacketType, Read, binary_len, checked_rem, list_len, put_header, put_list,
    put_prefixed,
};
use crate::codec::Reader;
use crate::property::{ConnectProperties, PropertyId, WillProperties};
use crate::{DecodeError, EncodeError, MqttString, ProtocolVersion, QoS, TopicName};

/// The first packet a client sends: who it is, how its session and will behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The protocol level, which also decides how this packet is encoded.
    pub protocol: ProtocolVersion,
    /// Clean Start (5.0) / Clean Session (3.x).
    pub clean_start: bool,
    /// Keep alive in seconds; 0 disables it.
    pub keep_alive: u16,
    /// CONNECT properties (5.0 only; empty for 3.x).
    pub properties: ConnectProperties,
    /// Client identifier; may be empty (the server then assigns one or refuses).
    pub client_id: MqttString,
    /// The will message, published if the connection ends abnormally.
    pub will: Option<Will>,
    /// User name.
    pub username: Option<MqttString>,
    /// Password (binary data).
    pub password: Option<Bytes>,
}

/// A will message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// Topic to publish the will to.
    pub topic: TopicName,
    /// Will payload.
    pub payload: Bytes,
    /// QoS of the will message.
    pub qos: QoS,
    /// Whether the will is retained.
    pub retain: bool,
    /// Will properties (5.0 only; empty for 3.x).
    pub properties: WillProperties,
}

impl Connect {
    /// A CONNECT with a client id and defaults: clean start, keep alive 60 s, no will, no
    /// credentials, no properties.
    #[must_use]
    pub fn new(protocol: ProtocolVersion, client_id: MqttString) -> Self {
        Self {
            protocol,
            clean_start: true,
            keep_alive: 60,
            properties: ConnectProperties::default(),
            client_id,
            will: None,
            username: None,
            password: None,
        }
    }
}

const RESERVED: u8 = 0b0000_0001;
const CLEAN_START: u8 = 0b0000_0010;
const WILL: u8 = 0b0000_0100;
const WILL_QOS_SHIFT: u8 = 3;
const WILL_RETAIN: u8 = 0b0010_0000;
const PASSWORD: u8 = 0b0100_0000;
const USERNAME: u8 = 0b1000_0000;

fn read_protocol(r: &mut Reader) -> Result<ProtocolVersion, DecodeError> {
    let name = r.binary()?;
    let level = r.u8()?;
    let version = match &name[..] {
        b"MQTT" => match level {
            4 => ProtocolVersion::V3_1_1,
            5 => ProtocolVersion::V5,
            _ => return Err(DecodeError::UnsupportedProtocolVersion(level)),
        },
        b"MQIsdp" => match level {
            3 => ProtocolVersion::V3_1,
            _ => return Err(DecodeError::UnsupportedProtocolVersion(level)),
        },
        _ => return Err(DecodeError::UnsupportedProtocolName),
    };
    Ok(version)
}

/// The lengths of a CONNECT's property lists (5.0).
pub(crate) struct ConnectLayout {
    properties: Option<u32>,
    will_properties: Option<u32>,
}

impl Laid for Connect {
    type Layout = ConnectLayout;

    /// A CONNECT is laid out for its own `protocol`, whatever the connection's version.
    #[inline(always)]
    fn layout(&self, _: ProtocolVersion) -> Result<(u32, ConnectLayout), EncodeError> {
        let v5 = self.protocol.is_v5();
        let not_in = |field| EncodeError::NotInVersion {
            field,
            version: self.protocol,
        };
        if !v5 {
            if !self.properties.is_empty() {
                return Err(not_in("CONNECT properties"));
            }
            if self.will.as_ref().is_some_and(|w| !w.properties.is_empty()) {
                return Err(not_in("will properties"));
            }
            if self.password.is_some() && self.username.is_none() {
                return Err(not_in("a password without a user name"));
            }
        }
        // Section 3.1.2.11.10: Authentication Data needs an Authentication Method.
        if self.properties.authentication_data.is_some()
            && self.properties.authentication_method.is_none()
        {
            return Err(EncodeError::InvalidValue(
                "Authentication Data without Authentication Method",
            ));
        }
        // The protocol name, level, flags and keep alive, then the client id.
        let mut rem = 2 + self.protocol.protocol_name().len() + 4 + 2 + self.client_id.len();
        let properties = if v5 {
            let (n, len) = list_len(&self.properties)?;
            rem += len;
            Some(n)
        } else {
            None
        };
        let mut will_properties = None;
        if let Some(will) = &self.will {
            if v5 {
                let (n, len) = list_len(&will.properties)?;
                rem += len;
                will_properties = Some(n);
            }
            rem += 2 + will.topic.len() + binary_len("will payload", &will.payload)?;
        }
        if let Some(u) = &self.username {
            rem += 2 + u.len();
        }
        if let Some(p) = &self.password {
            rem += binary_len("password", p)?;
        }
        let layout = ConnectLayout {
            properties,
            will_properties,
        };
        Ok((checked_rem(rem)?, layout))
    }

    #[inline(always)]
    fn write<S: Out>(
        &self,
        _: ProtocolVersion,
        rem: u32,
        layout: &ConnectLayout,
        buf: &mut S,
    ) -> Result<(), EncodeError> {
        let mut flags = 0;
        if self.clean_start {
            flags |= CLEAN_START;
        }
        if let Some(will) = &self.will {
            flags |= WILL | (will.qos.as_u8() << WILL_QOS_SHIFT);
            if will.retain {
                flags |= WILL_RETAIN;
            }
        }
        if self.password.is_some() {
            flags |= PASSWORD;
        }
        if self.username.is_some() {
            flags |= USERNAME;
        }
        let first = (PacketType::Connect as u8) << 4;
        let name = self.protocol.protocol_name().as_bytes();
        let [hi, lo] = self.keep_alive.to_be_bytes();
        let level = self.protocol.level();
        let client_id = self.client_id.as_bytes();
        // The fixed header and the variable header up to the client id (or, in 5.0, up to
        // the properties) go out as one slice; the protocol name is 4 or 6 bytes.
        match (name, layout.properties) {
            (&[a, b, c, d], None) => {
                let [x, y] = (client_id.len() as u16).to_be_bytes();
                let head = [0, 4, a, b, c, d, level, flags, hi, lo, x, y];
                put_header(buf, first, rem, head);
                buf.put_bytes(client_id);
            }
            // A property list shorter than 128 bytes has a one-byte length.
            (&[a, b, c, d], Some(n)) if n < 0x80 => {
                let head = [0, 4, a, b, c, d, level, flags, hi, lo, n as u8];
                put_header(buf, first, rem, head);
                buf.put_fields(&self.properties)?;
                put_prefixed(buf, client_id);
            }
            _ => {
                put_header(buf, first, rem, [0, name.len() as u8]);
                buf.put_bytes(name);
                buf.put_array([level, flags, hi, lo]);
                if let Some(n) = layout.properties {
                    put_list(&self.properties, n, buf)?;
                }
                put_prefixed(buf, client_id);
            }
        }
        if let Some(will) = &self.will {
            if let Some(n) = layout.will_properties {
                put_list(&will.properties, n, buf)?;
            }
            put_prefixed(buf, will.topic.as_mqtt_str().as_bytes());
            put_prefixed(buf, &will.payload);
        }
        if let Some(u) = &self.username {
            put_prefixed(buf, u.as_bytes());
        }
        if let Some(p) = &self.password {
            put_prefixed(buf, p);
        }
        Ok(())
    }
}

impl Read for Connect {
    fn read(_: u8, r: &mut Reader) -> Result<Self, DecodeError> {
        let protocol = read_protocol(r)?;
        // Everything after the level follows the CONNECT's own version.
        r.version = protocol;
        let v5 = protocol.is_v5();
        let flags = r.u8()?;
        if flags & RESERVED != 0 {
            return Err(DecodeError::ReservedConnectFlag);
        }
        let will_qos_bits = (flags >> WILL_QOS_SHIFT) & 0b11;
        let will_qos = QoS::from_u8(will_qos_bits).ok_or(DecodeError::InvalidQoS(will_qos_bits))?;
        let has_will = flags & WILL != 0;
        if !has_will && (will_qos != QoS::AtMostOnce || flags & WILL_RETAIN != 0) {
            return Err(DecodeError::WillFlagsWithoutWill);
        }
        if !v5 && flags & PASSWORD != 0 && flags & USERNAME == 0 {
            return Err(DecodeError::PasswordWithoutUsername);
        }
        let keep_alive = r.u16()?;
        let properties = if v5 {
            ConnectProperties::read(r)?
        } else {
            ConnectProperties::default()
        };
        if properties.authentication_data.is_some() && properties.authentication_method.is_none() {
            return Err(DecodeError::InvalidPropertyValue(
                PropertyId::AuthenticationData,
            ));
        }
        let client_id = r.string()?;
        let will = if has_will {
            let properties = if v5 {
                WillProperties::read(r)?
            } else {
                WillProperties::default()
            };
            let topic = TopicName::new(r.string()?).map_err(DecodeError::InvalidTopicName)?;
            let payload = r.binary()?;
            Some(Will {
                topic,
                payload,
                qos: will_qos,
                retain: flags & WILL_RETAIN != 0,
                properties,
            })
        } else {
            None
        };
        let username = if flags & USERNAME != 0 {
            Some(r.string()?)
        } else {
            None
        };
        let password = if flags & PASSWORD != 0 {
            Some(r.binary()?)
        } else {
            None
        };
        r.finish()?;
        Ok(Self {
            protocol,
            clean_start: flags & CLEAN_START != 0,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }
}
