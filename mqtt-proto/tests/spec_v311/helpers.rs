//! Helpers of the MQTT 3.1.1 and 3.1 tests: packets built from hex, decode and encode
//! wrappers for 3.1.1, and the expected errors.

use mqtt_proto::{
    Connect, DecodeError, EncodeError, MqttString, Packet, ProtocolVersion, Publish, StringError,
    Subscribe, TopicError,
};

use crate::common::{decode_in, encode_in, hex, pkt, roundtrip_bytes};

pub(crate) const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
pub(crate) const V31: ProtocolVersion = ProtocolVersion::V3_1;

/// A whole packet: the first byte, the remaining length (computed) and `body` in hex.
pub(crate) fn frame(first: u8, body: &str) -> Vec<u8> {
    pkt(first, &hex(body))
}

/// A 3.1.1 CONNECT ("MQTT", level 4, keep alive 60) with these connect flags and payload.
pub(crate) fn connect(flags: u8, payload: &str) -> Vec<u8> {
    frame(
        0x10,
        &format!("00 04 4d 51 54 54 04 {flags:02x} 00 3c {payload}"),
    )
}

/// A length-prefixed string in hex.
pub(crate) fn str_hex(s: &str) -> String {
    let mut out = format!("{:02x} {:02x}", s.len() >> 8, s.len() & 0xff);
    for b in s.bytes() {
        out.push_str(&format!(" {b:02x}"));
    }
    out
}

/// A 3.1.1 SUBSCRIBE, packet identifier 10, of one filter with requested QoS 0.
pub(crate) fn subscribe_to(filter: &str) -> Vec<u8> {
    frame(0x82, &format!("00 0a {} 00", str_hex(filter)))
}

/// A 3.1.1 PUBLISH QoS 0 to `topic`, no payload.
pub(crate) fn publish_to(topic: &str) -> Vec<u8> {
    frame(0x30, &str_hex(topic))
}

/// Decodes a 3.1.1 packet written in hex.
pub(crate) fn dec(s: &str) -> Result<Packet, DecodeError> {
    decode_in(V311, &hex(s))
}

pub(crate) fn enc(p: impl Into<Packet>) -> Result<Vec<u8>, EncodeError> {
    encode_in(V311, p)
}

pub(crate) fn roundtrip(s: &str) -> Packet {
    roundtrip_bytes(V311, &hex(s))
}

pub(crate) fn mstr(s: &str) -> MqttString {
    MqttString::try_from(s).unwrap()
}

pub(crate) fn unwrap_connect(p: Packet) -> Connect {
    match p {
        Packet::Connect(c) => *c,
        other => panic!("expected CONNECT, got {other:?}"),
    }
}

pub(crate) fn unwrap_publish(p: Packet) -> Publish {
    match p {
        Packet::Publish(p) => p,
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

pub(crate) fn unwrap_subscribe(p: Packet) -> Subscribe {
    match p {
        Packet::Subscribe(s) => s,
        other => panic!("expected SUBSCRIBE, got {other:?}"),
    }
}

pub(crate) fn not_in_3_1_1(r: Result<Vec<u8>, EncodeError>) {
    match r {
        Err(EncodeError::NotInVersion { version, .. }) => assert_eq!(version, V311),
        other => panic!("expected NotInVersion for 3.1.1, got {other:?}"),
    }
}

pub(crate) fn bad_name(e: TopicError) -> Result<Packet, DecodeError> {
    Err(DecodeError::InvalidTopicName(e))
}

pub(crate) fn bad_filter(e: TopicError) -> Result<Packet, DecodeError> {
    Err(DecodeError::InvalidTopicFilter(e))
}

/// A string that is not valid UTF-8 (or holds U+0000) is malformed wherever it stands,
/// topics included.
pub(crate) fn bad_string(e: StringError) -> Result<Packet, DecodeError> {
    Err(DecodeError::InvalidString(e))
}

/// A minimal valid 3.1.1 body for every packet type but PUBLISH (whose flags are its own).
pub(crate) fn minimal_body(ty: u8) -> &'static str {
    match ty {
        1 => "00 04 4d 51 54 54 04 02 00 3c 00 00",
        2 => "00 00",
        4..=7 | 11 => "00 01",
        8 => "00 01 00 01 61 00",
        9 => "00 01 00",
        10 => "00 01 00 01 61",
        12..=14 => "",
        _ => unreachable!(),
    }
}

/// The flags of Table 2.2 for every type but PUBLISH.
pub(crate) fn table_2_2_flags(ty: u8) -> u8 {
    match ty {
        6 | 8 | 10 => 0b0010,
        _ => 0,
    }
}
