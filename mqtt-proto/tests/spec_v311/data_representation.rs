//! 1.5.3 UTF-8 encoded strings.

use mqtt_proto::{DecodeError, DecodeOptions, MqttString, StringError, decode_exact};

use crate::common::{decode_in, hex, roundtrip_bytes};
use crate::helpers::{
    V311, bad_string, connect, dec, frame, mstr, roundtrip, str_hex, unwrap_connect, unwrap_publish,
};

#[test]
fn mqtt_1_5_3_1_ill_formed_utf8_is_malformed() {
    // [MQTT-1.5.3-1]: an encoded surrogate (U+D800 = ED A0 80), a lone continuation byte
    // and an overlong '/' (C0 AF) are not well-formed UTF-8, wherever the string is.
    let invalid = DecodeError::InvalidString(StringError::InvalidUtf8);
    for bad in ["ed a0 80", "61 80", "c0 af", "ed bf bf"] {
        let n = hex(bad).len();
        let string = format!("00 {n:02x} {bad}");
        // Client identifier, will topic, user name.
        assert_eq!(
            decode_in(V311, &connect(0x02, &string)),
            Err(invalid.clone())
        );
        assert_eq!(
            decode_in(
                V311,
                &connect(0x06, &format!("00 01 63 {string} {}", str_hex("m")))
            ),
            Err(invalid.clone())
        );
        assert_eq!(
            decode_in(V311, &connect(0x82, &format!("00 01 63 {string}"))),
            Err(invalid.clone())
        );
        // Topic name, topic filters.
        let e = StringError::InvalidUtf8;
        assert_eq!(decode_in(V311, &frame(0x30, &string)), bad_string(e));
        assert_eq!(
            decode_in(V311, &frame(0x82, &format!("00 0a {string} 00"))),
            bad_string(e)
        );
        assert_eq!(
            decode_in(V311, &frame(0xa2, &format!("00 0a {string}"))),
            bad_string(e)
        );
    }
}

#[test]
fn mqtt_1_5_3_2_null_character_is_malformed() {
    // [MQTT-1.5.3-2]: U+0000 in any string: client identifier, user name, topic, filter.
    let null = DecodeError::InvalidString(StringError::NullCharacter);
    assert_eq!(
        decode_in(V311, &connect(0x02, "00 03 61 00 62")),
        Err(null.clone())
    );
    assert_eq!(
        decode_in(V311, &connect(0x82, "00 01 63 00 01 00")),
        Err(null)
    );
    let e = StringError::NullCharacter;
    assert_eq!(dec("30 05 00 03 61 00 62"), bad_string(e));
    assert_eq!(dec("82 08 00 0a 00 03 61 00 62 00"), bad_string(e));
    assert_eq!(dec("a2 07 00 0a 00 03 61 00 62"), bad_string(e));
    // Encoding cannot produce one: the string types refuse it.
    assert_eq!(
        MqttString::try_from("a\0b"),
        Err(StringError::NullCharacter)
    );
}

#[test]
fn mqtt_1_5_3_3_byte_order_mark_is_kept() {
    // [MQTT-1.5.3-3]: EF BB BF is U+FEFF wherever it is, never skipped or stripped.
    let p = unwrap_publish(roundtrip("30 06 00 04 ef bb bf 61"));
    assert_eq!(p.topic.unwrap().as_str(), "\u{FEFF}a");
    let c = unwrap_connect(roundtrip_bytes(V311, &connect(0x02, "00 04 61 ef bb bf")));
    assert_eq!(c.client_id.as_str(), "a\u{FEFF}");
    assert_eq!(c.client_id.len(), 4);
}

#[test]
fn figure_1_2_utf8_string_example() {
    // Section 1.5.3.1: "A" followed by U+2A6D4 is 00 05 41 F0 AA 9B 94.
    let p = unwrap_publish(roundtrip("30 07 00 05 41 f0 aa 9b 94"));
    assert_eq!(p.topic.unwrap().as_str(), "A\u{2A6D4}");
}

#[test]
fn discouraged_code_points_are_refused_only_when_strict() {
    // Section 1.5.3 (SHOULD NOT, no tag): U+0001..U+001F, U+007F..U+009F and non-characters
    // should not be sent; a receiver may close the connection. Lenient by default.
    let bytes = connect(0x02, "00 02 61 01");
    assert!(decode_in(V311, &bytes).is_ok());
    let strict = DecodeOptions {
        strict_strings: true,
        ..DecodeOptions::default()
    };
    assert_eq!(
        decode_exact(&bytes, V311, &strict),
        Err(DecodeError::InvalidString(
            StringError::DiscouragedCodePoint(1)
        ))
    );
}

#[test]
fn strings_are_length_prefixed_and_at_most_65535_bytes() {
    // Section 1.5.3, Figure 1.1: a two-byte length, then that many bytes. A length running
    // past the packet is malformed; a string longer than 65,535 bytes cannot be built.
    assert_eq!(dec("30 03 00 05 61"), Err(DecodeError::UnexpectedEnd));
    assert_eq!(
        MqttString::try_from("x".repeat(65_536)),
        Err(StringError::TooLong(65_536))
    );
    assert_eq!(mstr(&"x".repeat(65_535)).len(), 65_535);
    // An empty string is allowed where the field allows it (a zero-length client id).
    assert!(decode_in(V311, &connect(0x02, "00 00")).is_ok());
}
