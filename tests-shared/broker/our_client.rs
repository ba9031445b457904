//! Our client against our broker, over TCP, TLS, WebSocket and WebSocket over TLS, in MQTT
//! 3.1.1 and 5.0: QoS 0/1/2 both ways with their handles, retained messages, a persistent
//! session across a reconnect and a client take-over.

use std::time::Duration;

use adapter_tokio::client::{Client, ClientError, Event, Events, Message, Transport};
use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};

use crate::adapter::config::ListenerKind;
use crate::support::{Certs, STEP, TestBroker, config, within};

/// The next application message, skipping connection events.
async fn next_message(events: &mut Events) -> Message {
    loop {
        match tokio::time::timeout(STEP, events.recv()).await {
            Ok(Some(Event::Message(m))) => return m,
            Ok(Some(_)) => {}
            Ok(None) => panic!("event stream ended"),
            Err(_) => panic!("no message within {STEP:?}"),
        }
    }
}

async fn broker_with_every_transport(certs: &Certs) -> TestBroker {
    let mut c = config(&[
        ListenerKind::Tcp,
        ListenerKind::Tls,
        ListenerKind::Ws,
        ListenerKind::Wss,
    ]);
    for l in &mut c.listeners {
        if l.kind.is_tls() {
            certs.equip(l);
        }
    }
    TestBroker::start(c).await
}

fn transport(broker: &TestBroker, kind: ListenerKind, certs: &Certs) -> Transport {
    let port = broker.addr(kind).port();
    let ca = certs.ca();
    match kind {
        ListenerKind::Tcp => Transport::tcp("127.0.0.1", port),
        ListenerKind::Tls => Transport::tls("127.0.0.1", port, Some(&ca), None).unwrap(),
        ListenerKind::Ws => {
            Transport::from_url(&format!("ws://127.0.0.1:{port}/mqtt"), None, None).unwrap()
        }
        ListenerKind::Wss => {
            Transport::from_url(&format!("wss://127.0.0.1:{port}/mqtt"), Some(&ca), None).unwrap()
        }
    }
}

async fn exchange(kind: ListenerKind, version: ProtocolVersion) {
    let certs = Certs::new();
    let broker = broker_with_every_transport(&certs).await;
    let (sub, mut sub_events) = Client::builder(transport(&broker, kind, &certs))
        .protocol(version)
        .client_id(format!("sub-{kind}"))
        .connect()
        .await
        .unwrap();
    // The publisher always comes over plain TCP: messages cross transports.
    let (publisher, _pub_events) = Client::builder(transport(&broker, ListenerKind::Tcp, &certs))
        .protocol(version)
        .client_id(format!("pub-{kind}"))
        .connect()
        .await
        .unwrap();
    assert_eq!(
        sub.subscribe("x/#", QoS::ExactlyOnce).await.unwrap(),
        ReasonCode::GrantedQoS2
    );
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let payload = format!("{kind} {i}");
        let handle = publisher
            .publish(&format!("x/{i}"), qos, false, payload.clone())
            .await
            .unwrap();
        let outcome = handle.await.unwrap();
        // 5.0 knows the message found a subscriber; 3.1.1 only says Success.
        assert_eq!(outcome.reason_code, ReasonCode::Success);
        let m = next_message(&mut sub_events).await;
        assert_eq!(m.topic(), format!("x/{i}"));
        assert_eq!(m.qos(), qos);
        assert_eq!(&m.payload()[..], payload.as_bytes());
    }
    // A message the other way: the subscriber publishes over its transport.
    let (echo, mut echo_events) = Client::builder(transport(&broker, ListenerKind::Tcp, &certs))
        .protocol(version)
        .client_id(format!("echo-{kind}"))
        .connect()
        .await
        .unwrap();
    echo.subscribe("back", QoS::AtLeastOnce).await.unwrap();
    sub.publish("back", QoS::AtLeastOnce, false, vec![0u8; 100_000])
        .await
        .unwrap()
        .await
        .unwrap();
    let m = next_message(&mut echo_events).await;
    assert_eq!(m.payload().len(), 100_000);
    for c in [sub, publisher, echo] {
        c.disconnect().await;
    }
    broker.stop().await;
}

#[tokio::test]
async fn our_client_over_tcp_v311_and_v5() {
    within(30, exchange(ListenerKind::Tcp, ProtocolVersion::V3_1_1)).await;
    within(30, exchange(ListenerKind::Tcp, ProtocolVersion::V5)).await;
}

#[tokio::test]
async fn our_client_over_tls_v311_and_v5() {
    within(30, exchange(ListenerKind::Tls, ProtocolVersion::V3_1_1)).await;
    within(30, exchange(ListenerKind::Tls, ProtocolVersion::V5)).await;
}

#[tokio::test]
async fn our_client_over_websocket_v311_and_v5() {
    within(30, exchange(ListenerKind::Ws, ProtocolVersion::V3_1_1)).await;
    within(30, exchange(ListenerKind::Ws, ProtocolVersion::V5)).await;
}

#[tokio::test]
async fn our_client_over_secure_websocket_v311_and_v5() {
    within(30, exchange(ListenerKind::Wss, ProtocolVersion::V3_1_1)).await;
    within(30, exchange(ListenerKind::Wss, ProtocolVersion::V5)).await;
}

#[tokio::test]
async fn our_client_gets_retained_messages_and_their_deletion() {
    within(30, async {
        let broker = TestBroker::tcp().await;
        let t = || Transport::tcp("127.0.0.1", broker.port());
        let (p, _pe) = Client::builder(t())
            .client_id("rp")
            .connect()
            .await
            .unwrap();
        p.publish("r/1", QoS::AtLeastOnce, true, "kept")
            .await
            .unwrap()
            .await
            .unwrap();
        let (s, mut se) = Client::builder(t())
            .client_id("rs")
            .connect()
            .await
            .unwrap();
        s.subscribe("r/#", QoS::AtLeastOnce).await.unwrap();
        let m = next_message(&mut se).await;
        assert!(m.retain());
        assert_eq!(&m.payload()[..], b"kept");
        // An empty retained payload deletes it.
        p.publish("r/1", QoS::AtLeastOnce, true, "")
            .await
            .unwrap()
            .await
            .unwrap();
        let _deleted = next_message(&mut se).await;
        let (late, mut le) = Client::builder(t())
            .client_id("rl")
            .connect()
            .await
            .unwrap();
        late.subscribe("r/#", QoS::AtLeastOnce).await.unwrap();
        p.publish("r/2", QoS::AtLeastOnce, false, "live")
            .await
            .unwrap()
            .await
            .unwrap();
        let m = next_message(&mut le).await;
        assert_eq!((m.topic(), m.retain()), ("r/2", false), "no retained left");
        broker.stop().await;
    })
    .await;
}

#[tokio::test]
async fn our_client_resumes_its_persistent_session_and_gets_what_was_queued() {
    within(30, async {
        let broker = TestBroker::tcp().await;
        let t = || Transport::tcp("127.0.0.1", broker.port());
        let persistent = || {
            Client::builder(t())
                .protocol(ProtocolVersion::V5)
                .client_id("keeper")
                .clean_start(false)
                .session_expiry(300)
        };
        let (c, mut events) = persistent().connect().await.unwrap();
        c.subscribe("q/#", QoS::AtLeastOnce).await.unwrap();
        c.disconnect().await;
        drop(events);
        let (p, _pe) = Client::builder(t())
            .client_id("qp")
            .connect()
            .await
            .unwrap();
        for i in 0..5 {
            p.publish(&format!("q/{i}"), QoS::AtLeastOnce, false, "while away")
                .await
                .unwrap()
                .await
                .unwrap();
        }
        let (c, e) = persistent().connect().await.unwrap();
        events = e;
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(next_message(&mut events).await.topic().to_owned());
        }
        assert_eq!(seen, ["q/0", "q/1", "q/2", "q/3", "q/4"], "in order");
        c.disconnect().await;
        broker.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_second_client_with_the_same_id_takes_the_session_over() {
    within(30, async {
        let broker = TestBroker::tcp().await;
        let t = || Transport::tcp("127.0.0.1", broker.port());
        let builder = || {
            Client::builder(t())
                .protocol(ProtocolVersion::V5)
                .client_id("twin")
                .reconnect(None)
        };
        let (first, mut first_events) = builder().connect().await.unwrap();
        let (second, _second_events) = builder().connect().await.unwrap();
        // The first connection is closed with 0x8E Session taken over.
        let reason = loop {
            match tokio::time::timeout(STEP, first_events.recv()).await {
                Ok(Some(Event::Disconnected { reason })) => break reason.to_string(),
                Ok(Some(_)) => {}
                other => panic!("first client not disconnected: {other:?}"),
            }
        };
        assert!(reason.to_lowercase().contains("taken over"), "{reason}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            matches!(
                first
                    .try_publish("t", QoS::AtLeastOnce, false, "x")
                    .map(|_| ()),
                Err(ClientError::Closed)
            ) || first.is_closed()
        );
        second
            .publish("t", QoS::AtLeastOnce, false, "x")
            .await
            .unwrap()
            .await
            .unwrap();
        second.disconnect().await;
        broker.stop().await;
    })
    .await;
}
