//! 3.3 PUBLISH, and 3.4 to 3.7 PUBACK, PUBREC, PUBREL, PUBCOMP.

use mqtt_proto::{
    DecodeError, EncodeError, OptBox, PacketType, PubAck, PubComp, PubRec, PubRel, Publish, QoS,
    QoSPid, ReasonCode, StringError, TopicError, TopicName,
};

use crate::common::{decode_in, hex, pid};
use crate::helpers::{
    V311, bad_name, bad_string, dec, enc, frame, mstr, not_in_3_1_1, publish_to, roundtrip,
    unwrap_publish,
};

#[test]
fn figure_3_11_publish_variable_header_example() {
    // Figure 3.11 / Table 3.3: topic "a/b", packet identifier 10 (QoS 1, no payload).
    let p = unwrap_publish(roundtrip("32 07 00 03 61 2f 62 00 0a"));
    assert_eq!(p.topic.as_ref().unwrap().as_str(), "a/b");
    assert_eq!(p.qos_pid, QoSPid::AtLeastOnce(pid(10)));
    assert!(p.payload.is_empty());
}

#[test]
fn figure_3_10_publish_fixed_header_flags() {
    // Figure 3.10: bit 3 DUP, bits 2-1 QoS, bit 0 RETAIN.
    let p = unwrap_publish(roundtrip("3b 08 00 03 61 2f 62 00 0a 78"));
    assert!(p.dup && p.retain);
    assert_eq!(p.qos_pid, QoSPid::AtLeastOnce(pid(10)));
    assert_eq!(&p.payload[..], b"x");
    let p = unwrap_publish(roundtrip("35 07 00 03 61 2f 62 00 0b"));
    assert!(!p.dup && p.retain);
    assert_eq!(p.qos_pid, QoSPid::ExactlyOnce(pid(11)));
    let p = unwrap_publish(roundtrip("31 05 00 03 61 2f 62"));
    assert!(p.retain && p.qos_pid == QoSPid::AtMostOnce);
}

#[test]
fn mqtt_3_3_1_1_dup_flag_is_carried() {
    // [MQTT-3.3.1-1] (session rule: set DUP on redelivery): the codec carries the bit both
    // ways for QoS 1 and 2.
    let mut p = Publish::new(TopicName::from_static("a"), QoSPid::ExactlyOnce(pid(1)), "");
    p.dup = true;
    assert_eq!(enc(p.clone()).unwrap(), hex("3c 05 00 01 61 00 01"));
    assert_eq!(dec("3c 05 00 01 61 00 01"), Ok(p.into()));
}

#[test]
fn mqtt_3_3_1_2_dup_must_be_0_for_qos_0() {
    // [MQTT-3.3.1-2]
    assert_eq!(dec("38 03 00 01 61"), Err(DecodeError::DupOnQoS0));
    assert_eq!(dec("39 03 00 01 61"), Err(DecodeError::DupOnQoS0));
    let mut p = Publish::new(TopicName::from_static("a"), QoSPid::AtMostOnce, "");
    p.dup = true;
    assert!(matches!(enc(p), Err(EncodeError::InvalidValue(_))));
}

#[test]
fn mqtt_3_3_1_4_qos_3_is_malformed() {
    // [MQTT-3.3.1-4]: both QoS bits set; whatever follows.
    for first in ["36", "37", "3e", "3f"] {
        assert_eq!(
            dec(&format!("{first} 05 00 01 61 00 01")),
            Err(DecodeError::InvalidQoS(3)),
            "{first}"
        );
    }
    // Nothing can ask the encoder for QoS 3.
    assert_eq!(QoS::from_u8(3), None);
}

#[test]
fn mqtt_3_3_2_1_topic_name_is_the_first_field_and_utf8() {
    // [MQTT-3.3.2-1]: the topic name is present, first, and UTF-8.
    assert_eq!(dec("30 00"), Err(DecodeError::UnexpectedEnd));
    assert_eq!(dec("30 01 00"), Err(DecodeError::UnexpectedEnd));
    assert_eq!(
        dec("30 04 00 02 c3 28"),
        bad_string(StringError::InvalidUtf8)
    );
    // A zero-length topic name is not a topic name in 3.1.1 [MQTT-4.7.3-1] (only 5.0 has
    // topic aliases).
    assert_eq!(dec("30 02 00 00"), bad_name(TopicError::Empty));
    assert_eq!(dec("32 04 00 00 00 01"), bad_name(TopicError::Empty));
}

#[test]
fn mqtt_3_3_2_2_topic_name_has_no_wildcards() {
    // [MQTT-3.3.2-2], [MQTT-4.7.1-1]
    for topic in ["+", "#", "a/+", "a/#", "+/b", "a+", "a#b"] {
        assert_eq!(
            decode_in(V311, &publish_to(topic)),
            bad_name(TopicError::WildcardInName),
            "{topic}"
        );
    }
    // The encoder cannot be given one.
    assert_eq!(TopicName::try_from("a/+"), Err(TopicError::WildcardInName));
}

#[test]
fn publish_qos_1_and_2_need_a_packet_identifier() {
    // Section 3.3.2.2: the identifier follows the topic when QoS is 1 or 2.
    assert_eq!(dec("32 05 00 03 61 2f 62"), Err(DecodeError::UnexpectedEnd));
    assert_eq!(
        dec("34 06 00 03 61 2f 62 00"),
        Err(DecodeError::UnexpectedEnd)
    );
}

#[test]
fn publish_payload_is_the_rest_and_may_be_empty() {
    // Section 3.3.3: remaining length minus the variable header; zero length is valid,
    // and the bytes are the application's (not UTF-8).
    let p = unwrap_publish(roundtrip("30 03 00 01 61"));
    assert!(p.payload.is_empty());
    let p = unwrap_publish(roundtrip("32 08 00 01 61 00 02 00 ff 80"));
    assert_eq!(&p.payload[..], &[0x00, 0xff, 0x80]);
}

#[test]
fn encoding_v5_only_publish_content_for_3_1_1_fails() {
    let mut p = Publish::new(TopicName::from_static("a"), QoSPid::AtMostOnce, "");
    p.properties.message_expiry_interval = Some(60);
    not_in_3_1_1(enc(p.clone()));
    // Without a topic name (a 5.0 topic alias) there is nothing to send in 3.1.1.
    p.properties = OptBox::none();
    p.topic = None;
    assert_eq!(enc(p), Err(EncodeError::MissingTopic));
}

// ----------------------------------------------------- 3.4 to 3.7 PUBACK ... PUBCOMP

#[test]
fn figures_3_12_to_3_19_publish_acknowledgements() {
    // PUBACK 40, PUBREC 50, PUBREL 62, PUBCOMP 70; remaining length 2, the identifier.
    assert_eq!(roundtrip("40 02 00 0a"), PubAck::new(pid(10)).into());
    assert_eq!(roundtrip("50 02 00 0a"), PubRec::new(pid(10)).into());
    assert_eq!(roundtrip("62 02 00 0a"), PubRel::new(pid(10)).into());
    assert_eq!(roundtrip("70 02 00 0a"), PubComp::new(pid(10)).into());
}

#[test]
fn publish_acknowledgements_have_remaining_length_2() {
    // Sections 3.4.1 to 3.7.1: no reason code, no properties, no payload in 3.1.1.
    for first in ["40", "50", "62", "70"] {
        assert_eq!(
            dec(&format!("{first} 03 00 0a 00")),
            Err(DecodeError::TrailingBytes(1)),
            "{first}"
        );
        assert_eq!(
            dec(&format!("{first} 01 00")),
            Err(DecodeError::UnexpectedEnd),
            "{first}"
        );
    }
}

#[test]
fn mqtt_3_6_1_1_pubrel_reserved_flags() {
    // [MQTT-3.6.1-1]: PUBREL flags are 0010; anything else is malformed.
    for flags in [0b0000u8, 0b0011, 0b0110, 0b1010, 0b1111] {
        assert_eq!(
            decode_in(V311, &frame(0x60 | flags, "00 0a")),
            Err(DecodeError::InvalidFlags {
                packet: PacketType::PubRel,
                flags
            })
        );
    }
    assert_eq!(enc(PubRel::new(pid(10))).unwrap(), hex("62 02 00 0a"));
}

#[test]
fn encoding_v5_only_acknowledgement_content_for_3_1_1_fails() {
    let mut ack = PubAck::new(pid(1));
    ack.reason_code = ReasonCode::NoMatchingSubscribers;
    not_in_3_1_1(enc(ack));
    let mut rel = PubRel::new(pid(1));
    rel.reason_code = ReasonCode::PacketIdentifierNotFound;
    not_in_3_1_1(enc(rel));
    let mut rec = PubRec::new(pid(1));
    rec.properties.reason_string = Some(mstr("why"));
    not_in_3_1_1(enc(rec));
}
