//! The client against a real mosquitto broker, for MQTT 3.1.1 and 5.0.

mod support;

use std::future::Future;
use std::time::Duration;

use adapter_tokio::client::{
    Client, ClientBuilder, ClientError, DisconnectReason, Event, Events, Message, ReconnectPolicy,
    Transport,
};
use mqtt_proto::{ProtocolVersion, QoS, ReasonCode, WillProperties};
use mqtt_session::{CloseReason, DropReason};
use support::{Mosquitto, start_mosquitto, start_mosquitto_with, unique_id};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V3_1_1, ProtocolVersion::V5];

/// Every test is bounded.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test timed out")
}

fn fast_reconnect() -> ReconnectPolicy {
    ReconnectPolicy {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(300),
        factor: 2.0,
        jitter: 0.2,
    }
}

fn builder(broker: &Mosquitto, version: ProtocolVersion) -> ClientBuilder {
    Client::builder(Transport::tcp("127.0.0.1", broker.port()))
        .protocol(version)
        .client_id(unique_id("test"))
        .reconnect(None)
}

async fn connect(broker: &Mosquitto, version: ProtocolVersion) -> (Client, Events) {
    let (client, mut events) = builder(broker, version).connect().await.unwrap();
    assert!(matches!(
        events.recv().await,
        Some(Event::Connected {
            session_present: false
        })
    ));
    (client, events)
}

async fn next_message(events: &mut Events) -> Message {
    loop {
        match events.recv().await.expect("event stream ended") {
            Event::Message(m) => return m,
            other => eprintln!("event: {other:?}"),
        }
    }
}

async fn next_connected(events: &mut Events) -> bool {
    loop {
        match events.recv().await.expect("event stream ended") {
            Event::Connected { session_present } => return session_present,
            Event::Message(m) => panic!("unexpected message {m:?}"),
            other => eprintln!("event: {other:?}"),
        }
    }
}

#[tokio::test]
async fn connects_and_disconnects() {
    let Some(broker) = start_mosquitto() else {
        return;
    };
    bounded(async {
        for version in VERSIONS {
            let (client, mut events) = connect(&broker, version).await;
            client.disconnect().await;
            assert!(client.is_closed());
            let last = events.recv().await;
            assert!(
                matches!(
                    last,
                    Some(Event::Disconnected {
                        reason: DisconnectReason::Closed(CloseReason::LocalDisconnect(
                            ReasonCode::Success
                        ))
                    })
                ),
                "{last:?}"
            );
            assert!(
                events.recv().await.is_none(),
                "the stream ends with the client"
            );
            let e = client.try_publish("t", QoS::AtMostOnce, false, "x");
            assert_eq!(e.unwrap_err(), ClientError::Closed);
        }
    })
    .await;
}

#[tokio::test]
async fn connect_failure_is_reported() {
    let port = support::free_port();
    let e = bounded(
        Client::builder(Transport::tcp("127.0.0.1", port))
            .reconnect(Some(fast_reconnect()))
            .connect(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, adapter_tokio::client::ConnectError::Io(_)),
        "{e}"
    );

    let Some(broker) = start_mosquitto() else {
        return;
    };
    // A 3.1.1 server refuses an empty client id without a clean session.
    let e = bounded(
        builder(&broker, ProtocolVersion::V3_1_1)
            .client_id("")
            .clean_start(false)
            .connect(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            adapter_tokio::client::ConnectError::Refused(ReasonCode::ClientIdentifierNotValid)
        ),
        "{e}"
    );
}

#[tokio::test]
async fn publish_handles_resolve_for_each_qos() {
    let Some(broker) = start_mosquitto() else {
        return;
    };
    bounded(async {
        for version in VERSIONS {
            let (client, mut events) = connect(&broker, version).await;
            let granted = client.subscribe("qos/#", QoS::ExactlyOnce).await.unwrap();
            assert_eq!(granted, ReasonCode::GrantedQoS2);
            let mut handles = Vec::new();
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                let topic = format!("qos/{}", qos.as_u8());
                let payload = format!("payload {}", qos.as_u8());
                handles.push(client.publish(&topic, qos, false, payload).await.unwrap());
            }
            for handle in handles {
                let outcome = handle.await.unwrap();
                assert_eq!(outcome.reason_code, ReasonCode::Success);
                assert!(outcome.is_success());
            }
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                let m = next_message(&mut events).await;
                assert_eq!(m.topic(), format!("qos/{}", qos.as_u8()));
                assert_eq!(m.payload(), format!("payload {}", qos.as_u8()).as_bytes());
                assert_eq!(m.qos(), qos);
                assert!(!m.retain());
                assert!(!m.needs_ack(), "acknowledged automatically");
            }
            client.disconnect().await;
        }
    })
    .await;
}

#[tokio::test]
async fn subscribe_and_unsubscribe_reason_codes() {
    let Some(broker) = start_mosquitto() else {
        return;
    };
    bounded(async {
        for version in VERSIONS {
            let (client, _events) = connect(&broker, version).await;
            let codes = [
                (QoS::AtMostOnce, ReasonCode::Success),
                (QoS::AtLeastOnce, ReasonCode::GrantedQoS1),
                (QoS::ExactlyOnce, ReasonCode::GrantedQoS2),
            ];
            for (qos, expected) in codes {
                let filter = format!("sub/{}/+", qos.as_u8());
                assert_eq!(client.subscribe(&filter, qos).await.unwrap(), expected);
            }
            assert_eq!(
                client.unsubscribe("sub/1/+").await.unwrap(),
                ReasonCode::Success
            );
            let unknown = client.unsubscribe("never/subscribed").await.unwrap();
            if version.is_v5() {
                assert_eq!(unknown, ReasonCode::NoSubscriptionExisted);
            } else {
                assert_eq!(unknown, ReasonCode::Success);
            }
            let invalid = client.subscribe("a/#/b", QoS::AtMostOnce).await;
            assert!(matches!(invalid, Err(ClientError::InvalidTopic(_))));
            let invalid = client.try_publish("a/+", QoS::AtMostOnce, false, "");
            assert!(matches!(invalid, Err(ClientError::InvalidTopic(_))));
            client.disconnect().await;
        }
    })
    .await;
}

#[tokio::test]
async fn retained_message_reaches_a_new_subscriber() {
    let Some(broker) = start_mosquitto() else {
        return;
    };
    bounded(async {
        for version in VERSIONS {
            let topic = format!("retained/{}", version.level());
            let (publisher, _events) = connect(&broker, version).await;
            let handle = publisher.publish(&topic, QoS::AtLeastOnce, true, "kept");
            handle.await.unwrap().await.unwrap();
            publisher.disconnect().await;

            let (subscriber, mut events) = connect(&broker, version).await;
            subscriber
                .subscribe(&topic, QoS::AtLeastOnce)
                .await
                .unwrap();
            let m = next_message(&mut events).await;
            assert_eq!(
                (m.topic(), &m.payload()[..]),
                (topic.as_str(), &b"kept"[..])
            );
            assert!(m.retain());
            subscriber.disconnect().await;
        }
    })
    .await;
}

#[tokio::test]
async fn will_is_published_when_the_transport_drops() {
    let Some(broker) = start_mosquitto() else {
        return;
    };
    bounded(async {
        for version in VERSIONS {
            let topic = format!("will/{}", version.level());
            let (watcher, mut events) = connect(&broker, version).await;
            watcher.subscribe(&topic, QoS::AtLeastOnce).await.unwrap();

            let mut doomed =
                builder(&broker, version).will(&topic, "gone", QoS::AtLeastOnce, false);
            if version.is_v5() {
                doomed = doomed.will_properties(WillProperties {
                    content_type: Some("text/plain".try_into().unwrap()),
                    ..WillProperties::default()
                });
            }
            let (doomed, _doomed_events) = doomed.connect().await.unwrap();
            // A normal DISCONNECT would discard the will; a dropped transport does not.
            doomed.drop_transport().await;
            let m = next_message(&mut events).await;
            assert_eq!(
                (m.topic(), &m.payload()[..]),
                (topic.as_str(), &b"gone"[..])
            );
            if version.is_v5() {
                let content_type = m.publish.properties.content_type.as_ref();
                assert_eq!(content_type.map(|c| c.as_str()), Some("text/plain"));
            }

            // And after a normal disconnection, no will.
            let (polite, _e) = builder(&broker, version)
                .will(&topic, "unexpected", QoS::AtLeastOnce, false)
                .connect()
                .await
                .unwrap();
            polite.disconnect().await;
            watcher
                .publish(&topic, QoS::AtLeastOnce, false, "marker")
                .await
                .unwrap();
            let m = next_message(&mut events).await;
            assert_eq!(&m.payload()[..], b"marker");
            watcher.disconnect().await;
        }
    })
    .await;
}

#[tokio::test]
async fn persistent_session_receives_messages_sent_while_away() {
    let Some(broker) = start_mosquitto() else {
        return;
    };
    bounded(async {
        for version in VERSIONS {
            let id = unique_id("persistent");
            let topic = format!("persist/{}", version.level());
            let persistent = || {
                let b = builder(&broker, version).client_id(&id).clean_start(false);
                if version.is_v5() {
                    b.session_expiry(300)
                } else {
                    b
                }
            };
            let (client, _events) = persistent().connect().await.unwrap();
            client.subscribe(&topic, QoS::AtLeastOnce).await.unwrap();
            client.disconnect().await;

            let (other, _other_events) = connect(&broker, version).await;
            let sent = other
                .publish(&topic, QoS::AtLeastOnce, false, "while away")
                .await;
            sent.unwrap().await.unwrap();
            other.disconnect().await;

            let (client, mut events) = persistent().connect().await.unwrap();
            assert!(next_connected(&mut events).await, "session present");
            let m = next_message(&mut events).await;
            assert_eq!(
                (m.topic(), &m.payload()[..]),
                (topic.as_str(), &b"while away"[..])
            );
            assert_eq!(m.qos(), QoS::AtLeastOnce);
            client.disconnect().await;
        }
    })
    .await;
}

#[tokio::test]
async fn reconnects_after_broker_restart_with_subscriptions_and_queued_publishes() {
    let Some(mut broker) = start_mosquitto() else {
        return;
    };
    bounded(async {
        for version in VERSIONS {
            let topic = format!("restart/{}", version.level());
            let (client, mut events) = builder(&broker, version)
                .reconnect(Some(fast_reconnect()))
                .connect()
                .await
                .unwrap();
            assert!(!next_connected(&mut events).await);
            client.subscribe(&topic, QoS::AtLeastOnce).await.unwrap();

            broker.stop();
            loop {
                match events.recv().await.expect("event stream ended") {
                    Event::Disconnected {
                        reason: DisconnectReason::Closed(_),
                    } => break,
                    other => eprintln!("event: {other:?}"),
                }
            }
            // Requested while disconnected: held, then sent after the reconnection.
            let queued = client
                .publish(&topic, QoS::AtLeastOnce, false, "queued while down")
                .await
                .unwrap();
            let mut attempts = 0;
            while attempts < 2 {
                let event = events.recv().await.expect("event stream ended");
                if let Event::Reconnecting { attempt, delay } = event {
                    assert!(attempt >= 1 && delay <= Duration::from_millis(300));
                    attempts += 1;
                }
            }
            broker.start();

            // The new broker has no session: the client subscribes again, then publishes.
            assert!(!next_connected(&mut events).await);
            assert_eq!(queued.await.unwrap().reason_code, ReasonCode::Success);
            let m = next_message(&mut events).await;
            assert_eq!(&m.payload()[..], b"queued while down");

            let (other, _other_events) = connect(&broker, version).await;
            let sent = other
                .publish(&topic, QoS::AtLeastOnce, false, "after restart")
                .await;
            sent.unwrap().await.unwrap();
            let m = next_message(&mut events).await;
            assert_eq!(&m.payload()[..], b"after restart");
            other.disconnect().await;
            client.disconnect().await;
        }
    })
    .await;
}

#[tokio::test]
async fn publishing_never_blocks_when_nobody_reads_the_events() {
    let Some(broker) = start_mosquitto() else {
        return;
    };
    bounded(async {
        for version in VERSIONS {
            let (client, events) = builder(&broker, version)
                .event_capacity(16)
                .command_capacity(256)
                .connect()
                .await
                .unwrap();
            // Every publication comes back to us, and nobody reads `events`.
            client.subscribe("flood/#", QoS::AtLeastOnce).await.unwrap();
            // A burst without yielding: the command queue fills and refuses the rest.
            let (mut queued, mut full) = (0, 0);
            for i in 0..10_000 {
                match client.try_publish("flood/0", QoS::AtMostOnce, false, format!("{i}")) {
                    Ok(_) => queued += 1,
                    Err(ClientError::QueueFull) => full += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!((queued, full), (256, 10_000 - 256));
            // Then QoS 0 and 1 with yields, so the task drains the queue while the event
            // channel stays full and nobody reads it.
            let mut handles = Vec::new();
            for i in 0..10_000 {
                match client.try_publish("flood/0", QoS::AtMostOnce, false, format!("{i}")) {
                    Ok(_) => queued += 1,
                    Err(ClientError::QueueFull) => full += 1,
                    Err(e) => panic!("{e}"),
                }
                if i % 5 == 0 {
                    match client.try_publish("flood/1", QoS::AtLeastOnce, false, "x") {
                        Ok(handle) => handles.push(handle),
                        Err(ClientError::QueueFull) => full += 1,
                        Err(e) => panic!("{e}"),
                    }
                    tokio::task::yield_now().await;
                }
            }
            eprintln!(
                "{version}: {queued} QoS 0 and {} QoS 1 queued, {full} refused as full",
                handles.len()
            );
            // The async variant waits only for room in the queue.
            let handle = client
                .publish("flood/2", QoS::AtLeastOnce, false, "y")
                .await;
            assert!(handle.is_ok());
            // The client still answers and stops promptly.
            client.disconnect().await;
            for handle in handles {
                // Delivered, or failed because the client stopped; never hangs.
                let _ = handle.await;
            }
            drop(events);
        }
    })
    .await;
}

#[tokio::test]
async fn manual_acknowledgement() {
    let Some(broker) = start_mosquitto() else {
        return;
    };
    bounded(async {
        let version = ProtocolVersion::V5;
        let id = unique_id("manual");
        let (client, mut events) = builder(&broker, version)
            .client_id(&id)
            .clean_start(false)
            .session_expiry(300)
            .manual_ack(true)
            .reconnect(Some(fast_reconnect()))
            .connect()
            .await
            .unwrap();
        client
            .subscribe("manual/#", QoS::AtLeastOnce)
            .await
            .unwrap();
        client
            .publish("manual/a", QoS::AtLeastOnce, false, "a")
            .await
            .unwrap();
        let mut m = next_message(&mut events).await;
        assert!(m.needs_ack());
        m.ack().await.unwrap();
        assert!(!m.needs_ack());

        // Not acknowledged: the server sends it again on the resumed session.
        client
            .publish("manual/b", QoS::AtLeastOnce, false, "b")
            .await
            .unwrap();
        let m = next_message(&mut events).await;
        assert_eq!(&m.payload()[..], b"b");
        client.drop_transport().await;
        assert!(next_connected(&mut events).await, "session present");
        let mut again = next_message(&mut events).await;
        assert_eq!(&again.payload()[..], b"b");
        assert!(again.publish.dup);
        again.ack().await.unwrap();
        client.disconnect().await;
    })
    .await;
}

#[tokio::test]
async fn too_large_message_is_dropped_with_a_reason() {
    let Some(broker) = start_mosquitto_with("max_packet_size 1000") else {
        return;
    };
    bounded(async {
        let (client, _events) = connect(&broker, ProtocolVersion::V5).await;
        let handle = client.publish("big", QoS::AtLeastOnce, false, vec![0u8; 2000]);
        let outcome = handle.await.unwrap().await;
        assert_eq!(outcome, Err(ClientError::Dropped(DropReason::TooLarge)));
        let small = client.publish("big", QoS::AtLeastOnce, false, vec![0u8; 100]);
        assert!(small.await.unwrap().await.unwrap().is_success());
        client.disconnect().await;
    })
    .await;
}
