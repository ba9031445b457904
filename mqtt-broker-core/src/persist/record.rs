//! The records a store keeps, as plain data and as bytes.
//!
//! Both byte forms are versioned and big-endian, like the one of
//! [`SessionState`](mqtt_session::SessionState) that a session record embeds. A duration is
//! a `u64`: 0 for none, else 1 + its milliseconds. A string is a `u16` length and UTF-8.
//! Messages are MQTT 5.0 PUBLISH packets (a `u32` length, then the packet), which carry
//! every property.
//!
//! - session record: magic `MQBS`, format 1; client identifier, protocol level (`u8`),
//!   Session Expiry Interval (`u32`), time left until the session expires; the
//!   subscriptions (`u32` count; each a filter, its options byte as in a 5.0 SUBSCRIBE and a
//!   `u32` Subscription Identifier, 0 for none); the will (`u8` 0 or 1; then its QoS (`u8`),
//!   the time left until it is published, its Will Delay Interval (`u8` 0 or 1, `u32`) and
//!   the will as a PUBLISH at QoS 0 with its RETAIN flag and the will properties); the
//!   session state (`u8` 0 or 1; then a `u32` length and the bytes of
//!   `SessionState::encode`).
//! - retained record: magic `MQBR`, format 1; QoS (`u8`), time left until it expires, the
//!   message as a PUBLISH at QoS 0 with RETAIN 1.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use mqtt_proto::{
    DecodeOptions, EncodeError, MqttString, OptBox, Packet, ProtocolVersion, Publish,
    PublishProperties, QoS, QoSPid, RetainHandling, SubscriptionId, SubscriptionOptions,
    TopicFilter, TopicName, Will, WillProperties,
};

use crate::routing::will_properties;
use crate::session::Subscription;

const SESSION_MAGIC: &[u8; 4] = b"MQBS";
const RETAINED_MAGIC: &[u8; 4] = b"MQBR";
const FORMAT: u8 = 1;

/// A session as the store keeps it, under its client identifier.
///
/// Times are durations left at the time of the operation that carried the record (the
/// core has no wall clock); [`Broker::restore_session`](crate::Broker::restore_session)
/// counts them from its `now`, less the record's age that the store tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Client identifier: the key of the record.
    pub client_id: MqttString,
    /// Protocol version of its latest connection.
    pub version: ProtocolVersion,
    /// Session Expiry Interval in seconds (`u32::MAX`: never).
    pub expiry_interval: u32,
    /// Time left until the session ends; `None` while it has a connection or if it never
    /// expires.
    pub expires_in: Option<Duration>,
    /// Subscriptions, with the QoS as granted.
    pub subscriptions: Vec<(TopicFilter, Subscription)>,
    /// The will of its current or last connection (its Will Delay Interval is in its
    /// properties).
    pub will: Option<Will>,
    /// Time left until the will is published, when it waits for its delay after the
    /// connection closed.
    pub will_in: Option<Duration>,
    /// The session state ([`SessionState::encode`](mqtt_session::SessionState::encode),
    /// anchored at the time of the operation): publications in flight, queued messages,
    /// incoming QoS 2 identifiers. `None` while a connection holds the state; such a
    /// session is restored as if that connection had broken at the restore.
    pub state: Option<Bytes>,
}

/// A retained message as the store keeps it, under its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedRecord {
    /// Topic: the key of the record.
    pub topic: TopicName,
    /// QoS it was published with.
    pub qos: QoS,
    /// Properties (5.0), with the Message Expiry Interval as published.
    pub properties: OptBox<PublishProperties>,
    /// Payload (never empty: an empty one deletes the retained message).
    pub payload: Bytes,
    /// Time left until its message expiry interval ends (as of the operation).
    pub expires_in: Option<Duration>,
}

/// Why stored bytes are not a record, or a record cannot become bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Not a record of this kind, or of a format version this build does not read.
    #[error("not a stored broker record (bad magic or format version)")]
    Format,
    /// The bytes end early or hold an invalid field.
    #[error("corrupt stored broker record: {0}")]
    Corrupt(&'static str),
    /// A message does not encode (it cannot happen for records the broker made).
    #[error("record cannot be stored: {0}")]
    Encode(#[from] EncodeError),
}

impl SessionRecord {
    /// Appends the byte form of this record to `buf`.
    ///
    /// # Errors
    /// [`RecordError::Encode`] if the will cannot be encoded.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), RecordError> {
        buf.put_slice(SESSION_MAGIC);
        buf.put_u8(FORMAT);
        put_str(buf, self.client_id.as_str());
        buf.put_u8(self.version.level());
        buf.put_u32(self.expiry_interval);
        put_duration(buf, self.expires_in);
        buf.put_u32(len32(self.subscriptions.len()));
        for (filter, sub) in &self.subscriptions {
            put_str(buf, filter.as_str());
            buf.put_u8(options_byte(sub.options));
            buf.put_u32(sub.id.map_or(0, SubscriptionId::get));
        }
        match &self.will {
            None => buf.put_u8(0),
            Some(will) => {
                buf.put_u8(1);
                buf.put_u8(will.qos.as_u8());
                put_duration(buf, self.will_in);
                match will.properties.will_delay_interval {
                    None => buf.put_u8(0),
                    Some(delay) => {
                        buf.put_u8(1);
                        buf.put_u32(delay);
                    }
                }
                let publish = Publish {
                    dup: false,
                    qos_pid: QoSPid::AtMostOnce,
                    retain: will.retain,
                    topic: Some(will.topic.clone()),
                    properties: will_properties(will.properties.clone()),
                    payload: will.payload.clone(),
                };
                put_publish(buf, &publish)?;
            }
        }
        match &self.state {
            None => buf.put_u8(0),
            Some(state) => {
                buf.put_u8(1);
                buf.put_u32(len32(state.len()));
                buf.put_slice(state);
            }
        }
        Ok(())
    }

    /// Reads a record written by [`SessionRecord::encode`]. Strings and the session state
    /// are slices of `bytes`, not copies.
    ///
    /// # Errors
    /// [`RecordError`] for bytes that are not a complete session record of a known format.
    /// The embedded session state is checked by
    /// [`Broker::restore_session`](crate::Broker::restore_session).
    pub fn decode(mut bytes: Bytes) -> Result<Self, RecordError> {
        let b = &mut bytes;
        check_header(b, SESSION_MAGIC)?;
        let client_id = get_str(b)?;
        let version = ProtocolVersion::from_level(get_u8(b)?)
            .ok_or(RecordError::Corrupt("protocol level"))?;
        let expiry_interval = get_u32(b)?;
        let expires_in = get_duration(b)?;
        let mut subscriptions = Vec::new();
        for _ in 0..get_u32(b)? {
            // A filter any protocol version accepted (3.x takes `$share//x` as an ordinary
            // filter).
            let filter = TopicFilter::for_version(get_str(b)?, ProtocolVersion::V3_1_1)
                .map_err(|_| RecordError::Corrupt("topic filter"))?;
            let options = options_from_byte(get_u8(b)?)?;
            let id = SubscriptionId::new(get_u32(b)?);
            subscriptions.push((filter, Subscription { options, id }));
        }
        let (will, will_in) = match get_u8(b)? {
            0 => (None, None),
            1 => {
                let qos = QoS::from_u8(get_u8(b)?).ok_or(RecordError::Corrupt("QoS"))?;
                let will_in = get_duration(b)?;
                let will_delay_interval = match get_u8(b)? {
                    0 => None,
                    1 => Some(get_u32(b)?),
                    _ => return Err(RecordError::Corrupt("will delay flag")),
                };
                let p = get_publish(b)?;
                let topic = p.topic.ok_or(RecordError::Corrupt("will without topic"))?;
                let q = OptBox::into_inner(p.properties);
                let properties = WillProperties {
                    will_delay_interval,
                    payload_format_indicator: q.payload_format_indicator,
                    message_expiry_interval: q.message_expiry_interval,
                    content_type: q.content_type,
                    response_topic: q.response_topic,
                    correlation_data: q.correlation_data,
                    user_properties: q.user_properties,
                };
                let will = Will {
                    topic,
                    payload: p.payload,
                    qos,
                    retain: p.retain,
                    properties,
                };
                (Some(will), will_in)
            }
            _ => return Err(RecordError::Corrupt("will flag")),
        };
        let state = match get_u8(b)? {
            0 => None,
            1 => {
                let n = get_u32(b)? as usize;
                if b.remaining() < n {
                    return Err(RecordError::Corrupt("session state runs past the end"));
                }
                Some(b.split_to(n))
            }
            _ => return Err(RecordError::Corrupt("session state flag")),
        };
        check_end(b)?;
        Ok(Self {
            client_id,
            version,
            expiry_interval,
            expires_in,
            subscriptions,
            will,
            will_in,
            state,
        })
    }
}

impl RetainedRecord {
    /// Appends the byte form of this record to `buf`.
    ///
    /// # Errors
    /// [`RecordError::Encode`] if the message cannot be encoded.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), RecordError> {
        buf.put_slice(RETAINED_MAGIC);
        buf.put_u8(FORMAT);
        buf.put_u8(self.qos.as_u8());
        put_duration(buf, self.expires_in);
        let publish = Publish {
            dup: false,
            qos_pid: QoSPid::AtMostOnce,
            retain: true,
            topic: Some(self.topic.clone()),
            properties: self.properties.clone(),
            payload: self.payload.clone(),
        };
        put_publish(buf, &publish)
    }

    /// Reads a record written by [`RetainedRecord::encode`].
    ///
    /// # Errors
    /// [`RecordError`] for bytes that are not a complete retained record of a known
    /// format.
    pub fn decode(mut bytes: Bytes) -> Result<Self, RecordError> {
        let b = &mut bytes;
        check_header(b, RETAINED_MAGIC)?;
        let qos = QoS::from_u8(get_u8(b)?).ok_or(RecordError::Corrupt("QoS"))?;
        let expires_in = get_duration(b)?;
        let p = get_publish(b)?;
        check_end(b)?;
        Ok(Self {
            topic: p
                .topic
                .ok_or(RecordError::Corrupt("message without topic"))?,
            qos,
            properties: p.properties,
            payload: p.payload,
            expires_in,
        })
    }
}

/// The options byte of a 5.0 SUBSCRIBE (section 3.8.3.1).
fn options_byte(o: SubscriptionOptions) -> u8 {
    o.qos.as_u8()
        | u8::from(o.no_local) << 2
        | u8::from(o.retain_as_published) << 3
        | (o.retain_handling as u8) << 4
}

fn options_from_byte(b: u8) -> Result<SubscriptionOptions, RecordError> {
    let corrupt = RecordError::Corrupt("subscription options");
    if b & 0b1100_0000 != 0 {
        return Err(corrupt);
    }
    let retain_handling = match (b >> 4) & 0b11 {
        0 => RetainHandling::SendAtSubscribe,
        1 => RetainHandling::SendAtSubscribeIfNew,
        2 => RetainHandling::DoNotSend,
        _ => return Err(corrupt),
    };
    Ok(SubscriptionOptions {
        qos: QoS::from_u8(b & 0b11).ok_or(corrupt)?,
        no_local: b & 0b0100 != 0,
        retain_as_published: b & 0b1000 != 0,
        retain_handling,
    })
}

fn check_header(b: &mut Bytes, magic: &[u8; 4]) -> Result<(), RecordError> {
    if b.get(..4) != Some(&magic[..]) || b.get(4) != Some(&FORMAT) {
        return Err(RecordError::Format);
    }
    b.advance(5);
    Ok(())
}

fn check_end(b: &Bytes) -> Result<(), RecordError> {
    if b.has_remaining() {
        return Err(RecordError::Corrupt("trailing bytes"));
    }
    Ok(())
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Strings here are MQTT strings or topics, so their length fits the `u16`.
fn put_str(buf: &mut BytesMut, s: &str) {
    buf.put_u16(u16::try_from(s.len()).unwrap_or(u16::MAX));
    buf.put_slice(s.as_bytes());
}

fn get_str(b: &mut Bytes) -> Result<MqttString, RecordError> {
    let n = usize::from(get_u16(b)?);
    if b.remaining() < n {
        return Err(RecordError::Corrupt("string runs past the end"));
    }
    MqttString::from_bytes(b.split_to(n), false).map_err(|_| RecordError::Corrupt("string"))
}

fn put_duration(buf: &mut BytesMut, d: Option<Duration>) {
    buf.put_u64(d.map_or(0, |d| {
        u64::try_from(d.as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }));
}

fn get_duration(b: &mut Bytes) -> Result<Option<Duration>, RecordError> {
    let v = get_u64(b)?;
    Ok((v > 0).then(|| Duration::from_millis(v - 1)))
}

fn put_publish(buf: &mut BytesMut, p: &Publish) -> Result<(), RecordError> {
    let n = p.encoded_len(ProtocolVersion::V5)?;
    buf.put_u32(len32(n));
    p.encode(ProtocolVersion::V5, buf)?;
    Ok(())
}

fn get_publish(b: &mut Bytes) -> Result<Publish, RecordError> {
    let n = get_u32(b)? as usize;
    if b.remaining() < n {
        return Err(RecordError::Corrupt("message runs past the end"));
    }
    let packet = b.split_to(n);
    match mqtt_proto::decode_exact(&packet, ProtocolVersion::V5, &DecodeOptions::default()) {
        Ok(Packet::Publish(p)) => Ok(p),
        _ => Err(RecordError::Corrupt("stored message is not a PUBLISH")),
    }
}

fn get_u8(b: &mut Bytes) -> Result<u8, RecordError> {
    b.try_get_u8()
        .map_err(|_| RecordError::Corrupt("ends early"))
}

fn get_u16(b: &mut Bytes) -> Result<u16, RecordError> {
    b.try_get_u16()
        .map_err(|_| RecordError::Corrupt("ends early"))
}

fn get_u32(b: &mut Bytes) -> Result<u32, RecordError> {
    b.try_get_u32()
        .map_err(|_| RecordError::Corrupt("ends early"))
}

fn get_u64(b: &mut Bytes) -> Result<u64, RecordError> {
    b.try_get_u64()
        .map_err(|_| RecordError::Corrupt("ends early"))
}
