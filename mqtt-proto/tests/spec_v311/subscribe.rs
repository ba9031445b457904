//! 3.8 SUBSCRIBE, 3.9 SUBACK, 3.10 UNSUBSCRIBE, 3.11 UNSUBACK.

use mqtt_proto::{
    AckProperties, DecodeError, EncodeError, Packet, PacketType, QoS, ReasonCode, RetainHandling,
    StringError, SubAck, Subscribe, SubscribeProperties, SubscriptionId, SubscriptionOptions,
    TopicError, TopicFilter, UnsubAck, Unsubscribe, UnsubscribeProperties,
};

use crate::common::{decode_in, hex, pid};
use crate::helpers::{
    V311, bad_filter, bad_string, dec, enc, frame, mstr, not_in_3_1_1, roundtrip, unwrap_subscribe,
};

#[test]
fn figures_3_21_and_3_23_subscribe_example() {
    // Figure 3.21: packet identifier 10; Figure 3.23 / Table 3.5: "a/b" QoS 1, "c/d" QoS 2.
    let s = unwrap_subscribe(roundtrip("82 0e 00 0a 00 03 61 2f 62 01 00 03 63 2f 64 02"));
    assert_eq!(s.packet_id, pid(10));
    let filters: Vec<(&str, QoS)> = s.filters.iter().map(|(f, o)| (f.as_str(), o.qos)).collect();
    assert_eq!(
        filters,
        [("a/b", QoS::AtLeastOnce), ("c/d", QoS::ExactlyOnce)]
    );
}

#[test]
fn mqtt_3_8_1_1_subscribe_reserved_flags() {
    // [MQTT-3.8.1-1]: SUBSCRIBE flags are 0010.
    for flags in [0b0000u8, 0b0011, 0b0110, 0b1010] {
        assert_eq!(
            decode_in(V311, &frame(0x80 | flags, "00 0a 00 01 61 00")),
            Err(DecodeError::InvalidFlags {
                packet: PacketType::Subscribe,
                flags
            })
        );
    }
}

#[test]
fn mqtt_3_8_3_1_subscribe_topic_filters_are_utf8() {
    // [MQTT-3.8.3-1]
    assert_eq!(
        dec("82 07 00 0a 00 02 c3 28 00"),
        bad_string(StringError::InvalidUtf8)
    );
    assert_eq!(
        dec("82 08 00 0a 00 03 61 00 62 00"),
        bad_string(StringError::NullCharacter)
    );
}

#[test]
fn mqtt_3_8_3_3_subscribe_needs_at_least_one_filter() {
    // [MQTT-3.8.3-3]: a SUBSCRIBE without payload is a protocol violation.
    assert_eq!(
        dec("82 02 00 0a"),
        Err(DecodeError::NoTopicFilters(PacketType::Subscribe))
    );
    let s = Subscribe {
        packet_id: pid(10),
        properties: SubscribeProperties::default(),
        filters: vec![],
    };
    assert_eq!(enc(s), Err(EncodeError::Empty(PacketType::Subscribe)));
}

#[test]
fn mqtt_3_8_3_4_requested_qos_reserved_bits_and_qos_3() {
    // [MQTT-3-8.3-4] (the tag is spelled so in the standard): bits 7-2 of the requested
    // QoS byte are reserved, and QoS 3 is malformed. Bits 2-5 mean something only in 5.0.
    for b in [0x03u8, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff] {
        assert_eq!(
            decode_in(V311, &frame(0x82, &format!("00 0a 00 01 61 {b:02x}"))),
            Err(DecodeError::InvalidSubscriptionOptions(b)),
            "{b:#04x}"
        );
    }
    // Figure 3.22: the filter is followed by its requested QoS byte.
    assert_eq!(dec("82 05 00 0a 00 01 61"), Err(DecodeError::UnexpectedEnd));
}

#[test]
fn encoding_v5_only_subscribe_content_for_3_1_1_fails() {
    let filter = TopicFilter::from_static("a/b");
    let with = |options: SubscriptionOptions| Subscribe {
        packet_id: pid(1),
        properties: SubscribeProperties::default(),
        filters: vec![(filter.clone(), options)],
    };
    let base = SubscriptionOptions::new(QoS::AtLeastOnce);
    not_in_3_1_1(enc(with(SubscriptionOptions {
        no_local: true,
        ..base
    })));
    not_in_3_1_1(enc(with(SubscriptionOptions {
        retain_as_published: true,
        ..base
    })));
    not_in_3_1_1(enc(with(SubscriptionOptions {
        retain_handling: RetainHandling::DoNotSend,
        ..base
    })));
    let mut s = with(base);
    s.properties.subscription_identifier = SubscriptionId::new(5);
    not_in_3_1_1(enc(s));
    assert_eq!(
        enc(with(base)).unwrap(),
        hex("82 08 00 01 00 03 61 2f 62 01")
    );
}

// ------------------------------------------------------------------------ 3.9 SUBACK

#[test]
fn figure_3_27_suback_example() {
    // Figure 3.27 / Table 3.6: Success QoS 0, Success QoS 2, Failure.
    let p = roundtrip("90 05 00 0a 00 02 80");
    let Packet::SubAck(s) = p else { panic!() };
    assert_eq!(s.packet_id, pid(10));
    assert_eq!(
        s.reason_codes,
        [
            ReasonCode::GRANTED_QOS_0,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError
        ]
    );
}

#[test]
fn mqtt_3_9_3_1_return_codes_keep_their_order() {
    // [MQTT-3.9.3-1] (the broker orders them): the codec keeps the wire order both ways.
    let codes = [
        ReasonCode::GrantedQoS2,
        ReasonCode::Success,
        ReasonCode::UnspecifiedError,
        ReasonCode::GrantedQoS1,
    ];
    let s = SubAck {
        packet_id: pid(7),
        properties: AckProperties::default(),
        reason_codes: codes.to_vec(),
    };
    assert_eq!(enc(s.clone()).unwrap(), hex("90 06 00 07 02 00 80 01"));
    assert_eq!(dec("90 06 00 07 02 00 80 01"), Ok(s.into()));
}

#[test]
fn mqtt_3_9_3_2_reserved_suback_return_codes() {
    // [MQTT-3.9.3-2]: only 0x00, 0x01, 0x02 and 0x80.
    for code in (0..=255u8).filter(|c| ![0x00, 0x01, 0x02, 0x80].contains(c)) {
        assert_eq!(
            dec(&format!("90 03 00 0a {code:02x}")),
            Err(DecodeError::InvalidReasonCode {
                code,
                packet: PacketType::SubAck
            })
        );
    }
    // The 5.0 SUBACK reason codes are not 3.1.1 return codes.
    for rc in [
        ReasonCode::NotAuthorized,
        ReasonCode::TopicFilterInvalid,
        ReasonCode::QuotaExceeded,
    ] {
        let s = SubAck {
            packet_id: pid(1),
            properties: AckProperties::default(),
            reason_codes: vec![rc],
        };
        assert_eq!(
            enc(s),
            Err(EncodeError::InvalidReasonCode {
                code: rc,
                packet: PacketType::SubAck
            })
        );
    }
}

#[test]
fn suback_has_a_return_code_per_filter() {
    // Section 3.9.3 with [MQTT-3.8.3-3]: at least one filter, so at least one return code.
    assert_eq!(
        dec("90 02 00 0a"),
        Err(DecodeError::NoReasonCodes(PacketType::SubAck))
    );
    let s = SubAck {
        packet_id: pid(1),
        properties: AckProperties::default(),
        reason_codes: vec![],
    };
    assert_eq!(enc(s), Err(EncodeError::Empty(PacketType::SubAck)));
    let s = SubAck {
        packet_id: pid(1),
        properties: AckProperties {
            reason_string: Some(mstr("x")),
            ..AckProperties::default()
        },
        reason_codes: vec![ReasonCode::Success],
    };
    not_in_3_1_1(enc(s));
}

// ------------------------------------------------------------------- 3.10 UNSUBSCRIBE

#[test]
fn figure_3_30_unsubscribe_example() {
    // Figures 3.28 to 3.30 / Table 3.7: identifier 10, filters "a/b" and "c/d".
    let p = roundtrip("a2 0c 00 0a 00 03 61 2f 62 00 03 63 2f 64");
    let Packet::Unsubscribe(u) = p else { panic!() };
    assert_eq!(u.packet_id, pid(10));
    let filters: Vec<&str> = u.filters.iter().map(TopicFilter::as_str).collect();
    assert_eq!(filters, ["a/b", "c/d"]);
}

#[test]
fn mqtt_3_10_1_1_unsubscribe_reserved_flags() {
    // [MQTT-3.10.1-1]: UNSUBSCRIBE flags are 0010.
    for flags in [0b0000u8, 0b0011, 0b0110, 0b1010] {
        assert_eq!(
            decode_in(V311, &frame(0xa0 | flags, "00 0a 00 01 61")),
            Err(DecodeError::InvalidFlags {
                packet: PacketType::Unsubscribe,
                flags
            })
        );
    }
}

#[test]
fn mqtt_3_10_3_1_unsubscribe_topic_filters_are_utf8() {
    // [MQTT-3.10.3-1]: UTF-8 strings, packed one after the other.
    assert_eq!(
        dec("a2 06 00 0a 00 02 c3 28"),
        bad_string(StringError::InvalidUtf8)
    );
    // A filter cut short by the remaining length.
    assert_eq!(
        dec("a2 07 00 0a 00 01 61 00 03"),
        Err(DecodeError::UnexpectedEnd)
    );
    // Filters follow the wildcard rules of 4.7.
    assert_eq!(
        dec("a2 06 00 0a 00 02 61 23"),
        bad_filter(TopicError::InvalidMultiLevelWildcard)
    );
}

#[test]
fn mqtt_3_10_3_2_unsubscribe_needs_at_least_one_filter() {
    // [MQTT-3.10.3-2]
    assert_eq!(
        dec("a2 02 00 0a"),
        Err(DecodeError::NoTopicFilters(PacketType::Unsubscribe))
    );
    let u = Unsubscribe {
        packet_id: pid(10),
        properties: UnsubscribeProperties::default(),
        filters: vec![],
    };
    assert_eq!(enc(u), Err(EncodeError::Empty(PacketType::Unsubscribe)));
    let u = Unsubscribe {
        packet_id: pid(10),
        properties: UnsubscribeProperties {
            user_properties: vec![(mstr("k"), mstr("v"))],
        },
        filters: vec![TopicFilter::from_static("a")],
    };
    not_in_3_1_1(enc(u));
}

// ---------------------------------------------------------------------- 3.11 UNSUBACK

#[test]
fn figure_3_31_unsuback() {
    // Figures 3.31 and 3.32: remaining length 2, the identifier, no payload.
    let p = roundtrip("b0 02 00 0a");
    let Packet::UnsubAck(u) = p else { panic!() };
    assert_eq!(u.packet_id, pid(10));
    assert!(u.reason_codes.is_empty());
    assert_eq!(dec("b0 03 00 0a 00"), Err(DecodeError::TrailingBytes(1)));
    // 5.0 reason codes per filter do not exist in 3.1.1.
    let u = UnsubAck {
        packet_id: pid(10),
        properties: AckProperties::default(),
        reason_codes: vec![ReasonCode::NoSubscriptionExisted],
    };
    not_in_3_1_1(enc(u));
}
