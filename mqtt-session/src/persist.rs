//! A byte form of [`SessionState`], for storage engines. No I/O happens here: bytes in,
//! bytes out.
//!
//! Layout (version 1, big-endian): magic `MQSS`, format version, next packet identifier,
//! next message id; then the publications in flight, the queued messages and the incoming
//! QoS 2 identifiers, each list preceded by its length. Messages are stored as MQTT 5.0
//! PUBLISH packets, which carry every property; a queued message's expiry is stored as the
//! milliseconds left at the time of encoding.

use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use mqtt_proto::{DecodeOptions, Packet, PacketId, ProtocolVersion, Publish, QoS, QoSPid};

use crate::state::{Inflight, MessageId, OutgoingMessage, Queued, SessionState};

const MAGIC: &[u8; 4] = b"MQSS";
const FORMAT: u8 = 1;

/// Why stored bytes are not a session state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    /// Not a session state, or of a format version this build does not read.
    #[error("not a stored session state (bad magic or format version)")]
    Format,
    /// The bytes end early or hold an invalid field.
    #[error("corrupt stored session state: {0}")]
    Corrupt(&'static str),
    /// A stored message does not encode (it cannot happen for states built by this crate).
    #[error("message cannot be stored: {0}")]
    Encode(#[from] mqtt_proto::EncodeError),
}

impl SessionState {
    /// Appends the byte form of this state to `buf`. `now` anchors the expiry of queued
    /// messages, which is stored as time left.
    ///
    /// # Errors
    /// [`PersistError::Encode`] if a message cannot be encoded.
    pub fn encode(&self, now: Instant, buf: &mut BytesMut) -> Result<(), PersistError> {
        buf.put_slice(MAGIC);
        buf.put_u8(FORMAT);
        buf.put_u16(self.next_packet_id.get());
        buf.put_u64(self.next_message_id);
        buf.put_u32(len32(self.inflight.len()));
        for entry in &self.inflight {
            buf.put_u64(entry.message_id().0);
            match entry {
                Inflight::Publish { publish, .. } => {
                    buf.put_u8(0);
                    put_publish(buf, publish)?;
                }
                Inflight::Release { packet_id, .. } => {
                    buf.put_u8(1);
                    buf.put_u16(packet_id.get());
                }
            }
        }
        buf.put_u32(len32(self.queue.len()));
        for q in &self.queue {
            buf.put_u64(q.id.0);
            buf.put_u8(q.message.qos.as_u8());
            // 0: no expiry; otherwise 1 + milliseconds left.
            let left = q.expires_at.map_or(0, |at| {
                1 + u64::try_from(at.saturating_duration_since(now).as_millis())
                    .unwrap_or(u64::MAX - 1)
            });
            buf.put_u64(left);
            let m = &q.message;
            let p = Publish {
                dup: false,
                qos_pid: QoSPid::AtMostOnce,
                retain: m.retain,
                topic: Some(m.topic.clone()),
                properties: m.properties.clone(),
                payload: m.payload.clone(),
            };
            put_publish(buf, &p)?;
        }
        buf.put_u32(len32(self.incoming_qos2.len()));
        for id in &self.incoming_qos2 {
            buf.put_u16(id.get());
        }
        Ok(())
    }

    /// Reads a state written by [`SessionState::encode`]. `now` anchors the expiry of
    /// queued messages.
    ///
    /// # Errors
    /// [`PersistError`] for bytes that are not a complete state of a known format.
    pub fn decode(bytes: Bytes, now: Instant) -> Result<Self, PersistError> {
        Self::decode_aged(bytes, now, Duration::ZERO)
    }

    /// Reads a state that [`SessionState::encode`] wrote `age` ago (by a clock the caller
    /// keeps, for example across a restart): each queued message has that much less time
    /// left before it expires, counted from `now` (one with none left expires at `now`).
    ///
    /// # Errors
    /// [`PersistError`] for bytes that are not a complete state of a known format.
    pub fn decode_aged(
        mut bytes: Bytes,
        now: Instant,
        age: Duration,
    ) -> Result<Self, PersistError> {
        let b = &mut bytes;
        if b.get(..4) != Some(&MAGIC[..]) || b.get(4) != Some(&FORMAT) {
            return Err(PersistError::Format);
        }
        b.advance(5);
        let next_packet_id =
            PacketId::new(get_u16(b)?).ok_or(PersistError::Corrupt("packet id 0"))?;
        let next_message_id = get_u64(b)?;
        let mut state = Self {
            next_packet_id,
            next_message_id,
            ..Self::default()
        };
        for _ in 0..get_u32(b)? {
            let id = MessageId(get_u64(b)?);
            let entry = match get_u8(b)? {
                0 => {
                    let publish = get_publish(b)?;
                    if publish.packet_id().is_none() {
                        return Err(PersistError::Corrupt("QoS 0 message in flight"));
                    }
                    Inflight::Publish { id, publish }
                }
                1 => Inflight::Release {
                    id,
                    packet_id: PacketId::new(get_u16(b)?)
                        .ok_or(PersistError::Corrupt("packet id 0"))?,
                },
                _ => return Err(PersistError::Corrupt("in-flight entry kind")),
            };
            state.inflight.push_back(entry);
        }
        for _ in 0..get_u32(b)? {
            let id = MessageId(get_u64(b)?);
            let qos = QoS::from_u8(get_u8(b)?).ok_or(PersistError::Corrupt("QoS"))?;
            let left = get_u64(b)?;
            let p = get_publish(b)?;
            let topic = p
                .topic
                .ok_or(PersistError::Corrupt("message without topic"))?;
            state.queue.push_back(Queued {
                id,
                message: OutgoingMessage {
                    topic,
                    qos,
                    retain: p.retain,
                    properties: p.properties,
                    payload: p.payload,
                },
                expires_at: (left > 0)
                    .then(|| now + Duration::from_millis(left - 1).saturating_sub(age)),
            });
        }
        for _ in 0..get_u32(b)? {
            let id = PacketId::new(get_u16(b)?).ok_or(PersistError::Corrupt("packet id 0"))?;
            state.incoming_qos2.push(id);
        }
        if b.has_remaining() {
            return Err(PersistError::Corrupt("trailing bytes"));
        }
        Ok(state)
    }
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn put_publish(buf: &mut BytesMut, p: &Publish) -> Result<(), PersistError> {
    let n = p.encoded_len(ProtocolVersion::V5)?;
    buf.put_u32(len32(n));
    p.encode(ProtocolVersion::V5, buf)?;
    Ok(())
}

fn get_publish(b: &mut Bytes) -> Result<Publish, PersistError> {
    let n = get_u32(b)? as usize;
    if b.remaining() < n {
        return Err(PersistError::Corrupt("message runs past the end"));
    }
    let packet = b.split_to(n);
    match mqtt_proto::decode_exact(&packet, ProtocolVersion::V5, &DecodeOptions::default()) {
        Ok(Packet::Publish(p)) => Ok(p),
        _ => Err(PersistError::Corrupt("stored message is not a PUBLISH")),
    }
}

fn get_u8(b: &mut Bytes) -> Result<u8, PersistError> {
    b.try_get_u8()
        .map_err(|_| PersistError::Corrupt("ends early"))
}

fn get_u16(b: &mut Bytes) -> Result<u16, PersistError> {
    b.try_get_u16()
        .map_err(|_| PersistError::Corrupt("ends early"))
}

fn get_u32(b: &mut Bytes) -> Result<u32, PersistError> {
    b.try_get_u32()
        .map_err(|_| PersistError::Corrupt("ends early"))
}

fn get_u64(b: &mut Bytes) -> Result<u64, PersistError> {
    b.try_get_u64()
        .map_err(|_| PersistError::Corrupt("ends early"))
}

#[cfg(test)]
mod tests {
    use mqtt_proto::{MqttString, PublishProperties, SubscriptionId, TopicName};

    use super::*;

    fn sample(now: Instant) -> SessionState {
        let mut s = SessionState::new();
        let mut props = PublishProperties::default();
        props
            .user_properties
            .push((MqttString::from_static("k"), MqttString::from_static("v")));
        props
            .subscription_identifiers
            .push(SubscriptionId::new(7).unwrap());
        let mut p = Publish::new(
            TopicName::from_static("a/b"),
            QoSPid::AtLeastOnce(PacketId::new(3).unwrap()),
            "payload",
        );
        p.properties = props.clone().into();
        p.dup = true;
        s.inflight.push_back(Inflight::Publish {
            id: MessageId(1),
            publish: p,
        });
        s.inflight.push_back(Inflight::Release {
            id: MessageId(2),
            packet_id: PacketId::new(4).unwrap(),
        });
        let mut m = OutgoingMessage::new(TopicName::from_static("q"), QoS::ExactlyOnce, "queued");
        m.retain = true;
        m.properties = props.into();
        s.queue.push_back(Queued {
            id: MessageId(3),
            message: m.clone(),
            expires_at: Some(now + Duration::from_millis(1500)),
        });
        s.queue.push_back(Queued {
            id: MessageId(4),
            message: m,
            expires_at: None,
        });
        s.incoming_qos2 = vec![PacketId::new(9).unwrap(), PacketId::new(65535).unwrap()];
        s.next_packet_id = PacketId::new(5).unwrap();
        s.next_message_id = 4;
        s
    }

    #[test]
    fn round_trip_keeps_everything() {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let state = sample(now);
        let mut buf = BytesMut::new();
        state.encode(now, &mut buf).unwrap();
        let back = SessionState::decode(buf.freeze(), now).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn expiry_is_stored_as_time_left() {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let mut buf = BytesMut::new();
        sample(now)
            .encode(now + Duration::from_millis(500), &mut buf)
            .unwrap();
        // Loaded 10 s later (say, after a restart): 1 s is left from then.
        let later = now + Duration::from_secs(10);
        let back = SessionState::decode(buf.freeze(), later).unwrap();
        assert_eq!(
            back.queue[0].expires_at,
            Some(later + Duration::from_millis(1000))
        );
        assert_eq!(back.queue[1].expires_at, None);
    }

    #[test]
    fn aged_state_has_less_time_left() {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let mut buf = BytesMut::new();
        sample(now).encode(now, &mut buf).unwrap();
        let later = now + Duration::from_secs(10);
        let bytes = buf.freeze();
        let back =
            SessionState::decode_aged(bytes.clone(), later, Duration::from_millis(1000)).unwrap();
        assert_eq!(
            back.queue[0].expires_at,
            Some(later + Duration::from_millis(500))
        );
        let back = SessionState::decode_aged(bytes, later, Duration::from_secs(5)).unwrap();
        assert_eq!(
            back.queue[0].expires_at,
            Some(later),
            "none left: expires now"
        );
        assert_eq!(back.queue[1].expires_at, None);
    }

    #[test]
    fn truncated_or_foreign_bytes_are_errors_not_panics() {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let mut buf = BytesMut::new();
        sample(now).encode(now, &mut buf).unwrap();
        let bytes = buf.freeze();
        for n in 0..bytes.len() {
            assert!(
                SessionState::decode(bytes.slice(..n), now).is_err(),
                "prefix {n}"
            );
        }
        assert_eq!(
            SessionState::decode(Bytes::from_static(b"JUNK!"), now),
            Err(PersistError::Format)
        );
        let mut longer = BytesMut::from(&bytes[..]);
        longer.put_u8(0);
        assert!(SessionState::decode(longer.freeze(), now).is_err());
    }
}
