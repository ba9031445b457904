//! Reproducers of broker bugs found by the simulation, as plain tests. They fail until the
//! bug is fixed (`session_handed_back_over_the_queue_bound_is_trimmed` and
//! `resumed_session_resends_no_more_than_the_receive_maximum` still do).

use std::time::Instant;

use mqtt_broker_core::{Broker, BrokerConfig, Output};
use mqtt_proto::{Connect, MqttString, ProtocolVersion, QoS, ReasonCode, SubscriptionOptions};
use mqtt_session::{ClientEvent, CloseReason, SessionState};

use crate::common::{Dir, Opts, Sim, Trace, sim};

fn persistent_v5(receive_maximum: Option<u16>) -> Opts {
    Opts {
        clean: false,
        session_expiry: Some(300),
        receive_maximum,
        ..Opts::default()
    }
}

/// With `queue_qos0_offline`, a QoS 0 message queued for an offline session is sent on
/// reconnection with a packet identifier taken and an in-flight entry that no
/// acknowledgement ever removes (mqtt-session's `Flows::fill_window` treats every queued
/// message as QoS 1/2). The entry holds a slot of the client's Receive Maximum for ever:
/// under Receive Maximum 1 no QoS 1/2 message reaches the client again (5.0 [MQTT-3.3.4-9]
/// counts QoS 1/2 PUBLISH only). On the next resumption the entry is resent as a QoS 0
/// PUBLISH with DUP 1, which does not encode ([MQTT-3.3.1-2]): `ServerConnection::accept`
/// fails and nothing queued behind it is sent.
#[test]
fn queued_qos0_message_takes_no_packet_id_or_window_slot() {
    let mut s = Sim::new(BrokerConfig {
        sys_interval: None,
        queue_qos0_offline: true,
        ..BrokerConfig::default()
    });
    s.connect("sub", persistent_v5(Some(1)));
    s.subscribe("sub", "t", QoS::AtLeastOnce);
    s.disconnect("sub", ReasonCode::Success);
    s.connect("pub", Opts::default());
    s.publish("pub", "t", QoS::AtMostOnce, false, "qos0-while-away");
    let sub = s.connect("sub", persistent_v5(Some(1)));
    assert_eq!(s.payloads("sub"), ["qos0-while-away"]);
    s.publish("pub", "t", QoS::AtLeastOnce, false, "qos1");
    let server = s.links[&sub].server.session_state();
    assert!(
        server.inflight().next().is_none(),
        "a QoS 0 message stays in flight: {server:?}"
    );
    assert_eq!(s.payloads("sub"), ["qos0-while-away", "qos1"]);
}

/// A persistent 5.0 session resumed by a 3.1.1 connection of the same client: a message
/// queued for it while it was 5.0 keeps its 5.0 properties (here a Subscription
/// Identifier), `ServerConnection::accept` fails to encode it for 3.1.1 ("PUBLISH
/// properties cannot be encoded in MQTT 3.1.1") and the message is lost; one left in flight
/// on the 5.0 connection is never resent either. The broker strips properties for 3.1.1
/// sessions when it routes, not when the session changes version.
#[test]
fn session_resumed_on_3_1_1_sends_its_5_0_messages_without_properties() {
    let mut s = sim();
    s.connect("sub", persistent_v5(None));
    s.subscribe_with(
        "sub",
        "t",
        SubscriptionOptions::new(QoS::AtLeastOnce),
        Some(7),
    );
    s.disconnect("sub", ReasonCode::Success);
    s.connect("pub", Opts::default());
    s.publish("pub", "t", QoS::AtLeastOnce, false, "while-away");
    s.connect(
        "sub",
        Opts {
            version: ProtocolVersion::V3_1_1,
            clean: false,
            ..Opts::default()
        },
    );
    assert_eq!(s.payloads("sub"), ["while-away"], "{:?}", s.anomalies);
    assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
}

/// A 5.0 CONNECT waiting for a take-over (the previous connection of its client has not
/// handed the session back yet) is overtaken by a third connection: the broker refuses the
/// waiting one with `Output::Refuse { reason_code: SessionTakenOver }`, but 0x8E is a
/// DISCONNECT code that a CONNACK cannot carry (5.0 section 3.2.2.2). The
/// `ServerConnection` fails to encode that CONNACK and closes without answering, reporting
/// a local 0x83. Expected: a CONNACK with a code valid there (or accepting the connection and
/// closing it with DISCONNECT 0x8E, as for any replaced connection [MQTT-3.1.4-3]).
#[test]
fn overtaken_waiting_connect_is_refused_with_a_connack_code() {
    let mut s = sim();
    s.connect("c", persistent_v5(None));
    // Two more connections whose CONNECTs arrive together: the first waits for the
    // take-over of the connected one, the second overtakes it.
    let _second = s.open("c", persistent_v5(None));
    let third = s.open("c", persistent_v5(None));
    s.run();
    assert!(s.links[&third].client.is_connected());
    assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
    // Both replaced connections were told: the first by DISCONNECT 0x8E, the second by a
    // refusing CONNACK or, once accepted, by DISCONNECT 0x8E too.
    let told = s.client_events["c"]
        .iter()
        .filter(|e| match e {
            ClientEvent::Disconnect(d) => d.reason_code == ReasonCode::SessionTakenOver,
            ClientEvent::Closed { reason } => matches!(reason, CloseReason::Refused(_)),
            _ => false,
        })
        .count();
    assert_eq!(told, 2, "{:?}", s.client_events["c"]);
}

/// A CONNECT waits for a take-over (its client's previous connection must hand the
/// session back first), and its own connection closes meanwhile: the embedder hands it
/// back with `handle_closed`, which the broker ignores because the connection has no
/// session yet. When the previous connection then hands the session back, the broker
/// completes the take-over onto the connection that is gone: `Output::Accept` for it, and
/// the session stays bound to it for ever. Messages for the session go to
/// `Output::Deliver` for a connection that no longer exists (lost instead of queued
/// [MQTT-4.1.0-1]), the session never expires, and every later CONNECT of the client
/// waits for that connection to hand the session back, which it never will: the client
/// cannot connect again (expected: accepted, with Session Present 1 [MQTT-3.2.2-3]).
#[test]
fn take_over_by_a_connection_that_closed_while_waiting_leaves_the_session_free() {
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    let mut broker = Broker::new(BrokerConfig::default(), 7, now);
    let connect = || {
        let mut c = Connect::new(ProtocolVersion::V5, MqttString::try_from("c").unwrap());
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(300);
        Box::new(c)
    };
    let outputs =
        |broker: &mut Broker| std::iter::from_fn(|| broker.poll_output()).collect::<Vec<_>>();
    let first = broker.open_connection(now).unwrap();
    let pending = broker.handle_connect(now, first, connect());
    broker.accept(now, pending);
    assert!(matches!(outputs(&mut broker)[..], [Output::Accept { .. }]));
    // A second connection takes over: the first is told to close.
    let second = broker.open_connection(now).unwrap();
    let pending = broker.handle_connect(now, second, connect());
    broker.accept(now, pending);
    assert!(matches!(
        outputs(&mut broker)[..],
        [Output::Disconnect { conn, .. }] if conn == first
    ));
    // The second connection's transport fails before the first one has closed.
    broker.handle_closed(
        now,
        second,
        &CloseReason::TransportClosed,
        SessionState::new(),
    );
    let taken_over = CloseReason::LocalDisconnect(ReasonCode::SessionTakenOver);
    broker.handle_closed(now, first, &taken_over, SessionState::new());
    let after_close = outputs(&mut broker);
    // The client connects again.
    let third = broker.open_connection(now).unwrap();
    let pending = broker.handle_connect(now, third, connect());
    broker.accept(now, pending);
    let answer = outputs(&mut broker);
    assert!(
        answer.iter().any(|o| matches!(
            o,
            Output::Accept { conn, accept } if *conn == third && accept.session_present
        )),
        "the client cannot connect again: {answer:?} (after the take-over: {after_close:?})"
    );
}

/// `max_queued_messages` is 1. A 5.0 subscriber with Receive Maximum 1 has three QoS 1
/// messages routed to it while it does not acknowledge: one in flight, two queued on its
/// connection. Its transport breaks; the connection hands the session back to the broker
/// with those two queued (`handle_closed`), and the broker keeps both. A fourth message,
/// queued while the client is offline, drops only the oldest: the offline queue holds 2
/// messages when the client returns, over the bound the configuration documents ("Most
/// messages queued for one session while its client is offline (or while its in-flight
/// window is full); beyond it the oldest is dropped"). Expected: 1 queued (the newest, m4).
#[test]
fn session_handed_back_over_the_queue_bound_is_trimmed() {
    let mut s = Sim::new(BrokerConfig {
        sys_interval: None,
        max_queued_messages: 1,
        ..BrokerConfig::default()
    });
    s.tracing = true;
    let sub = s.connect("sub", persistent_v5(Some(1)));
    s.subscribe("sub", "t", QoS::AtLeastOnce);
    let publisher = s.connect("pub", Opts::default());
    let now = s.now;
    for m in ["m1", "m2", "m3"] {
        let msg = mqtt_session::OutgoingMessage::new(
            mqtt_proto::TopicName::try_from("t").unwrap(),
            QoS::AtLeastOnce,
            bytes::Bytes::from(m),
        );
        s.client("pub").publish(now, msg).unwrap();
        s.process();
        // Only the publisher's bytes move: the subscriber acknowledges nothing.
        s.deliver(publisher, Dir::ToServer, usize::MAX);
    }
    s.cut_conn(sub);
    s.publish("pub", "t", QoS::AtLeastOnce, false, "m4");
    s.trace.clear();
    s.connect("sub", persistent_v5(Some(1)));
    let queued: Vec<usize> = s
        .trace
        .iter()
        .filter_map(|t| match t {
            Trace::Accepted { queued, .. } => Some(*queued),
            _ => None,
        })
        .collect();
    assert_eq!(
        queued,
        [1],
        "messages queued in the session when its client came back; it got {:?}",
        s.payloads("sub")
    );
}

/// A 5.0 subscriber with Receive Maximum 3 has three QoS 2 messages in flight when its
/// transport breaks (none reached it). It comes back with Receive Maximum 1, and the
/// resumed `ServerConnection` resends all three at once (`Flows::resume`: every in-flight
/// PUBLISH with DUP 1 [MQTT-4.4.0-1], whatever the new window). The client, holding the
/// first one unacknowledged (PUBREC sent, no PUBREL yet), gets the second and closes with
/// 0x93 Receive Maximum exceeded. Expected: no more than Receive Maximum QoS 1/2 PUBLISH
/// unacknowledged (5.0 [MQTT-3.3.4-9]; the send quota is set anew on each connection,
/// section 4.9.0): one resent, the others as acknowledgements free the window.
#[test]
fn resumed_session_resends_no_more_than_the_receive_maximum() {
    let mut s = sim();
    let sub = s.connect("sub", persistent_v5(Some(3)));
    s.subscribe("sub", "t", QoS::ExactlyOnce);
    let publisher = s.connect("pub", Opts::default());
    let now = s.now;
    for m in ["m1", "m2", "m3"] {
        let msg = mqtt_session::OutgoingMessage::new(
            mqtt_proto::TopicName::try_from("t").unwrap(),
            QoS::ExactlyOnce,
            bytes::Bytes::from(m),
        );
        s.client("pub").publish(now, msg).unwrap();
        s.process();
        // Only the publisher's bytes move: nothing reaches the subscriber.
        s.deliver(publisher, Dir::ToServer, usize::MAX);
    }
    s.cut_conn(sub);
    s.connect("sub", persistent_v5(Some(1)));
    assert!(s.anomalies.is_empty(), "{:?}", s.anomalies);
    assert_eq!(s.payloads("sub"), ["m1", "m2", "m3"]);
}
