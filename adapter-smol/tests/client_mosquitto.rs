//! The smol client against a real Debian mosquitto, for MQTT 3.1.1 and 5.0: QoS 0/1/2
//! publish handles, SUBACK reason codes, the message stream, retained messages, a
//! persistent session, and reconnection after the broker restarts.
//!
//! The broker helpers are the tokio tests' (`adapter-tokio/tests/support`), included, not
//! copied.

#[path = "../../adapter-tokio/tests/support/mod.rs"]
mod support;

use std::future::Future;
use std::time::Duration;

use adapter_smol::client::{
    Client, ClientBuilder, DisconnectReason, Event, Events, Message, ReconnectPolicy, Transport,
};
use futures_lite::FutureExt;
use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};
use support::{Mosquitto, start_mosquitto, unique_id};

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V3_1_1, ProtocolVersion::V5];

/// Runs one test body on smol, bounded in time.
fn run<F: Future<Output = ()>>(body: F) {
    smol::block_on(body.or(async {
        async_io::Timer::after(Duration::from_secs(30)).await;
        panic!("test timed out");
    }));
}

/// A client of one of the tests, with its event stream.
struct Peer {
    client: Client,
    events: Events,
}

impl Peer {
    fn options(broker: &Mosquitto, version: ProtocolVersion) -> ClientBuilder {
        Client::builder(Transport::tcp("127.0.0.1", broker.port()))
            .protocol(version)
            .client_id(unique_id("smol"))
            .reconnect(None)
    }

    /// Starts `options` on smol's global executor and waits for the CONNACK.
    async fn start(options: ClientBuilder) -> (Self, bool) {
        let (client, events) = options
            .connect_with(|task| smol::spawn(task).detach())
            .await
            .expect("connects");
        let mut peer = Self { client, events };
        let session_present = peer.connected().await;
        (peer, session_present)
    }

    async fn join(broker: &Mosquitto, version: ProtocolVersion) -> Self {
        Self::start(Self::options(broker, version)).await.0
    }

    async fn event(&mut self) -> Event {
        self.events.recv().await.expect("event stream ended")
    }

    /// Skips connection events up to the next message.
    async fn message(&mut self) -> Message {
        loop {
            if let Event::Message(m) = self.event().await {
                return m;
            }
        }
    }

    /// Skips events up to the next CONNACK; whether the session was present.
    async fn connected(&mut self) -> bool {
        loop {
            match self.event().await {
                Event::Connected { session_present } => return session_present,
                Event::Message(m) => panic!("message before CONNACK: {m:?}"),
                _ => {}
            }
        }
    }
}

#[test]
fn each_qos_resolves_its_handle_and_arrives() {
    let Some(broker) = start_mosquitto() else {
        return;
    };
    run(async {
        for version in VERSIONS {
            let mut peer = Peer::join(&broker, version).await;
            let granted = peer.client.subscribe("smol/qos/+", QoS::ExactlyOnce).await;
            assert_eq!(granted.unwrap(), ReasonCode::GrantedQoS2);
            let qos_levels = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
            let mut handles = Vec::new();
            for qos in qos_levels {
                let topic = format!("smol/qos/{}", qos.as_u8());
                let handle = peer.client.publish(&topic, qos, false, vec![qos.as_u8()]);
                handles.push(handle.await.expect("queued"));
            }
            for handle in handles {
                assert!(handle.await.expect("delivered").is_success());
            }
            for qos in qos_levels {
                let m = peer.message().await;
                assert_eq!((m.qos(), &m.payload()[..]), (qos, &[qos.as_u8()][..]));
                assert!(!m.retain() && !m.needs_ack());
            }
            peer.client.disconnect().await;
            assert!(peer.client.is_closed());
        }
    });
}

#[test]
fn subscription_reason_codes() {
    let Some(broker) = start_mosquitto() else {
        return;
    };
    run(async {
        for version in VERSIONS {
            let peer = Peer::join(&broker, version).await;
            let granted = [
                ReasonCode::Success,
                ReasonCode::GrantedQoS1,
                ReasonCode::GrantedQoS2,
            ];
            for (n, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
                .into_iter()
                .enumerate()
            {
                let code = peer.client.subscribe(&format!("codes/{n}/#"), qos).await;
                assert_eq!(Some(code.unwrap()), granted.get(n).copied());
            }
            let gone = peer.client.unsubscribe("codes/never").await.unwrap();
            let expected = match version {
                ProtocolVersion::V5 => ReasonCode::NoSubscriptionExisted,
                _ => ReasonCode::Success,
            };
            assert_eq!(gone, expected);
            peer.client.disconnect().await;
        }
    });
}

#[test]
fn a_retained_message_greets_a_late_subscriber() {
    let Some(broker) = start_mosquitto() else {
        return;
    };
    run(async {
        for version in VERSIONS {
            let topic = format!("smol/retained/{}", version.level());
            let early = Peer::join(&broker, version).await;
            let kept = early.client.publish(&topic, QoS::ExactlyOnce, true, "kept");
            kept.await.unwrap().await.unwrap();
            early.client.disconnect().await;

            let mut late = Peer::join(&broker, version).await;
            late.client
                .subscribe(&topic, QoS::AtMostOnce)
                .await
                .unwrap();
            let m = late.message().await;
            assert!(m.retain(), "{m:?}");
            assert_eq!(
                (m.topic(), m.payload().as_ref()),
                (topic.as_str(), &b"kept"[..])
            );
            late.client.disconnect().await;
        }
    });
}

#[test]
fn a_persistent_session_keeps_what_arrived_while_away() {
    let Some(broker) = start_mosquitto() else {
        return;
    };
    run(async {
        for version in VERSIONS {
            let id = unique_id("smol-persistent");
            let topic = format!("smol/away/{}", version.level());
            let options = || {
                let o = Peer::options(&broker, version)
                    .client_id(&id)
                    .clean_start(false);
                if version.is_v5() {
                    o.session_expiry(600)
                } else {
                    o
                }
            };
            let (away, _) = Peer::start(options()).await;
            away.client
                .subscribe(&topic, QoS::ExactlyOnce)
                .await
                .unwrap();
            away.client.disconnect().await;

            let sender = Peer::join(&broker, version).await;
            let sent = sender
                .client
                .publish(&topic, QoS::ExactlyOnce, false, "meanwhile");
            sent.await.unwrap().await.unwrap();
            sender.client.disconnect().await;

            let (mut back, session_present) = Peer::start(options()).await;
            assert!(session_present);
            let m = back.message().await;
            assert_eq!(
                (m.qos(), m.payload().as_ref()),
                (QoS::ExactlyOnce, &b"meanwhile"[..])
            );
            back.client.disconnect().await;
        }
    });
}

#[test]
fn reconnects_after_the_broker_restarts() {
    let Some(mut broker) = start_mosquitto() else {
        return;
    };
    run(async {
        for version in VERSIONS {
            let topic = format!("smol/restart/{}", version.level());
            let policy = ReconnectPolicy {
                initial: Duration::from_millis(40),
                max: Duration::from_millis(250),
                factor: 2.0,
                jitter: 0.1,
            };
            let options = Peer::options(&broker, version).reconnect(Some(policy));
            let (mut peer, _) = Peer::start(options).await;
            peer.client
                .subscribe(&topic, QoS::AtLeastOnce)
                .await
                .unwrap();

            broker.stop();
            while !matches!(
                peer.event().await,
                Event::Disconnected {
                    reason: DisconnectReason::Closed(_)
                }
            ) {}
            // Held while the broker is down, sent after the subscription is renewed.
            let held = peer.client.publish(&topic, QoS::AtLeastOnce, false, "held");
            let held = held.await.unwrap();
            while !matches!(peer.event().await, Event::Reconnecting { attempt: 2, .. }) {}
            broker.start();

            assert!(
                !peer.connected().await,
                "a restarted mosquitto has no session"
            );
            assert_eq!(held.await.unwrap().reason_code, ReasonCode::Success);
            assert_eq!(peer.message().await.payload().as_ref(), b"held");
            peer.client.disconnect().await;
        }
    });
}
