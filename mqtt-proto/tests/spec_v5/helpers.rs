//! Helpers of the MQTT 5.0 tests: packets built from hex, decode and encode wrappers for
//! 5.0, and the property lists of every packet (Table 2-4).

use mqtt_proto::{
    DecodeError, EncodeError, MqttString, Packet, PacketType, ProtocolVersion, ReasonCode,
    TopicFilter, UserProperty,
};

use crate::common::{decode_in, encode_in, hex, pkt, roundtrip_bytes, vbi};

pub(crate) const V5: ProtocolVersion = ProtocolVersion::V5;

/// A property list: its length, then the properties.
pub(crate) fn props(list: &[u8]) -> Vec<u8> {
    let mut out = vbi(list.len());
    out.extend_from_slice(list);
    out
}

pub(crate) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Decodes exactly one MQTT 5.0 packet.
pub(crate) fn decode5(bytes: &[u8]) -> Result<Packet, DecodeError> {
    decode_in(V5, bytes)
}

/// Decodes and unwraps, naming the input on failure.
#[track_caller]
pub(crate) fn ok(bytes: &[u8]) -> Packet {
    decode5(bytes).unwrap_or_else(|e| panic!("{:02x?} must decode, got {e:?}", bytes))
}

/// Decoding fails with exactly `expected`, which closes the connection with `rc`.
#[track_caller]
pub(crate) fn rejects(bytes: &[u8], expected: DecodeError, rc: ReasonCode) {
    match decode5(bytes) {
        Ok(p) => panic!(
            "{:02x?} must be rejected with {expected:?}, decoded {p:?}",
            bytes
        ),
        Err(err) => {
            assert_eq!(err, expected, "input {:02x?}", bytes);
            assert_eq!(err.reason_code(), rc, "reason code of {err:?}");
        }
    }
}

/// Encodes for MQTT 5.0, checking that `encoded_len` agrees with what `encode` wrote.
#[track_caller]
pub(crate) fn enc(p: impl Into<Packet>) -> Vec<u8> {
    let p = p.into();
    encode_in(V5, p.clone()).unwrap_or_else(|e| panic!("{p:?} must encode: {e}"))
}

/// The encode error for a packet.
#[track_caller]
pub(crate) fn enc_err(p: impl Into<Packet>) -> EncodeError {
    let p = p.into();
    let mut out = Vec::new();
    let err = p
        .encode(V5, &mut out)
        .expect_err("encoding must be refused");
    assert!(out.is_empty(), "nothing is written on error");
    assert_eq!(p.encoded_len(V5), Err(err.clone()));
    err
}

/// Decodes, re-encodes and checks the bytes are the same.
#[track_caller]
pub(crate) fn roundtrip(bytes: &[u8]) -> Packet {
    roundtrip_bytes(V5, bytes)
}

pub(crate) fn s(v: &'static str) -> MqttString {
    MqttString::from_static(v)
}

pub(crate) fn user_props() -> Vec<UserProperty> {
    vec![(s("k"), s("2")), (s("a"), s("b")), (s("k"), s("1"))]
}

/// A minimal valid CONNECT body (clean start, keep alive 60, no properties, empty ClientID).
pub(crate) const CONNECT_BODY: &str = "00 04 4d 51 54 54 05 02 00 3c 00 00 00";

/// CONNECT with the given flags byte and payload (after an empty property list).
pub(crate) fn connect(flags: u8, payload: &str) -> Vec<u8> {
    let body = cat(&[
        &hex("00 04 4d 51 54 54 05"),
        &[flags],
        &hex("00 3c 00"),
        &hex(payload),
    ]);
    pkt(0x10, &body)
}

/// A minimal valid MQTT 5.0 packet of each type but PUBLISH, without its first byte's flags.
pub(crate) fn minimal(ty: PacketType) -> (u8, Vec<u8>) {
    let body = match ty {
        PacketType::Connect => hex(CONNECT_BODY),
        PacketType::ConnAck => hex("00 00 00"),
        PacketType::PubAck | PacketType::PubRec | PacketType::PubRel | PacketType::PubComp => {
            hex("00 01")
        }
        PacketType::Subscribe => hex("00 01 00 00 01 74 00"),
        PacketType::SubAck | PacketType::UnsubAck => hex("00 01 00 00"),
        PacketType::Unsubscribe => hex("00 01 00 00 01 74"),
        PacketType::PingReq
        | PacketType::PingResp
        | PacketType::Disconnect
        | PacketType::Auth
        | PacketType::Publish => Vec::new(),
    };
    ((ty as u8) << 4, body)
}

/// Every flag value but `valid` is refused for `ty`; `valid` is accepted.
#[track_caller]
pub(crate) fn check_reserved_flags(ty: PacketType, valid: u8) {
    let (kind, body) = minimal(ty);
    for flags in 0..16u8 {
        let bytes = pkt(kind | flags, &body);
        if flags == valid {
            let p = ok(&bytes);
            assert_eq!(p.packet_type(), ty);
            assert_eq!(enc(p)[0], kind | valid, "{ty} is encoded with its flags");
        } else {
            rejects(
                &bytes,
                DecodeError::InvalidFlags { packet: ty, flags },
                ReasonCode::MalformedPacket,
            );
        }
    }
}

/// Where a property list can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ctx {
    Connect,
    Will,
    ConnAck,
    Publish,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

pub(crate) const ALL_CTX: [Ctx; 14] = [
    Ctx::Connect,
    Ctx::Will,
    Ctx::ConnAck,
    Ctx::Publish,
    Ctx::PubAck,
    Ctx::PubRec,
    Ctx::PubRel,
    Ctx::PubComp,
    Ctx::Subscribe,
    Ctx::SubAck,
    Ctx::Unsubscribe,
    Ctx::UnsubAck,
    Ctx::Disconnect,
    Ctx::Auth,
];

/// Authentication Method "m", which AUTH always needs and CONNECT needs with Authentication
/// Data.
pub(crate) const AUTH_METHOD: &str = "15 00 01 6d";

/// A packet whose property list (at `ctx`) holds `list`; every other field is minimal and
/// valid.
pub(crate) fn with_props(ctx: Ctx, list: &[u8]) -> Vec<u8> {
    let p = props(list);
    match ctx {
        Ctx::Connect => pkt(
            0x10,
            &cat(&[&hex("00 04 4d 51 54 54 05 02 00 3c"), &p, &hex("00 00")]),
        ),
        Ctx::Will => pkt(
            0x10,
            &cat(&[
                &hex("00 04 4d 51 54 54 05 06 00 3c 00 00 00"),
                &p,
                &hex("00 01 74 00 00"),
            ]),
        ),
        Ctx::ConnAck => pkt(0x20, &cat(&[&hex("00 00"), &p])),
        Ctx::Publish => pkt(0x30, &cat(&[&hex("00 01 74"), &p])),
        Ctx::PubAck => pkt(0x40, &cat(&[&hex("00 01 00"), &p])),
        Ctx::PubRec => pkt(0x50, &cat(&[&hex("00 01 00"), &p])),
        Ctx::PubRel => pkt(0x62, &cat(&[&hex("00 01 00"), &p])),
        Ctx::PubComp => pkt(0x70, &cat(&[&hex("00 01 00"), &p])),
        Ctx::Subscribe => pkt(0x82, &cat(&[&hex("00 01"), &p, &hex("00 01 74 00")])),
        Ctx::SubAck => pkt(0x90, &cat(&[&hex("00 01"), &p, &hex("00")])),
        Ctx::Unsubscribe => pkt(0xa2, &cat(&[&hex("00 01"), &p, &hex("00 01 74")])),
        Ctx::UnsubAck => pkt(0xb0, &cat(&[&hex("00 01"), &p, &hex("00")])),
        Ctx::Disconnect => pkt(0xe0, &cat(&[&hex("00"), &p])),
        Ctx::Auth => pkt(0xf0, &cat(&[&hex("18"), &p])),
    }
}

pub(crate) fn filter(f: &str) -> TopicFilter {
    TopicFilter::try_from(f).unwrap_or_else(|e| panic!("{f:?} must be a valid filter: {e}"))
}
