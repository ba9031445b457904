//! Conformance scenarios of CONNECT and CONNACK: wills, client identifiers, refusals,
//! the limits a CONNACK announces.

use super::*;

/// 5.0 [MQTT-3.1.2-14], 3.1.1 [MQTT-3.1.2-16]: a will with Will Retain 0 is published as a
/// non-retained message. The watcher subscribes with Retain As Published, so a retained
/// publication would reach it with RETAIN 1; the broker keeps nothing for a later subscriber.
#[test]
fn will_retain_0_is_published_non_retained_mqtt_3_1_2_14_v311_mqtt_3_1_2_16() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut s = sim();
        s.connect("watch", Opts::default());
        let mut o = SubscriptionOptions::new(QoS::AtLeastOnce);
        o.retain_as_published = true;
        s.subscribe_with("watch", "wills/#", o, None);
        s.connect(
            "c",
            Opts {
                version,
                will: Some(will(false, QoS::AtLeastOnce)),
                ..Opts::default()
            },
        );
        s.cut("c");
        assert_eq!(s.payloads("watch"), ["gone"], "{version:?}");
        assert!(!s.last("watch").retain, "{version:?}");
        assert_eq!(s.broker.retained_count(), 0, "{version:?}");
        s.connect("late", Opts::default());
        s.subscribe("late", "wills/#", QoS::AtLeastOnce);
        assert!(s.payloads("late").is_empty(), "{version:?}");
    }
}

/// 3.1.1 [MQTT-3.1.2-12]: without the Will Flag no will is published when the connection
/// ends, also when an earlier connection of the same session had a will.
#[test]
fn no_will_flag_means_no_will_on_close_mqtt_3_1_2_12() {
    let mut s = sim();
    s.connect("watch", Opts::default());
    s.subscribe("watch", "wills/#", QoS::AtLeastOnce);
    let persistent = |will| Opts {
        clean: false,
        will,
        ..v311()
    };
    s.connect("c", persistent(Some(will(false, QoS::AtLeastOnce))));
    s.cut("c");
    assert_eq!(
        s.payloads("watch"),
        ["gone"],
        "the will of the first connection"
    );
    // The same session, resumed without the Will Flag: the transport breaks, then the
    // server closes on a keep alive timeout; neither publishes anything.
    s.connect("c", persistent(None));
    s.cut("c");
    s.connect(
        "c",
        Opts {
            keep_alive: Some(1),
            ..persistent(None)
        },
    );
    let conn = s.current("c").unwrap();
    s.kill_client(conn);
    s.advance(Duration::from_secs(2));
    assert!(s.links[&conn].server.is_closed());
    assert_eq!(s.payloads("watch"), ["gone"]);
}

/// 5.0 [MQTT-3.1.2-28]: a client that sets Request Response Information to 0 gets no
/// Response Information. This broker never sends one, so the CONNACK has none whatever the
/// client asked for (absent, 0 or 1: the Server MAY leave it out for 1).
#[test]
fn no_response_information_without_its_request_mqtt_3_1_2_28() {
    let mut s = sim();
    type Edit = fn(&mut Connect);
    let cases: [(&str, Edit); 3] = [
        ("absent", |_| {}),
        ("zero", |c| {
            c.properties.request_response_information = Some(false);
        }),
        ("one", |c| {
            c.properties.request_response_information = Some(true);
        }),
    ];
    for (name, edit) in cases {
        s.connect(
            name,
            Opts {
                edit_connect: Some(edit),
                ..Opts::default()
            },
        );
        let ack = connack(&s, name).expect("accepted");
        assert_eq!(ack.properties.response_information, None, "{name}");
    }
}

/// 5.0 and 3.1.1 [MQTT-3.1.3-5]: client identifiers of 1 to 23 bytes of [0-9a-zA-Z] are
/// accepted.
#[test]
fn client_ids_of_1_to_23_alphanumerics_are_accepted_mqtt_3_1_3_5() {
    let ids = [
        "a",
        "Z",
        "7",
        "0123456789abcdefghijXYZ",
        "ABCDEFGHIJKLMNOPQRSTUVW",
    ];
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut s = sim();
        for id in ids {
            assert!(id.len() <= 23);
            s.connect(
                id,
                Opts {
                    version,
                    ..Opts::default()
                },
            );
            let ack = connack(&s, id);
            assert_eq!(
                ack.map(|a| a.reason_code),
                Some(ReasonCode::Success),
                "{version:?} {id}"
            );
        }
        assert_eq!(s.broker.session_count(), ids.len());
    }
}

/// 5.0 and 3.1.1 [MQTT-3.1.3-6]: each zero-length client identifier gets a unique one. Two
/// such clients at once each get their own session: neither takes the other's over, and
/// each receives through its own subscription. 5.0 clients see two different Assigned
/// Client Identifiers.
#[test]
fn empty_client_ids_get_unique_identifiers_mqtt_3_1_3_6() {
    for version in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        let mut s = sim();
        let opts = || Opts {
            version,
            ..Opts::default()
        };
        let a = s.connect("", opts());
        let b = s.connect("", opts());
        assert_eq!(s.broker.session_count(), 2, "{version:?}");
        let now = s.now;
        for (conn, topic) in [(a, "for/a"), (b, "for/b")] {
            let link = s.links.get_mut(&conn).unwrap();
            assert!(link.client.is_connected(), "{version:?}");
            let filter = mqtt_proto::TopicFilter::try_from(topic).unwrap();
            let o = SubscriptionOptions::new(QoS::AtLeastOnce);
            link.client
                .subscribe(now, vec![(filter, o)], Default::default())
                .unwrap();
        }
        s.run();
        s.connect("pub", Opts::default());
        s.publish("pub", "for/a", QoS::AtLeastOnce, false, "a");
        s.publish("pub", "for/b", QoS::AtLeastOnce, false, "b");
        assert_eq!(s.payloads(""), ["a", "b"], "{version:?}");
        assert_eq!(s.received_on[""], [a, b], "{version:?}");
        if version.is_v5() {
            let ids: Vec<_> = s.client_events[""]
                .iter()
                .filter_map(|e| match e {
                    ClientEvent::Connected(ack) => {
                        ack.properties.assigned_client_identifier.clone()
                    }
                    _ => None,
                })
                .collect();
            assert_eq!(ids.len(), 2);
            assert_ne!(ids[0], ids[1]);
        }
    }
}

/// 5.0 [MQTT-3.1.3-7]: the assigned client identifier is returned in the CONNACK and the
/// session lives under it as if the client had sent it: a reconnection with that
/// identifier resumes the session (Session Present 1) with its subscription.
#[test]
fn assigned_client_id_is_used_as_if_sent_mqtt_3_1_3_7() {
    let mut s = sim();
    s.connect("", v5_persistent(60));
    let assigned = connack(&s, "")
        .and_then(|a| a.properties.assigned_client_identifier)
        .expect("an Assigned Client Identifier");
    s.subscribe("", "t", QoS::AtLeastOnce);
    s.disconnect("", ReasonCode::Success);
    s.connect("pub", Opts::default());
    s.publish("pub", "t", QoS::AtLeastOnce, false, "kept");
    let name = assigned.as_str().to_owned();
    s.connect(&name, v5_persistent(60));
    assert_eq!(connack(&s, &name).map(|a| a.session_present), Some(true));
    assert_eq!(s.payloads(&name), ["kept"]);
    s.publish("pub", "t", QoS::AtLeastOnce, false, "live");
    assert_eq!(s.payloads(&name), ["kept", "live"]);
    assert_eq!(s.broker.session_count(), 2);
}

/// 5.0 [MQTT-3.1.3-8], 3.1.1 [MQTT-3.1.3-9]: a client identifier the embedder rejects
/// (`Broker::refuse` with 0x85) gets a CONNACK with 0x85 (5.0) or return code 2 (3.1.1),
/// then the connection closes, and no session is made.
#[test]
fn rejected_client_id_gets_0x85_then_close_mqtt_3_1_3_8_v311_mqtt_3_1_3_9() {
    let mut s = sim();
    s.check_connect = Some(|c| {
        c.client_id
            .as_str()
            .starts_with("bad")
            .then_some(ReasonCode::ClientIdentifierNotValid)
    });
    for (name, version) in [
        ("bad5", ProtocolVersion::V5),
        ("bad311", ProtocolVersion::V3_1_1),
    ] {
        let conn = s.connect(
            name,
            Opts {
                version,
                ..Opts::default()
            },
        );
        // On a 3.1.1 connection the client reads return code 2, which it reports as 0x85.
        assert_eq!(
            refusal(&s, name),
            Some(ReasonCode::ClientIdentifierNotValid),
            "{name}"
        );
        assert!(connack(&s, name).is_none(), "{name}");
        assert!(s.links[&conn].closed, "{name}: the server side closed");
        assert!(s.links[&conn].client.is_closed(), "{name}");
    }
    assert_eq!(s.broker.session_count(), 0);
    s.connect("good", Opts::default());
    assert_eq!(s.broker.session_count(), 1);
}

/// 5.0 [MQTT-3.1.4-2]: a CONNECT that fails the embedder's authentication is refused and
/// its connection closed; nothing of it takes effect (no session, no will).
#[test]
fn connect_failing_authentication_is_refused_and_closed_mqtt_3_1_4_2() {
    let mut s = sim();
    s.check_connect = Some(|c| {
        (c.password.as_deref() != Some(b"secret".as_slice()))
            .then_some(ReasonCode::BadUserNameOrPassword)
    });
    let with_password = |c: &mut Connect| {
        c.username = Some(MqttString::from_static("u"));
        c.password = Some(Bytes::from_static(b"secret"));
    };
    s.connect(
        "watch",
        Opts {
            edit_connect: Some(with_password),
            ..Opts::default()
        },
    );
    s.subscribe("watch", "wills/#", QoS::AtLeastOnce);
    let conn = s.connect(
        "intruder",
        Opts {
            will: Some(will(false, QoS::AtLeastOnce)),
            ..Opts::default()
        },
    );
    assert_eq!(
        refusal(&s, "intruder"),
        Some(ReasonCode::BadUserNameOrPassword)
    );
    assert!(s.links[&conn].closed);
    assert_eq!(s.broker.session_count(), 1);
    assert!(
        s.payloads("watch").is_empty(),
        "a refused CONNECT has no will"
    );
}

/// 5.0 [MQTT-3.2.2-9] [MQTT-3.2.2-10]: a broker without QoS 2 (or without QoS 1 and 2)
/// sends Maximum QoS in CONNACK, and still accepts SUBSCRIBE with any requested QoS,
/// granting at most its maximum.
#[test]
fn maximum_qos_is_sent_and_subscribe_still_accepted_mqtt_3_2_2_9_and_10() {
    use ReasonCode::{GrantedQoS1, Success as Granted0};
    for (max, granted) in [
        (QoS::AtLeastOnce, [GrantedQoS1, GrantedQoS1, Granted0]),
        (QoS::AtMostOnce, [Granted0, Granted0, Granted0]),
    ] {
        let mut s = Sim::new(BrokerConfig {
            max_qos: max,
            sys_interval: None,
            ..BrokerConfig::default()
        });
        s.connect("c", Opts::default());
        let ack = connack(&s, "c").unwrap();
        assert_eq!(ack.properties.maximum_qos, Some(max));
        let q = SubscriptionOptions::new;
        s.subscribe_many(
            "c",
            &[
                ("two", q(QoS::ExactlyOnce)),
                ("one", q(QoS::AtLeastOnce)),
                ("zero", q(QoS::AtMostOnce)),
            ],
            None,
        );
        assert_eq!(acks(&s, "c", true), [granted.to_vec()], "{max:?}");
        assert!(s.client("c").is_connected());
        s.publish("c", "two", max, false, "m");
        assert_eq!(s.payloads("c"), ["m"]);
        assert_eq!(s.last("c").qos(), max);
    }
}

/// 5.0 [MQTT-3.2.2-12]: a CONNECT whose Will QoS is above the broker's Maximum QoS is
/// refused with 0x9B and the connection closed; a will within it is accepted.
#[test]
fn will_qos_above_maximum_qos_is_refused_with_0x9b_mqtt_3_2_2_12() {
    let mut s = Sim::new(BrokerConfig {
        max_qos: QoS::AtLeastOnce,
        sys_interval: None,
        ..BrokerConfig::default()
    });
    let conn = s.connect(
        "high",
        Opts {
            will: Some(will(false, QoS::ExactlyOnce)),
            ..Opts::default()
        },
    );
    assert_eq!(refusal(&s, "high"), Some(ReasonCode::QoSNotSupported));
    assert!(s.links[&conn].closed);
    s.connect(
        "ok",
        Opts {
            will: Some(will(false, QoS::AtLeastOnce)),
            ..Opts::default()
        },
    );
    assert_eq!(
        connack(&s, "ok").map(|a| a.reason_code),
        Some(ReasonCode::Success)
    );
    assert_eq!(s.broker.session_count(), 1);
}

/// 5.0 [MQTT-3.2.2-13]: a CONNECT whose will has Will Retain 1 is refused with 0x9A on a
/// broker without retained messages, and the connection closed; a will without it is
/// accepted.
#[test]
fn will_retain_without_retain_support_is_refused_with_0x9a_mqtt_3_2_2_13() {
    let mut s = Sim::new(BrokerConfig {
        retain_available: false,
        sys_interval: None,
        ..BrokerConfig::default()
    });
    let conn = s.connect(
        "retainer",
        Opts {
            will: Some(will(true, QoS::AtMostOnce)),
            ..Opts::default()
        },
    );
    assert_eq!(
        refusal(&s, "retainer"),
        Some(ReasonCode::RetainNotSupported)
    );
    assert!(s.links[&conn].closed);
    s.connect(
        "ok",
        Opts {
            will: Some(will(false, QoS::AtMostOnce)),
            ..Opts::default()
        },
    );
    assert_eq!(
        connack(&s, "ok").map(|a| a.reason_code),
        Some(ReasonCode::Success)
    );
    assert_eq!(s.broker.session_count(), 1);
}

/// 5.0 [MQTT-3.1.3-10]: the will's User Properties are published in the order the CONNECT
/// gave them, repeated names included, with its other will properties but the delay.
#[test]
fn will_user_properties_keep_their_order_mqtt_3_1_3_10() {
    let mut s = sim();
    s.connect("watch", Opts::default());
    s.subscribe("watch", "wills/#", QoS::AtLeastOnce);
    let mut w = will(false, QoS::AtLeastOnce);
    let pairs = [("z", "1"), ("a", "2"), ("z", "0"), ("z", "1")];
    w.properties.user_properties = pairs.iter().map(|(k, v)| (string(k), string(v))).collect();
    w.properties.content_type = Some(string("text/plain"));
    w.properties.will_delay_interval = Some(1);
    let expected = w.properties.user_properties.clone();
    s.connect(
        "c",
        Opts {
            will: Some(w),
            ..v5_persistent(60)
        },
    );
    s.cut("c");
    s.advance(Duration::from_secs(1));
    assert_eq!(s.payloads("watch"), ["gone"]);
    let p = &s.last("watch").properties;
    assert_eq!(p.user_properties, expected);
    assert_eq!(p.content_type, Some(string("text/plain")));
}
