//! Script tests of `ServerConnection`: bytes in at `t0 + d`, exact bytes and events out.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_proto::{PacketId, QoS, ReasonCode, SubAck, TopicName};
use mqtt_session::{
    Accept, CloseReason, OutgoingMessage, ServerConfig, ServerConnection, ServerEvent, SessionState,
};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

struct Script {
    t0: Instant,
    conn: ServerConnection,
    inbuf: BytesMut,
}

impl Script {
    fn new(config: ServerConfig) -> Self {
        // Any instant serves as the origin; only offsets from it matter.
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        Self {
            t0,
            conn: ServerConnection::new(t0, config),
            inbuf: BytesMut::new(),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// Feeds hex bytes at `t0 + ms`.
    fn input(&mut self, ms: u64, bytes: &str) {
        self.inbuf.extend_from_slice(&hex(bytes));
        let now = self.at(ms);
        self.conn.handle_read(now, &mut self.inbuf);
    }

    /// Everything queued for writing.
    fn output(&mut self) -> Vec<u8> {
        let now = self.t0;
        let mut out = Vec::new();
        while let Some(chunk) = self.conn.poll_transmit(now) {
            out.extend_from_slice(&chunk);
        }
        out
    }

    fn expect_output(&mut self, bytes: &str) {
        assert_eq!(self.output(), hex(bytes), "bytes written");
    }

    fn events(&mut self) -> Vec<ServerEvent> {
        std::iter::from_fn(|| self.conn.poll_event()).collect()
    }

    fn accept(&mut self, ms: u64, session_present: bool, session: SessionState) {
        let connect = self.events();
        assert!(
            matches!(connect.as_slice(), [ServerEvent::Connect(_)]),
            "{connect:?}"
        );
        let now = self.at(ms);
        self.conn
            .accept(
                now,
                Accept {
                    session_present,
                    session,
                    ..Accept::default()
                },
            )
            .unwrap();
    }

    fn closed(&mut self) -> CloseReason {
        match self.events().pop() {
            Some(ServerEvent::Closed { reason }) => reason,
            other => panic!("expected Closed, got {other:?}"),
        }
    }
}

/// CONNECT v3.1.1, client id "c", clean session, keep alive 10 s.
const CONNECT_V311: &str = "10 0d 00 04 4d515454 04 02 000a 0001 63";
/// CONNECT v5, client id "c", clean start, keep alive 10 s, Receive Maximum 1.
const CONNECT_V5_RM1: &str = "10 11 00 04 4d515454 05 02 000a 03 21 0001 0001 63";

fn connected_v311() -> Script {
    let mut s = Script::new(ServerConfig::default());
    s.input(0, CONNECT_V311);
    s.accept(0, false, SessionState::new());
    s.expect_output("20 02 00 00");
    s
}

#[test]
fn connect_then_connack_v311() {
    let mut s = Script::new(ServerConfig::default());
    s.input(0, CONNECT_V311);
    let events = s.events();
    let [ServerEvent::Connect(c)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(c.client_id.as_str(), "c");
    assert_eq!(c.keep_alive, 10);
    // Nothing is sent before the answer.
    s.expect_output("");
    s.conn.accept(s.at(1), Accept::default()).unwrap();
    s.expect_output("20 02 00 00");
}

#[test]
fn packets_after_connect_wait_for_the_answer_mqtt_3_2_0_1() {
    // [MQTT-3.2.0-1]: the CONNACK is the first packet the server sends, even with a PINGREQ
    // already read behind the CONNECT. Holding those packets until the answer is also what
    // keeps a refused connection from processing them (3.1.1 [MQTT-3.1.4-5], 5.0
    // [MQTT-3.1.4-6]); the refusal case is not exercised here.
    let mut s = Script::new(ServerConfig::default());
    // CONNECT and PINGREQ in one read: the PINGREQ is not processed before accept.
    s.input(0, &format!("{CONNECT_V311} c0 00"));
    s.accept(0, false, SessionState::new());
    s.expect_output("20 02 00 00");
    s.input(1, "");
    s.expect_output("d0 00");
}

#[test]
fn first_packet_not_connect_closes_without_answer_mqtt_3_1_0_1() {
    let mut s = Script::new(ServerConfig::default());
    s.input(0, "c0 00");
    s.expect_output("");
    assert!(
        matches!(s.closed(), CloseReason::Violation(v) if v.reason_code == ReasonCode::ProtocolError)
    );
}

#[test]
fn second_connect_is_a_protocol_violation_mqtt_3_1_0_2() {
    let mut s = connected_v311();
    s.input(1, CONNECT_V311);
    // 3.1.1 has no DISCONNECT from the server: the connection just closes.
    s.expect_output("");
    assert!(matches!(s.closed(), CloseReason::Violation(_)));
}

#[test]
fn unsupported_protocol_level_gets_connack_return_code_1_mqtt_3_1_2_2() {
    let mut s = Script::new(ServerConfig::default());
    s.input(0, "10 0d 00 04 4d515454 06 02 000a 0001 63");
    s.expect_output("20 02 00 01");
    assert!(matches!(s.closed(), CloseReason::Violation(_)));
}

#[test]
fn empty_client_id_without_clean_session_is_refused_mqtt_3_1_3_8() {
    let mut s = Script::new(ServerConfig::default());
    s.input(0, "10 0c 00 04 4d515454 04 00 000a 0000");
    s.expect_output("20 02 00 02");
    assert_eq!(
        s.closed(),
        CloseReason::Refused(ReasonCode::ClientIdentifierNotValid)
    );
}

#[test]
fn qos1_publish_is_delivered_and_acknowledged() {
    let mut s = connected_v311();
    // PUBLISH QoS 1, topic "t", id 5, payload "x".
    s.input(10, "32 06 0001 74 0005 78");
    let events = s.events();
    let [ServerEvent::Publish(p)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(&p.payload[..], b"x");
    s.expect_output("40 02 0005");
}

#[test]
fn qos2_publish_is_delivered_exactly_once_mqtt_4_3_3_2() {
    // 3.1.1 [MQTT-4.3.3-2], the QoS 2 receiver's rules (5.0 splits them: PUBREC again without
    // a second delivery [MQTT-4.3.3-10], PUBCOMP for PUBREL [MQTT-4.3.3-11], a new message
    // after PUBCOMP [MQTT-4.3.3-12]).
    let mut s = connected_v311();
    s.input(10, "34 06 0001 74 0007 78");
    assert_eq!(s.events().len(), 1);
    s.expect_output("50 02 0007");
    // The client did not see the PUBREC and resends with DUP: PUBREC again, no delivery.
    s.input(20, "3c 06 0001 74 0007 78");
    assert_eq!(s.events(), []);
    s.expect_output("50 02 0007");
    // PUBREL releases the identifier: PUBCOMP.
    s.input(30, "62 02 0007");
    s.expect_output("70 02 0007");
    // A repeated PUBREL is answered with PUBCOMP again.
    s.input(40, "62 02 0007");
    s.expect_output("70 02 0007");
    // After PUBCOMP the identifier names a new message (3.1.1 [MQTT-4.3.3-2], 5.0
    // [MQTT-4.3.3-12]).
    s.input(50, "34 06 0001 74 0007 79");
    assert_eq!(s.events().len(), 1);
    s.expect_output("50 02 0007");
}

#[test]
fn pubrel_for_unknown_identifier_v5_gets_packet_identifier_not_found() {
    let mut s = Script::new(ServerConfig::default());
    s.input(0, CONNECT_V5_RM1);
    s.accept(0, false, SessionState::new());
    let connack = s.output();
    assert_eq!(&connack[..4], &hex("20 0e 00 00")[..]);
    s.input(1, "62 02 0009");
    s.expect_output("70 03 0009 92");
}

#[test]
fn keep_alive_expires_at_one_and_a_half_times_mqtt_3_1_2_24() {
    let mut s = connected_v311();
    // Last packet at t=2 s: the deadline is 2 s + 15 s.
    s.input(2_000, "c0 00");
    s.expect_output("d0 00");
    assert_eq!(s.conn.poll_timeout(), Some(s.at(17_000)));
    s.conn.handle_timeout(s.at(16_999));
    assert_eq!(s.events(), []);
    s.conn.handle_timeout(s.at(17_000));
    let reason = s.closed();
    assert_eq!(reason, CloseReason::KeepAliveTimeout);
    assert!(reason.publishes_will());
}

#[test]
fn keep_alive_timeout_sends_disconnect_0x8d_in_v5() {
    let mut s = Script::new(ServerConfig::default());
    s.input(0, CONNECT_V5_RM1);
    s.accept(0, false, SessionState::new());
    let _ = s.output();
    s.conn.handle_timeout(s.at(15_000));
    s.expect_output("e0 01 8d");
    assert_eq!(s.closed(), CloseReason::KeepAliveTimeout);
}

#[test]
fn connect_timeout_closes() {
    let mut s = Script::new(ServerConfig::default());
    s.conn.handle_timeout(s.at(10_000));
    assert_eq!(s.closed(), CloseReason::ConnectTimeout);
    assert!(!CloseReason::ConnectTimeout.publishes_will());
}

fn message(topic: &'static str, qos: QoS, payload: &'static str) -> OutgoingMessage {
    OutgoingMessage::new(TopicName::from_static(topic), qos, payload)
}

#[test]
fn receive_maximum_limits_messages_in_flight() {
    let mut s = Script::new(ServerConfig::default());
    s.input(0, CONNECT_V5_RM1);
    s.accept(0, false, SessionState::new());
    let _ = s.output();
    let a = s
        .conn
        .publish(s.at(1), message("t", QoS::AtLeastOnce, "a"))
        .unwrap();
    let b = s
        .conn
        .publish(s.at(1), message("t", QoS::AtLeastOnce, "b"))
        .unwrap();
    // Only the first goes out: the client's Receive Maximum is 1.
    s.expect_output("32 07 0001 74 0001 00 61");
    s.input(2, "40 02 0001");
    assert_eq!(
        s.events(),
        [ServerEvent::Delivered {
            id: a,
            reason_code: ReasonCode::Success
        }]
    );
    s.expect_output("32 07 0001 74 0002 00 62");
    s.input(3, "40 03 0002 10");
    assert_eq!(
        s.events(),
        [ServerEvent::Delivered {
            id: b,
            reason_code: ReasonCode::NoMatchingSubscribers
        }]
    );
}

#[test]
fn session_resumption_resends_in_order_with_dup_mqtt_4_4_0_1() {
    let mut s = connected_v311();
    s.conn
        .publish(s.at(1), message("t", QoS::AtLeastOnce, "a"))
        .unwrap();
    s.conn
        .publish(s.at(1), message("t", QoS::ExactlyOnce, "b"))
        .unwrap();
    s.expect_output("32 06 0001 74 0001 61  34 06 0001 74 0002 62");
    // The QoS 2 message reaches PUBREC: PUBREL goes out and is lost with the connection.
    s.input(2, "50 02 0002");
    s.expect_output("62 02 0002");
    s.conn.handle_transport_closed(s.at(3));
    assert_eq!(s.closed(), CloseReason::TransportClosed);
    let state = s.conn.take_session_state();
    assert_eq!(state.inflight().count(), 2);

    let mut s2 = Script::new(ServerConfig::default());
    s2.input(0, "10 0d 00 04 4d515454 04 00 000a 0001 63");
    s2.accept(0, true, state);
    // CONNACK with session present, then the PUBLISH again with DUP, then the PUBREL.
    s2.expect_output("20 02 01 00  3a 06 0001 74 0001 61  62 02 0002");
    s2.input(1, "40 02 0001 70 02 0002");
    assert_eq!(s2.events().len(), 2);
    assert!(s2.conn.take_session_state().is_empty());
}

#[test]
fn exceeding_receive_maximum_is_0x93_mqtt_3_3_4_7() {
    // [MQTT-3.3.4-7]: a client keeps at most the server's Receive Maximum of QoS 1/2 PUBLISH
    // unacknowledged; a server receiving more closes with 0x93 (section 3.3.4, untagged).
    let mut s = Script::new(ServerConfig {
        receive_maximum: 1,
        auto_ack: false,
        ..ServerConfig::default()
    });
    s.input(0, "10 0e 00 04 4d515454 05 02 000a 00 0001 63");
    s.accept(0, false, SessionState::new());
    let _ = s.output();
    s.input(1, "32 07 0001 74 0001 00 61");
    assert_eq!(s.events().len(), 1);
    s.input(2, "32 07 0001 74 0002 00 62");
    s.expect_output("e0 01 93");
    assert!(
        matches!(s.closed(), CloseReason::Violation(v) if v.reason_code == ReasonCode::ReceiveMaximumExceeded)
    );
}

#[test]
fn topic_alias_is_resolved_and_an_invalid_one_is_0x94() {
    let mut s = Script::new(ServerConfig {
        topic_alias_maximum: 2,
        ..ServerConfig::default()
    });
    s.input(0, "10 0e 00 04 4d515454 05 02 000a 00 0001 63");
    s.accept(0, false, SessionState::new());
    let _ = s.output();
    // PUBLISH QoS 0 "t" with Topic Alias 1, then with an empty topic and alias 1.
    s.input(1, "30 08 0001 74 03 2300 01 61");
    s.input(2, "30 07 0000 03 2300 01 62");
    let events = s.events();
    let topics: Vec<_> = events
        .iter()
        .map(|e| match e {
            ServerEvent::Publish(p) => p.topic.as_ref().unwrap().as_str().to_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(topics, ["t", "t"]);
    // Alias 3 is above the maximum of 2.
    s.input(3, "30 08 0001 74 03 2300 03 61");
    s.expect_output("e0 01 94");
    assert!(
        matches!(s.closed(), CloseReason::Violation(v) if v.reason_code == ReasonCode::TopicAliasInvalid)
    );
}

#[test]
fn malformed_packet_closes_with_disconnect_0x81_in_v5() {
    let mut s = Script::new(ServerConfig::default());
    s.input(0, "10 0e 00 04 4d515454 05 02 000a 00 0001 63");
    s.accept(0, false, SessionState::new());
    let _ = s.output();
    // PUBLISH with QoS 3.
    s.input(1, "36 05 0001 74 0001");
    s.expect_output("e0 01 81");
    assert!(
        matches!(s.closed(), CloseReason::Violation(v) if v.reason_code == ReasonCode::MalformedPacket)
    );
}

#[test]
fn client_disconnect_normal_suppresses_the_will_mqtt_3_14_4_3() {
    let mut s = connected_v311();
    s.input(1, "e0 00");
    let reason = s.closed();
    assert_eq!(reason, CloseReason::PeerDisconnect(ReasonCode::Success));
    assert!(!reason.publishes_will());
    assert!(CloseReason::PeerDisconnect(ReasonCode::DisconnectWithWill).publishes_will());
    assert!(CloseReason::TransportClosed.publishes_will());
}

#[test]
fn subscribe_is_handed_out_and_answered() {
    let mut s = connected_v311();
    s.input(1, "82 06 0003 0001 74 01");
    let events = s.events();
    let [ServerEvent::Subscribe(sub)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(sub.filters[0].0.as_str(), "t");
    s.conn
        .suback(
            s.at(2),
            SubAck {
                packet_id: PacketId::new(3).unwrap(),
                properties: Default::default(),
                reason_codes: vec![ReasonCode::GrantedQoS1],
            },
        )
        .unwrap();
    s.expect_output("90 03 0003 01");
}

fn connected_v5() -> Script {
    let mut s = Script::new(ServerConfig::default());
    // CONNECT 5.0, client id "c", keep alive 10, no properties.
    s.input(0, "10 0e 00 04 4d515454 05 02 000a 00 0001 63");
    s.accept(0, false, SessionState::new());
    let _ = s.output();
    s
}

fn violation(s: &mut Script) -> ReasonCode {
    match s.closed() {
        CloseReason::Violation(v) => v.reason_code,
        other => panic!("expected a violation, got {other:?}"),
    }
}

#[test]
fn disconnect_may_not_set_a_session_expiry_after_zero() {
    // 3.14.2.2.2 (untagged): a non-zero Session Expiry Interval in the client's DISCONNECT
    // after 0 (or none) in CONNECT is a Protocol Error. ([MQTT-3.14.2-2] is another rule: the
    // server never sends a Session Expiry Interval in DISCONNECT.)
    let mut s = connected_v5();
    // DISCONNECT 0x00 with Session Expiry Interval 60, after a CONNECT without one.
    s.input(1, "e0 07 00 05 11 0000003c");
    s.expect_output("e0 01 82");
    assert_eq!(violation(&mut s), ReasonCode::ProtocolError);
}

#[test]
fn client_publish_with_a_subscription_identifier_is_a_protocol_error_mqtt_3_3_4_6() {
    let mut s = connected_v5();
    s.input(1, "30 07 0001 74 02 0b01 61");
    s.expect_output("e0 01 82");
    assert_eq!(violation(&mut s), ReasonCode::ProtocolError);
}

#[test]
fn server_only_packets_from_a_client_are_protocol_errors() {
    for packet in [
        "20 03 00 00 00",
        "90 04 0001 00 00",
        "b0 04 0001 00 00",
        "d0 00",
    ] {
        let mut s = connected_v5();
        s.input(1, packet);
        s.expect_output("e0 01 82");
        assert_eq!(violation(&mut s), ReasonCode::ProtocolError, "{packet}");
    }
}

#[test]
fn unknown_topic_alias_with_empty_topic_is_a_protocol_error() {
    let mut s = connected_v5();
    s.input(1, "30 07 0000 03 230001 61");
    s.expect_output("e0 01 82");
    assert_eq!(violation(&mut s), ReasonCode::ProtocolError);
}

#[test]
fn oversize_packet_closes_with_0x95_before_the_body_arrives() {
    let mut s = Script::new(ServerConfig {
        max_packet_size: 64,
        ..ServerConfig::default()
    });
    s.input(0, "10 0e 00 04 4d515454 05 02 000a 00 0001 63");
    s.accept(0, false, SessionState::new());
    let _ = s.output();
    // A PUBLISH declaring 100 bytes: only its fixed header has arrived.
    s.input(1, "30 64");
    s.expect_output("e0 01 95");
    assert_eq!(violation(&mut s), ReasonCode::PacketTooLarge);
}

#[test]
fn enhanced_auth_exchange_before_accept() {
    let mut s = Script::new(ServerConfig::default());
    // CONNECT 5.0 with Authentication Method "m".
    s.input(0, "10 12 00 04 4d515454 05 02 000a 04 150001 6d 0001 63");
    let events = s.events();
    let [ServerEvent::Connect(c)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(c.properties.authentication_method.as_deref(), Some("m"));
    // The server continues the exchange; the client's AUTH is handed out before accept.
    let mut challenge = mqtt_proto::Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        ..Default::default()
    };
    challenge.properties.authentication_method = Some(mqtt_proto::MqttString::from_static("m"));
    s.conn.send_auth(s.at(1), challenge).unwrap();
    s.expect_output("f0 06 18 04 150001 6d");
    s.input(2, "f0 06 18 04 150001 6d");
    assert!(
        matches!(s.events().as_slice(), [ServerEvent::Auth(a)] if a.reason_code == ReasonCode::ContinueAuthentication)
    );
    s.conn.accept(s.at(3), Accept::default()).unwrap();
    assert_eq!(&s.output()[..4], &hex("20 0e 00 00")[..]);
}

#[test]
fn refusing_a_v311_client_uses_the_closest_return_code() {
    let mut s = Script::new(ServerConfig::default());
    s.input(0, CONNECT_V311);
    let _ = s.events();
    // 0x8A Banned has no 3.1.1 return code: 5 (not authorized) stands for it.
    s.conn.refuse(s.at(1), ReasonCode::Banned).unwrap();
    s.expect_output("20 02 00 05");
    assert_eq!(s.closed(), CloseReason::Refused(ReasonCode::Banned));
}

#[test]
fn server_disconnect_sends_its_reason_to_v5_clients() {
    let mut s = connected_v5();
    s.conn.disconnect(s.at(1), ReasonCode::SessionTakenOver);
    s.expect_output("e0 01 8e");
    assert_eq!(
        s.closed(),
        CloseReason::LocalDisconnect(ReasonCode::SessionTakenOver)
    );
    assert!(
        s.conn
            .publish(s.at(2), message("t", QoS::AtMostOnce, "x"))
            .is_err()
    );
}

#[test]
fn manual_acknowledgement_waits_for_the_application() {
    let mut s = Script::new(ServerConfig {
        auto_ack: false,
        ..ServerConfig::default()
    });
    s.input(0, CONNECT_V311);
    s.accept(0, false, SessionState::new());
    s.expect_output("20 02 00 00");
    s.input(1, "32 06 0001 74 0005 78");
    assert_eq!(s.events().len(), 1);
    s.expect_output("");
    s.conn
        .acknowledge(s.at(2), PacketId::new(5).unwrap(), ReasonCode::Success)
        .unwrap();
    s.expect_output("40 02 0005");
    assert!(
        s.conn
            .acknowledge(s.at(3), PacketId::new(5).unwrap(), ReasonCode::Success)
            .is_err()
    );
}

#[test]
fn a_connect_that_is_not_mqtt_closes_without_an_answer() {
    let mut s = Script::new(ServerConfig::default());
    // Protocol name "HTTP": nothing MQTT is sent back [MQTT-3.1.4-1].
    s.input(0, "10 0d 00 04 48545450 04 02 000a 0001 63");
    s.expect_output("");
    assert!(matches!(s.closed(), CloseReason::Violation(_)));
}

/// MQTT 3.1 has no Session Present flag: a resumed session gets a plain CONNACK, then what
/// the session holds (MQTT 3.1 section 3.2 has only the return code).
#[test]
fn v31_resumed_session_gets_a_plain_connack_then_its_messages() {
    let mut s = Script::new(ServerConfig::default());
    // CONNECT 3.1 ("MQIsdp", level 3), clean session 0, keep alive 10 s, client id "c".
    s.input(0, "10 0f 00 06 4d5149736470 03 00 000a 0001 63");
    let mut session = SessionState::new();
    session.enqueue(
        s.at(0),
        OutgoingMessage {
            topic: TopicName::try_from("t").unwrap(),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Default::default(),
            payload: Bytes::from_static(b"x"),
        },
    );
    s.accept(0, true, session);
    // CONNACK (no flags), then the queued message as PUBLISH QoS 1, packet id 1.
    s.expect_output("20 02 00 00  32 06 0001 74 0001 78");
    assert!(s.events().is_empty());
    assert!(!s.conn.is_closed());
}

/// MQTT 3.1: client identifiers have 1 to 23 characters; others get CONNACK return code 2
/// (Identifier Rejected), then the connection closes.
#[test]
fn v31_client_identifier_of_24_characters_or_none_is_rejected_with_return_code_2() {
    // 23 characters: accepted.
    let mut s = Script::new(ServerConfig::default());
    s.input(
        0,
        &format!(
            "10 25 00 06 4d5149736470 03 02 000a 0017 {}",
            "61".repeat(23)
        ),
    );
    assert!(matches!(s.events().as_slice(), [ServerEvent::Connect(_)]));
    // 24 characters: CONNACK 2 and close.
    let mut s = Script::new(ServerConfig::default());
    s.input(
        0,
        &format!(
            "10 26 00 06 4d5149736470 03 02 000a 0018 {}",
            "61".repeat(24)
        ),
    );
    s.expect_output("20 02 00 02");
    assert_eq!(
        s.closed(),
        CloseReason::Refused(ReasonCode::ClientIdentifierNotValid)
    );
    // None, even with clean session: CONNACK 2.
    let mut s = Script::new(ServerConfig::default());
    s.input(0, "10 0e 00 06 4d5149736470 03 02 000a 0000");
    s.expect_output("20 02 00 02");
    assert_eq!(
        s.closed(),
        CloseReason::Refused(ReasonCode::ClientIdentifierNotValid)
    );
}
