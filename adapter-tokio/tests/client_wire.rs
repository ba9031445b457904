//! The client against a scripted server on 127.0.0.1: exact packets across reconnections,
//! which a real broker cannot be made to produce on demand (a PUBACK that never comes, a
//! session that is or is not present).

use std::future::Future;
use std::time::Duration;

use adapter_tokio::client::{
    Client, ClientBuilder, ClientError, DisconnectReason, Event, Events, ReconnectPolicy, Transport,
};
use bytes::BytesMut;
use mqtt_proto::{
    AckProperties, ConnAck, Connect, DecodeOptions, Packet, ProtocolVersion, PubAck, QoS,
    ReasonCode, SubAck, decode,
};
use mqtt_session::{ClientConfig, CloseReason, DropReason};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("test timed out")
}

/// The server's end of one connection.
struct Peer {
    stream: TcpStream,
    buf: BytesMut,
}

impl Peer {
    async fn accept(listener: &TcpListener) -> Self {
        let (stream, _) = listener.accept().await.unwrap();
        Self {
            stream,
            buf: BytesMut::new(),
        }
    }

    async fn recv(&mut self) -> Packet {
        loop {
            if let Some(p) = decode(&mut self.buf, V311, &DecodeOptions::default()).unwrap() {
                return p;
            }
            let n = self.stream.read_buf(&mut self.buf).await.unwrap();
            assert!(n > 0, "the client closed the connection");
        }
    }

    async fn send(&mut self, packet: impl Into<Packet>) {
        let mut out = Vec::new();
        packet.into().encode(V311, &mut out).unwrap();
        self.stream.write_all(&out).await.unwrap();
    }

    /// Reads CONNECT and accepts it.
    async fn handshake(&mut self, session_present: bool) -> Connect {
        let Packet::Connect(connect) = self.recv().await else {
            panic!("expected CONNECT");
        };
        self.send(ConnAck::new(session_present, ReasonCode::Success))
            .await;
        *connect
    }
}

async fn listener() -> (TcpListener, ClientBuilder) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let builder = Client::builder(Transport::tcp("127.0.0.1", port))
        .client_id("wire")
        .reconnect(Some(ReconnectPolicy {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(50),
            factor: 2.0,
            jitter: 0.0,
        }));
    (listener, builder)
}

async fn until_disconnected(events: &mut Events) -> DisconnectReason {
    loop {
        if let Event::Disconnected { reason } = events.recv().await.expect("stream ended") {
            return reason;
        }
    }
}

async fn next_connected(events: &mut Events) -> bool {
    loop {
        if let Event::Connected { session_present } = events.recv().await.expect("stream ended") {
            return session_present;
        }
    }
}

#[tokio::test]
async fn unacknowledged_publish_is_resent_with_dup_on_a_resumed_session() {
    bounded(async {
        let (listener, builder) = listener().await;
        let (client, mut events) = builder.clean_start(false).spawn().unwrap();
        let mut peer = Peer::accept(&listener).await;
        assert!(!peer.handshake(false).await.clean_start);
        assert!(!next_connected(&mut events).await);

        let handle = client
            .publish("t", QoS::AtLeastOnce, false, "once")
            .await
            .unwrap();
        let Packet::Publish(first) = peer.recv().await else {
            panic!("expected PUBLISH")
        };
        assert!(!first.dup);
        // The connection drops before the PUBACK.
        drop(peer);
        assert!(matches!(
            until_disconnected(&mut events).await,
            DisconnectReason::Closed(CloseReason::TransportClosed)
        ));

        let mut peer = Peer::accept(&listener).await;
        peer.handshake(true).await;
        let Packet::Publish(again) = peer.recv().await else {
            panic!("expected PUBLISH")
        };
        assert!(again.dup, "resent with DUP [MQTT-3.3.1-1]");
        assert_eq!(
            (again.packet_id(), &again.payload),
            (first.packet_id(), &first.payload)
        );
        peer.send(PubAck::new(again.packet_id().unwrap())).await;
        assert_eq!(handle.await.unwrap().reason_code, ReasonCode::Success);
        client.disconnect().await;
        assert!(matches!(peer.recv().await, Packet::Disconnect(_)));
    })
    .await;
}

#[tokio::test]
async fn in_flight_publish_fails_when_the_server_lost_the_session() {
    bounded(async {
        let (listener, builder) = listener().await;
        let (client, _events) = builder.spawn().unwrap();
        let mut peer = Peer::accept(&listener).await;
        assert!(peer.handshake(false).await.clean_start);
        let handle = client
            .publish("t", QoS::AtLeastOnce, false, "lost")
            .await
            .unwrap();
        assert!(matches!(peer.recv().await, Packet::Publish(_)));
        drop(peer);

        // A 3.1.1 clean session is not resumed: the message went with it.
        let mut peer = Peer::accept(&listener).await;
        assert!(peer.handshake(false).await.clean_start);
        assert_eq!(
            handle.await,
            Err(ClientError::Dropped(DropReason::SessionLost))
        );
        client.disconnect().await;
    })
    .await;
}

#[tokio::test]
async fn subscriptions_are_restored_only_when_the_session_is_gone() {
    bounded(async {
        let (listener, builder) = listener().await;
        let (client, mut events) = builder.clean_start(false).spawn().unwrap();
        let mut peer = Peer::accept(&listener).await;
        peer.handshake(false).await;
        assert!(!next_connected(&mut events).await);
        let subscribe = client.subscribe("a/+", QoS::AtLeastOnce);
        let answer = async {
            let Packet::Subscribe(s) = peer.recv().await else {
                panic!("expected SUBSCRIBE")
            };
            peer.send(SubAck {
                packet_id: s.packet_id,
                properties: AckProperties::default(),
                reason_codes: vec![ReasonCode::GrantedQoS1],
            })
            .await;
        };
        let (granted, ()) = tokio::join!(subscribe, answer);
        assert_eq!(granted.unwrap(), ReasonCode::GrantedQoS1);

        // Session present: nothing to restore, the next packet is ours.
        drop(peer);
        let mut peer = Peer::accept(&listener).await;
        peer.handshake(true).await;
        assert!(next_connected(&mut events).await);
        client
            .publish("x", QoS::AtMostOnce, false, "1")
            .await
            .unwrap();
        assert!(matches!(peer.recv().await, Packet::Publish(_)));

        // No session: the subscription goes again, before anything else.
        drop(peer);
        let mut peer = Peer::accept(&listener).await;
        peer.handshake(false).await;
        assert!(!next_connected(&mut events).await);
        client
            .publish("x", QoS::AtMostOnce, false, "2")
            .await
            .unwrap();
        let Packet::Subscribe(s) = peer.recv().await else {
            panic!("expected SUBSCRIBE")
        };
        assert_eq!(s.filters.len(), 1);
        assert_eq!(
            (s.filters[0].0.as_str(), s.filters[0].1.qos),
            ("a/+", QoS::AtLeastOnce)
        );
        assert!(matches!(peer.recv().await, Packet::Publish(_)));
        client.disconnect().await;
    })
    .await;
}

#[tokio::test]
async fn requests_wait_for_the_connection_in_order() {
    bounded(async {
        let (listener, builder) = listener().await;
        let (client, _events) = builder.spawn().unwrap();
        // Nothing is accepted yet: every request is held.
        let qos0 = client
            .publish("a", QoS::AtMostOnce, false, "0")
            .await
            .unwrap();
        let qos1 = client
            .publish("b", QoS::AtLeastOnce, false, "1")
            .await
            .unwrap();
        let client2 = client.clone();
        let subscribe = tokio::spawn(async move { client2.subscribe("c", QoS::AtMostOnce).await });

        let mut peer = Peer::accept(&listener).await;
        peer.handshake(false).await;
        let mut seen = Vec::new();
        for _ in 0..3 {
            match peer.recv().await {
                Packet::Publish(p) => {
                    if let Some(id) = p.packet_id() {
                        peer.send(PubAck::new(id)).await;
                    }
                    seen.push(p.topic.unwrap().as_str().to_owned());
                }
                Packet::Subscribe(s) => {
                    peer.send(SubAck {
                        packet_id: s.packet_id,
                        properties: AckProperties::default(),
                        reason_codes: vec![ReasonCode::Success],
                    })
                    .await;
                    seen.push(format!("SUBSCRIBE {}", s.filters[0].0.as_str()));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let mut expected = vec!["a".to_owned(), "b".to_owned(), "SUBSCRIBE c".to_owned()];
        // The subscribe came from another task: it may have been queued before the
        // publications or after them, but the publications keep their order.
        if seen[0].starts_with("SUBSCRIBE") {
            expected.rotate_right(1);
        }
        assert_eq!(seen, expected);
        assert!(qos0.await.unwrap().is_success());
        assert!(qos1.await.unwrap().is_success());
        assert_eq!(subscribe.await.unwrap().unwrap(), ReasonCode::Success);
        client.disconnect().await;
    })
    .await;
}

#[tokio::test]
async fn keep_alive_pings_and_a_silent_server_is_left() {
    bounded(async {
        let (listener, builder) = listener().await;
        let config = ClientConfig {
            ping_timeout: Duration::from_millis(500),
            ..ClientConfig::default()
        };
        let (client, mut events) = builder
            .keep_alive(Duration::from_millis(300))
            .connection_config(config)
            .reconnect(None)
            .spawn()
            .unwrap();
        let mut peer = Peer::accept(&listener).await;
        assert_eq!(peer.handshake(false).await.keep_alive, 1, "rounded up");
        assert!(matches!(peer.recv().await, Packet::PingReq));
        peer.send(Packet::PingResp).await;
        // The next PINGREQ goes unanswered.
        assert!(matches!(peer.recv().await, Packet::PingReq));
        assert!(matches!(
            until_disconnected(&mut events).await,
            DisconnectReason::Closed(CloseReason::KeepAliveTimeout)
        ));
        assert!(
            events.recv().await.is_none(),
            "no reconnection: the client stopped"
        );
        assert!(client.is_closed());
    })
    .await;
}

#[tokio::test]
async fn dropping_every_handle_disconnects() {
    bounded(async {
        let (listener, builder) = listener().await;
        let (client, events) = builder.spawn().unwrap();
        let mut peer = Peer::accept(&listener).await;
        peer.handshake(false).await;
        drop((client, events));
        assert!(matches!(peer.recv().await, Packet::Disconnect(_)));
    })
    .await;
}
