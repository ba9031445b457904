//! 4.7 Topic names and filters.

use mqtt_proto::{Packet, StringError, TopicError, TopicFilter, TopicName};

use crate::common::{decode_in, roundtrip_bytes};
use crate::helpers::{
    V311, bad_filter, bad_name, bad_string, dec, publish_to, roundtrip, subscribe_to,
    unwrap_publish, unwrap_subscribe,
};

#[test]
fn mqtt_4_7_1_1_wildcards_in_filters_not_in_names() {
    // [MQTT-4.7.1-1]
    let s = unwrap_subscribe(roundtrip_bytes(V311, &subscribe_to("+/tennis/#")));
    assert_eq!(s.filters[0].0.as_str(), "+/tennis/#");
    assert_eq!(
        decode_in(V311, &publish_to("+/tennis/#")),
        bad_name(TopicError::WildcardInName)
    );
}

#[test]
fn mqtt_4_7_1_2_multi_level_wildcard() {
    // [MQTT-4.7.1-2]: '#' alone or after '/', and last. The examples of 4.7.1.2.
    for ok in ["#", "sport/#", "sport/tennis/#", "/#", "+/#"] {
        assert!(decode_in(V311, &subscribe_to(ok)).is_ok(), "{ok}");
    }
    for bad in [
        "sport/tennis#",
        "sport/tennis/#/ranking",
        "#/",
        "##",
        "a/#b",
    ] {
        assert_eq!(
            decode_in(V311, &subscribe_to(bad)),
            bad_filter(TopicError::InvalidMultiLevelWildcard),
            "{bad}"
        );
    }
    // Matching (broker side, helper here): '#' covers the parent and any children.
    let f = TopicFilter::from_static("sport/tennis/player1/#");
    assert!(f.matches("sport/tennis/player1"));
    assert!(f.matches("sport/tennis/player1/ranking"));
    assert!(f.matches("sport/tennis/player1/score/wimbledon"));
    assert!(TopicFilter::from_static("sport/#").matches("sport"));
    assert!(TopicFilter::from_static("#").matches("any/thing"));
}

#[test]
fn mqtt_4_7_1_3_single_level_wildcard() {
    // [MQTT-4.7.1-3]: '+' occupies a whole level. The examples of 4.7.1.3.
    for ok in ["+", "+/tennis/#", "sport/+/player1", "+/+", "/+"] {
        assert!(decode_in(V311, &subscribe_to(ok)).is_ok(), "{ok}");
    }
    for bad in ["sport+", "+a", "a/b+/c", "++"] {
        assert_eq!(
            decode_in(V311, &subscribe_to(bad)),
            bad_filter(TopicError::InvalidSingleLevelWildcard),
            "{bad}"
        );
    }
    let f = TopicFilter::from_static("sport/tennis/+");
    assert!(f.matches("sport/tennis/player1"));
    assert!(f.matches("sport/tennis/player2"));
    assert!(!f.matches("sport/tennis/player1/ranking"));
    assert!(!TopicFilter::from_static("sport/+").matches("sport"));
    assert!(TopicFilter::from_static("sport/+").matches("sport/"));
    assert!(TopicFilter::from_static("+/+").matches("/finance"));
    assert!(TopicFilter::from_static("/+").matches("/finance"));
    assert!(!TopicFilter::from_static("+").matches("/finance"));
}

#[test]
fn mqtt_4_7_2_1_wildcards_do_not_match_dollar_topics() {
    // [MQTT-4.7.2-1] (broker rule; the matching helper lives in mqtt-proto).
    assert!(!TopicFilter::from_static("#").matches("$SYS/broker/uptime"));
    assert!(!TopicFilter::from_static("+/monitor/Clients").matches("$SYS/monitor/Clients"));
    assert!(TopicFilter::from_static("$SYS/#").matches("$SYS/monitor/Clients"));
    assert!(TopicFilter::from_static("$SYS/monitor/+").matches("$SYS/monitor/Clients"));
    // '$' topics are valid topic names on the wire.
    assert!(decode_in(V311, &publish_to("$SYS/x")).is_ok());
}

#[test]
fn mqtt_4_7_3_1_topics_are_at_least_one_character() {
    // [MQTT-4.7.3-1]: in PUBLISH, SUBSCRIBE, UNSUBSCRIBE and the will topic.
    assert_eq!(dec("30 02 00 00"), bad_name(TopicError::Empty));
    assert_eq!(dec("82 05 00 0a 00 00 00"), bad_filter(TopicError::Empty));
    assert_eq!(dec("a2 04 00 0a 00 00"), bad_filter(TopicError::Empty));
    assert_eq!(TopicName::try_from(""), Err(TopicError::Empty));
    assert_eq!(TopicFilter::try_from(""), Err(TopicError::Empty));
}

#[test]
fn topic_semantics_of_4_7_3() {
    // Section 4.7.3 (no tags): case sensitive, spaces allowed, a leading or trailing '/'
    // makes a different topic, "/" alone is valid.
    for topic in ["/", "Accounts payable", "/finance", "finance/", "a//b"] {
        assert!(decode_in(V311, &publish_to(topic)).is_ok(), "{topic}");
        assert!(decode_in(V311, &subscribe_to(topic)).is_ok(), "{topic}");
    }
    assert!(!TopicFilter::from_static("ACCOUNTS").matches("Accounts"));
    assert!(!TopicFilter::from_static("finance").matches("/finance"));
    assert!(TopicFilter::from_static("Accounts payable").matches("Accounts payable"));
}

#[test]
fn mqtt_4_7_3_2_topics_have_no_null_character() {
    // [MQTT-4.7.3-2]
    let e = StringError::NullCharacter;
    assert_eq!(dec("30 03 00 01 00"), bad_string(e));
    assert_eq!(dec("82 06 00 0a 00 01 00 00"), bad_string(e));
    assert_eq!(TopicName::try_from("a\0"), Err(TopicError::String(e)));
}

#[test]
fn mqtt_4_7_3_3_topics_are_at_most_65535_bytes() {
    // [MQTT-4.7.3-3]: the two-byte length makes more impossible on the wire; the types
    // refuse to hold more, and 65,535 bytes is fine.
    let long = "a".repeat(65_535);
    let p = unwrap_publish(roundtrip_bytes(V311, &publish_to(&long)));
    assert_eq!(p.topic.unwrap().len(), 65_535);
    let e = TopicError::String(StringError::TooLong(65_536));
    assert_eq!(TopicName::try_from("a".repeat(65_536)), Err(e));
    assert_eq!(TopicFilter::try_from("a".repeat(65_536)), Err(e));
}

#[test]
fn mqtt_4_7_3_4_matching_does_not_normalize() {
    // [MQTT-4.7.3-4] (broker rule; the matching helper lives in mqtt-proto): precomposed
    // U+00E9 and 'e' + U+0301 are different topics; the bytes are compared as they are.
    assert!(!TopicFilter::from_static("caf\u{e9}").matches("cafe\u{301}"));
    assert!(TopicFilter::from_static("caf\u{e9}/+").matches("caf\u{e9}/x"));
    let p = unwrap_publish(roundtrip("30 07 00 05 63 61 66 c3 a9"));
    assert_eq!(p.topic.unwrap().as_str(), "caf\u{e9}");
}

#[test]
fn share_prefix_has_no_meaning_in_3_1_1() {
    // 3.1.1 has no shared subscriptions: "$share/g" and "$share//x" are ordinary filters
    // under [MQTT-4.7.1-2], [MQTT-4.7.1-3] and [MQTT-4.7.3-1], so a 3.1.1 SUBSCRIBE with
    // them is well-formed (the broker may still refuse it with return code 0x80).
    // A well-formed shared subscription is still recognised, as brokers accept it from
    // 3.1.1 clients.
    for filter in ["$share/g", "$share//x", "$share/g/"] {
        let packet = decode_in(V311, &subscribe_to(filter));
        let Ok(Packet::Subscribe(s)) = &packet else {
            panic!("{filter}: {packet:?}")
        };
        assert!(!s.filters[0].0.is_shared(), "{filter}");
    }
    let packet = decode_in(V311, &subscribe_to("$share/g/x"));
    let Ok(Packet::Subscribe(s)) = &packet else {
        panic!("{packet:?}")
    };
    assert!(s.filters[0].0.is_shared());
}
