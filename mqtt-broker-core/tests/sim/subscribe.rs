//! Conformance scenarios of SUBSCRIBE and UNSUBSCRIBE: several filters, SUBACK codes,
//! wildcard support, matching.

use super::*;

/// 5.0 [MQTT-3.8.4-5], 3.1.1 [MQTT-3.8.4-4]: the filters of one SUBSCRIBE act as separate
/// subscriptions, answered by a single SUBACK.
#[test]
fn several_filters_in_one_subscribe_get_one_suback_mqtt_3_8_4_5_v311_mqtt_3_8_4_4() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut s = sim();
        s.connect(
            "c",
            Opts {
                version,
                ..Opts::default()
            },
        );
        let o = SubscriptionOptions::new;
        s.subscribe_many(
            "c",
            &[
                ("a", o(QoS::AtLeastOnce)),
                ("b/+", o(QoS::AtMostOnce)),
                ("c/#", o(QoS::ExactlyOnce)),
            ],
            None,
        );
        let codes = [
            ReasonCode::GrantedQoS1,
            ReasonCode::GRANTED_QOS_0,
            ReasonCode::GrantedQoS2,
        ];
        assert_eq!(acks(&s, "c", true), [codes.to_vec()], "{version:?}");
        s.connect("pub", Opts::default());
        for topic in ["a", "b/x", "c/y/z", "d"] {
            s.publish("pub", topic, QoS::ExactlyOnce, false, topic);
        }
        assert_eq!(s.payloads("c"), ["a", "b/x", "c/y/z"], "{version:?}");
        let qos: Vec<QoS> = s.received["c"].iter().map(Publish::qos).collect();
        let expected = [QoS::AtLeastOnce, QoS::AtMostOnce, QoS::ExactlyOnce];
        assert_eq!(qos, expected, "{version:?}");
    }
}

/// 5.0 [MQTT-3.8.4-7], 3.1.1 [MQTT-3.8.4-5] [MQTT-3.9.3-1]: each SUBACK code is the QoS
/// granted for its filter or a failure, in the order of the filters. Under Maximum QoS 1
/// and without wildcard subscriptions: QoS 2 is granted as 1, wildcard filters fail (0xA2
/// in 5.0, 0x80 in 3.1.1).
#[test]
fn each_suback_code_is_the_granted_qos_or_a_failure_mqtt_3_8_4_7_v311_mqtt_3_8_4_5() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut s = Sim::new(BrokerConfig {
            max_qos: QoS::AtLeastOnce,
            wildcard_subscriptions: false,
            sys_interval: None,
            ..BrokerConfig::default()
        });
        s.connect(
            "c",
            Opts {
                version,
                ..Opts::default()
            },
        );
        let o = SubscriptionOptions::new;
        s.subscribe_many(
            "c",
            &[
                ("a", o(QoS::ExactlyOnce)),
                ("b/+", o(QoS::AtMostOnce)),
                ("c", o(QoS::AtMostOnce)),
                ("#", o(QoS::AtLeastOnce)),
                ("d", o(QoS::AtLeastOnce)),
            ],
            None,
        );
        let failure = if version.is_v5() {
            ReasonCode::WildcardSubscriptionsNotSupported
        } else {
            ReasonCode::UnspecifiedError
        };
        let codes = [
            ReasonCode::GrantedQoS1,
            failure,
            ReasonCode::GRANTED_QOS_0,
            failure,
            ReasonCode::GrantedQoS1,
        ];
        assert_eq!(acks(&s, "c", true), [codes.to_vec()], "{version:?}");
    }
}

/// 3.1.1 [MQTT-3.8.3-2] (5.0: Wildcard Subscription Available 0, SUBACK 0xA2): a broker
/// without wildcard subscriptions refuses every filter with a wildcard, and messages come
/// only through the exact filter it granted.
#[test]
fn wildcard_filters_are_refused_without_wildcard_support_mqtt_3_8_3_2() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut s = Sim::new(BrokerConfig {
            wildcard_subscriptions: false,
            sys_interval: None,
            ..BrokerConfig::default()
        });
        s.connect(
            "c",
            Opts {
                version,
                ..Opts::default()
            },
        );
        if version.is_v5() {
            let ack = connack(&s, "c").unwrap();
            assert_eq!(ack.properties.wildcard_subscription_available, Some(false));
        }
        for filter in ["a/+", "#", "+", "a/#", "$share/g/a/+"] {
            s.subscribe("c", filter, QoS::AtLeastOnce);
        }
        s.subscribe("c", "a/b", QoS::AtLeastOnce);
        let failure = if version.is_v5() {
            ReasonCode::WildcardSubscriptionsNotSupported
        } else {
            ReasonCode::UnspecifiedError
        };
        let mut codes = vec![vec![failure]; 5];
        codes.push(vec![ReasonCode::GrantedQoS1]);
        assert_eq!(acks(&s, "c", true), codes, "{version:?}");
        s.connect("pub", Opts::default());
        s.publish("pub", "a/b", QoS::AtLeastOnce, false, "exact");
        s.publish("pub", "a/c", QoS::AtLeastOnce, false, "wild");
        assert_eq!(s.payloads("c"), ["exact"], "{version:?}");
    }
}

/// 5.0 and 3.1.1 [MQTT-3.10.4-6]: the filters of one UNSUBSCRIBE act as separate
/// UNSUBSCRIBEs, answered by a single UNSUBACK (5.0: one reason code per filter).
#[test]
fn several_filters_in_one_unsubscribe_get_one_unsuback_mqtt_3_10_4_6() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut s = sim();
        s.connect(
            "c",
            Opts {
                version,
                ..Opts::default()
            },
        );
        for filter in ["a", "b/+", "c"] {
            s.subscribe("c", filter, QoS::AtLeastOnce);
        }
        s.unsubscribe("c", &["a", "b/+", "never"]);
        let unsubacks = acks(&s, "c", false);
        assert_eq!(unsubacks.len(), 1, "{version:?}");
        if version.is_v5() {
            let codes = [
                ReasonCode::Success,
                ReasonCode::Success,
                ReasonCode::NoSubscriptionExisted,
            ];
            assert_eq!(unsubacks[0], codes);
        }
        s.connect("pub", Opts::default());
        for topic in ["a", "b/x", "c"] {
            s.publish("pub", topic, QoS::AtLeastOnce, false, topic);
        }
        assert_eq!(s.payloads("c"), ["c"], "{version:?}");
    }
}

/// 3.1.1 [MQTT-4.7.3-4] (5.0 [MQTT-4.7.3-4]): the broker's subscription tree matches topics
/// byte for byte: no case folding, no Unicode normalization.
#[test]
fn matching_does_not_normalize_mqtt_4_7_3_4() {
    let mut s = sim();
    s.connect("c", v311());
    s.subscribe("c", "caf\u{e9}/+", QoS::AtMostOnce);
    s.subscribe("c", "Case", QoS::AtMostOnce);
    s.connect("pub", Opts::default());
    for topic in [
        "cafe\u{301}/x",
        "CAF\u{c9}/x",
        "case",
        "CASE",
        "Case ",
        "caf\u{e9}/x",
        "Case",
    ] {
        s.publish("pub", topic, QoS::AtMostOnce, false, topic);
    }
    assert_eq!(s.payloads("c"), ["caf\u{e9}/x", "Case"]);
}
