use super::*;

fn filter(s: &str) -> Result<TopicFilter, TopicError> {
    TopicFilter::try_from(s)
}

fn name(s: &str) -> Result<TopicName, TopicError> {
    TopicName::try_from(s)
}

#[test]
fn empty_topics_are_invalid_mqtt_4_7_3_1() {
    assert_eq!(name(""), Err(TopicError::Empty));
    assert_eq!(filter(""), Err(TopicError::Empty));
}

#[test]
fn topic_names_have_no_wildcards_mqtt_3_3_2_2() {
    // [MQTT-3.3.2-2] / [MQTT-4.7.0-1]
    for bad in ["a/+", "a/#", "+", "#", "a+b", "a#b"] {
        assert_eq!(name(bad), Err(TopicError::WildcardInName), "{bad}");
    }
    for ok in [
        "a",
        "/",
        "a//b",
        "/finance",
        "$SYS/broker/uptime",
        "sport/tennis player1",
    ] {
        assert!(name(ok).is_ok(), "{ok}");
    }
}

// 5.0 [MQTT-4.7.1-1], 3.1.1 [MQTT-4.7.1-2]
#[test]
fn multi_level_wildcard_rules_mqtt_4_7_1_1() {
    // Spec examples (section 4.7.1.2): "sport/tennis/#", "#" and "sport/#" are valid;
    // "sport/tennis#" and "sport/tennis/#/ranking" are not.
    for ok in ["#", "sport/#", "sport/tennis/#", "/#", "+/#"] {
        assert!(filter(ok).is_ok(), "{ok}");
    }
    for bad in [
        "sport/tennis#",
        "sport/tennis/#/ranking",
        "##",
        "#/",
        "a/#b",
    ] {
        assert_eq!(
            filter(bad),
            Err(TopicError::InvalidMultiLevelWildcard),
            "{bad}"
        );
    }
}

// 5.0 [MQTT-4.7.1-2], 3.1.1 [MQTT-4.7.1-3]
#[test]
fn single_level_wildcard_rules_mqtt_4_7_1_2() {
    // Spec examples (section 4.7.1.3): "+", "+/tennis/#" and "sport/+/player1" are valid,
    // "sport+" is not.
    for ok in ["+", "+/tennis/#", "sport/+/player1", "+/+", "/+"] {
        assert!(filter(ok).is_ok(), "{ok}");
    }
    for bad in ["sport+", "+a", "a/b+/c", "++"] {
        assert_eq!(
            filter(bad),
            Err(TopicError::InvalidSingleLevelWildcard),
            "{bad}"
        );
    }
}

#[test]
fn multi_level_wildcard_matching() {
    let f = filter("sport/tennis/player1/#").unwrap();
    assert!(f.matches("sport/tennis/player1"));
    assert!(f.matches("sport/tennis/player1/ranking"));
    assert!(f.matches("sport/tennis/player1/score/wimbledon"));
    assert!(!f.matches("sport/tennis/player2"));
    // "sport/#" also matches the singular "sport", since # includes the parent level.
    assert!(filter("sport/#").unwrap().matches("sport"));
    assert!(filter("#").unwrap().matches("a/b/c"));
}

#[test]
fn single_level_wildcard_matching() {
    let f = filter("sport/tennis/+").unwrap();
    assert!(f.matches("sport/tennis/player1"));
    assert!(f.matches("sport/tennis/player2"));
    assert!(!f.matches("sport/tennis/player1/ranking"));
    // "sport/+" does not match "sport" but does match "sport/".
    assert!(!filter("sport/+").unwrap().matches("sport"));
    assert!(filter("sport/+").unwrap().matches("sport/"));
    // "+/+" and "/+" match "/finance"; "+" does not.
    assert!(filter("+/+").unwrap().matches("/finance"));
    assert!(filter("/+").unwrap().matches("/finance"));
    assert!(!filter("+").unwrap().matches("/finance"));
}

#[test]
fn dollar_topics_are_not_matched_by_leading_wildcards_mqtt_4_7_2_1() {
    // [MQTT-4.7.2-1]
    assert!(!filter("#").unwrap().matches("$SYS/broker/uptime"));
    assert!(
        !filter("+/monitor/Clients")
            .unwrap()
            .matches("$SYS/monitor/Clients")
    );
    assert!(filter("$SYS/#").unwrap().matches("$SYS/monitor/Clients"));
    assert!(
        filter("$SYS/monitor/+")
            .unwrap()
            .matches("$SYS/monitor/Clients")
    );
    assert!(!filter("$share/g/#").unwrap().matches("$SYS/x"));
}

#[test]
fn topic_matching_is_case_and_space_sensitive() {
    // Section 4.7.3: levels compare exactly; "ACCOUNTS" and "Accounts" differ, spaces count.
    assert!(!filter("ACCOUNTS").unwrap().matches("Accounts"));
    assert!(
        filter("Accounts payable")
            .unwrap()
            .matches("Accounts payable")
    );
    assert!(!filter("a/b").unwrap().matches("a/b/"));
    assert!(!filter("a/b/").unwrap().matches("a/b"));
}

#[test]
fn shared_subscriptions_mqtt_4_8_2_1() {
    let f = filter("$share/consumer1/sport/tennis/+").unwrap();
    assert!(f.is_shared());
    assert_eq!(f.share_group(), Some("consumer1"));
    assert_eq!(f.filter(), "sport/tennis/+");
    assert!(f.matches("sport/tennis/x"));
    assert_eq!(
        filter("$share/consumer1//finance").unwrap().filter(),
        "/finance"
    );
    // [MQTT-4.8.2-1]: a ShareName of at least one character, then '/', then a filter.
    // [MQTT-4.8.2-2]: the ShareName has no '/', '+' or '#'.
    for bad in [
        "$share//x",
        "$share/g",
        "$share/g/",
        "$share/g+/x",
        "$share/#/x",
        "$share/g/a#",
    ] {
        assert!(filter(bad).is_err(), "{bad}");
    }
    // Not shared: "$share" alone, and "$shared/..." are ordinary filters.
    assert!(!filter("$share").unwrap().is_shared());
    assert!(!filter("$shared/x").unwrap().is_shared());
}

#[test]
fn malformed_share_filters_are_plain_filters_in_3_1_1() {
    let raw = MqttString::from_static("$share//x");
    assert!(TopicFilter::for_version(raw.clone(), ProtocolVersion::V5).is_err());
    let f = TopicFilter::for_version(raw, ProtocolVersion::V3_1_1).unwrap();
    assert!(!f.is_shared());
    assert!(f.matches("$share//x"));
    let shared = MqttString::from_static("$share/g/x");
    assert!(
        TopicFilter::for_version(shared, ProtocolVersion::V3_1_1)
            .unwrap()
            .is_shared()
    );
    // The wildcard rules hold in every version.
    let bad = MqttString::from_static("$share/g+/a#");
    assert!(TopicFilter::for_version(bad, ProtocolVersion::V3_1_1).is_err());
}

/// Every string over `alphabet` of at most `max` bytes.
fn all_strings(alphabet: &[u8], max: usize) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new()];
    let mut last = vec![Vec::new()];
    for _ in 0..max {
        let next: Vec<Vec<u8>> = last
            .iter()
            .flat_map(|s| {
                alphabet.iter().map(move |&b| {
                    let mut t = s.clone();
                    t.push(b);
                    t
                })
            })
            .collect();
        out.extend(next.iter().cloned());
        last = next;
    }
    out
}

#[test]
fn filter_scan_agrees_with_the_level_rules() {
    // Every short filter, and each behind prefixes that put it across the eight-byte
    // words of the scan.
    let prefixes = [
        "",
        "a",
        "a/",
        "aaaaaa",
        "aaaaaaa",
        "aaaaaa/",
        "aaaaaaa/",
        "a/b/c/d/e/f/",
    ];
    for s in all_strings(b"a/+#", 7) {
        for p in prefixes {
            let mut f = p.as_bytes().to_vec();
            f.extend_from_slice(&s);
            let f = String::from_utf8(f).unwrap();
            assert_eq!(validate_filter(&f), check_levels(&f), "{f:?}");
        }
    }
}

#[test]
fn from_wire_agrees_with_reading_a_string_then_for_version() {
    let reference = |bytes: &[u8], version| -> Result<TopicFilter, DecodeError> {
        let s = MqttString::from_bytes(Bytes::copy_from_slice(bytes), false)?;
        TopicFilter::for_version(s, version).map_err(DecodeError::InvalidTopicFilter)
    };
    let mut inputs = all_strings(b"a/+#\0", 6);
    for p in ["$share/", "$share/g/", "$share//", "$share/g+/"] {
        for s in all_strings(b"a/+#", 4) {
            let mut f = p.as_bytes().to_vec();
            f.extend_from_slice(&s);
            inputs.push(f);
        }
    }
    inputs.push(b"a/\xC0\xAF".to_vec());
    inputs.push(b"\xFF/+".to_vec());
    inputs.push(b"a\x00\xFF".to_vec());
    inputs.push("\u{FEFF}/+/\u{2A6D4}/#".as_bytes().to_vec());
    for bytes in inputs {
        for version in [
            ProtocolVersion::V3_1,
            ProtocolVersion::V3_1_1,
            ProtocolVersion::V5,
        ] {
            let got = TopicFilter::from_wire(Bytes::copy_from_slice(&bytes), version, false);
            let want = reference(&bytes, version);
            assert_eq!(got, want, "{bytes:?} {version:?}");
            if let Ok(f) = got {
                let want = want.unwrap();
                assert_eq!(f.is_shared(), want.is_shared());
                assert_eq!(f.filter(), want.filter());
            }
        }
    }
}
