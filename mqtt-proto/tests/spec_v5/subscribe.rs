//! 3.8 SUBSCRIBE, 3.9 SUBACK, 3.10 UNSUBSCRIBE, 3.11 UNSUBACK.

use mqtt_proto::{
    AckProperties, DecodeError, EncodeError, Packet, PacketType, QoS, ReasonCode, RetainHandling,
    StringError, SubAck, Subscribe, SubscribeProperties, SubscriptionOptions, TopicError,
    TopicFilter, UnsubAck, Unsubscribe, UnsubscribeProperties,
};

use crate::common::{hex, pid, pkt};
use crate::helpers::{V5, cat, check_reserved_flags, decode5, enc, enc_err, rejects, roundtrip};

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
