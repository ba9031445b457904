//! 3.1 CONNECT and 3.2 CONNACK.

use bytes::Bytes;
use mqtt_proto::{
    ConnAck, ConnAckProperties, Connect, ConnectProperties, DecodeError, EncodeError, PacketType,
    QoS, ReasonCode, StringError, TopicError, TopicName, Will, WillProperties,
};

use crate::common::{decode_in, hex, roundtrip_bytes};
use crate::helpers::{
    V311, bad_name, connect, dec, enc, frame, mstr, not_in_3_1_1, roundtrip, str_hex,
    unwrap_connect,
};

#[test]
fn figure_3_6_connect_variable_header_example() {
    // Figure 3.6: "MQTT", level 4, flags CE (user name, password, will QoS 1, will, clean
    // session), keep alive 10; then the payload in the order of [MQTT-3.1.3-1]: client id
    // "c1", will topic "w/t", will message "bye", user name "u", password "pw".
    let bytes = hex("10 1f 00 04 4d 51 54 54 04 ce 00 0a \
         00 02 63 31 00 03 77 2f 74 00 03 62 79 65 00 01 75 00 02 70 77");
    let c = unwrap_connect(roundtrip_bytes(V311, &bytes));
    assert_eq!(c.protocol, V311);
    assert!(c.clean_start);
    assert_eq!(c.keep_alive, 10);
    assert_eq!(c.client_id, "c1");
    let will = c.will.as_ref().unwrap();
    assert_eq!(will.topic.as_str(), "w/t");
    assert_eq!(&will.payload[..], b"bye");
    assert_eq!(will.qos, QoS::AtLeastOnce);
    assert!(!will.retain);
    assert_eq!(c.username.as_ref().unwrap(), "u");
    assert_eq!(&c.password.as_ref().unwrap()[..], b"pw");
    // Built from fields, the same bytes come out.
    let built = Connect {
        keep_alive: 10,
        will: Some(Will {
            topic: TopicName::from_static("w/t"),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: WillProperties::default(),
        }),
        username: Some(mstr("u")),
        password: Some(Bytes::from_static(b"pw")),
        ..Connect::new(V311, mstr("c1"))
    };
    assert_eq!(enc(built).unwrap(), bytes);
}

#[test]
fn connect_minimal() {
    // Sections 3.1.1 and 3.1.2: remaining length 10 + payload; clean session, keep alive
    // 60, client id "abc".
    let bytes = hex("10 0f 00 04 4d 51 54 54 04 02 00 3c 00 03 61 62 63");
    let c = unwrap_connect(roundtrip_bytes(V311, &bytes));
    assert_eq!(c, Connect::new(V311, mstr("abc")));
    assert_eq!(enc(Connect::new(V311, mstr("abc"))).unwrap(), bytes);
}

#[test]
fn mqtt_3_1_2_1_protocol_name_must_be_mqtt() {
    // [MQTT-3.1.2-1]: a CONNECT whose protocol name is not "MQTT" (case matters) is not a
    // 3.1.1 CONNECT.
    for name in ["MQTX", "mqtt", "MQT", "MQTTT", ""] {
        let bytes = frame(0x10, &format!("{} 04 02 00 3c 00 01 63", str_hex(name)));
        assert_eq!(
            decode_in(V311, &bytes),
            Err(DecodeError::UnsupportedProtocolName),
            "{name:?}"
        );
    }
    // The Protocol Name of section 3.1.2.1 is on the wire as 00 04 'M' 'Q' 'T' 'T'.
    let bytes = enc(Connect::new(V311, mstr("c"))).unwrap();
    assert_eq!(&bytes[2..9], &hex("00 04 4d 51 54 54 04")[..]);
}

#[test]
fn mqtt_3_1_2_2_unsupported_protocol_level_is_reported() {
    // [MQTT-3.1.2-2]: the server answers an unsupported level with return code 0x01, so the
    // codec reports the level apart from other errors, with the reason that maps to 0x01.
    for level in [0u8, 1, 2, 3, 6, 0xff] {
        let bytes = frame(
            0x10,
            &format!("00 04 4d 51 54 54 {level:02x} 02 00 3c 00 01 63"),
        );
        let err = decode_in(V311, &bytes).unwrap_err();
        assert_eq!(err, DecodeError::UnsupportedProtocolVersion(level));
        assert_eq!(
            err.reason_code().to_v3_connect_return_code(),
            Some(0x01),
            "level {level}"
        );
    }
}

#[test]
fn mqtt_3_1_2_3_reserved_connect_flag_is_malformed() {
    // [MQTT-3.1.2-3]: bit 0 of the connect flags is reserved and must be 0.
    assert_eq!(
        decode_in(V311, &connect(0x03, "00 01 63")),
        Err(DecodeError::ReservedConnectFlag)
    );
    assert_eq!(
        decode_in(V311, &connect(0x01, "00 01 63")),
        Err(DecodeError::ReservedConnectFlag)
    );
    // The encoder leaves it 0 (byte 8 of the variable header).
    let bytes = enc(Connect::new(V311, mstr("c"))).unwrap();
    assert_eq!(bytes[9] & 1, 0);
}

#[test]
fn connect_clean_session_flag() {
    // Section 3.1.2.4: bit 1. What it does is the session's ([MQTT-3.1.2-4] to -6).
    let c = unwrap_connect(roundtrip_bytes(V311, &connect(0x00, "00 01 63")));
    assert!(!c.clean_start);
    let c = unwrap_connect(roundtrip_bytes(V311, &connect(0x02, "00 01 63")));
    assert!(c.clean_start);
}

#[test]
fn mqtt_3_1_2_9_will_flag_requires_will_topic_and_message() {
    // [MQTT-3.1.2-9]: with the Will Flag the payload has a will topic and a will message.
    assert_eq!(
        decode_in(V311, &connect(0x06, "00 01 63")),
        Err(DecodeError::UnexpectedEnd)
    );
    assert_eq!(
        decode_in(V311, &connect(0x06, "00 01 63 00 01 74")),
        Err(DecodeError::UnexpectedEnd)
    );
    let c = unwrap_connect(roundtrip_bytes(
        V311,
        &connect(0x06, "00 01 63 00 01 74 00 02 6d 6d"),
    ));
    let will = c.will.unwrap();
    assert_eq!(will.topic.as_str(), "t");
    assert_eq!(&will.payload[..], b"mm");
    assert_eq!((will.qos, will.retain), (QoS::AtMostOnce, false));
}

#[test]
fn mqtt_3_1_2_11_mqtt_3_1_2_13_mqtt_3_1_2_15_will_qos_and_retain_need_the_will_flag() {
    // [MQTT-3.1.2-13] Will QoS 0 without the Will Flag; [MQTT-3.1.2-15] Will Retain 0
    // without it; [MQTT-3.1.2-11] both, and no will fields in the payload.
    for flags in [0x0a, 0x12, 0x22, 0x2a, 0x32] {
        assert_eq!(
            decode_in(V311, &connect(flags, "00 01 63")),
            Err(DecodeError::WillFlagsWithoutWill),
            "flags {flags:#04x}"
        );
    }
    // Will fields without the Will Flag are bytes after the last field.
    assert_eq!(
        decode_in(V311, &connect(0x02, "00 01 63 00 01 74 00 01 6d")),
        Err(DecodeError::TrailingBytes(6))
    );
    // The encoder sets will QoS and retain only with a will.
    let bytes = enc(Connect::new(V311, mstr("c"))).unwrap();
    assert_eq!(bytes[9] & 0b0011_1100, 0);
}

#[test]
fn mqtt_3_1_2_14_will_qos_3_is_malformed() {
    // [MQTT-3.1.2-14]: with the Will Flag, Will QoS is 0, 1 or 2, never 3.
    assert_eq!(
        decode_in(V311, &connect(0x1e, "00 01 63 00 01 74 00 00")),
        Err(DecodeError::InvalidQoS(3))
    );
    // Sections 3.1.2.6 and 3.1.2.7: QoS in bits 4-3, retain in bit 5.
    for (flags, qos, retain) in [
        (0x06, QoS::AtMostOnce, false),
        (0x0e, QoS::AtLeastOnce, false),
        (0x16, QoS::ExactlyOnce, false),
        (0x36, QoS::ExactlyOnce, true),
        (0x26, QoS::AtMostOnce, true),
    ] {
        let c = unwrap_connect(roundtrip_bytes(
            V311,
            &connect(flags, "00 01 63 00 01 74 00 00"),
        ));
        let will = c.will.unwrap();
        assert_eq!((will.qos, will.retain), (qos, retain), "flags {flags:#04x}");
    }
}

#[test]
fn mqtt_3_1_2_18_mqtt_3_1_2_19_user_name_flag() {
    // [MQTT-3.1.2-19]: flag 1, a user name follows; [MQTT-3.1.2-18]: flag 0, none does.
    assert_eq!(
        decode_in(V311, &connect(0x82, "00 01 63")),
        Err(DecodeError::UnexpectedEnd)
    );
    assert_eq!(
        decode_in(V311, &connect(0x02, "00 01 63 00 01 75")),
        Err(DecodeError::TrailingBytes(3))
    );
    let c = unwrap_connect(roundtrip_bytes(V311, &connect(0x82, "00 01 63 00 01 75")));
    assert_eq!(c.username.unwrap(), "u");
    assert_eq!(c.password, None);
}

#[test]
fn mqtt_3_1_2_20_mqtt_3_1_2_21_password_flag() {
    // [MQTT-3.1.2-21]: flag 1, a password follows; [MQTT-3.1.2-20]: flag 0, none does.
    assert_eq!(
        decode_in(V311, &connect(0xc2, "00 01 63 00 01 75")),
        Err(DecodeError::UnexpectedEnd)
    );
    assert_eq!(
        decode_in(V311, &connect(0x82, "00 01 63 00 01 75 00 01 70")),
        Err(DecodeError::TrailingBytes(3))
    );
    // Section 3.1.3.5: the password is binary data, any bytes.
    let c = unwrap_connect(roundtrip_bytes(
        V311,
        &connect(0xc2, "00 01 63 00 01 75 00 03 ff 00 80"),
    ));
    assert_eq!(&c.password.unwrap()[..], &[0xff, 0x00, 0x80]);
}

#[test]
fn mqtt_3_1_2_22_password_needs_a_user_name() {
    // [MQTT-3.1.2-22]: user name flag 0 means password flag 0.
    assert_eq!(
        decode_in(V311, &connect(0x42, "00 01 63 00 01 70")),
        Err(DecodeError::PasswordWithoutUsername)
    );
    let c = Connect {
        password: Some(Bytes::from_static(b"p")),
        ..Connect::new(V311, mstr("c"))
    };
    not_in_3_1_1(enc(c));
}

#[test]
fn connect_keep_alive_field() {
    // Section 3.1.2.10, Figure 3.5: two bytes, MSB first; the largest is 65,535 s.
    let bytes = frame(0x10, "00 04 4d 51 54 54 04 02 ff ff 00 01 63");
    let c = unwrap_connect(roundtrip_bytes(V311, &bytes));
    assert_eq!(c.keep_alive, 65_535);
    let bytes = frame(0x10, "00 04 4d 51 54 54 04 02 00 00 00 01 63");
    assert_eq!(unwrap_connect(roundtrip_bytes(V311, &bytes)).keep_alive, 0);
}

#[test]
fn mqtt_3_1_3_1_payload_fields_in_order() {
    // [MQTT-3.1.3-1]: client id, will topic, will message, user name, password. With five
    // strings of one byte each, only the order tells them apart.
    let c = unwrap_connect(roundtrip_bytes(
        V311,
        &connect(0xc6, "00 01 31 00 01 32 00 01 33 00 01 34 00 01 35"),
    ));
    assert_eq!(c.client_id, "1");
    let will = c.will.unwrap();
    assert_eq!(will.topic.as_str(), "2");
    assert_eq!(&will.payload[..], b"3");
    assert_eq!(c.username.unwrap(), "4");
    assert_eq!(&c.password.unwrap()[..], b"5");
}

#[test]
fn mqtt_3_1_3_3_client_identifier_must_be_present() {
    // [MQTT-3.1.3-3]: the client identifier is the first payload field and always there.
    assert_eq!(
        dec("10 0a 00 04 4d 51 54 54 04 02 00 3c"),
        Err(DecodeError::UnexpectedEnd)
    );
    assert_eq!(
        dec("10 0b 00 04 4d 51 54 54 04 02 00 3c 00"),
        Err(DecodeError::UnexpectedEnd)
    );
}

#[test]
fn mqtt_3_1_3_4_client_identifier_is_utf8() {
    // [MQTT-3.1.3-4]
    assert_eq!(
        decode_in(V311, &connect(0x02, "00 02 c3 28")),
        Err(DecodeError::InvalidString(StringError::InvalidUtf8))
    );
    let c = unwrap_connect(roundtrip_bytes(V311, &connect(0x02, "00 02 c3 a9")));
    assert_eq!(c.client_id, "\u{e9}");
}

#[test]
fn mqtt_3_1_3_5_client_identifiers_a_server_must_allow_decode() {
    // [MQTT-3.1.3-5] (broker rule): 1 to 23 bytes of [0-9a-zA-Z] must be allowed; the codec
    // puts no limit of its own, so longer identifiers (which a server MAY allow) decode too.
    for id in [
        "0",
        "0123456789abcdefghijklm",
        "nopqrstuvwxyzABCDEFGHIJ",
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    ] {
        let c = unwrap_connect(roundtrip_bytes(V311, &connect(0x02, &str_hex(id))));
        assert_eq!(c.client_id, id);
    }
}

#[test]
fn mqtt_3_1_3_6_mqtt_3_1_3_8_zero_length_client_identifier_decodes() {
    // [MQTT-3.1.3-6]: a server may accept a zero-byte client id (and assign one);
    // [MQTT-3.1.3-8]: with Clean Session 0 it must answer CONNACK 0x02. Either way the
    // CONNECT itself is well-formed, so it decodes and the broker decides.
    let c = unwrap_connect(roundtrip("10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00"));
    assert!(c.client_id.is_empty() && c.clean_start);
    let c = unwrap_connect(roundtrip("10 0c 00 04 4d 51 54 54 04 00 00 3c 00 00"));
    assert!(c.client_id.is_empty() && !c.clean_start);
    assert_eq!(
        ReasonCode::ClientIdentifierNotValid.to_v3_connect_return_code(),
        Some(0x02)
    );
}

#[test]
fn mqtt_3_1_3_10_will_topic_is_a_utf8_topic_name() {
    // [MQTT-3.1.3-10]: UTF-8; and, being a topic name, non-empty [MQTT-4.7.3-1] and
    // without wildcards [MQTT-4.7.1-1].
    assert_eq!(
        decode_in(V311, &connect(0x06, "00 01 63 00 01 ff 00 00")),
        Err(DecodeError::InvalidString(StringError::InvalidUtf8))
    );
    assert_eq!(
        decode_in(V311, &connect(0x06, "00 01 63 00 00 00 00")),
        bad_name(TopicError::Empty)
    );
    for topic in ["a/+", "#", "a/#"] {
        assert_eq!(
            decode_in(
                V311,
                &connect(0x06, &format!("00 01 63 {} 00 00", str_hex(topic)))
            ),
            bad_name(TopicError::WildcardInName),
            "{topic}"
        );
    }
}

#[test]
fn will_message_is_binary_data() {
    // Section 3.1.3.3: a two-byte length and that many bytes, which need not be UTF-8;
    // zero length is allowed.
    let c = unwrap_connect(roundtrip_bytes(
        V311,
        &connect(0x06, "00 01 63 00 01 74 00 03 00 ff fe"),
    ));
    assert_eq!(&c.will.unwrap().payload[..], &[0x00, 0xff, 0xfe]);
    // A will message longer than 65,535 bytes cannot be encoded.
    let c = Connect {
        will: Some(Will {
            topic: TopicName::from_static("t"),
            payload: Bytes::from(vec![0u8; 65_536]),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: WillProperties::default(),
        }),
        ..Connect::new(V311, mstr("c"))
    };
    assert!(matches!(enc(c), Err(EncodeError::FieldTooLong(_))));
}

#[test]
fn mqtt_3_1_3_11_user_name_is_utf8() {
    // [MQTT-3.1.3-11]
    assert_eq!(
        decode_in(V311, &connect(0x82, "00 01 63 00 02 c3 28")),
        Err(DecodeError::InvalidString(StringError::InvalidUtf8))
    );
}

#[test]
fn mqtt_3_1_4_1_bytes_after_the_last_connect_field_are_malformed() {
    // [MQTT-3.1.4-1]: a CONNECT that does not conform to section 3.1 is refused before any
    // CONNACK; the codec is the part that tells (with every rejection above), including
    // bytes beyond the fields the flags announce.
    assert_eq!(
        decode_in(V311, &connect(0xc2, "00 01 63 00 01 75 00 01 70 00")),
        Err(DecodeError::TrailingBytes(1))
    );
    assert_eq!(
        decode_in(V311, &connect(0x02, "00 01 63 00")),
        Err(DecodeError::TrailingBytes(1))
    );
}

#[test]
fn encoding_v5_only_connect_content_for_3_1_1_fails() {
    // Properties exist only in 5.0: asking for them in a 3.1.1 CONNECT is an error.
    let c = Connect {
        properties: ConnectProperties {
            session_expiry_interval: Some(30),
            ..ConnectProperties::default()
        },
        ..Connect::new(V311, mstr("c"))
    };
    not_in_3_1_1(enc(c));
    let c = Connect {
        will: Some(Will {
            topic: TopicName::from_static("t"),
            payload: Bytes::new(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: WillProperties {
                will_delay_interval: Some(5),
                ..WillProperties::default()
            },
        }),
        ..Connect::new(V311, mstr("c"))
    };
    not_in_3_1_1(enc(c));
}

// ------------------------------------------------------------------------ 3.2 CONNACK

#[test]
fn figure_3_8_and_3_9_connack() {
    // Figures 3.8 and 3.9: 20 02, acknowledge flags (bit 0 Session Present), return code.
    let p = roundtrip("20 02 00 00");
    assert_eq!(p, ConnAck::new(false, ReasonCode::Success).into());
    let p = roundtrip("20 02 01 00");
    assert_eq!(p, ConnAck::new(true, ReasonCode::Success).into());
}

#[test]
fn table_3_1_connect_return_codes() {
    // Table 3.1: 0 accepted, 1 to 5 refusals, 6 to 255 reserved.
    let codes = [
        ReasonCode::Success,
        ReasonCode::UnsupportedProtocolVersion,
        ReasonCode::ClientIdentifierNotValid,
        ReasonCode::ServerUnavailable,
        ReasonCode::BadUserNameOrPassword,
        ReasonCode::NotAuthorized,
    ];
    for (value, rc) in codes.into_iter().enumerate() {
        let p = roundtrip(&format!("20 02 00 {value:02x}"));
        assert_eq!(p, ConnAck::new(false, rc).into());
    }
    for value in 6..=255u8 {
        assert_eq!(
            dec(&format!("20 02 00 {value:02x}")),
            Err(DecodeError::InvalidReasonCode {
                code: value,
                packet: PacketType::ConnAck
            })
        );
    }
}

#[test]
fn connack_reserved_acknowledge_flags() {
    // Section 3.2.2.1 (no tag): bits 7-1 of the acknowledge flags are reserved, 0.
    for flags in [0x02u8, 0x03, 0x80, 0xfe] {
        assert_eq!(
            dec(&format!("20 02 {flags:02x} 00")),
            Err(DecodeError::ReservedConnAckFlags(flags))
        );
    }
}

#[test]
fn connack_remaining_length_is_2() {
    // Section 3.2.1: remaining length 2, no payload (3.2.3).
    assert_eq!(dec("20 03 00 00 00"), Err(DecodeError::TrailingBytes(1)));
    assert_eq!(dec("20 01 00"), Err(DecodeError::UnexpectedEnd));
}

#[test]
fn mqtt_3_2_2_4_refusal_never_has_session_present_encode() {
    // [MQTT-3.2.2-4]: a non-zero return code goes with Session Present 0.
    assert!(matches!(
        enc(ConnAck::new(true, ReasonCode::NotAuthorized)),
        Err(EncodeError::InvalidValue(_))
    ));
}

#[test]
fn mqtt_3_2_2_4_refusal_with_session_present_is_rejected_on_decode() {
    // [MQTT-3.2.2-4] on the receiving side: CONNACK 01 05 (Session Present with "not
    // authorized") breaks the rule, so it is a protocol violation the client closes on
    // ([MQTT-4.8.0-1]). Whatever the codec decodes must also encode again (the fuzz
    // round-trip property), and the encoder refuses this combination.
    let got = dec("20 02 01 05");
    assert!(
        got.is_err(),
        "CONNACK 20 02 01 05 decoded to {got:?}, which the encoder refuses"
    );
}

#[test]
fn encoding_v5_only_connack_content_for_3_1_1_fails() {
    // Only the six return codes of Table 3.1 exist in 3.1.1, and no properties.
    not_in_3_1_1(enc(ConnAck::new(false, ReasonCode::Banned)));
    not_in_3_1_1(enc(ConnAck::new(false, ReasonCode::ServerBusy)));
    let c = ConnAck {
        properties: ConnAckProperties {
            server_keep_alive: Some(10),
            ..ConnAckProperties::default()
        },
        ..ConnAck::new(false, ReasonCode::Success)
    };
    not_in_3_1_1(enc(c));
}
