//! Chapter 2: the fixed header, the packet identifier and the empty property list.

use bytes::Bytes;
use mqtt_proto::{
    AckProperties, ConnAck, Connect, DecodeError, Packet, PacketId, PacketType, Publish, QoS,
    QoSPid, ReasonCode, SubAck, Subscribe, SubscribeProperties, SubscriptionOptions, TopicFilter,
    TopicName, UnsubAck, Unsubscribe, UnsubscribeProperties, Will, WillProperties,
};

use crate::common::{hex, pid};
use crate::helpers::{V5, check_reserved_flags, decode5, enc, rejects, roundtrip, s};

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
