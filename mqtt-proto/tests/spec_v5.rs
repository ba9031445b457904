//! MQTT 5.0 (OASIS Standard, 7 March 2019) conformance of the codec.
//!
//! One test (or more) per normative statement of chapters 1, 2, 3, 4.7 and 4.8.2 that is about
//! the format, encoding or validity of a packet. Each test names the statements it proves in a
//! `// [MQTT-x.y.z-n]` comment, so that grepping a tag finds its test; rules the standard
//! states without a tag are cited by section (`// 3.8.3.1 (untagged)`).
//! `docs/conformance.md` maps every statement of those chapters to these tests or to the
//! session and broker layers.
//!
//! Packets are written in hex as they appear on the wire. Every rejection checks the exact
//! [`DecodeError`] and the reason code the connection is closed with.

use std::num::{NonZeroU16, NonZeroU32};

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties,
    DecodeError, DecodeOptions, Disconnect, DisconnectProperties, EncodeError, FixedHeader,
    MAX_VAR_INT, MqttString, Packet, PacketId, PacketType, PropertyId, ProtocolVersion, PubAck,
    PubComp, PubRec, PubRel, Publish, PublishProperties, QoS, QoSPid, ReasonCode, RetainHandling,
    StringError, SubAck, Subscribe, SubscribeProperties, SubscriptionId, SubscriptionOptions,
    TopicError, TopicFilter, TopicName, UnsubAck, Unsubscribe, UnsubscribeProperties, UserProperty,
    Will, WillProperties, decode, decode_exact, decode_var_int, var_int_len,
};

const V5: ProtocolVersion = ProtocolVersion::V5;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Bytes from space-separated hex pairs: `hex("10 00")`.
fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap_or_else(|e| panic!("bad hex {b:?}: {e}")))
        .collect()
}

/// The Variable Byte Integer encoding of `n` (section 1.5.5), written here independently of
/// the codec.
fn vbi(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            return out;
        }
    }
}

/// A whole packet: the first byte, the remaining length, the body.
fn pkt(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    out.extend(vbi(body.len()));
    out.extend_from_slice(body);
    out
}

/// A property list: its length, then the properties.
fn props(list: &[u8]) -> Vec<u8> {
    let mut out = vbi(list.len());
    out.extend_from_slice(list);
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Decodes exactly one MQTT 5.0 packet.
fn decode5(bytes: &[u8]) -> Result<Packet, DecodeError> {
    decode_exact(bytes, V5, &DecodeOptions::default())
}

/// Decodes and unwraps, naming the input on failure.
#[track_caller]
fn ok(bytes: &[u8]) -> Packet {
    decode5(bytes).unwrap_or_else(|e| panic!("{:02x?} must decode, got {e:?}", bytes))
}

/// Decoding fails with exactly `expected`, which closes the connection with `rc`.
#[track_caller]
fn rejects(bytes: &[u8], expected: DecodeError, rc: ReasonCode) {
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
fn enc(p: impl Into<Packet>) -> Vec<u8> {
    let p = p.into();
    let mut out = Vec::new();
    let n = p
        .encode(V5, &mut out)
        .unwrap_or_else(|e| panic!("{p:?} must encode: {e}"));
    assert_eq!(n, out.len());
    assert_eq!(p.encoded_len(V5), Ok(n));
    out
}

/// The encode error for a packet.
#[track_caller]
fn enc_err(p: impl Into<Packet>) -> EncodeError {
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
fn roundtrip(bytes: &[u8]) -> Packet {
    let p = ok(bytes);
    assert_eq!(enc(p.clone()), bytes, "{p:?} re-encodes differently");
    p
}

fn s(v: &'static str) -> MqttString {
    MqttString::from_static(v)
}

fn pid(v: u16) -> PacketId {
    PacketId::new(v).expect("non-zero")
}

fn user_props() -> Vec<UserProperty> {
    vec![(s("k"), s("2")), (s("a"), s("b")), (s("k"), s("1"))]
}

/// A minimal valid CONNECT body (clean start, keep alive 60, no properties, empty ClientID).
const CONNECT_BODY: &str = "00 04 4d 51 54 54 05 02 00 3c 00 00 00";

/// CONNECT with the given flags byte and payload (after an empty property list).
fn connect(flags: u8, payload: &str) -> Vec<u8> {
    let body = cat(&[
        &hex("00 04 4d 51 54 54 05"),
        &[flags],
        &hex("00 3c 00"),
        &hex(payload),
    ]);
    pkt(0x10, &body)
}

// ---------------------------------------------------------------------------------------------
// Chapter 1: data representation
// ---------------------------------------------------------------------------------------------

#[test]
fn mqtt_1_5_4_1_ill_formed_utf8_is_malformed() {
    // [MQTT-1.5.4-1]: ill-formed UTF-8 (a lone continuation byte, an encoded surrogate, an
    // overlong encoding) in a string is a Malformed Packet.
    for bad in ["80", "ed a0 80", "c0 af"] {
        let len = hex(bad).len();
        let bytes = connect(0x02, &format!("00 {len:02x} {bad}"));
        rejects(
            &bytes,
            DecodeError::InvalidString(StringError::InvalidUtf8),
            ReasonCode::MalformedPacket,
        );
    }
    // In a property (Reason String of a PUBACK).
    rejects(
        &hex("40 08 00 01 80 04 1f 00 01 ff"),
        DecodeError::InvalidString(StringError::InvalidUtf8),
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn mqtt_1_5_4_2_null_character_is_malformed() {
    // [MQTT-1.5.4-2]: U+0000 in a string is a Malformed Packet.
    rejects(
        &connect(0x02, "00 03 61 00 62"),
        DecodeError::InvalidString(StringError::NullCharacter),
        ReasonCode::MalformedPacket,
    );
    rejects(
        &hex("40 08 00 01 80 04 1f 00 01 00"),
        DecodeError::InvalidString(StringError::NullCharacter),
        ReasonCode::MalformedPacket,
    );
    // The constructors used to build packets to send refuse it too.
    assert_eq!(
        MqttString::try_from("a\0b"),
        Err(StringError::NullCharacter)
    );
}

#[test]
fn mqtt_1_5_4_3_byte_order_mark_is_neither_skipped_nor_stripped() {
    // [MQTT-1.5.4-3]: EF BB BF is U+FEFF wherever it appears, and is kept.
    let bytes = hex("30 08 00 05 ef bb bf 61 62 00");
    let Packet::Publish(p) = roundtrip(&bytes) else {
        panic!("not a PUBLISH")
    };
    assert_eq!(p.topic.as_ref().map(TopicName::as_str), Some("\u{FEFF}ab"));
    // In the middle of a string as well.
    let bytes = connect(0x02, "00 05 61 ef bb bf 62");
    let Packet::Connect(c) = roundtrip(&bytes) else {
        panic!("not a CONNECT")
    };
    assert_eq!(c.client_id.as_str(), "a\u{FEFF}b");
}

#[test]
fn disallowed_code_points_are_malformed_only_when_strict() {
    // 1.5.4 (untagged): U+0001..U+001F, U+007F..U+009F and non-characters SHOULD NOT be sent;
    // a receiver MAY treat them as a Malformed Packet. The codec does so with
    // `strict_strings`, and accepts them otherwise.
    let strict = DecodeOptions {
        strict_strings: true,
        ..DecodeOptions::default()
    };
    let bytes = connect(0x02, "00 03 61 01 62");
    let err = decode_exact(&bytes, V5, &strict).unwrap_err();
    assert_eq!(
        err,
        DecodeError::InvalidString(StringError::DiscouragedCodePoint(1))
    );
    assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
    // U+FFFF (EF BF BF) in a User Property value.
    let bytes = with_props(Ctx::PubAck, &hex("26 00 01 6b 00 03 ef bf bf"));
    assert_eq!(
        decode_exact(&bytes, V5, &strict),
        Err(DecodeError::InvalidString(
            StringError::DiscouragedCodePoint(0xFFFF)
        ))
    );
    assert!(decode5(&bytes).is_ok());
    assert!(decode5(&connect(0x02, "00 03 61 01 62")).is_ok());
}

#[test]
fn disallowed_code_point_in_topic_is_malformed_when_strict() {
    // 1.5.4 (untagged), as above, in a Topic Name: treated as malformed, so 0x81 like any other
    // string.
    let strict = DecodeOptions {
        strict_strings: true,
        ..DecodeOptions::default()
    };
    let bytes = hex("30 05 00 02 61 01 00");
    let err = decode_exact(&bytes, V5, &strict).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::InvalidString(StringError::DiscouragedCodePoint(1))
                | DecodeError::InvalidTopicName(TopicError::String(
                    StringError::DiscouragedCodePoint(1)
                ))
        ),
        "{err:?}"
    );
    assert_eq!(
        err.reason_code(),
        ReasonCode::MalformedPacket,
        "input {:02x?} gives {err:?}",
        bytes
    );
}

#[test]
fn spec_example_figure_1_2_utf8_encoded_string() {
    // Figure 1-2: "A𪛔" (U+0041 U+2A6D4) is 00 05 41 F0 AA 9B 94; used here as a Topic Name.
    let bytes = hex("30 08 00 05 41 f0 aa 9b 94 00");
    let Packet::Publish(p) = roundtrip(&bytes) else {
        panic!("not a PUBLISH")
    };
    assert_eq!(p.topic.as_ref().map(TopicName::as_str), Some("A\u{2A6D4}"));
    let built = Publish::new(TopicName::from_static("A\u{2A6D4}"), QoSPid::AtMostOnce, "");
    assert_eq!(enc(built), bytes);
}

#[test]
fn mqtt_1_5_5_1_variable_byte_integer_table_1_1() {
    // [MQTT-1.5.5-1] Table 1-1: the first and last value of each length.
    let table: &[(u32, &str)] = &[
        (0, "00"),
        (127, "7f"),
        (128, "80 01"),
        (16_383, "ff 7f"),
        (16_384, "80 80 01"),
        (2_097_151, "ff ff 7f"),
        (2_097_152, "80 80 80 01"),
        (268_435_455, "ff ff ff 7f"),
    ];
    for &(value, wire) in table {
        let wire = hex(wire);
        assert_eq!(decode_var_int(&wire, true), Ok(Some((value, wire.len()))));
        assert_eq!(var_int_len(value), wire.len());
        assert_eq!(
            vbi(value as usize),
            wire,
            "test helper agrees with Table 1-1"
        );
    }
    assert_eq!(MAX_VAR_INT, 268_435_455);
    // As a Remaining Length, encoded with the fewest bytes: PUBLISH to "t" (4 bytes of
    // variable header) whose payload fills the rest.
    for &(rl, wire) in &table[1..7] {
        let payload = vec![0u8; rl as usize - 4];
        let p = Publish::new(TopicName::from_static("t"), QoSPid::AtMostOnce, payload);
        let out = enc(p.clone());
        let wire = hex(wire);
        assert_eq!(out[0], 0x30);
        assert_eq!(&out[1..=wire.len()], &wire[..], "remaining length {rl}");
        assert_eq!(ok(&out), Packet::Publish(p));
    }
    // The largest Remaining Length is parsed from a header alone.
    let h = FixedHeader::parse(&hex("30 ff ff ff 7f"), V5)
        .unwrap()
        .unwrap();
    assert_eq!(h.remaining_len, 268_435_455);
    assert_eq!(h.header_len, 5);
}

#[test]
fn mqtt_1_5_5_1_non_minimal_variable_byte_integer_is_malformed() {
    // [MQTT-1.5.5-1]: a value that could use fewer bytes is refused wherever a Variable Byte
    // Integer appears.
    // Remaining Length 0 written as 80 00.
    rejects(
        &hex("c0 80 00"),
        DecodeError::VarIntNotMinimal,
        ReasonCode::MalformedPacket,
    );
    // Remaining Length 6 written as 86 80 00.
    rejects(
        &hex("30 86 80 00 00 03 61 2f 62 00"),
        DecodeError::VarIntNotMinimal,
        ReasonCode::MalformedPacket,
    );
    // Property Length 0 written as 80 00.
    rejects(
        &hex("30 05 00 01 74 80 00"),
        DecodeError::VarIntNotMinimal,
        ReasonCode::MalformedPacket,
    );
    // Property Identifier 0x26 written as a6 00.
    rejects(
        &hex("30 0c 00 01 74 08 a6 00 00 01 6b 00 01 76"),
        DecodeError::VarIntNotMinimal,
        ReasonCode::MalformedPacket,
    );
    // Subscription Identifier 1 written as 81 00.
    rejects(
        &hex("30 07 00 01 74 03 0b 81 00"),
        DecodeError::VarIntNotMinimal,
        ReasonCode::MalformedPacket,
    );
    assert_eq!(
        decode_var_int(&hex("ff ff 80 00"), true),
        Err(DecodeError::VarIntNotMinimal)
    );
}

#[test]
fn variable_byte_integer_of_five_bytes_is_malformed() {
    // 1.5.5 (untagged): "The maximum number of bytes in the Variable Byte Integer field is
    // four"; the decoding algorithm throws "Malformed Variable Byte Integer".
    rejects(
        &hex("30 ff ff ff ff 01"),
        DecodeError::VarIntTooLong,
        ReasonCode::MalformedPacket,
    );
    rejects(
        &hex("30 0a 00 01 74 06 0b ff ff ff ff 01"),
        DecodeError::VarIntTooLong,
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn mqtt_1_5_7_1_both_strings_of_a_string_pair_are_utf8_strings() {
    // [MQTT-1.5.7-1]: a User Property whose name or value is not a valid UTF-8 Encoded String is
    // a Malformed Packet.
    // Name ill-formed, in CONNECT properties.
    let body = cat(&[
        &hex("00 04 4d 51 54 54 05 02 00 3c"),
        &props(&hex("26 00 01 ff 00 01 76")),
        &hex("00 00"),
    ]);
    rejects(
        &pkt(0x10, &body),
        DecodeError::InvalidString(StringError::InvalidUtf8),
        ReasonCode::MalformedPacket,
    );
    // Value holding U+0000, in SUBSCRIBE properties.
    let body = cat(&[
        &hex("00 01"),
        &props(&hex("26 00 01 6b 00 01 00")),
        &hex("00 01 74 00"),
    ]);
    rejects(
        &pkt(0x82, &body),
        DecodeError::InvalidString(StringError::NullCharacter),
        ReasonCode::MalformedPacket,
    );
    // Both strings valid: accepted.
    let body = cat(&[
        &hex("00 01"),
        &props(&hex("26 00 01 6b 00 01 76")),
        &hex("00 01 74 00"),
    ]);
    let Packet::Subscribe(sub) = roundtrip(&pkt(0x82, &body)) else {
        panic!("not a SUBSCRIBE")
    };
    assert_eq!(sub.properties.user_properties, vec![(s("k"), s("v"))]);
}

// ---------------------------------------------------------------------------------------------
// Chapter 2: fixed header, packet identifier, properties, reason codes
// ---------------------------------------------------------------------------------------------

/// A minimal valid MQTT 5.0 packet of each type but PUBLISH, without its first byte's flags.
fn minimal(ty: PacketType) -> (u8, Vec<u8>) {
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
fn check_reserved_flags(ty: PacketType, valid: u8) {
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

#[test]
fn mqtt_2_1_3_1_reserved_fixed_header_flags_table_2_2() {
    // [MQTT-2.1.3-1]: reserved flag bits hold exactly the values of Table 2-2; anything else is
    // a Malformed Packet.
    let table = [
        (PacketType::Connect, 0b0000),
        (PacketType::ConnAck, 0b0000),
        (PacketType::PubAck, 0b0000),
        (PacketType::PubRec, 0b0000),
        (PacketType::PubRel, 0b0010),
        (PacketType::PubComp, 0b0000),
        (PacketType::Subscribe, 0b0010),
        (PacketType::SubAck, 0b0000),
        (PacketType::Unsubscribe, 0b0010),
        (PacketType::UnsubAck, 0b0000),
        (PacketType::PingReq, 0b0000),
        (PacketType::PingResp, 0b0000),
        (PacketType::Disconnect, 0b0000),
        (PacketType::Auth, 0b0000),
    ];
    for (ty, valid) in table {
        check_reserved_flags(ty, valid);
    }
}

#[test]
fn reserved_packet_type_0_is_malformed() {
    // 2.1.2 (untagged), Table 2-1: type 0 is "Reserved, Forbidden".
    for first in [0x00, 0x02, 0x0f] {
        rejects(
            &[first, 0x00],
            DecodeError::ReservedPacketType(0),
            ReasonCode::MalformedPacket,
        );
    }
}

#[test]
fn mqtt_2_2_1_2_qos_0_publish_has_no_packet_identifier() {
    // [MQTT-2.2.1-2]: a QoS 0 PUBLISH carries no Packet Identifier: the two bytes after the
    // topic are the Property Length and the payload, never an identifier.
    let Packet::Publish(p) = roundtrip(&hex("30 08 00 03 61 2f 62 00 0a 00")) else {
        panic!("not a PUBLISH")
    };
    assert_eq!(p.packet_id(), None);
    assert_eq!(&p.payload[..], hex("0a 00"));
    // Encoding QoS 0 writes none; QoS 1 and 2 write theirs (Figure 3-9 variable header).
    let p = Publish::new(TopicName::from_static("a/b"), QoSPid::AtMostOnce, "");
    assert_eq!(enc(p), hex("30 06 00 03 61 2f 62 00"));
    let p = Publish::new(
        TopicName::from_static("a/b"),
        QoSPid::AtLeastOnce(pid(10)),
        "",
    );
    assert_eq!(enc(p), hex("32 08 00 03 61 2f 62 00 0a 00"));
    let p = Publish::new(
        TopicName::from_static("a/b"),
        QoSPid::ExactlyOnce(pid(10)),
        "",
    );
    assert_eq!(enc(p), hex("34 08 00 03 61 2f 62 00 0a 00"));
}

#[test]
fn mqtt_2_2_1_3_and_2_2_1_4_packet_identifier_zero_is_refused() {
    // [MQTT-2.2.1-3] [MQTT-2.2.1-4]: identifiers are non-zero. Choosing an unused one is the
    // session's job; the codec refuses a received 0 and cannot encode one.
    let cases = [
        "32 06 00 01 74 00 00 00",    // PUBLISH QoS 1
        "34 06 00 01 74 00 00 00",    // PUBLISH QoS 2
        "40 02 00 00",                // PUBACK
        "50 02 00 00",                // PUBREC
        "62 02 00 00",                // PUBREL
        "70 02 00 00",                // PUBCOMP
        "82 07 00 00 00 00 01 74 00", // SUBSCRIBE
        "90 04 00 00 00 00",          // SUBACK
        "a2 06 00 00 00 00 01 74",    // UNSUBSCRIBE
        "b0 04 00 00 00 00",          // UNSUBACK
    ];
    for case in cases {
        rejects(
            &hex(case),
            DecodeError::ZeroPacketId,
            ReasonCode::ProtocolError,
        );
    }
    assert_eq!(PacketId::new(0), None);
}

#[test]
fn mqtt_2_2_2_1_no_properties_is_a_property_length_of_zero() {
    // [MQTT-2.2.2-1]: every packet with properties and none set carries Property Length 0.
    let mut c = Connect::new(V5, s("c"));
    c.keep_alive = 0;
    assert_eq!(
        enc(c),
        hex("10 0e 00 04 4d 51 54 54 05 02 00 00 00 00 01 63")
    );
    let mut c = Connect::new(V5, s(""));
    c.keep_alive = 0;
    c.will = Some(Will {
        topic: TopicName::from_static("w"),
        payload: Bytes::new(),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: WillProperties::default(),
    });
    assert_eq!(
        enc(c),
        hex("10 13 00 04 4d 51 54 54 05 06 00 00 00 00 00 00 00 01 77 00 00")
    );
    assert_eq!(
        enc(ConnAck::new(false, ReasonCode::Success)),
        hex("20 03 00 00 00")
    );
    let sub = Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: vec![(
            TopicFilter::from_static("t"),
            SubscriptionOptions::default(),
        )],
    };
    assert_eq!(enc(sub), hex("82 07 00 01 00 00 01 74 00"));
    let suback = SubAck {
        packet_id: pid(1),
        properties: AckProperties::default(),
        reason_codes: vec![ReasonCode::GRANTED_QOS_0],
    };
    assert_eq!(enc(suback), hex("90 04 00 01 00 00"));
    let unsub = Unsubscribe {
        packet_id: pid(1),
        properties: UnsubscribeProperties::default(),
        filters: vec![TopicFilter::from_static("t")],
    };
    assert_eq!(enc(unsub), hex("a2 06 00 01 00 00 01 74"));
    let unsuback = UnsubAck {
        packet_id: pid(1),
        properties: AckProperties::default(),
        reason_codes: vec![ReasonCode::Success],
    };
    assert_eq!(enc(unsuback), hex("b0 04 00 01 00 00"));
    // Where the Property Length is mandatory, leaving it out leaves the packet short.
    for short in [
        "20 02 00 00",             // CONNACK
        "30 03 00 01 74",          // PUBLISH
        "82 06 00 01 00 01 74 00", // SUBSCRIBE: the filter length is read as properties
        "90 03 00 01 02",          // SUBACK: Granted QoS 2 is read as Property Length
    ] {
        let err = decode5(&hex(short)).expect_err(short);
        assert_eq!(
            err.reason_code(),
            ReasonCode::MalformedPacket,
            "{short}: {err:?}"
        );
    }
}

// ---- Properties (2.2.2.2 and Table 2-4) -----------------------------------------------------

/// Where a property list can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
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

const ALL_CTX: [Ctx; 14] = [
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

/// Table 2-4: identifier, a valid value of its data type, and where it may appear.
fn property_table() -> Vec<(u8, &'static str, Vec<Ctx>)> {
    use Ctx::*;
    let reason_string = vec![
        ConnAck, PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck, Disconnect, Auth,
    ];
    vec![
        (0x01, "01", vec![Publish, Will]), // Payload Format Indicator
        (0x02, "00 00 00 0a", vec![Publish, Will]), // Message Expiry Interval
        (0x03, "00 01 78", vec![Publish, Will]), // Content Type
        (0x08, "00 01 78", vec![Publish, Will]), // Response Topic
        (0x09, "00 01 00", vec![Publish, Will]), // Correlation Data
        (0x0b, "01", vec![Publish, Subscribe]), // Subscription Identifier
        (0x11, "00 00 00 0a", vec![Connect, ConnAck, Disconnect]), // Session Expiry Interval
        (0x12, "00 01 78", vec![ConnAck]), // Assigned Client Identifier
        (0x13, "00 0a", vec![ConnAck]),    // Server Keep Alive
        (0x15, "00 01 78", vec![Connect, ConnAck, Auth]), // Authentication Method
        (0x16, "00 01 00", vec![Connect, ConnAck, Auth]), // Authentication Data
        (0x17, "01", vec![Connect]),       // Request Problem Information
        (0x18, "00 00 00 0a", vec![Will]), // Will Delay Interval
        (0x19, "01", vec![Connect]),       // Request Response Information
        (0x1a, "00 01 78", vec![ConnAck]), // Response Information
        (0x1c, "00 01 78", vec![ConnAck, Disconnect]), // Server Reference
        (0x1f, "00 01 78", reason_string), // Reason String
        (0x21, "00 0a", vec![Connect, ConnAck]), // Receive Maximum
        (0x22, "00 0a", vec![Connect, ConnAck]), // Topic Alias Maximum
        (0x23, "00 0a", vec![Publish]),    // Topic Alias
        (0x24, "01", vec![ConnAck]),       // Maximum QoS
        (0x25, "01", vec![ConnAck]),       // Retain Available
        (0x26, "00 01 6b 00 01 76", ALL_CTX.to_vec()), // User Property
        (0x27, "00 00 00 0a", vec![Connect, ConnAck]), // Maximum Packet Size
        (0x28, "01", vec![ConnAck]),       // Wildcard Subscription Available
        (0x29, "01", vec![ConnAck]),       // Subscription Identifier Available
        (0x2a, "01", vec![ConnAck]),       // Shared Subscription Available
    ]
}

/// Authentication Method "m", which AUTH always needs and CONNECT needs with Authentication
/// Data.
const AUTH_METHOD: &str = "15 00 01 6d";

/// A packet whose property list (at `ctx`) holds `list`; every other field is minimal and
/// valid.
fn with_props(ctx: Ctx, list: &[u8]) -> Vec<u8> {
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

/// The properties a test adds before the one under test, so that the packet is otherwise
/// valid.
fn base(ctx: Ctx, id: u8) -> Vec<u8> {
    match (ctx, id) {
        (Ctx::Auth, 0x15) => Vec::new(),
        (Ctx::Auth, _) | (Ctx::Connect, 0x16) => hex(AUTH_METHOD),
        _ => Vec::new(),
    }
}

#[test]
fn property_not_allowed_in_its_packet_is_malformed_table_2_4() {
    // 2.2.2.2 (untagged): "A Control Packet which contains an Identifier which is not valid for
    // its packet type ... is a Malformed Packet". Every defined property in every property list
    // (13 packets and the Will Properties): accepted exactly where Table 2-4 allows it.
    let mut refused = 0;
    for (id, value, allowed) in property_table() {
        let prop = cat(&[&[id], &hex(value)]);
        for ctx in ALL_CTX {
            let bytes = with_props(ctx, &cat(&[&base(ctx, id), &prop]));
            if allowed.contains(&ctx) {
                let p = ok(&bytes);
                // What decodes re-encodes to a packet that decodes the same.
                assert_eq!(ok(&enc(p.clone())), p, "{ctx:?} {id:#04x}");
            } else {
                let err = decode5(&bytes).expect_err("not allowed");
                assert!(
                    matches!(err, DecodeError::PropertyNotAllowed { id: got, .. } if got as u8 == id),
                    "{ctx:?} {id:#04x}: {err:?}"
                );
                assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
                refused += 1;
            }
        }
    }
    // 27 properties x 14 lists = 378 cases, 64 of them allowed.
    let allowed: usize = property_table().iter().map(|(_, _, a)| a.len()).sum();
    assert_eq!(allowed, 64);
    assert_eq!(refused, 27 * 14 - allowed);
}

#[test]
fn properties_not_allowed_one_per_packet() {
    // The same rule, one explicit hex case per packet and for the Will Properties.
    let cases = [
        (Ctx::Connect, "23 00 01", PropertyId::TopicAlias),
        (
            Ctx::Will,
            "11 00 00 00 01",
            PropertyId::SessionExpiryInterval,
        ),
        (
            Ctx::ConnAck,
            "18 00 00 00 01",
            PropertyId::WillDelayInterval,
        ),
        (
            Ctx::Publish,
            "11 00 00 00 01",
            PropertyId::SessionExpiryInterval,
        ),
        (Ctx::PubAck, "03 00 01 78", PropertyId::ContentType),
        (Ctx::PubRec, "0b 01", PropertyId::SubscriptionIdentifier),
        (Ctx::PubRel, "1c 00 01 78", PropertyId::ServerReference),
        (
            Ctx::PubComp,
            "15 00 01 78",
            PropertyId::AuthenticationMethod,
        ),
        (Ctx::Subscribe, "1f 00 01 78", PropertyId::ReasonString),
        (Ctx::SubAck, "0b 01", PropertyId::SubscriptionIdentifier),
        (
            Ctx::Unsubscribe,
            "0b 01",
            PropertyId::SubscriptionIdentifier,
        ),
        (Ctx::UnsubAck, "08 00 01 78", PropertyId::ResponseTopic),
        (Ctx::Disconnect, "21 00 01", PropertyId::ReceiveMaximum),
        (
            Ctx::Auth,
            "11 00 00 00 01",
            PropertyId::SessionExpiryInterval,
        ),
    ];
    for (ctx, prop, id) in cases {
        let bytes = with_props(ctx, &cat(&[&base(ctx, 0), &hex(prop)]));
        let err = decode5(&bytes).expect_err("not allowed");
        assert!(
            matches!(err, DecodeError::PropertyNotAllowed { id: got, .. } if got == id),
            "{ctx:?}: {err:?}"
        );
        assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
    }
}

#[test]
fn unknown_property_identifier_is_malformed() {
    // 2.2.2.2 (untagged): an identifier the specification does not define is not valid for any
    // packet type.
    for ctx in ALL_CTX {
        for (id, raw) in [
            (0x00, "00"),
            (0x04, "04"),
            (0x2b, "2b"),
            (0x7f, "7f"),
            (128, "80 01"),
        ] {
            let bytes = with_props(ctx, &cat(&[&base(ctx, 0), &hex(raw), &hex("00")]));
            rejects(
                &bytes,
                DecodeError::UnknownProperty(id),
                ReasonCode::MalformedPacket,
            );
        }
    }
}

#[test]
fn property_given_twice_is_a_protocol_error() {
    // 3.x.x (untagged, stated for each property): "It is a Protocol Error to include the <X>
    // more than once". Every single-valued property in every list where it is allowed.
    for (id, value, allowed) in property_table() {
        if id == 0x26 {
            continue; // User Property may repeat
        }
        let prop = cat(&[&[id], &hex(value)]);
        for ctx in allowed {
            if id == 0x0b && ctx == Ctx::Publish {
                continue; // one Subscription Identifier per matching subscription
            }
            let bytes = with_props(ctx, &cat(&[&base(ctx, id), &prop, &prop]));
            let err = decode5(&bytes).expect_err("duplicate");
            assert!(
                matches!(err, DecodeError::DuplicateProperty(got) if got as u8 == id),
                "{ctx:?} {id:#04x}: {err:?}"
            );
            assert_eq!(err.reason_code(), ReasonCode::ProtocolError);
        }
    }
}

#[test]
fn user_property_may_repeat_everywhere_and_keeps_its_order() {
    // 3.x.x (untagged): "The User Property is allowed to appear multiple times ... The same name
    // is allowed to appear more than once." Order is kept (see [MQTT-3.3.2-18]).
    let list = hex("26 00 01 6b 00 01 32 26 00 01 61 00 01 62 26 00 01 6b 00 01 31");
    for ctx in ALL_CTX {
        let bytes = with_props(ctx, &cat(&[&base(ctx, 0), &list]));
        let p = ok(&bytes);
        let ups = match &p {
            Packet::Connect(c) if ctx == Ctx::Will => {
                c.will.as_ref().unwrap().properties.user_properties.clone()
            }
            Packet::Connect(c) => c.properties.user_properties.clone(),
            Packet::ConnAck(c) => c.properties.user_properties.clone(),
            Packet::Publish(x) => x.properties.user_properties.clone(),
            Packet::PubAck(x) => x.properties.user_properties.clone(),
            Packet::PubRec(x) => x.properties.user_properties.clone(),
            Packet::PubRel(x) => x.properties.user_properties.clone(),
            Packet::PubComp(x) => x.properties.user_properties.clone(),
            Packet::Subscribe(x) => x.properties.user_properties.clone(),
            Packet::SubAck(x) => x.properties.user_properties.clone(),
            Packet::Unsubscribe(x) => x.properties.user_properties.clone(),
            Packet::UnsubAck(x) => x.properties.user_properties.clone(),
            Packet::Disconnect(x) => x.properties.user_properties.clone(),
            Packet::Auth(x) => x.properties.user_properties.clone(),
            Packet::PingReq | Packet::PingResp => unreachable!(),
        };
        assert_eq!(ups, user_props(), "{ctx:?}");
        assert_eq!(enc(p), bytes, "{ctx:?} re-encodes in the same order");
    }
}

#[test]
fn property_value_not_of_its_data_type_is_malformed() {
    // 2.2.2.2 (untagged): a value "not of the specified data type" is a Malformed Packet: one that
    // runs past the property list, and a property list that runs past the packet.
    // Message Expiry Interval (Four Byte Integer) with two bytes, list length 3.
    rejects(
        &hex("30 09 00 01 74 03 02 00 00 61 62"),
        DecodeError::UnexpectedEnd,
        ReasonCode::MalformedPacket,
    );
    // Property Length 9 in a packet with 2 bytes left.
    rejects(
        &hex("40 06 00 01 00 09 26 00"),
        DecodeError::UnexpectedEnd,
        ReasonCode::MalformedPacket,
    );
    // A Reason String whose length runs past the list.
    rejects(
        &hex("40 08 00 01 00 04 1f 00 05 61"),
        DecodeError::UnexpectedEnd,
        ReasonCode::MalformedPacket,
    );
}

// ---- Reason codes (2.4, Table 2-6, and the per-packet tables of chapter 3) ------------------

/// A packet of type `ty` carrying reason code `code`, otherwise minimal and valid.
fn reason_packet(ty: PacketType, code: u8) -> Vec<u8> {
    match ty {
        PacketType::ConnAck => pkt(0x20, &[0x00, code, 0x00]),
        PacketType::PubAck => pkt(0x40, &[0x00, 0x01, code]),
        PacketType::PubRec => pkt(0x50, &[0x00, 0x01, code]),
        PacketType::PubRel => pkt(0x62, &[0x00, 0x01, code]),
        PacketType::PubComp => pkt(0x70, &[0x00, 0x01, code]),
        PacketType::SubAck => pkt(0x90, &[0x00, 0x01, 0x00, code]),
        PacketType::UnsubAck => pkt(0xb0, &[0x00, 0x01, 0x00, code]),
        PacketType::Disconnect => pkt(0xe0, &[code]),
        PacketType::Auth => pkt(0xf0, &cat(&[&[code], &props(&hex(AUTH_METHOD))])),
        _ => unreachable!("{ty} has no reason code"),
    }
}

fn reason_of(p: &Packet) -> ReasonCode {
    match p {
        Packet::ConnAck(x) => x.reason_code,
        Packet::PubAck(x) => x.reason_code,
        Packet::PubRec(x) => x.reason_code,
        Packet::PubRel(x) => x.reason_code,
        Packet::PubComp(x) => x.reason_code,
        Packet::SubAck(x) => x.reason_codes[0],
        Packet::UnsubAck(x) => x.reason_codes[0],
        Packet::Disconnect(x) => x.reason_code,
        Packet::Auth(x) => x.reason_code,
        _ => unreachable!(),
    }
}

fn packet_with_reason(ty: PacketType, rc: ReasonCode) -> Packet {
    let ack = AckProperties::default();
    match ty {
        PacketType::ConnAck => ConnAck::new(false, rc).into(),
        PacketType::PubAck => PubAck {
            packet_id: pid(1),
            reason_code: rc,
            properties: ack,
        }
        .into(),
        PacketType::PubRec => PubRec {
            packet_id: pid(1),
            reason_code: rc,
            properties: ack,
        }
        .into(),
        PacketType::PubRel => PubRel {
            packet_id: pid(1),
            reason_code: rc,
            properties: ack,
        }
        .into(),
        PacketType::PubComp => PubComp {
            packet_id: pid(1),
            reason_code: rc,
            properties: ack,
        }
        .into(),
        PacketType::SubAck => SubAck {
            packet_id: pid(1),
            properties: ack,
            reason_codes: vec![rc],
        }
        .into(),
        PacketType::UnsubAck => UnsubAck {
            packet_id: pid(1),
            properties: ack,
            reason_codes: vec![rc],
        }
        .into(),
        PacketType::Disconnect => Disconnect::new(rc).into(),
        PacketType::Auth => Auth {
            reason_code: rc,
            properties: AuthProperties {
                authentication_method: Some(s("m")),
                ..AuthProperties::default()
            },
        }
        .into(),
        _ => unreachable!(),
    }
}

/// Decoding accepts exactly the codes of the packet's table (any other byte is refused), and
/// encoding refuses every defined code outside it.
#[track_caller]
fn check_reason_codes(ty: PacketType, table: &[u8]) {
    for code in 0..=255u8 {
        let bytes = reason_packet(ty, code);
        if table.contains(&code) {
            let p = ok(&bytes);
            assert_eq!(reason_of(&p).as_u8(), code, "{ty}");
        } else {
            // The standard names no reason code for this; the codec uses Protocol Error.
            rejects(
                &bytes,
                DecodeError::InvalidReasonCode { code, packet: ty },
                ReasonCode::ProtocolError,
            );
        }
    }
    for code in 0..=255u8 {
        let Some(rc) = ReasonCode::from_u8(code) else {
            continue;
        };
        let p = packet_with_reason(ty, rc);
        if table.contains(&code) {
            let out = enc(p.clone());
            assert_eq!(ok(&out), p, "{ty} {rc}");
        } else {
            assert_eq!(
                enc_err(p),
                EncodeError::InvalidReasonCode {
                    code: rc,
                    packet: ty
                },
                "{ty} {rc}"
            );
        }
    }
}

#[test]
fn reason_codes_table_2_6_has_43_values() {
    // 2.4 Table 2-6: the defined values; the same value may have several names.
    let defined: Vec<u8> = (0..=255u8)
        .filter(|&b| ReasonCode::from_u8(b).is_some())
        .collect();
    assert_eq!(defined.len(), 43);
    assert!(ReasonCode::UnspecifiedError.is_error());
    assert!(!ReasonCode::NoMatchingSubscribers.is_error());
}

#[test]
fn mqtt_3_2_2_8_connack_reason_codes_table_3_1() {
    // [MQTT-3.2.2-8]
    check_reason_codes(
        PacketType::ConnAck,
        &[
            0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90,
            0x95, 0x97, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f,
        ],
    );
}

const PUBACK_PUBREC_CODES: [u8; 9] = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];

#[test]
fn mqtt_3_4_2_1_puback_reason_codes_table_3_4() {
    // [MQTT-3.4.2-1]
    check_reason_codes(PacketType::PubAck, &PUBACK_PUBREC_CODES);
}

#[test]
fn mqtt_3_5_2_1_pubrec_reason_codes_table_3_5() {
    // [MQTT-3.5.2-1]
    check_reason_codes(PacketType::PubRec, &PUBACK_PUBREC_CODES);
}

#[test]
fn mqtt_3_6_2_1_pubrel_reason_codes_table_3_6() {
    // [MQTT-3.6.2-1]
    check_reason_codes(PacketType::PubRel, &[0x00, 0x92]);
}

#[test]
fn mqtt_3_7_2_1_pubcomp_reason_codes_table_3_7() {
    // [MQTT-3.7.2-1]
    check_reason_codes(PacketType::PubComp, &[0x00, 0x92]);
}

#[test]
fn mqtt_3_9_3_2_suback_reason_codes_table_3_8() {
    // [MQTT-3.9.3-2]
    check_reason_codes(
        PacketType::SubAck,
        &[
            0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2,
        ],
    );
}

#[test]
fn mqtt_3_11_3_2_unsuback_reason_codes_table_3_9() {
    // [MQTT-3.11.3-2]
    check_reason_codes(
        PacketType::UnsubAck,
        &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91],
    );
}

#[test]
fn mqtt_3_14_2_1_disconnect_reason_codes_table_3_10() {
    // [MQTT-3.14.2-1] Table 3-10, plus 0x8C (Bad authentication method): Table 2-6 lists 0x8C
    // for DISCONNECT but Table 3-10 does not; the codec follows Table 2-6 (see
    // docs/conformance.md).
    check_reason_codes(
        PacketType::Disconnect,
        &[
            0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90,
            0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0,
            0xa1, 0xa2,
        ],
    );
}

#[test]
fn mqtt_3_15_2_1_auth_reason_codes_table_3_11() {
    // [MQTT-3.15.2-1]
    check_reason_codes(PacketType::Auth, &[0x00, 0x18, 0x19]);
}

// ---------------------------------------------------------------------------------------------
// 3.1 CONNECT
// ---------------------------------------------------------------------------------------------

/// Figure 3-6 variable header, followed by a payload for its flags (ClientID "c", Will
/// Properties empty, Will Topic "w", Will Payload "x", User Name "u", Password "p").
const SPEC_CONNECT: &str = "10 20 \
    00 04 4d 51 54 54 05 ce 00 0a 05 11 00 00 00 0a \
    00 01 63 00 00 01 77 00 01 78 00 01 75 00 01 70";

#[test]
fn spec_example_3_1_2_12_connect_variable_header() {
    // Figure 3-6: protocol name "MQTT", version 5, flags CE (User Name, Password, Will QoS 1,
    // Will, Clean Start), Keep Alive 10, Session Expiry Interval 10.
    // [MQTT-3.1.2-9] [MQTT-3.1.2-17] [MQTT-3.1.2-19] [MQTT-3.1.3-1] [MQTT-3.1.3-3]
    let bytes = hex(SPEC_CONNECT);
    let Packet::Connect(c) = roundtrip(&bytes) else {
        panic!("not a CONNECT")
    };
    assert_eq!(c.protocol, V5);
    assert!(c.clean_start);
    assert_eq!(c.keep_alive, 10);
    assert_eq!(c.properties.session_expiry_interval, Some(10));
    assert_eq!(c.client_id.as_str(), "c");
    let will = c.will.as_ref().expect("Will Flag is 1");
    assert_eq!(will.qos, QoS::AtLeastOnce);
    assert!(!will.retain);
    assert_eq!(will.topic.as_str(), "w");
    assert_eq!(&will.payload[..], b"x");
    assert_eq!(c.username.as_deref(), Some("u"));
    assert_eq!(c.password.as_deref(), Some(&b"p"[..]));
    // Built from fields, the encoder writes the same bytes in the order of [MQTT-3.1.3-1].
    let built = Connect {
        protocol: V5,
        clean_start: true,
        keep_alive: 10,
        properties: ConnectProperties {
            session_expiry_interval: Some(10),
            ..ConnectProperties::default()
        },
        client_id: s("c"),
        will: Some(Will {
            topic: TopicName::from_static("w"),
            payload: Bytes::from_static(b"x"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: WillProperties::default(),
        }),
        username: Some(s("u")),
        password: Some(Bytes::from_static(b"p")),
    };
    assert_eq!(enc(built), bytes);
}

#[test]
fn mqtt_3_1_2_1_protocol_name_must_be_mqtt() {
    // [MQTT-3.1.2-1]: another name may get CONNACK 0x84 (Unsupported Protocol Version).
    for name in ["00 04 4d 51 54 58", "00 04 6d 71 74 74", "00 03 4d 51 54"] {
        let body = cat(&[&hex(name), &hex("05 02 00 3c 00 00 00")]);
        rejects(
            &pkt(0x10, &body),
            DecodeError::UnsupportedProtocolName,
            ReasonCode::UnsupportedProtocolVersion,
        );
    }
}

#[test]
fn mqtt_3_1_2_2_unsupported_protocol_version() {
    // [MQTT-3.1.2-2]: a version the server does not accept may get CONNACK 0x84. The codec
    // speaks 3 (as MQIsdp), 4 and 5.
    for level in [0u8, 1, 2, 3, 6, 0x85, 0xff] {
        let body = cat(&[
            &hex("00 04 4d 51 54 54"),
            &[level],
            &hex("02 00 3c 00 00 00"),
        ]);
        rejects(
            &pkt(0x10, &body),
            DecodeError::UnsupportedProtocolVersion(level),
            ReasonCode::UnsupportedProtocolVersion,
        );
    }
    // Level 4 is MQTT 3.1.1, decoded by its own rules (no properties) even on a 5.0 decoder.
    let Packet::Connect(c) = ok(&hex("10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00")) else {
        panic!("not a CONNECT")
    };
    assert_eq!(c.protocol, ProtocolVersion::V3_1_1);
}

#[test]
fn mqtt_3_1_2_3_reserved_connect_flag_is_malformed() {
    // [MQTT-3.1.2-3]: "If the reserved flag is not 0 it is a Malformed Packet."
    for flags in [0x01, 0x03, 0xcf] {
        rejects(
            &connect(flags, "00 00"),
            DecodeError::ReservedConnectFlag,
            ReasonCode::MalformedPacket,
        );
    }
}

#[test]
fn mqtt_3_1_2_9_will_fields_must_be_present() {
    // [MQTT-3.1.2-9]: Will Flag 1 needs Will Properties, Will Topic and Will Payload.
    for payload in [
        "00 00",             // none of them
        "00 00 00",          // Will Properties only
        "00 00 00 00 01 77", // no Will Payload
    ] {
        rejects(
            &connect(0x06, payload),
            DecodeError::UnexpectedEnd,
            ReasonCode::MalformedPacket,
        );
    }
    let Packet::Connect(c) = roundtrip(&connect(0x06, "00 00 00 00 01 77 00 00")) else {
        panic!("not a CONNECT")
    };
    assert!(c.will.is_some());
}

#[test]
fn mqtt_3_1_2_11_will_qos_must_be_0_without_will_flag() {
    // [MQTT-3.1.2-11]. The standard names no reason code; the codec uses Malformed Packet.
    for flags in [0x0a, 0x12] {
        rejects(
            &connect(flags, "00 00"),
            DecodeError::WillFlagsWithoutWill,
            ReasonCode::MalformedPacket,
        );
    }
}

#[test]
fn mqtt_3_1_2_12_will_qos_is_0_1_or_2_and_3_is_malformed() {
    // [MQTT-3.1.2-12]: "A value of 3 (0x03) is a Malformed Packet."
    rejects(
        &connect(0x1e, "00 00 00 00 01 77 00 00"),
        DecodeError::InvalidQoS(3),
        ReasonCode::MalformedPacket,
    );
    for (flags, qos) in [
        (0x06, QoS::AtMostOnce),
        (0x0e, QoS::AtLeastOnce),
        (0x16, QoS::ExactlyOnce),
    ] {
        let Packet::Connect(c) = roundtrip(&connect(flags, "00 00 00 00 01 77 00 00")) else {
            panic!("not a CONNECT")
        };
        assert_eq!(c.will.unwrap().qos, qos);
    }
}

#[test]
fn mqtt_3_1_2_13_will_retain_must_be_0_without_will_flag() {
    // [MQTT-3.1.2-13]. The standard names no reason code; the codec uses Malformed Packet.
    rejects(
        &connect(0x22, "00 00"),
        DecodeError::WillFlagsWithoutWill,
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn mqtt_3_1_2_14_and_15_will_retain_is_carried_both_ways() {
    // [MQTT-3.1.2-14] [MQTT-3.1.2-15]: publishing the will (non-)retained is the broker's job;
    // the codec carries the flag faithfully.
    for (flags, retain) in [(0x06, false), (0x26, true)] {
        let Packet::Connect(c) = roundtrip(&connect(flags, "00 00 00 00 01 77 00 00")) else {
            panic!("not a CONNECT")
        };
        assert_eq!(c.will.unwrap().retain, retain);
    }
}

#[test]
fn mqtt_3_1_2_16_no_user_name_when_its_flag_is_0() {
    // [MQTT-3.1.2-16]: a User Name without its flag is left over, which is malformed.
    rejects(
        &connect(0x02, "00 00 00 01 75"),
        DecodeError::TrailingBytes(3),
        ReasonCode::MalformedPacket,
    );
    assert_eq!(
        enc(Connect {
            keep_alive: 0,
            ..Connect::new(V5, s(""))
        }),
        hex("10 0d 00 04 4d 51 54 54 05 02 00 00 00 00 00")
    );
}

#[test]
fn mqtt_3_1_2_17_user_name_present_when_its_flag_is_1() {
    // [MQTT-3.1.2-17]
    rejects(
        &connect(0x82, "00 00"),
        DecodeError::UnexpectedEnd,
        ReasonCode::MalformedPacket,
    );
    let Packet::Connect(c) = roundtrip(&connect(0x82, "00 00 00 01 75")) else {
        panic!("not a CONNECT")
    };
    assert_eq!(c.username.as_deref(), Some("u"));
}

#[test]
fn mqtt_3_1_2_18_no_password_when_its_flag_is_0() {
    // [MQTT-3.1.2-18]
    rejects(
        &connect(0x82, "00 00 00 01 75 00 01 70"),
        DecodeError::TrailingBytes(3),
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn mqtt_3_1_2_19_password_present_when_its_flag_is_1() {
    // [MQTT-3.1.2-19]
    rejects(
        &connect(0xc2, "00 00 00 01 75"),
        DecodeError::UnexpectedEnd,
        ReasonCode::MalformedPacket,
    );
    // 3.1.2.9 (non-normative): 5.0 allows a Password without a User Name.
    let bytes = connect(0x42, "00 00 00 02 70 77");
    let Packet::Connect(c) = roundtrip(&bytes) else {
        panic!("not a CONNECT")
    };
    assert_eq!(c.username, None);
    assert_eq!(c.password.as_deref(), Some(&b"pw"[..]));
}

#[test]
fn mqtt_3_1_3_1_payload_fields_in_order_with_will_properties() {
    // [MQTT-3.1.3-1]: ClientID, Will Properties, Will Topic, Will Payload, User Name, Password.
    let payload = "00 02 69 64 \
                   05 18 00 00 00 05 \
                   00 02 77 74 \
                   00 02 77 70 \
                   00 02 75 6e \
                   00 02 70 77";
    let bytes = connect(0xee, payload); // User Name, Password, Will Retain, QoS 1, Will, Clean
    let Packet::Connect(c) = roundtrip(&bytes) else {
        panic!("not a CONNECT")
    };
    assert_eq!(c.client_id.as_str(), "id");
    let will = c.will.unwrap();
    assert_eq!(will.properties.will_delay_interval, Some(5));
    assert_eq!(will.topic.as_str(), "wt");
    assert_eq!(&will.payload[..], b"wp");
    assert!(will.retain);
    assert_eq!(c.username.as_deref(), Some("un"));
    assert_eq!(c.password.as_deref(), Some(&b"pw"[..]));
}

#[test]
fn mqtt_3_1_3_3_client_id_must_be_present() {
    // [MQTT-3.1.3-3]: the ClientID is the first payload field and cannot be left out.
    rejects(
        &hex("10 0b 00 04 4d 51 54 54 05 02 00 3c 00"),
        DecodeError::UnexpectedEnd,
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn mqtt_3_1_3_4_client_id_is_a_utf8_string() {
    // [MQTT-3.1.3-4]
    rejects(
        &connect(0x02, "00 02 c3 28"),
        DecodeError::InvalidString(StringError::InvalidUtf8),
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn mqtt_3_1_3_5_codec_accepts_23_alphanumeric_client_id() {
    // [MQTT-3.1.3-5]: the server must allow 1 to 23 bytes of [0-9a-zA-Z]; the codec puts no
    // limit of its own on the ClientID (the policy is the broker's).
    let id = "0123456789abcdefghijXYZ";
    let payload: String = format!("00 17 {}", to_hex(id.as_bytes()));
    let Packet::Connect(c) = roundtrip(&connect(0x02, &payload)) else {
        panic!("not a CONNECT")
    };
    assert_eq!(c.client_id.as_str(), id);
    let long = "x".repeat(300);
    let c = Connect::new(V5, MqttString::try_from(long.as_str()).unwrap());
    assert_eq!(ok(&enc(c.clone())), Packet::Connect(c));
}

fn to_hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn mqtt_3_1_3_6_codec_accepts_zero_length_client_id() {
    // [MQTT-3.1.3-6]: assigning an identifier is the broker's job; the codec carries the empty
    // ClientID (and the Assigned Client Identifier of [MQTT-3.1.3-7]).
    let Packet::Connect(c) = roundtrip(&hex("10 0d 00 04 4d 51 54 54 05 02 00 3c 00 00 00")) else {
        panic!("not a CONNECT")
    };
    assert!(c.client_id.is_empty());
    let ack = ConnAck {
        session_present: false,
        reason_code: ReasonCode::Success,
        properties: ConnAckProperties {
            assigned_client_identifier: Some(s("auto-1")),
            ..ConnAckProperties::default()
        },
    };
    assert_eq!(enc(ack), hex("20 0c 00 00 09 12 00 06 61 75 74 6f 2d 31"));
}

#[test]
fn mqtt_3_1_3_10_will_user_properties_keep_their_order() {
    // [MQTT-3.1.3-10]: the codec keeps the order in which they were received and writes them
    // back in that order.
    let will_props = "15 26 00 01 6b 00 01 32 26 00 01 61 00 01 62 26 00 01 6b 00 01 31";
    let bytes = connect(0x06, &format!("00 00 {will_props} 00 01 77 00 00"));
    let Packet::Connect(c) = roundtrip(&bytes) else {
        panic!("not a CONNECT")
    };
    assert_eq!(c.will.unwrap().properties.user_properties, user_props());
}

#[test]
fn mqtt_3_1_3_11_will_topic_is_a_utf8_string() {
    // [MQTT-3.1.3-11]
    rejects(
        &connect(0x06, "00 00 00 00 01 ff 00 00"),
        DecodeError::InvalidString(StringError::InvalidUtf8),
        ReasonCode::MalformedPacket,
    );
    // It is a Topic Name: no wildcards [MQTT-4.7.0-1], at least one character [MQTT-4.7.3-1].
    rejects(
        &connect(0x06, "00 00 00 00 01 23 00 00"),
        DecodeError::InvalidTopicName(TopicError::WildcardInName),
        ReasonCode::ProtocolError,
    );
    rejects(
        &connect(0x06, "00 00 00 00 00 00 00"),
        DecodeError::InvalidTopicName(TopicError::Empty),
        ReasonCode::ProtocolError,
    );
}

#[test]
fn mqtt_3_1_3_12_user_name_is_a_utf8_string() {
    // [MQTT-3.1.3-12]
    rejects(
        &connect(0x82, "00 00 00 01 fe"),
        DecodeError::InvalidString(StringError::InvalidUtf8),
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn mqtt_3_1_4_1_connect_not_matching_the_format_is_refused() {
    // [MQTT-3.1.4-1]: the codec checks the whole CONNECT format (the cases above) including
    // its length: bytes after the last field, or a packet cut short.
    rejects(
        &pkt(0x10, &hex("00 04 4d 51 54 54 05 02 00 3c 00 00 00 ff")),
        DecodeError::TrailingBytes(1),
        ReasonCode::MalformedPacket,
    );
    rejects(
        &pkt(0x10, &hex("00 04 4d 51 54 54 05 02 00")),
        DecodeError::UnexpectedEnd,
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn connect_property_values_that_are_protocol_errors() {
    // 3.1.2.11.3, .4, .6, .7, .10 (untagged): Receive Maximum 0, Maximum Packet Size 0, Request
    // Response / Problem Information other than 0 or 1, Authentication Data without
    // Authentication Method.
    let cases = [
        ("21 00 00", PropertyId::ReceiveMaximum),
        ("27 00 00 00 00", PropertyId::MaximumPacketSize),
        ("19 02", PropertyId::RequestResponseInformation),
        ("17 02", PropertyId::RequestProblemInformation),
        ("16 00 01 00", PropertyId::AuthenticationData),
    ];
    for (prop, id) in cases {
        rejects(
            &with_props(Ctx::Connect, &hex(prop)),
            DecodeError::InvalidPropertyValue(id),
            ReasonCode::ProtocolError,
        );
    }
}

#[test]
fn connect_with_authentication_data_but_no_method_cannot_be_encoded() {
    // 3.1.2.11.10 (untagged): "It is a Protocol Error to include Authentication Data if there is
    // no Authentication Method." The decoder refuses such a CONNECT
    // (connect_property_values_that_are_protocol_errors); the encoder must not produce one.
    let mut c = Connect::new(V5, s("c"));
    c.properties.authentication_data = Some(Bytes::from_static(b"secret"));
    let mut out = Vec::new();
    let res = c.encode(V5, &mut out);
    assert!(
        res.is_err(),
        "encoded {:02x?}, which decodes as {:?}",
        out,
        decode5(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// 3.2 CONNACK
// ---------------------------------------------------------------------------------------------

#[test]
fn mqtt_3_2_2_1_connack_reserved_acknowledge_flags_are_0() {
    // [MQTT-3.2.2-1]: bits 7-1 of the Connect Acknowledge Flags are 0.
    for flags in [0x02u8, 0x80, 0xfe, 0xff] {
        rejects(
            &pkt(0x20, &[flags, 0x00, 0x00]),
            DecodeError::ReservedConnAckFlags(flags),
            ReasonCode::MalformedPacket,
        );
    }
    let Packet::ConnAck(a) = roundtrip(&hex("20 03 01 00 00")) else {
        panic!("not a CONNACK")
    };
    assert!(a.session_present);
}

#[test]
fn mqtt_3_2_2_6_refused_connack_cannot_claim_a_session() {
    // [MQTT-3.2.2-6]: a non-zero Reason Code goes with Session Present 0.
    assert_eq!(
        enc_err(ConnAck::new(true, ReasonCode::NotAuthorized)),
        EncodeError::InvalidValue("Session Present on a refused connection")
    );
    assert_eq!(
        enc(ConnAck::new(false, ReasonCode::NotAuthorized)),
        hex("20 03 00 87 00")
    );
    assert_eq!(
        enc(ConnAck::new(true, ReasonCode::Success)),
        hex("20 03 01 00 00")
    );
}

#[test]
fn connack_property_values_that_are_protocol_errors() {
    // 3.2.2.3.3 to .12 (untagged): Receive Maximum 0, Maximum QoS other than 0 or 1, Retain /
    // Wildcard Subscription / Subscription Identifier / Shared Subscription Available other
    // than 0 or 1, Maximum Packet Size 0.
    let cases = [
        ("21 00 00", PropertyId::ReceiveMaximum),
        ("24 02", PropertyId::MaximumQoS),
        ("25 02", PropertyId::RetainAvailable),
        ("27 00 00 00 00", PropertyId::MaximumPacketSize),
        ("28 02", PropertyId::WildcardSubscriptionAvailable),
        ("29 02", PropertyId::SubscriptionIdentifierAvailable),
        ("2a ff", PropertyId::SharedSubscriptionAvailable),
    ];
    for (prop, id) in cases {
        rejects(
            &with_props(Ctx::ConnAck, &hex(prop)),
            DecodeError::InvalidPropertyValue(id),
            ReasonCode::ProtocolError,
        );
    }
    // Maximum QoS 2 is expressed by leaving the property out; it cannot be encoded.
    let ack = ConnAck {
        properties: ConnAckProperties {
            maximum_qos: Some(QoS::ExactlyOnce),
            ..ConnAckProperties::default()
        },
        ..ConnAck::new(false, ReasonCode::Success)
    };
    assert_eq!(enc_err(ack), EncodeError::InvalidValue("Maximum QoS 2"));
}

// ---------------------------------------------------------------------------------------------
// 3.3 PUBLISH
// ---------------------------------------------------------------------------------------------

#[test]
fn publish_fixed_header_flags_dup_qos_retain() {
    // [MQTT-2.1.3-1]: PUBLISH is the one packet whose flags are not reserved.
    // 3.3.1 Figure 3-8: DUP (bit 3), QoS (bits 2-1), RETAIN (bit 0), all carried both ways.
    for (first, dup, qos, retain) in [
        (0x30, false, QoS::AtMostOnce, false),
        (0x31, false, QoS::AtMostOnce, true),
        (0x32, false, QoS::AtLeastOnce, false),
        (0x3a, true, QoS::AtLeastOnce, false),
        (0x3d, true, QoS::ExactlyOnce, true),
    ] {
        let body = if qos == QoS::AtMostOnce {
            hex("00 01 74 00 70")
        } else {
            hex("00 01 74 00 07 00 70")
        };
        let Packet::Publish(p) = roundtrip(&pkt(first, &body)) else {
            panic!("not a PUBLISH")
        };
        assert_eq!(
            (p.dup, p.qos(), p.retain),
            (dup, qos, retain),
            "{first:#04x}"
        );
    }
}

#[test]
fn mqtt_3_3_1_2_dup_is_0_on_qos_0() {
    // [MQTT-3.3.1-2]. The standard names no reason code; the codec uses Malformed Packet.
    rejects(
        &hex("38 05 00 01 74 00 70"),
        DecodeError::DupOnQoS0,
        ReasonCode::MalformedPacket,
    );
    rejects(
        &hex("39 05 00 01 74 00 70"),
        DecodeError::DupOnQoS0,
        ReasonCode::MalformedPacket,
    );
    let mut p = Publish::new(TopicName::from_static("t"), QoSPid::AtMostOnce, "");
    p.dup = true;
    assert_eq!(
        enc_err(p),
        EncodeError::InvalidValue("DUP on a QoS 0 PUBLISH")
    );
}

#[test]
fn mqtt_3_3_1_4_qos_3_is_malformed() {
    // [MQTT-3.3.1-4]: "it is a Malformed Packet. Use DISCONNECT with Reason Code 0x81".
    for first in [0x36, 0x37, 0x3e, 0x3f] {
        rejects(
            &pkt(first, &hex("00 01 74 00 01 00")),
            DecodeError::InvalidQoS(3),
            ReasonCode::MalformedPacket,
        );
    }
}

#[test]
fn spec_example_figure_3_9_publish_variable_header() {
    // Figure 3-9: Topic Name "a/b", Packet Identifier 10, no properties.
    // [MQTT-3.3.2-1]
    let bytes = hex("32 08 00 03 61 2f 62 00 0a 00");
    let Packet::Publish(p) = roundtrip(&bytes) else {
        panic!("not a PUBLISH")
    };
    assert_eq!(p.topic.as_ref().map(TopicName::as_str), Some("a/b"));
    assert_eq!(p.packet_id(), Some(pid(10)));
    assert!(p.properties.is_empty());
    assert!(
        p.payload.is_empty(),
        "a zero length payload is valid (3.3.3)"
    );
}

#[test]
fn mqtt_3_3_2_1_topic_name_with_ill_formed_utf8_is_malformed() {
    // [MQTT-3.3.2-1] [MQTT-1.5.4-1]: the Topic Name is a UTF-8 Encoded String; ill-formed
    // UTF-8 in it is a Malformed Packet (0x81), as in any other string.
    for topic in ["00 03 61 80 62", "00 03 ed a0 80"] {
        let bytes = pkt(0x30, &cat(&[&hex(topic), &hex("00")]));
        let err = decode5(&bytes).expect_err("ill-formed UTF-8");
        assert!(
            matches!(
                err,
                DecodeError::InvalidString(StringError::InvalidUtf8)
                    | DecodeError::InvalidTopicName(TopicError::String(StringError::InvalidUtf8))
            ),
            "{err:?}"
        );
        assert_eq!(
            err.reason_code(),
            ReasonCode::MalformedPacket,
            "input {:02x?} gives {err:?}",
            bytes
        );
    }
}

#[test]
fn mqtt_3_3_2_2_topic_name_has_no_wildcards() {
    // [MQTT-3.3.2-2] [MQTT-4.7.0-1]. The standard names no reason code; the codec uses Protocol
    // Error.
    for topic in ["00 01 23", "00 01 2b", "00 03 61 2f 2b", "00 03 61 2b 62"] {
        rejects(
            &pkt(0x30, &cat(&[&hex(topic), &hex("00")])),
            DecodeError::InvalidTopicName(TopicError::WildcardInName),
            ReasonCode::ProtocolError,
        );
    }
    assert_eq!(TopicName::try_from("a/#"), Err(TopicError::WildcardInName));
}

#[test]
fn empty_topic_name_without_topic_alias_is_a_protocol_error() {
    // 3.3.2.1 (untagged): "It is a Protocol Error if the Topic Name is zero length and there is
    // no Topic Alias." [MQTT-4.7.3-1]
    rejects(
        &hex("30 03 00 00 00"),
        DecodeError::MissingTopic,
        ReasonCode::ProtocolError,
    );
    let mut p = Publish::new(TopicName::from_static("t"), QoSPid::AtMostOnce, "");
    p.topic = None;
    assert_eq!(enc_err(p), EncodeError::MissingTopic);
}

#[test]
fn topic_alias_with_empty_topic_name_is_valid() {
    // 3.3.2.3.4 (untagged): a zero length Topic Name with a Topic Alias uses the alias.
    let bytes = hex("30 06 00 00 03 23 00 05");
    let Packet::Publish(p) = roundtrip(&bytes) else {
        panic!("not a PUBLISH")
    };
    assert_eq!(p.topic, None);
    assert_eq!(p.properties.topic_alias, NonZeroU16::new(5));
    // Setting a mapping: a Topic Name and a Topic Alias together.
    let bytes = hex("30 07 00 01 74 03 23 00 05");
    let Packet::Publish(p) = roundtrip(&bytes) else {
        panic!("not a PUBLISH")
    };
    assert_eq!(p.topic.as_ref().map(TopicName::as_str), Some("t"));
}

#[test]
fn mqtt_3_3_2_8_topic_alias_0_is_topic_alias_invalid() {
    // [MQTT-3.3.2-8]; 3.3.4: "A Topic Alias value of 0 ... is a Protocol Error, the receiver uses
    // DISCONNECT with Reason Code of 0x94 (Topic Alias invalid)".
    rejects(
        &hex("30 07 00 01 74 03 23 00 00"),
        DecodeError::TopicAliasZero,
        ReasonCode::TopicAliasInvalid,
    );
    rejects(
        &hex("30 06 00 00 03 23 00 00"),
        DecodeError::TopicAliasZero,
        ReasonCode::TopicAliasInvalid,
    );
    // The encoder's type has no value 0.
    assert_eq!(NonZeroU16::new(0), None);
}

#[test]
fn mqtt_3_3_2_13_response_topic_is_a_utf8_string() {
    // [MQTT-3.3.2-13]: ill-formed UTF-8 is malformed, as in any string.
    rejects(
        &hex("30 09 00 01 74 05 08 00 02 c3 28"),
        DecodeError::InvalidString(StringError::InvalidUtf8),
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn mqtt_3_3_2_14_response_topic_has_no_wildcards() {
    // [MQTT-3.3.2-14], in PUBLISH and in the Will Properties. The standard names no reason
    // code; the codec uses Protocol Error.
    rejects(
        &hex("30 09 00 01 74 05 08 00 02 61 23"),
        DecodeError::InvalidTopicName(TopicError::WildcardInName),
        ReasonCode::ProtocolError,
    );
    rejects(
        &with_props(Ctx::Will, &hex("08 00 01 2b")),
        DecodeError::InvalidTopicName(TopicError::WildcardInName),
        ReasonCode::ProtocolError,
    );
    let bytes = hex("30 0a 00 01 74 06 08 00 03 72 2f 31");
    let Packet::Publish(p) = roundtrip(&bytes) else {
        panic!("not a PUBLISH")
    };
    assert_eq!(
        p.properties.response_topic.as_ref().map(TopicName::as_str),
        Some("r/1")
    );
}

#[test]
fn mqtt_3_3_2_17_and_18_user_properties_unaltered_and_in_order() {
    // [MQTT-3.3.2-17] [MQTT-3.3.2-18]: forwarding is the broker's job; the codec keeps every
    // User Property, duplicates included, in the received order, and writes them back so.
    let list = "26 00 01 6b 00 01 32 26 00 01 61 00 01 62 26 00 01 6b 00 01 31";
    let bytes = pkt(0x30, &cat(&[&hex("00 01 74 15"), &hex(list), b"payload"]));
    let Packet::Publish(p) = roundtrip(&bytes) else {
        panic!("not a PUBLISH")
    };
    assert_eq!(p.properties.user_properties, user_props());
    assert_eq!(&p.payload[..], b"payload");
}

#[test]
fn mqtt_3_3_2_19_content_type_is_a_utf8_string() {
    // [MQTT-3.3.2-19]
    rejects(
        &hex("30 08 00 01 74 04 03 00 01 00"),
        DecodeError::InvalidString(StringError::NullCharacter),
        ReasonCode::MalformedPacket,
    );
    let bytes = hex("30 0f 00 01 74 0b 03 00 08 74 65 78 74 2f 63 73 76");
    let Packet::Publish(p) = roundtrip(&bytes) else {
        panic!("not a PUBLISH")
    };
    assert_eq!(p.properties.content_type.as_deref(), Some("text/csv"));
}

#[test]
fn mqtt_3_3_4_4_one_publish_carries_several_subscription_identifiers() {
    // [MQTT-3.3.4-4]: the codec carries several identifiers in one PUBLISH, in order, the
    // largest value included. Choosing them is the broker's job.
    let bytes = hex("30 0d 00 01 74 09 0b 01 0b 02 0b ff ff ff 7f");
    let Packet::Publish(p) = roundtrip(&bytes) else {
        panic!("not a PUBLISH")
    };
    let ids: Vec<u32> = p
        .properties
        .subscription_identifiers
        .iter()
        .map(|i| i.get())
        .collect();
    assert_eq!(ids, [1, 2, 268_435_455]);
}

#[test]
fn subscription_identifier_0_is_a_protocol_error() {
    // 3.3.2.3.8 and 3.8.2.1.2 (untagged): "It is a Protocol Error if the Subscription Identifier
    // has a value of 0."
    rejects(
        &hex("30 06 00 01 74 02 0b 00"),
        DecodeError::InvalidPropertyValue(PropertyId::SubscriptionIdentifier),
        ReasonCode::ProtocolError,
    );
    rejects(
        &with_props(Ctx::Subscribe, &hex("0b 00")),
        DecodeError::InvalidPropertyValue(PropertyId::SubscriptionIdentifier),
        ReasonCode::ProtocolError,
    );
    assert_eq!(SubscriptionId::new(0), None);
    assert_eq!(SubscriptionId::new(268_435_456), None);
}

// ---------------------------------------------------------------------------------------------
// 3.4 to 3.7 PUBACK, PUBREC, PUBREL, PUBCOMP
// ---------------------------------------------------------------------------------------------

#[test]
fn publish_acknowledgements_short_forms() {
    // [MQTT-3.4.2-1] [MQTT-3.5.2-1] [MQTT-3.6.2-1] [MQTT-3.7.2-1]
    // 3.4.2.1 / 3.5.2.1 / 3.6.2.1 / 3.7.2.1 (untagged): Remaining Length 2 means Success and no
    // properties; below 4 there is no Property Length.
    for kind in [0x40u8, 0x50, 0x62, 0x70] {
        let expect = |p: &Packet, code: u8, reason_string: Option<&str>| {
            let (rc, props) = match p {
                Packet::PubAck(x) => (x.reason_code, &x.properties),
                Packet::PubRec(x) => (x.reason_code, &x.properties),
                Packet::PubRel(x) => (x.reason_code, &x.properties),
                Packet::PubComp(x) => (x.reason_code, &x.properties),
                _ => panic!("wrong type {p:?}"),
            };
            assert_eq!(rc.as_u8(), code);
            assert_eq!(props.reason_string.as_deref(), reason_string);
        };
        // The code every one of the four may carry besides Success.
        let other = if kind == 0x62 || kind == 0x70 {
            0x92
        } else {
            0x80
        };
        // Remaining Length 2.
        let p = roundtrip(&pkt(kind, &hex("12 34")));
        expect(&p, 0x00, None);
        // Remaining Length 3: a Reason Code, no Property Length.
        let p = roundtrip(&pkt(kind, &[0x12, 0x34, other]));
        expect(&p, other, None);
        // Remaining Length 4 with Property Length 0: valid, written back in the short form.
        let p = ok(&pkt(kind, &[0x12, 0x34, 0x00, 0x00]));
        expect(&p, 0x00, None);
        assert_eq!(enc(p), pkt(kind, &hex("12 34")));
        let p = ok(&pkt(kind, &[0x12, 0x34, other, 0x00]));
        assert_eq!(enc(p), pkt(kind, &[0x12, 0x34, other]));
        // Full form with a Reason String.
        let p = roundtrip(&pkt(
            kind,
            &[0x12, 0x34, other, 0x04, 0x1f, 0x00, 0x01, b'r'],
        ));
        expect(&p, other, Some("r"));
        // Success with properties keeps its Reason Code byte.
        let p = roundtrip(&pkt(kind, &hex("12 34 00 04 1f 00 01 72")));
        expect(&p, 0x00, Some("r"));
        // Nothing may follow the properties, and a single byte is not an identifier.
        rejects(
            &pkt(kind, &hex("12 34 00 00 00")),
            DecodeError::TrailingBytes(1),
            ReasonCode::MalformedPacket,
        );
        rejects(
            &pkt(kind, &hex("12")),
            DecodeError::UnexpectedEnd,
            ReasonCode::MalformedPacket,
        );
    }
    // Built from fields, the shortest form is written.
    assert_eq!(enc(PubAck::new(pid(1))), hex("40 02 00 01"));
    assert_eq!(enc(PubRec::new(pid(1))), hex("50 02 00 01"));
    assert_eq!(enc(PubRel::new(pid(1))), hex("62 02 00 01"));
    assert_eq!(enc(PubComp::new(pid(1))), hex("70 02 00 01"));
    let mut ack = PubAck::new(pid(1));
    ack.reason_code = ReasonCode::NoMatchingSubscribers;
    assert_eq!(enc(ack), hex("40 03 00 01 10"));
}

#[test]
fn mqtt_3_6_1_1_pubrel_flags_are_0010() {
    // [MQTT-3.6.1-1]
    check_reserved_flags(PacketType::PubRel, 0b0010);
    rejects(
        &hex("60 02 00 01"),
        DecodeError::InvalidFlags {
            packet: PacketType::PubRel,
            flags: 0,
        },
        ReasonCode::MalformedPacket,
    );
}

// ---------------------------------------------------------------------------------------------
// 3.8 SUBSCRIBE
// ---------------------------------------------------------------------------------------------

#[test]
fn spec_example_figures_3_19_and_3_21_subscribe() {
    // Figure 3-19 (Packet Identifier 10, no properties) and Figure 3-21 ("a/b" QoS 1, "c/d"
    // QoS 2). [MQTT-3.8.3-1] [MQTT-3.8.3-2]
    let bytes = hex("82 0f 00 0a 00 00 03 61 2f 62 01 00 03 63 2f 64 02");
    let Packet::Subscribe(sub) = roundtrip(&bytes) else {
        panic!("not a SUBSCRIBE")
    };
    assert_eq!(sub.packet_id, pid(10));
    let filters: Vec<(&str, QoS)> = sub
        .filters
        .iter()
        .map(|(f, o)| (f.as_str(), o.qos))
        .collect();
    assert_eq!(
        filters,
        [("a/b", QoS::AtLeastOnce), ("c/d", QoS::ExactlyOnce)]
    );
    let built = Subscribe {
        packet_id: pid(10),
        properties: SubscribeProperties::default(),
        filters: vec![
            (
                TopicFilter::from_static("a/b"),
                SubscriptionOptions::new(QoS::AtLeastOnce),
            ),
            (
                TopicFilter::from_static("c/d"),
                SubscriptionOptions::new(QoS::ExactlyOnce),
            ),
        ],
    };
    assert_eq!(enc(built), bytes);
}

#[test]
fn mqtt_3_8_1_1_subscribe_flags_are_0010() {
    // [MQTT-3.8.1-1]
    check_reserved_flags(PacketType::Subscribe, 0b0010);
}

#[test]
fn mqtt_3_8_3_1_topic_filter_with_ill_formed_utf8_is_malformed() {
    // [MQTT-3.8.3-1] [MQTT-1.5.4-1]: Topic Filters are UTF-8 Encoded Strings; ill-formed UTF-8
    // is a Malformed Packet (0x81).
    let bytes = hex("82 08 00 01 00 00 02 c3 28 00");
    let err = decode5(&bytes).expect_err("ill-formed UTF-8");
    assert!(
        matches!(
            err,
            DecodeError::InvalidString(StringError::InvalidUtf8)
                | DecodeError::InvalidTopicFilter(TopicError::String(StringError::InvalidUtf8))
        ),
        "{err:?}"
    );
    assert_eq!(
        err.reason_code(),
        ReasonCode::MalformedPacket,
        "input {:02x?} gives {err:?}",
        bytes
    );
}

#[test]
fn mqtt_3_8_3_2_subscribe_has_at_least_one_filter() {
    // [MQTT-3.8.3-2]: "A SUBSCRIBE packet with no Payload is a Protocol Error."
    rejects(
        &hex("82 03 00 01 00"),
        DecodeError::NoTopicFilters(PacketType::Subscribe),
        ReasonCode::ProtocolError,
    );
    let sub = Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: Vec::new(),
    };
    assert_eq!(enc_err(sub), EncodeError::Empty(PacketType::Subscribe));
    // A filter without its options byte is cut short.
    rejects(
        &hex("82 06 00 01 00 00 01 74"),
        DecodeError::UnexpectedEnd,
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn mqtt_3_8_3_4_no_local_on_a_shared_subscription_is_a_protocol_error() {
    // [MQTT-3.8.3-4]
    // "$share/g/t" with No Local (options 0x04).
    rejects(
        &hex("82 10 00 01 00 00 0a 24 73 68 61 72 65 2f 67 2f 74 04"),
        DecodeError::NoLocalOnSharedSubscription,
        ReasonCode::ProtocolError,
    );
    // Without No Local it is a valid shared subscription.
    let Packet::Subscribe(sub) = roundtrip(&hex(
        "82 10 00 01 00 00 0a 24 73 68 61 72 65 2f 67 2f 74 01",
    )) else {
        panic!("not a SUBSCRIBE")
    };
    assert_eq!(sub.filters[0].0.share_group(), Some("g"));
}

#[test]
fn no_local_on_a_shared_subscription_cannot_be_encoded() {
    // [MQTT-3.8.3-4]: the decoder refuses it (test above); a SUBSCRIBE the encoder writes must
    // not carry it either.
    let sub = Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: vec![(
            TopicFilter::from_static("$share/g/t"),
            SubscriptionOptions {
                no_local: true,
                ..SubscriptionOptions::default()
            },
        )],
    };
    let mut out = Vec::new();
    let res = sub.encode(V5, &mut out);
    assert!(
        res.is_err(),
        "encoded {:02x?}, which decodes as {:?}",
        out,
        decode5(&out)
    );
}

#[test]
fn mqtt_3_8_3_5_reserved_subscription_option_bits_are_malformed() {
    // [MQTT-3.8.3-5]: bits 6 and 7 of the Subscription Options.
    for options in [0x40u8, 0x80, 0xc0, 0x41] {
        rejects(
            &pkt(0x82, &cat(&[&hex("00 01 00 00 01 74"), &[options]])),
            DecodeError::InvalidSubscriptionOptions(options),
            ReasonCode::MalformedPacket,
        );
    }
}

#[test]
fn subscription_options_qos_3_is_a_protocol_error() {
    // 3.8.3.1 (untagged): "It is a Protocol Error if the Maximum QoS field has the value 3."
    let bytes = hex("82 07 00 01 00 00 01 74 03");
    let err = decode5(&bytes).expect_err("QoS 3");
    assert_eq!(err, DecodeError::InvalidSubscriptionOptionValue(0x03));
    assert_eq!(
        err.reason_code(),
        ReasonCode::ProtocolError,
        "input {:02x?} gives {err:?}",
        bytes
    );
}

#[test]
fn subscription_options_retain_handling_3_is_a_protocol_error() {
    // 3.8.3.1 (untagged): "It is a Protocol Error to send a Retain Handling value of 3."
    let bytes = hex("82 07 00 01 00 00 01 74 30");
    let err = decode5(&bytes).expect_err("Retain Handling 3");
    assert_eq!(err, DecodeError::InvalidSubscriptionOptionValue(0x30));
    assert_eq!(
        err.reason_code(),
        ReasonCode::ProtocolError,
        "input {:02x?} gives {err:?}",
        bytes
    );
}

#[test]
fn subscription_options_every_valid_byte_round_trips() {
    // Codec part of [MQTT-3.8.3-3] [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11]: the options
    // are decoded and encoded exactly; acting on them is the broker's job.
    // 3.8.3.1 Figure 3-20: QoS (bits 0-1), No Local (2), Retain As Published (3), Retain
    // Handling (4-5).
    let mut seen = 0;
    for b in 0..0x40u8 {
        if b & 0x03 == 3 || b >> 4 == 3 {
            continue;
        }
        let bytes = pkt(0x82, &cat(&[&hex("00 01 00 00 01 74"), &[b]]));
        let Packet::Subscribe(sub) = roundtrip(&bytes) else {
            panic!("not a SUBSCRIBE")
        };
        let o = sub.filters[0].1;
        assert_eq!(o.qos.as_u8(), b & 0x03);
        assert_eq!(o.no_local, b & 0x04 != 0);
        assert_eq!(o.retain_as_published, b & 0x08 != 0);
        let rh = match b >> 4 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtSubscribeIfNew,
            _ => RetainHandling::DoNotSend,
        };
        assert_eq!(o.retain_handling, rh);
        seen += 1;
    }
    assert_eq!(seen, 3 * 2 * 2 * 3);
}

// ---------------------------------------------------------------------------------------------
// 3.9 SUBACK, 3.10 UNSUBSCRIBE, 3.11 UNSUBACK
// ---------------------------------------------------------------------------------------------

#[test]
fn suback_and_unsuback_carry_at_least_one_reason_code() {
    // 3.9.3 / 3.11.3 (untagged): the payload is one Reason Code per filter, so there is at
    // least one. The standard names no reason code; the codec uses Protocol Error.
    rejects(
        &hex("90 03 00 01 00"),
        DecodeError::NoReasonCodes(PacketType::SubAck),
        ReasonCode::ProtocolError,
    );
    rejects(
        &hex("b0 03 00 01 00"),
        DecodeError::NoReasonCodes(PacketType::UnsubAck),
        ReasonCode::ProtocolError,
    );
    let suback = SubAck {
        packet_id: pid(1),
        properties: AckProperties::default(),
        reason_codes: Vec::new(),
    };
    assert_eq!(enc_err(suback), EncodeError::Empty(PacketType::SubAck));
    let unsuback = UnsubAck {
        packet_id: pid(1),
        properties: AckProperties::default(),
        reason_codes: Vec::new(),
    };
    assert_eq!(enc_err(unsuback), EncodeError::Empty(PacketType::UnsubAck));
    // Several codes keep their order (the order itself is [MQTT-3.9.3-1], session layer).
    let Packet::SubAck(a) = roundtrip(&hex("90 08 00 01 00 02 00 80 a2 01")) else {
        panic!("not a SUBACK")
    };
    assert_eq!(
        a.reason_codes,
        [
            ReasonCode::GrantedQoS2,
            ReasonCode::GRANTED_QOS_0,
            ReasonCode::UnspecifiedError,
            ReasonCode::WildcardSubscriptionsNotSupported,
            ReasonCode::GrantedQoS1,
        ]
    );
}

#[test]
fn spec_example_figure_3_30_unsubscribe() {
    // Figure 3-30: filters "a/b" and "c/d" (Packet Identifier 10, no properties).
    // [MQTT-3.10.3-1] [MQTT-3.10.3-2]
    let bytes = hex("a2 0d 00 0a 00 00 03 61 2f 62 00 03 63 2f 64");
    let Packet::Unsubscribe(u) = roundtrip(&bytes) else {
        panic!("not an UNSUBSCRIBE")
    };
    let filters: Vec<&str> = u.filters.iter().map(TopicFilter::as_str).collect();
    assert_eq!(filters, ["a/b", "c/d"]);
}

#[test]
fn mqtt_3_10_1_1_unsubscribe_flags_are_0010() {
    // [MQTT-3.10.1-1]
    check_reserved_flags(PacketType::Unsubscribe, 0b0010);
}

#[test]
fn mqtt_3_10_3_1_topic_filter_with_ill_formed_utf8_is_malformed() {
    // [MQTT-3.10.3-1] [MQTT-1.5.4-1]
    let bytes = hex("a2 07 00 01 00 00 02 c3 28");
    let err = decode5(&bytes).expect_err("ill-formed UTF-8");
    assert!(
        matches!(
            err,
            DecodeError::InvalidString(StringError::InvalidUtf8)
                | DecodeError::InvalidTopicFilter(TopicError::String(StringError::InvalidUtf8))
        ),
        "{err:?}"
    );
    assert_eq!(
        err.reason_code(),
        ReasonCode::MalformedPacket,
        "input {:02x?} gives {err:?}",
        bytes
    );
}

#[test]
fn mqtt_3_10_3_2_unsubscribe_has_at_least_one_filter() {
    // [MQTT-3.10.3-2]: "An UNSUBSCRIBE packet with no Payload is a Protocol Error."
    rejects(
        &hex("a2 03 00 01 00"),
        DecodeError::NoTopicFilters(PacketType::Unsubscribe),
        ReasonCode::ProtocolError,
    );
    let u = Unsubscribe {
        packet_id: pid(1),
        properties: UnsubscribeProperties::default(),
        filters: Vec::new(),
    };
    assert_eq!(enc_err(u), EncodeError::Empty(PacketType::Unsubscribe));
}

// ---------------------------------------------------------------------------------------------
// 3.12 PINGREQ, 3.13 PINGRESP
// ---------------------------------------------------------------------------------------------

#[test]
fn pingreq_and_pingresp_have_no_variable_header_or_payload() {
    // 3.12.2, 3.12.3, 3.13.2, 3.13.3 (untagged).
    assert_eq!(roundtrip(&hex("c0 00")), Packet::PingReq);
    assert_eq!(roundtrip(&hex("d0 00")), Packet::PingResp);
    rejects(
        &hex("c0 01 00"),
        DecodeError::TrailingBytes(1),
        ReasonCode::MalformedPacket,
    );
    rejects(
        &hex("d0 02 00 00"),
        DecodeError::TrailingBytes(2),
        ReasonCode::MalformedPacket,
    );
}

// ---------------------------------------------------------------------------------------------
// 3.14 DISCONNECT
// ---------------------------------------------------------------------------------------------

#[test]
fn mqtt_3_14_1_1_disconnect_reserved_flags_are_malformed() {
    // [MQTT-3.14.1-1]: "If they are not zero it sends a DISCONNECT packet with a Reason code of
    // 0x81 (Malformed Packet)".
    check_reserved_flags(PacketType::Disconnect, 0);
}

#[test]
fn disconnect_short_forms() {
    // [MQTT-3.14.2-1]
    // 3.14.2.1 (untagged): Remaining Length 0 is Normal disconnection; below 2 there is no
    // Property Length.
    assert_eq!(
        roundtrip(&hex("e0 00")),
        Packet::Disconnect(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION))
    );
    assert_eq!(
        roundtrip(&hex("e0 01 8e")),
        Packet::Disconnect(Disconnect::new(ReasonCode::SessionTakenOver))
    );
    // Reason Code and an empty property list: valid, written back in the short form.
    assert_eq!(enc(ok(&hex("e0 02 00 00"))), hex("e0 00"));
    assert_eq!(enc(ok(&hex("e0 02 04 00"))), hex("e0 01 04"));
    rejects(
        &hex("e0 03 00 00 00"),
        DecodeError::TrailingBytes(1),
        ReasonCode::MalformedPacket,
    );
}

#[test]
fn spec_example_figure_3_24_disconnect() {
    // Figure 3-24: Reason Code 0, Session Expiry Interval 0.
    let bytes = hex("e0 07 00 05 11 00 00 00 00");
    let Packet::Disconnect(d) = roundtrip(&bytes) else {
        panic!("not a DISCONNECT")
    };
    assert_eq!(d.reason_code, ReasonCode::NORMAL_DISCONNECTION);
    assert_eq!(d.properties.session_expiry_interval, Some(0));
}

// ---------------------------------------------------------------------------------------------
// 3.15 AUTH
// ---------------------------------------------------------------------------------------------

#[test]
fn mqtt_3_15_1_1_auth_flags_are_0000() {
    // [MQTT-3.15.1-1]
    check_reserved_flags(PacketType::Auth, 0);
}

#[test]
fn auth_short_form_and_full_form() {
    // [MQTT-3.15.2-1]
    // 3.15.2.1 (untagged): Success without properties may be a Remaining Length of 0.
    assert_eq!(roundtrip(&hex("f0 00")), Packet::Auth(Auth::default()));
    let bytes = hex("f0 0d 18 0b 15 00 03 61 62 63 16 00 02 01 02");
    let Packet::Auth(a) = roundtrip(&bytes) else {
        panic!("not an AUTH")
    };
    assert_eq!(a.reason_code, ReasonCode::ContinueAuthentication);
    assert_eq!(a.properties.authentication_method.as_deref(), Some("abc"));
    assert_eq!(
        a.properties.authentication_data.as_deref(),
        Some(&[1u8, 2][..])
    );
}

#[test]
fn auth_without_authentication_method_is_a_protocol_error() {
    // 3.15.2.2.2 (untagged): "It is a Protocol Error to omit the Authentication Method".
    // Continue authentication and Re-authenticate with an empty property list, and with only a
    // Reason String.
    for body in ["18 00", "19 00", "18 04 1f 00 01 72"] {
        let bytes = pkt(0xf0, &hex(body));
        assert_eq!(
            decode5(&bytes).map_err(|e| e.reason_code()),
            Err(ReasonCode::ProtocolError),
            "input {:02x?} decodes as {:?}",
            bytes,
            decode5(&bytes)
        );
    }
}

#[test]
fn auth_without_authentication_method_cannot_be_encoded() {
    // 3.15.2.2.2 (untagged): the encoder must not write an AUTH that omits the method (other than
    // the short Success form, which has no properties at all).
    let a = Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: AuthProperties::default(),
    };
    let mut out = Vec::new();
    let res = a.encode(V5, &mut out);
    assert!(res.is_err(), "encoded {:02x?}", out);
}

#[test]
fn auth_does_not_exist_before_mqtt_5() {
    // 2.1.2 Table 2-1: AUTH (15) is new in 5.0; in 3.1.1 the type is reserved.
    let opts = DecodeOptions::default();
    assert_eq!(
        decode_exact(&hex("f0 00"), ProtocolVersion::V3_1_1, &opts),
        Err(DecodeError::ReservedPacketType(15))
    );
    assert_eq!(
        Auth::default().encode(ProtocolVersion::V3_1_1, &mut Vec::new()),
        Err(EncodeError::NotInVersion {
            field: "AUTH",
            version: ProtocolVersion::V3_1_1
        })
    );
}

// ---------------------------------------------------------------------------------------------
// 4.7 Topic Names and Topic Filters
// ---------------------------------------------------------------------------------------------

fn filter(f: &str) -> TopicFilter {
    TopicFilter::try_from(f).unwrap_or_else(|e| panic!("{f:?} must be a valid filter: {e}"))
}

/// A SUBSCRIBE (QoS 0) for one filter given as text.
fn subscribe_to(f: &str) -> Vec<u8> {
    let mut body = hex("00 01 00");
    body.extend((f.len() as u16).to_be_bytes());
    body.extend_from_slice(f.as_bytes());
    body.push(0);
    pkt(0x82, &body)
}

#[test]
fn mqtt_4_7_0_1_wildcards_only_in_topic_filters() {
    // [MQTT-4.7.0-1]
    for t in ["#", "+", "a/+", "a/#", "a+b", "+/x"] {
        assert_eq!(
            TopicName::try_from(t),
            Err(TopicError::WildcardInName),
            "{t}"
        );
        assert!(TopicFilter::try_from(t).is_ok() || t == "a+b", "{t}");
    }
    rejects(
        &hex("30 06 00 03 61 2f 2b 00"),
        DecodeError::InvalidTopicName(TopicError::WildcardInName),
        ReasonCode::ProtocolError,
    );
    let Packet::Subscribe(s) = roundtrip(&subscribe_to("a/+/#")) else {
        panic!("not a SUBSCRIBE")
    };
    assert!(s.filters[0].0.has_wildcards());
}

#[test]
fn mqtt_4_7_1_1_multi_level_wildcard_alone_and_last() {
    // Matching is also what [MQTT-3.3.2-3] relies on.
    // [MQTT-4.7.1-1]: the non-normative examples of 4.7.1.2.
    for ok_filter in ["#", "sport/#", "sport/tennis/#", "/#", "+/#"] {
        assert!(TopicFilter::try_from(ok_filter).is_ok(), "{ok_filter}");
        roundtrip(&subscribe_to(ok_filter));
    }
    for bad in [
        "sport/tennis#",
        "sport/tennis/#/ranking",
        "#/",
        "##",
        "a/#b",
    ] {
        assert_eq!(
            TopicFilter::try_from(bad),
            Err(TopicError::InvalidMultiLevelWildcard),
            "{bad}"
        );
        rejects(
            &subscribe_to(bad),
            DecodeError::InvalidTopicFilter(TopicError::InvalidMultiLevelWildcard),
            ReasonCode::ProtocolError,
        );
    }
    // Matching: "#" stands for the parent and any number of child levels.
    let f = filter("sport/tennis/player1/#");
    for t in [
        "sport/tennis/player1",
        "sport/tennis/player1/ranking",
        "sport/tennis/player1/score/wimbledon",
    ] {
        assert!(f.matches(t), "{t}");
    }
    assert!(!f.matches("sport/tennis/player2"));
    assert!(filter("sport/#").matches("sport"));
    assert!(filter("#").matches("any/thing/at/all"));
}

#[test]
fn mqtt_4_7_1_2_single_level_wildcard_occupies_a_whole_level() {
    // Matching is also what [MQTT-3.3.2-3] relies on.
    // [MQTT-4.7.1-2]: the non-normative examples of 4.7.1.3.
    for ok_filter in ["+", "+/tennis/#", "sport/+/player1", "+/+", "/+"] {
        assert!(TopicFilter::try_from(ok_filter).is_ok(), "{ok_filter}");
        roundtrip(&subscribe_to(ok_filter));
    }
    for bad in ["sport+", "+sport", "a/b+/c", "++"] {
        assert_eq!(
            TopicFilter::try_from(bad),
            Err(TopicError::InvalidSingleLevelWildcard),
            "{bad}"
        );
        rejects(
            &subscribe_to(bad),
            DecodeError::InvalidTopicFilter(TopicError::InvalidSingleLevelWildcard),
            ReasonCode::ProtocolError,
        );
    }
    let f = filter("sport/tennis/+");
    assert!(f.matches("sport/tennis/player1"));
    assert!(f.matches("sport/tennis/player2"));
    assert!(!f.matches("sport/tennis/player1/ranking"));
    assert!(!filter("sport/+").matches("sport"));
    assert!(filter("sport/+").matches("sport/"));
    assert!(filter("+/+").matches("/finance"));
    assert!(filter("/+").matches("/finance"));
    assert!(!filter("+").matches("/finance"));
}

#[test]
fn mqtt_4_7_2_1_leading_wildcards_do_not_match_dollar_topics() {
    // [MQTT-4.7.2-1]: the non-normative examples of 4.7.2.
    assert!(!filter("#").matches("$SYS/broker/uptime"));
    assert!(!filter("+/monitor/Clients").matches("$SYS/monitor/Clients"));
    assert!(filter("$SYS/#").matches("$SYS/monitor/Clients"));
    assert!(filter("$SYS/monitor/+").matches("$SYS/monitor/Clients"));
    assert!(!filter("+").matches("$SYS"));
    assert!(!filter("$share/g/#").matches("$SYS/x"));
    // Only the first level is special.
    assert!(filter("a/+").matches("a/$b"));
}

#[test]
fn mqtt_4_7_3_1_topics_are_at_least_one_character() {
    // [MQTT-4.7.3-1]
    assert_eq!(TopicName::try_from(""), Err(TopicError::Empty));
    assert_eq!(TopicFilter::try_from(""), Err(TopicError::Empty));
    rejects(
        &hex("82 06 00 01 00 00 00 00"),
        DecodeError::InvalidTopicFilter(TopicError::Empty),
        ReasonCode::ProtocolError,
    );
    rejects(
        &hex("a2 05 00 01 00 00 00"),
        DecodeError::InvalidTopicFilter(TopicError::Empty),
        ReasonCode::ProtocolError,
    );
    // An empty Topic Name in PUBLISH is only valid with a Topic Alias (3.3.2.1).
    rejects(
        &hex("30 03 00 00 00"),
        DecodeError::MissingTopic,
        ReasonCode::ProtocolError,
    );
    // "/" alone is a valid Topic Name and Topic Filter (4.7.3).
    assert!(TopicName::try_from("/").is_ok());
    assert!(filter("/").matches("/"));
}

#[test]
fn mqtt_4_7_3_2_topics_do_not_include_null() {
    // [MQTT-4.7.3-2]
    assert_eq!(
        TopicName::try_from("a\0b"),
        Err(TopicError::String(StringError::NullCharacter))
    );
    assert_eq!(
        TopicFilter::try_from("a/\0"),
        Err(TopicError::String(StringError::NullCharacter))
    );
}

#[test]
fn mqtt_4_7_3_2_topic_name_with_null_on_the_wire_is_malformed() {
    // [MQTT-4.7.3-2] [MQTT-1.5.4-2]: "If a receiver (Server or Client) receives an MQTT Control
    // Packet containing U+0000 it is a Malformed Packet." In a PUBLISH Topic Name and in a
    // SUBSCRIBE Topic Filter.
    for bytes in [
        hex("30 06 00 03 61 00 62 00"),
        hex("82 08 00 01 00 00 02 61 00 00"),
    ] {
        let err = decode5(&bytes).expect_err("U+0000");
        assert!(
            matches!(
                err,
                DecodeError::InvalidString(StringError::NullCharacter)
                    | DecodeError::InvalidTopicName(TopicError::String(StringError::NullCharacter))
                    | DecodeError::InvalidTopicFilter(TopicError::String(
                        StringError::NullCharacter
                    ))
            ),
            "{err:?}"
        );
        assert_eq!(
            err.reason_code(),
            ReasonCode::MalformedPacket,
            "input {:02x?} gives {err:?}",
            bytes
        );
    }
}

#[test]
fn mqtt_4_7_3_3_topics_encode_to_at_most_65535_bytes() {
    // [MQTT-4.7.3-3]
    let longest = "a".repeat(65_535);
    let too_long = "a".repeat(65_536);
    assert_eq!(
        TopicName::try_from(too_long.as_str()),
        Err(TopicError::String(StringError::TooLong(65_536)))
    );
    assert_eq!(
        TopicFilter::try_from(too_long.as_str()),
        Err(TopicError::String(StringError::TooLong(65_536)))
    );
    let t = TopicName::try_from(longest.as_str()).unwrap();
    let p = Publish::new(t, QoSPid::AtMostOnce, "");
    let out = enc(p.clone());
    assert_eq!(&out[..6], hex("30 82 80 04 ff ff"));
    assert_eq!(ok(&out), Packet::Publish(p));
}

#[test]
fn mqtt_4_7_3_4_matching_does_not_normalize() {
    // [MQTT-4.7.3-4]: levels compare character for character: no case folding, no Unicode
    // normalization, spaces and leading or trailing '/' count (non-normative examples of 4.7.3).
    assert!(!filter("ACCOUNTS").matches("Accounts"));
    assert!(filter("Accounts payable").matches("Accounts payable"));
    assert!(!filter("/finance").matches("finance"));
    assert!(!filter("a/b").matches("a/b/"));
    // U+00E9 against "e" + U+0301 (NFC against NFD).
    assert!(!filter("caf\u{e9}").matches("cafe\u{301}"));
    assert!(!filter("+/caf\u{e9}").matches("x/cafe\u{301}"));
    // Decoding keeps the bytes as sent.
    let Packet::Publish(p) = roundtrip(&hex("30 08 00 05 63 61 66 c3 a9 00")) else {
        panic!("not a PUBLISH")
    };
    assert_eq!(p.topic.unwrap().as_str(), "caf\u{e9}");
}

// ---------------------------------------------------------------------------------------------
// 4.8.2 Shared Subscriptions
// ---------------------------------------------------------------------------------------------

#[test]
fn mqtt_4_8_2_1_shared_subscription_starts_with_share_and_a_share_name() {
    // [MQTT-4.8.2-1]: the examples of 4.8.2.
    let f = filter("$share/consumer1/sport/tennis/+");
    assert!(f.is_shared());
    assert_eq!(f.share_group(), Some("consumer1"));
    assert_eq!(f.filter(), "sport/tennis/+");
    assert!(f.matches("sport/tennis/x"));
    let f = filter("$share/consumer1//finance");
    assert_eq!(f.filter(), "/finance");
    assert!(f.matches("/finance"));
    // An empty ShareName.
    assert_eq!(
        TopicFilter::try_from("$share//t"),
        Err(TopicError::InvalidSharedSubscription)
    );
    rejects(
        &subscribe_to("$share//t"),
        DecodeError::InvalidTopicFilter(TopicError::InvalidSharedSubscription),
        ReasonCode::ProtocolError,
    );
    // Not a shared subscription: "$share" without '/', and other '$' prefixes.
    assert!(!filter("$share").is_shared());
    assert!(!filter("$shared/g/t").is_shared());
    // A shared filter round-trips through SUBSCRIBE and UNSUBSCRIBE.
    roundtrip(&subscribe_to("$share/g/a/#"));
    roundtrip(&hex("a2 0f 00 01 00 00 0a 24 73 68 61 72 65 2f 67 2f 78"));
}

#[test]
fn mqtt_4_8_2_2_share_name_then_slash_then_a_filter() {
    // [MQTT-4.8.2-2]: no '/', '+' or '#' in the ShareName, then '/', then a Topic Filter.
    for bad in [
        "$share/g",
        "$share/g/",
        "$share/g+/t",
        "$share/#/t",
        "$share/+/t",
    ] {
        assert!(TopicFilter::try_from(bad).is_err(), "{bad}");
        let err = decode5(&subscribe_to(bad)).expect_err(bad);
        assert!(
            matches!(err, DecodeError::InvalidTopicFilter(_)),
            "{bad}: {err:?}"
        );
        assert_eq!(err.reason_code(), ReasonCode::ProtocolError);
    }
    // The filter after the ShareName follows the rules of 4.7.
    assert_eq!(
        TopicFilter::try_from("$share/g/a#"),
        Err(TopicError::InvalidMultiLevelWildcard)
    );
}

// ---------------------------------------------------------------------------------------------
// Maximum Packet Size (receiver side) and the encoder's errors
// ---------------------------------------------------------------------------------------------

#[test]
fn packet_larger_than_maximum_packet_size_is_packet_too_large() {
    // 3.1.2.11.4 / 3.2.2.3.6 (untagged, receiver side of [MQTT-3.1.2-24] and [MQTT-3.2.2-15]):
    // a packet whose size (fixed header included, 2.1.4) exceeds the Maximum Packet Size gets
    // 0x95 Packet too large; it is refused from the header alone.
    let opts = DecodeOptions {
        max_packet_size: 10,
        ..DecodeOptions::default()
    };
    // 2 + 8 = 10 bytes: accepted.
    let exact = hex("32 08 00 03 61 2f 62 00 0a 00");
    let mut buf = BytesMut::from(&exact[..]);
    assert!(matches!(
        decode(&mut buf, V5, &opts),
        Ok(Some(Packet::Publish(_)))
    ));
    // 11 bytes, body not yet received: refused at once.
    let mut buf = BytesMut::from(&hex("30 09")[..]);
    let err = decode(&mut buf, V5, &opts).unwrap_err();
    assert_eq!(err, DecodeError::PacketTooLarge { size: 11, max: 10 });
    assert_eq!(err.reason_code(), ReasonCode::PacketTooLarge);
    // A Remaining Length of 268,435,455 with the default options only waits for more bytes.
    let mut buf = BytesMut::from(&hex("30 ff ff ff 7f")[..]);
    assert_eq!(decode(&mut buf, V5, &DecodeOptions::default()), Ok(None));
}

#[test]
fn encode_error_packet_too_large() {
    // 2.1.4: the Remaining Length cannot exceed 268,435,455.
    let payload = Bytes::from(vec![0u8; MAX_VAR_INT as usize]);
    let p = Publish::new(TopicName::from_static("t"), QoSPid::AtMostOnce, payload);
    assert_eq!(p.encoded_len(V5), Err(EncodeError::PacketTooLarge));
    assert_eq!(
        p.encode(V5, &mut Vec::new()),
        Err(EncodeError::PacketTooLarge)
    );
}

#[test]
fn encode_error_field_too_long() {
    // 1.5.6: Binary Data is at most 65,535 bytes (its length is a Two Byte Integer).
    let big = Bytes::from(vec![0u8; 65_536]);
    let mut c = Connect::new(V5, s("c"));
    c.password = Some(big.clone());
    assert_eq!(enc_err(c), EncodeError::FieldTooLong("password"));
    let mut c = Connect::new(V5, s("c"));
    c.will = Some(Will {
        topic: TopicName::from_static("w"),
        payload: big.clone(),
        qos: QoS::AtMostOnce,
        retain: false,
        properties: WillProperties::default(),
    });
    assert_eq!(enc_err(c), EncodeError::FieldTooLong("will payload"));
    let mut p = Publish::new(TopicName::from_static("t"), QoSPid::AtMostOnce, "");
    p.properties.correlation_data = Some(big);
    assert_eq!(enc_err(p), EncodeError::FieldTooLong("binary property"));
    // A string can never be too long: the type holds at most 65,535 bytes.
    assert_eq!(
        MqttString::try_from("x".repeat(65_536)),
        Err(StringError::TooLong(65_536))
    );
}

#[test]
fn encode_error_buffer_too_small_writes_nothing() {
    let p = Publish::new(TopicName::from_static("a/b"), QoSPid::AtMostOnce, "hi");
    let mut small = [0u8; 7];
    let mut dst = &mut small[..];
    assert_eq!(
        p.encode(V5, &mut dst),
        Err(EncodeError::BufferTooSmall {
            needed: 10,
            available: 7
        })
    );
    assert_eq!(small, [0u8; 7]);
    let mut exact = [0u8; 10];
    let mut dst = &mut exact[..];
    assert_eq!(p.encode(V5, &mut dst), Ok(10));
    assert_eq!(exact[..], hex("30 08 00 03 61 2f 62 00 68 69")[..]);
}

#[test]
fn encode_error_not_in_version() {
    // Fields MQTT 3.1.1 does not have are refused, never dropped.
    let v311 = ProtocolVersion::V3_1_1;
    let mut p = Publish::new(TopicName::from_static("t"), QoSPid::AtMostOnce, "");
    p.properties.content_type = Some(s("x"));
    assert_eq!(
        p.encode(v311, &mut Vec::new()),
        Err(EncodeError::NotInVersion {
            field: "PUBLISH properties",
            version: v311
        })
    );
    assert!(matches!(
        Disconnect::new(ReasonCode::ServerShuttingDown).encode(v311, &mut Vec::new()),
        Err(EncodeError::NotInVersion { .. })
    ));
    assert!(matches!(
        ConnAck::new(false, ReasonCode::Banned).encode(v311, &mut Vec::new()),
        Err(EncodeError::NotInVersion { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Every packet, every property: encode then decode
// ---------------------------------------------------------------------------------------------

#[test]
fn every_packet_round_trips_with_all_its_properties() {
    // Codec part of [MQTT-3.9.3-1] [MQTT-3.11.3-1]: SUBACK and UNSUBACK codes keep their order.
    // Table 2-4 from the encoder's side: each packet built with every property it may carry
    // encodes, measures its own length, and decodes back to the same packet.
    let up = user_props();
    let ack = AckProperties {
        reason_string: Some(s("why")),
        user_properties: up.clone(),
    };
    let packets: Vec<Packet> = vec![
        Connect {
            protocol: V5,
            clean_start: false,
            keep_alive: 30,
            properties: ConnectProperties {
                session_expiry_interval: Some(u32::MAX),
                receive_maximum: NonZeroU16::new(20),
                maximum_packet_size: NonZeroU32::new(1 << 20),
                topic_alias_maximum: Some(10),
                request_response_information: Some(true),
                request_problem_information: Some(false),
                user_properties: up.clone(),
                authentication_method: Some(s("SCRAM-SHA-1")),
                authentication_data: Some(Bytes::from_static(b"\x00\x01")),
            },
            client_id: s("client-1"),
            will: Some(Will {
                topic: TopicName::from_static("will/t"),
                payload: Bytes::from_static(b"bye"),
                qos: QoS::ExactlyOnce,
                retain: true,
                properties: WillProperties {
                    will_delay_interval: Some(5),
                    payload_format_indicator: Some(true),
                    message_expiry_interval: Some(60),
                    content_type: Some(s("text/plain")),
                    response_topic: Some(TopicName::from_static("resp")),
                    correlation_data: Some(Bytes::from_static(b"id")),
                    user_properties: up.clone(),
                },
            }),
            username: Some(s("u")),
            password: Some(Bytes::from_static(b"p")),
        }
        .into(),
        ConnAck {
            session_present: true,
            reason_code: ReasonCode::Success,
            properties: ConnAckProperties {
                session_expiry_interval: Some(0),
                receive_maximum: NonZeroU16::new(1),
                maximum_qos: Some(QoS::AtLeastOnce),
                retain_available: Some(false),
                maximum_packet_size: NonZeroU32::new(1024),
                assigned_client_identifier: Some(s("auto")),
                topic_alias_maximum: Some(0),
                reason_string: Some(s("ok")),
                user_properties: up.clone(),
                wildcard_subscription_available: Some(true),
                subscription_identifiers_available: Some(false),
                shared_subscription_available: Some(true),
                server_keep_alive: Some(120),
                response_information: Some(s("resp/")),
                server_reference: Some(s("other:1883")),
                authentication_method: Some(s("SCRAM-SHA-1")),
                authentication_data: Some(Bytes::from_static(b"v=")),
            },
        }
        .into(),
        Publish {
            dup: true,
            qos_pid: QoSPid::ExactlyOnce(pid(65_535)),
            retain: true,
            topic: Some(TopicName::from_static("a/b")),
            properties: PublishProperties {
                payload_format_indicator: Some(true),
                message_expiry_interval: Some(9),
                topic_alias: NonZeroU16::new(3),
                response_topic: Some(TopicName::from_static("r")),
                correlation_data: Some(Bytes::from_static(b"c")),
                user_properties: up.clone(),
                subscription_identifiers: vec![
                    SubscriptionId::new(1).unwrap(),
                    SubscriptionId::new(SubscriptionId::MAX).unwrap(),
                ],
                content_type: Some(s("t")),
            },
            payload: Bytes::from_static(b"payload"),
        }
        .into(),
        PubAck {
            packet_id: pid(1),
            reason_code: ReasonCode::QuotaExceeded,
            properties: ack.clone(),
        }
        .into(),
        PubRec {
            packet_id: pid(2),
            reason_code: ReasonCode::Success,
            properties: ack.clone(),
        }
        .into(),
        PubRel {
            packet_id: pid(3),
            reason_code: ReasonCode::PacketIdentifierNotFound,
            properties: ack.clone(),
        }
        .into(),
        PubComp {
            packet_id: pid(4),
            reason_code: ReasonCode::Success,
            properties: ack.clone(),
        }
        .into(),
        Subscribe {
            packet_id: pid(5),
            properties: SubscribeProperties {
                subscription_identifier: SubscriptionId::new(77),
                user_properties: up.clone(),
            },
            filters: vec![
                (
                    filter("a/+/#"),
                    SubscriptionOptions {
                        qos: QoS::ExactlyOnce,
                        no_local: true,
                        retain_as_published: true,
                        retain_handling: RetainHandling::DoNotSend,
                    },
                ),
                (
                    filter("$share/g/x"),
                    SubscriptionOptions::new(QoS::AtLeastOnce),
                ),
            ],
        }
        .into(),
        SubAck {
            packet_id: pid(5),
            properties: ack.clone(),
            reason_codes: vec![ReasonCode::GrantedQoS2, ReasonCode::NotAuthorized],
        }
        .into(),
        Unsubscribe {
            packet_id: pid(6),
            properties: UnsubscribeProperties {
                user_properties: up.clone(),
            },
            filters: vec![filter("a/+/#"), filter("$share/g/x")],
        }
        .into(),
        UnsubAck {
            packet_id: pid(6),
            properties: ack.clone(),
            reason_codes: vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
        }
        .into(),
        Packet::PingReq,
        Packet::PingResp,
        Disconnect {
            reason_code: ReasonCode::UseAnotherServer,
            properties: DisconnectProperties {
                session_expiry_interval: Some(10),
                reason_string: Some(s("moving")),
                user_properties: up.clone(),
                server_reference: Some(s("b:1883")),
            },
        }
        .into(),
        Auth {
            reason_code: ReasonCode::ReAuthenticate,
            properties: AuthProperties {
                authentication_method: Some(s("SCRAM-SHA-1")),
                authentication_data: Some(Bytes::from_static(b"n,,n=u")),
                reason_string: Some(s("again")),
                user_properties: up.clone(),
            },
        }
        .into(),
    ];
    for p in packets {
        let out = enc(p.clone());
        assert_eq!(ok(&out), p);
    }
    // One of them byte for byte: PUBACK 0x97 with Reason String "r".
    let ack = PubAck {
        packet_id: pid(1),
        reason_code: ReasonCode::QuotaExceeded,
        properties: AckProperties {
            reason_string: Some(s("r")),
            user_properties: Vec::new(),
        },
    };
    assert_eq!(enc(ack), hex("40 08 00 01 97 04 1f 00 01 72"));
}
