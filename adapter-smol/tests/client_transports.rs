//! The smol client over TLS (`futures-rustls`), WebSocket and WebSocket over TLS
//! (`async-tungstenite`), against the smol broker with one listener of each kind and a
//! self-signed certificate for `localhost`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use adapter_smol::client::{Client, ConnectError, Event, Transport};
use adapter_smol::config::{Config, Listener, ListenerKind};
use adapter_smol::server::Server;
use futures_lite::FutureExt;
use mqtt_proto::{ProtocolVersion, QoS};

/// A directory with `cert.pem` and `key.pem`, removed on drop.
struct SelfSigned(PathBuf);

impl SelfSigned {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("smol-client-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
        std::fs::write(dir.join("cert.pem"), cert.cert.pem()).expect("write cert");
        std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).expect("write key");
        Self(dir)
    }

    fn cert(&self) -> PathBuf {
        self.0.join("cert.pem")
    }
}

impl Drop for SelfSigned {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn listener(kind: ListenerKind, pem: &SelfSigned) -> Listener {
    let mut l = Listener::new(kind, SocketAddr::from(([127, 0, 0, 1], 0)));
    if kind.is_tls() {
        l.cert = Some(pem.cert());
        l.key = Some(pem.0.join("key.pem"));
    }
    l
}

/// Publishes a QoS 2 message to itself over `transport`.
async fn round_trip(transport: Transport, name: &str) {
    let (client, mut events) = Client::builder(transport)
        .protocol(ProtocolVersion::V5)
        .client_id(name)
        .reconnect(None)
        .connect_with(|task| smol::spawn(task).detach())
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    client.subscribe("echo", QoS::ExactlyOnce).await.unwrap();
    let sent = client.publish("echo", QoS::ExactlyOnce, false, name.to_owned());
    assert!(sent.await.unwrap().await.unwrap().is_success());
    loop {
        if let Event::Message(m) = events.recv().await.expect("events") {
            assert_eq!(m.payload().as_ref(), name.as_bytes());
            break;
        }
    }
    client.disconnect().await;
}

#[test]
fn tls_websocket_and_secure_websocket() {
    let pem = SelfSigned::new();
    let kinds = [ListenerKind::Tls, ListenerKind::Ws, ListenerKind::Wss];
    let config = Config {
        listeners: kinds.iter().map(|&k| listener(k, &pem)).collect(),
        ..Config::default()
    };
    let ca: &Path = &pem.cert();
    smol::block_on(
        async {
            let server = Server::bind(config).await.expect("broker binds");
            let addrs = server.local_addrs();
            let port = |kind| {
                addrs
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .expect("listener")
                    .1
                    .port()
            };
            let tls = Transport::tls("localhost", port(ListenerKind::Tls), Some(ca), None);
            let ws = format!("ws://localhost:{}/mqtt", port(ListenerKind::Ws));
            let wss = format!("wss://localhost:{}/mqtt", port(ListenerKind::Wss));
            let wss = Transport::from_url(&wss, Some(ca), None);
            let stop = server.shutdown_handle();
            let broker = smol::spawn(server.run());

            round_trip(tls.expect("TLS transport"), "over-tls").await;
            let ws = Transport::from_url(&ws, None, None).expect("ws URL");
            round_trip(ws, "over-ws").await;
            round_trip(wss.expect("wss transport"), "over-wss").await;

            // A server certificate the client does not trust fails the first connection.
            let untrusted = Transport::tls("localhost", port(ListenerKind::Tls), None, None);
            let refused = Client::builder(untrusted.expect("system roots"))
                .reconnect(None)
                .connect_with(|task| smol::spawn(task).detach())
                .await;
            assert!(matches!(refused, Err(ConnectError::Io(_))), "{refused:?}");

            stop.shutdown();
            broker.await;
        }
        .or(async {
            async_io::Timer::after(Duration::from_secs(30)).await;
            panic!("test timed out");
        }),
    );
}
