//! 3.3 PUBLISH, and 3.4 to 3.7 PUBACK, PUBREC, PUBREL, PUBCOMP.

use std::num::NonZeroU16;

use mqtt_proto::{
    DecodeError, EncodeError, Packet, PacketType, PropertyId, PubAck, PubComp, PubRec, PubRel,
    Publish, QoS, QoSPid, ReasonCode, StringError, SubscriptionId, TopicError, TopicName,
};

use crate::common::{hex, pid, pkt};
use crate::helpers::{
    Ctx, cat, check_reserved_flags, decode5, enc, enc_err, ok, rejects, roundtrip, user_props,
    with_props,
};

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
