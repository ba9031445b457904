//! 3.1 CONNECT and 3.2 CONNACK.

use bytes::Bytes;
use mqtt_proto::{
    ConnAck, ConnAckProperties, Connect, ConnectProperties, DecodeError, EncodeError, MqttString,
    Packet, PropertyId, ProtocolVersion, QoS, ReasonCode, StringError, TopicError, TopicName, Will,
    WillProperties,
};

use crate::common::{hex, pkt};
use crate::helpers::{
    Ctx, V5, cat, connect, decode5, enc, enc_err, ok, rejects, roundtrip, s, user_props, with_props,
};

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
    assert_eq!(ok(&enc(c.clone())), Packet::from(c));
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
