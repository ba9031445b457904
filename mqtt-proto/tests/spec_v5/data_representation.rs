//! Chapter 1: data representation (UTF-8 strings, Variable Byte Integers, string pairs).

use mqtt_proto::{
    DecodeError, DecodeOptions, FixedHeader, MAX_VAR_INT, MqttString, Packet, Publish, QoSPid,
    ReasonCode, StringError, TopicError, TopicName, decode_exact, decode_var_int, var_int_len,
};

use crate::common::{hex, pkt, vbi};
use crate::helpers::{
    Ctx, V5, cat, connect, decode5, enc, ok, props, rejects, roundtrip, s, with_props,
};

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
