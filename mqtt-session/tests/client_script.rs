//! Script tests of `ClientConnection`: bytes in at `t0 + d`, exact bytes and events out.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_proto::{
    Connect, MqttString, ProtocolVersion, QoS, ReasonCode, SubscribeProperties,
    SubscriptionOptions, TopicFilter, TopicName,
};
use mqtt_session::{
    ClientConfig, ClientConnection, ClientEvent, CloseReason, DropReason, OutgoingMessage,
    SessionState,
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
    conn: ClientConnection,
    inbuf: BytesMut,
}

impl Script {
    fn with(
        version: ProtocolVersion,
        clean: bool,
        session: SessionState,
        config: ClientConfig,
    ) -> Self {
        // Any instant serves as the origin; only offsets from it matter.
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let mut connect = Connect::new(version, MqttString::from_static("c"));
        connect.keep_alive = 10;
        connect.clean_start = clean;
        let conn = ClientConnection::new(t0, connect, session, config).unwrap();
        Self {
            t0,
            conn,
            inbuf: BytesMut::new(),
        }
    }

    fn new(version: ProtocolVersion) -> Self {
        Self::with(version, true, SessionState::new(), ClientConfig::default())
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn input(&mut self, ms: u64, bytes: &str) {
        self.inbuf.extend_from_slice(&hex(bytes));
        let now = self.at(ms);
        self.conn.handle_read(now, &mut self.inbuf);
    }

    fn output_at(&mut self, ms: u64) -> Vec<u8> {
        let now = self.at(ms);
        let mut out = Vec::new();
        while let Some(chunk) = self.conn.poll_transmit(now) {
            out.extend_from_slice(&chunk);
        }
        out
    }

    fn expect_output(&mut self, ms: u64, bytes: &str) {
        assert_eq!(self.output_at(ms), hex(bytes), "bytes written");
    }

    fn events(&mut self) -> Vec<ClientEvent> {
        std::iter::from_fn(|| self.conn.poll_event()).collect()
    }

    fn publish(
        &mut self,
        ms: u64,
        qos: QoS,
        payload: &'static str,
        expiry: Option<u32>,
    ) -> mqtt_session::MessageId {
        let mut m = OutgoingMessage::new(TopicName::from_static("t"), qos, payload);
        m.properties.message_expiry_interval = expiry;
        let now = self.at(ms);
        self.conn.publish(now, m).unwrap()
    }
}

const CONNECT_V311: &str = "10 0d 00 04 4d515454 04 02 000a 0001 63";
const CONNECT_V5: &str = "10 0e 00 04 4d515454 05 02 000a 00 0001 63";

#[test]
fn connect_goes_out_at_once_and_connack_connects() {
    let mut s = Script::new(ProtocolVersion::V3_1_1);
    s.expect_output(0, CONNECT_V311);
    assert!(!s.conn.is_connected());
    s.input(5, "20 02 00 00");
    assert!(matches!(s.events().as_slice(), [ClientEvent::Connected(ack)] if !ack.session_present));
    assert!(s.conn.is_connected());
}

#[test]
fn refused_connack_closes_with_its_reason() {
    let mut s = Script::new(ProtocolVersion::V3_1_1);
    s.expect_output(0, CONNECT_V311);
    s.input(5, "20 02 00 05");
    assert_eq!(
        s.events(),
        [ClientEvent::Closed {
            reason: CloseReason::Refused(ReasonCode::NotAuthorized)
        }]
    );
}

#[test]
fn session_present_after_clean_start_is_a_protocol_error_mqtt_3_2_2_1() {
    // 3.1.1 [MQTT-3.2.2-1] (5.0 [MQTT-3.2.2-2]): an accepted Clean Session 1 connection has
    // Session Present 0. A client without session state closes on Session Present 1 (5.0
    // [MQTT-3.2.2-4]).
    let mut s = Script::new(ProtocolVersion::V3_1_1);
    s.expect_output(0, CONNECT_V311);
    s.input(5, "20 02 01 00");
    assert!(matches!(
        s.events().as_slice(),
        [ClientEvent::Closed { reason: CloseReason::Violation(v) }] if v.reason_code == ReasonCode::ProtocolError
    ));
}

#[test]
fn pingreq_when_idle_for_the_keep_alive_mqtt_3_1_2_23() {
    let mut s = Script::new(ProtocolVersion::V3_1_1);
    s.expect_output(0, CONNECT_V311);
    s.input(5, "20 02 00 00");
    let _ = s.events();
    // The CONNECT went out at t0: the keep alive of 10 s runs from there.
    assert_eq!(s.conn.poll_timeout(), Some(s.at(10_000)));
    s.conn.handle_timeout(s.at(9_999));
    s.expect_output(9_999, "");
    s.conn.handle_timeout(s.at(10_000));
    s.expect_output(10_000, "c0 00");
    // PINGRESP in time: the next ping is due 10 s after the PINGREQ went out.
    s.input(10_500, "d0 00");
    assert_eq!(s.conn.poll_timeout(), Some(s.at(20_000)));
}

#[test]
fn missing_pingresp_closes_the_connection() {
    let mut s = Script::new(ProtocolVersion::V3_1_1);
    s.expect_output(0, CONNECT_V311);
    s.input(5, "20 02 00 00");
    let _ = s.events();
    s.conn.handle_timeout(s.at(10_000));
    s.expect_output(10_000, "c0 00");
    assert_eq!(s.conn.poll_timeout(), Some(s.at(20_000)));
    s.conn.handle_timeout(s.at(20_000));
    assert_eq!(
        s.events(),
        [ClientEvent::Closed {
            reason: CloseReason::KeepAliveTimeout
        }]
    );
}

#[test]
fn server_keep_alive_replaces_the_clients_mqtt_3_2_2_21() {
    let mut s = Script::new(ProtocolVersion::V5);
    s.expect_output(0, CONNECT_V5);
    // CONNACK with Server Keep Alive 5.
    s.input(5, "20 06 00 00 03 13 0005");
    let _ = s.events();
    assert_eq!(s.conn.poll_timeout(), Some(s.at(5_000)));
}

#[test]
fn receive_maximum_holds_messages_and_expiry_is_rewritten_or_drops_them() {
    let mut s = Script::new(ProtocolVersion::V5);
    s.expect_output(0, CONNECT_V5);
    // CONNACK with Receive Maximum 1.
    s.input(0, "20 06 00 00 03 21 0001");
    let _ = s.events();
    let m1 = s.publish(0, QoS::AtLeastOnce, "a", None);
    let _m2 = s.publish(0, QoS::AtLeastOnce, "b", Some(10));
    let m3 = s.publish(0, QoS::AtLeastOnce, "c", Some(2));
    s.expect_output(0, "32 07 0001 74 0001 00 61");
    // At t = 3 s the first is acknowledged: the second goes out with 7 s left
    // [MQTT-3.3.2-6]; the third expires behind it [MQTT-3.3.2-5].
    s.input(3_000, "40 02 0001");
    s.expect_output(3_000, "32 0c 0001 74 0002 05 02 00000007 62");
    assert_eq!(
        s.events(),
        [ClientEvent::Delivered {
            id: m1,
            reason_code: ReasonCode::Success
        }]
    );
    s.input(3_000, "40 02 0002");
    let events = s.events();
    assert!(
        events.contains(&ClientEvent::Dropped {
            id: m3,
            topic: TopicName::from_static("t"),
            why: DropReason::Expired
        }),
        "{events:?}"
    );
    s.expect_output(3_000, "");
}

#[test]
fn a_message_larger_than_the_servers_maximum_is_dropped_mqtt_3_2_2_15() {
    // [MQTT-3.2.2-15]: the client never sends a packet above the server's Maximum Packet
    // Size; the message is dropped as a server does under [MQTT-3.1.2-25].
    let mut s = Script::new(ProtocolVersion::V5);
    s.expect_output(0, CONNECT_V5);
    // CONNACK with Maximum Packet Size 20.
    s.input(0, "20 08 00 00 05 27 00000014");
    let _ = s.events();
    let id = s.publish(1, QoS::AtLeastOnce, "0123456789abcdef", None);
    s.expect_output(1, "");
    assert_eq!(
        s.events(),
        [ClientEvent::Dropped {
            id,
            topic: TopicName::from_static("t"),
            why: DropReason::TooLarge
        }]
    );
    assert_eq!(s.conn.session_state().inflight().count(), 0);
}

#[test]
fn outbound_topic_aliases_leave_out_known_topics() {
    let config = ClientConfig {
        outbound_topic_aliases: true,
        ..ClientConfig::default()
    };
    let mut s = Script::with(ProtocolVersion::V5, true, SessionState::new(), config);
    s.expect_output(0, CONNECT_V5);
    // CONNACK with Topic Alias Maximum 2.
    s.input(0, "20 06 00 00 03 22 0002");
    let _ = s.events();
    s.publish(1, QoS::AtMostOnce, "a", None);
    s.publish(1, QoS::AtMostOnce, "a", None);
    s.expect_output(1, "30 08 0001 74 03 230001 61  30 07 0000 03 230001 61");
}

#[test]
fn pubrec_with_an_error_ends_the_qos2_exchange() {
    let mut s = Script::new(ProtocolVersion::V5);
    s.expect_output(0, CONNECT_V5);
    s.input(0, "20 03 00 00 00");
    let _ = s.events();
    let id = s.publish(1, QoS::ExactlyOnce, "a", None);
    s.expect_output(1, "34 07 0001 74 0001 00 61");
    // PUBREC 0x80: no PUBREL, the message is done and its identifier free.
    s.input(2, "50 03 0001 80");
    s.expect_output(2, "");
    assert_eq!(
        s.events(),
        [ClientEvent::Delivered {
            id,
            reason_code: ReasonCode::UnspecifiedError
        }]
    );
    assert!(s.conn.session_state().is_empty());
}

#[test]
fn subscribe_ids_never_collide_with_publications_in_flight_mqtt_2_3_1_2() {
    // 3.1.1 [MQTT-2.3.1-2] (5.0 [MQTT-2.2.1-3]): a new SUBSCRIBE gets an identifier no packet
    // in flight uses.
    let mut s = Script::new(ProtocolVersion::V3_1_1);
    s.expect_output(0, CONNECT_V311);
    s.input(0, "20 02 00 00");
    let _ = s.events();
    s.publish(1, QoS::AtLeastOnce, "a", None);
    s.expect_output(1, "32 06 0001 74 0001 61");
    let filter = TopicFilter::from_static("t/#");
    let now = s.at(2);
    let sub = s
        .conn
        .subscribe(
            now,
            vec![(filter, SubscriptionOptions::new(QoS::AtLeastOnce))],
            SubscribeProperties::default(),
        )
        .unwrap();
    assert_eq!(sub.get(), 2);
    s.expect_output(2, "82 08 0002 0003 742f23 01");
    s.input(3, "90 03 0002 01");
    assert!(matches!(s.events().as_slice(), [ClientEvent::SubAck(a)] if a.packet_id == sub));
}

#[test]
fn session_lost_drops_what_was_in_flight() {
    let mut s = Script::new(ProtocolVersion::V3_1_1);
    s.expect_output(0, CONNECT_V311);
    s.input(0, "20 02 00 00");
    let _ = s.events();
    let id = s.publish(1, QoS::AtLeastOnce, "a", None);
    s.expect_output(1, "32 06 0001 74 0001 61");
    s.conn.handle_transport_closed(s.at(2));
    let state = s.conn.take_session_state();
    assert_eq!(state.inflight().count(), 1);

    let mut s2 = Script::with(
        ProtocolVersion::V3_1_1,
        false,
        state,
        ClientConfig::default(),
    );
    s2.expect_output(0, "10 0d 00 04 4d515454 04 00 000a 0001 63");
    // The server has no session: the message in flight is reported lost, not resent.
    s2.input(1, "20 02 00 00");
    let events = s2.events();
    assert!(events.contains(&ClientEvent::Dropped {
        id,
        topic: TopicName::from_static("t"),
        why: DropReason::SessionLost
    }));
    s2.expect_output(1, "");
}

#[test]
fn resumed_session_resends_with_dup_mqtt_4_4_0_1() {
    let mut s = Script::new(ProtocolVersion::V3_1_1);
    s.expect_output(0, CONNECT_V311);
    s.input(0, "20 02 00 00");
    let _ = s.events();
    s.publish(1, QoS::AtLeastOnce, "a", None);
    s.expect_output(1, "32 06 0001 74 0001 61");
    s.conn.handle_transport_closed(s.at(2));
    let state = s.conn.take_session_state();
    let mut s2 = Script::with(
        ProtocolVersion::V3_1_1,
        false,
        state,
        ClientConfig::default(),
    );
    s2.expect_output(0, "10 0d 00 04 4d515454 04 00 000a 0001 63");
    s2.input(1, "20 02 01 00");
    s2.expect_output(1, "3a 06 0001 74 0001 61");
}

#[test]
fn qos0_before_connack_is_refused_but_qos1_waits() {
    let mut s = Script::new(ProtocolVersion::V3_1_1);
    s.expect_output(0, CONNECT_V311);
    let m = OutgoingMessage::new(TopicName::from_static("t"), QoS::AtMostOnce, "x");
    assert!(s.conn.publish(s.at(0), m).is_err());
    s.publish(0, QoS::AtLeastOnce, "a", None);
    s.expect_output(0, "");
    s.input(1, "20 02 00 00");
    s.expect_output(1, "32 06 0001 74 0001 61");
}

#[test]
fn server_disconnect_is_reported_with_its_properties() {
    let mut s = Script::new(ProtocolVersion::V5);
    s.expect_output(0, CONNECT_V5);
    s.input(0, "20 03 00 00 00");
    let _ = s.events();
    // DISCONNECT 0x9C Use another server, Server Reference "h".
    s.input(1, "e0 06 9c 04 1c 0001 68");
    let events = s.events();
    assert!(matches!(&events[0], ClientEvent::Disconnect(d)
        if d.properties.server_reference.as_deref() == Some("h")));
    assert_eq!(
        events[1],
        ClientEvent::Closed {
            reason: CloseReason::PeerDisconnect(ReasonCode::UseAnotherServer)
        }
    );
}

#[test]
fn publish_respects_the_servers_maximum_qos_and_retain_available_mqtt_3_2_2_11() {
    let mut s = Script::new(ProtocolVersion::V5);
    s.expect_output(0, CONNECT_V5);
    // CONNACK with Maximum QoS 1 and Retain Available 0.
    s.input(0, "20 07 00 00 04 2401 2500");
    let _ = s.events();
    let qos2 = OutgoingMessage::new(TopicName::from_static("t"), QoS::ExactlyOnce, "a");
    assert!(s.conn.publish(s.at(1), qos2).is_err());
    let mut retained = OutgoingMessage::new(TopicName::from_static("t"), QoS::AtLeastOnce, "a");
    retained.retain = true;
    assert!(s.conn.publish(s.at(1), retained).is_err());
    s.expect_output(1, "");
    // A subscription identifier is never sent by a client [MQTT-3.3.4-6].
    let mut m = OutgoingMessage::new(TopicName::from_static("t"), QoS::AtMostOnce, "a");
    m.properties
        .subscription_identifiers
        .push(mqtt_proto::SubscriptionId::new(3).unwrap());
    s.conn.publish(s.at(2), m).unwrap();
    s.expect_output(2, "30 05 0001 74 00 61");
}

/// The Receive Maximum quota starts afresh on each connection (5.0 section 4.9): a QoS 2
/// exchange carried over from an earlier connection (PUBREC sent, PUBREL not yet received)
/// does not count against it, so the server may resend one more message in flight.
#[test]
fn receive_maximum_counts_only_publications_received_on_this_connection() {
    let mut s = Script::new(ProtocolVersion::V3_1_1);
    let _ = s.output_at(0);
    s.input(1, "20 02 00 00");
    // QoS 2 PUBLISH id 2 on "t": PUBREC goes out, the PUBREL is lost with the connection.
    s.input(2, "34 06 0001 74 0002 78");
    assert_eq!(s.output_at(2), hex("50 02 0002"));
    s.conn.handle_transport_closed(s.at(3));
    let state = s.conn.take_session_state();
    // The session goes on over 5.0 with Receive Maximum 1.
    let mut connect = Connect::new(ProtocolVersion::V5, MqttString::from_static("c"));
    connect.clean_start = false;
    connect.properties.receive_maximum = std::num::NonZeroU16::new(1);
    let mut s2 = Script {
        conn: ClientConnection::new(s.at(4), connect, state, ClientConfig::default()).unwrap(),
        t0: s.t0,
        inbuf: BytesMut::new(),
    };
    let _ = s2.output_at(4);
    s2.input(5, "20 03 01 00 00");
    // The server resends a QoS 1 message that was in flight: within the quota of 1.
    s2.input(6, "32 07 0001 74 0001 00 79");
    assert!(!s2.conn.is_closed(), "{:?}", s2.events());
    assert_eq!(s2.output_at(6), hex("40 02 0001"));
    // The carried-over exchange still completes.
    s2.input(7, "62 03 0002 00");
    assert_eq!(s2.output_at(7), hex("70 02 0002"));
}
