//! 4.7 Topic Names and Topic Filters, and 4.8.2 Shared Subscriptions.

use mqtt_proto::{
    DecodeError, Packet, Publish, QoSPid, ReasonCode, StringError, TopicError, TopicFilter,
    TopicName,
};

use crate::common::{hex, pkt};
use crate::helpers::{decode5, enc, filter, ok, rejects, roundtrip};

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
