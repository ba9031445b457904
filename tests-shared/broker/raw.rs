//! A raw MQTT client over a plain socket: valid packets come from `mqtt-proto`'s encoder,
//! anything else is written byte by byte.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use mqtt_proto::{
    ConnAck, Connect, DecodeOptions, MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS,
    QoSPid, ReasonCode, Subscribe, SubscriptionOptions, TopicFilter, TopicName, Will,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::support::STEP;

/// What the next read from the broker gave.
#[derive(Debug)]
pub(crate) enum Read {
    /// A whole packet.
    Packet(Box<Packet>),
    /// The broker closed the connection (or reset it).
    Closed,
    /// Nothing within the time allowed.
    Quiet,
}

/// One connection to the broker.
pub(crate) struct Raw {
    stream: TcpStream,
    buf: BytesMut,
    /// The version used to decode what the broker sends.
    pub(crate) version: ProtocolVersion,
    next_id: u16,
}

impl Raw {
    /// Opens a socket without sending anything.
    pub(crate) async fn open(addr: SocketAddr, version: ProtocolVersion) -> Self {
        let stream = tokio::time::timeout(STEP, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Self {
            stream,
            buf: BytesMut::new(),
            version,
            next_id: 0,
        }
    }

    /// Opens a socket, sends `connect` and returns the connection with the CONNACK.
    pub(crate) async fn connect_with(addr: SocketAddr, connect: Connect) -> (Self, ConnAck) {
        let mut raw = Self::open(addr, connect.protocol).await;
        raw.send(&connect.into()).await;
        match raw.read(STEP).await {
            Read::Packet(p) => match *p {
                Packet::ConnAck(ack) => (raw, *ack),
                other => panic!("expected CONNACK, got {other:?}"),
            },
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Connects with client id `id` (clean start, keep alive 60 s) and checks success.
    pub(crate) async fn connect(addr: SocketAddr, version: ProtocolVersion, id: &str) -> Self {
        let (raw, ack) = Self::connect_with(addr, connect(version, id)).await;
        assert_eq!(ack.reason_code, ReasonCode::Success, "{id}: {ack:?}");
        raw
    }

    /// Writes an encoded packet.
    pub(crate) async fn send(&mut self, packet: &Packet) {
        let mut out = Vec::new();
        packet.encode(self.version, &mut out).expect("encodable");
        self.send_bytes(&out).await;
    }

    /// Writes raw bytes; a broker that already closed may make this fail, which is ignored
    /// (the next read tells).
    pub(crate) async fn send_bytes(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// The next packet, the close, or [`Read::Quiet`] after `within`.
    pub(crate) async fn read(&mut self, within: Duration) -> Read {
        let deadline = Instant::now() + within;
        let options = DecodeOptions::default();
        loop {
            match mqtt_proto::decode(&mut self.buf, self.version, &options) {
                Ok(Some(p)) => return Read::Packet(Box::new(p)),
                Ok(None) => {}
                Err(e) => panic!("the broker sent an undecodable packet: {e}"),
            }
            self.buf.reserve(4096);
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => return Read::Quiet,
                Ok(Ok(0) | Err(_)) => {
                    assert!(
                        self.buf.is_empty(),
                        "closed after a partial packet: {:02x?}",
                        &self.buf[..]
                    );
                    return Read::Closed;
                }
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Reads and discards whatever arrives until the close (true) or `within` (false).
    pub(crate) async fn discard_until_closed(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            self.buf.clear();
            self.buf.reserve(4096);
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => return false,
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }

    /// The next packet; panics on close or silence.
    pub(crate) async fn packet(&mut self) -> Packet {
        match self.read(STEP).await {
            Read::Packet(p) => *p,
            other => panic!("expected a packet, got {other:?}"),
        }
    }

    /// Reads until the broker closes, returning the packets it sent first; panics if the
    /// connection is still open after `within`.
    pub(crate) async fn closed_within(&mut self, within: Duration) -> Vec<Packet> {
        let deadline = Instant::now() + within;
        let mut got = Vec::new();
        loop {
            match self
                .read(deadline.saturating_duration_since(Instant::now()))
                .await
            {
                Read::Packet(p) => got.push(*p),
                Read::Closed => return got,
                Read::Quiet => panic!("connection still open after {within:?}; got {got:?}"),
            }
        }
    }

    fn packet_id(&mut self) -> PacketId {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        PacketId::new(self.next_id).expect("non-zero")
    }

    /// Subscribes to `filter` and checks the SUBACK grants `qos`.
    pub(crate) async fn subscribe(&mut self, filter: &str, qos: QoS) {
        let id = self.packet_id();
        let subscribe = Subscribe {
            packet_id: id,
            properties: Default::default(),
            filters: vec![(topic_filter(filter), SubscriptionOptions::new(qos))],
        };
        self.send(&subscribe.into()).await;
        match self.packet().await {
            Packet::SubAck(ack) => {
                assert_eq!(ack.packet_id, id);
                assert_eq!(ack.reason_codes.len(), 1);
                assert_eq!(ack.reason_codes[0].as_u8(), qos.as_u8(), "{ack:?}");
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// Publishes at QoS 0.
    pub(crate) async fn publish(&mut self, topic: &str, payload: &[u8]) {
        let p = Publish::new(topic_name(topic), QoSPid::AtMostOnce, payload.to_vec());
        self.send(&p.into()).await;
    }

    /// Publishes at QoS 1 and waits for the PUBACK.
    pub(crate) async fn publish_qos1(&mut self, topic: &str, payload: &[u8]) {
        let id = self.packet_id();
        let p = Publish::new(topic_name(topic), QoSPid::AtLeastOnce(id), payload.to_vec());
        self.send(&p.into()).await;
        match self.packet().await {
            Packet::PubAck(ack) if ack.packet_id == id => {}
            other => panic!("expected PUBACK {id:?}, got {other:?}"),
        }
    }

    /// The next packet, which must be a PUBLISH; returns it with its topic.
    pub(crate) async fn expect_publish(&mut self) -> (String, Publish) {
        match self.packet().await {
            Packet::Publish(p) => {
                let topic = p.topic.as_ref().map(|t| t.as_str().to_owned());
                (topic.expect("the broker sends topics, no alias"), p)
            }
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Checks the connection is alive: PINGREQ is answered with PINGRESP.
    pub(crate) async fn ping(&mut self) {
        self.send(&Packet::PingReq).await;
        match self.packet().await {
            Packet::PingResp => {}
            other => panic!("expected PINGRESP, got {other:?}"),
        }
    }
}

/// A CONNECT with client id `id`, clean start and keep alive 60 s.
pub(crate) fn connect(version: ProtocolVersion, id: &str) -> Connect {
    Connect::new(version, mqtt_string(id))
}

/// A CONNECT that carries a will (QoS 0, not retained).
pub(crate) fn connect_with_will(
    version: ProtocolVersion,
    id: &str,
    keep_alive: u16,
    will_topic: &str,
    will_payload: &[u8],
) -> Connect {
    let mut c = connect(version, id);
    c.keep_alive = keep_alive;
    c.will = Some(Will {
        topic: topic_name(will_topic),
        payload: will_payload.to_vec().into(),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: Default::default(),
    });
    c
}

/// The bytes of `packet` encoded for `version`.
pub(crate) fn encode(packet: impl Into<Packet>, version: ProtocolVersion) -> Vec<u8> {
    let mut out = Vec::new();
    packet.into().encode(version, &mut out).expect("encodable");
    out
}

pub(crate) fn mqtt_string(s: &str) -> MqttString {
    MqttString::try_from(s.to_owned()).expect("valid MQTT string")
}

pub(crate) fn topic_name(s: &str) -> TopicName {
    TopicName::new(mqtt_string(s)).expect("valid topic name")
}

pub(crate) fn topic_filter(s: &str) -> TopicFilter {
    TopicFilter::new(mqtt_string(s)).expect("valid topic filter")
}

/// Asserts `packets` is exactly one DISCONNECT with `code`.
pub(crate) fn assert_disconnect(packets: &[Packet], code: ReasonCode) {
    match packets {
        [Packet::Disconnect(d)] => assert_eq!(d.reason_code, code, "{d:?}"),
        other => panic!("expected one DISCONNECT {code:?} before the close, got {other:?}"),
    }
}
