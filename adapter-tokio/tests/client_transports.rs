//! The client over TLS, WebSocket and WebSocket over TLS.
//!
//! TLS goes to mosquitto's own TLS listener. Debian's mosquitto has no WebSocket support,
//! so the WebSocket tests put a small bridge in front of its TCP listener: the server side
//! of [`adapter_tokio::ws`] (behind a TLS acceptor for `wss://`), copying bytes both ways.

mod support;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use adapter_tokio::client::{Client, ConnectError, Event, Events, Transport};
use adapter_tokio::{tls, ws};
use mqtt_proto::{ProtocolVersion, QoS};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use support::{Mosquitto, free_port, start_mosquitto_with, unique_id};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test timed out")
}

/// A CA, a server certificate for localhost and a client certificate, as PEM files in a
/// temporary directory removed on drop.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(unique_id("client-pki"));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = Self { dir };
        let mut ca = CertificateParams::new(Vec::new()).unwrap();
        ca.distinguished_name.push(DnType::CommonName, "test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        pki.write("ca.pem", &ca.self_signed(&ca_key).unwrap().pem());
        let issuer = Issuer::new(ca, ca_key);
        let leaves = [
            (
                "server",
                vec!["localhost".to_owned()],
                ExtendedKeyUsagePurpose::ServerAuth,
            ),
            ("client", Vec::new(), ExtendedKeyUsagePurpose::ClientAuth),
        ];
        for (name, names, usage) in leaves {
            let mut params = CertificateParams::new(names).unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            params.extended_key_usages = vec![usage];
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &issuer).unwrap();
            pki.write(&format!("{name}.pem"), &cert.pem());
            pki.write(&format!("{name}.key"), &key.serialize_pem());
        }
        pki
    }

    fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.path(name), contents).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn client_cert(&self) -> (PathBuf, PathBuf) {
        (self.path("client.pem"), self.path("client.key"))
    }

    /// Mosquitto configuration for a TLS listener.
    fn listener(&self, port: u16, require_certificate: bool) -> String {
        format!(
            "listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n\
             require_certificate {require_certificate}\n",
            self.path("ca.pem").display(),
            self.path("server.pem").display(),
            self.path("server.key").display(),
        )
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Connects, subscribes, and checks a QoS 1 message makes the round trip.
async fn round_trip(transport: Transport, version: ProtocolVersion) {
    let (client, mut events) = Client::builder(transport)
        .protocol(version)
        .client_id(unique_id("transport"))
        .reconnect(None)
        .connect()
        .await
        .unwrap();
    client.subscribe("echo", QoS::AtLeastOnce).await.unwrap();
    let big = vec![b'x'; 100_000];
    for payload in [&b"small"[..], &big] {
        let handle = client.publish("echo", QoS::AtLeastOnce, false, payload.to_vec());
        assert!(handle.await.unwrap().await.unwrap().is_success());
        assert_eq!(next_payload(&mut events).await, payload);
    }
    client.disconnect().await;
}

async fn next_payload(events: &mut Events) -> Vec<u8> {
    loop {
        if let Event::Message(m) = events.recv().await.expect("event stream ended") {
            return m.payload().to_vec();
        }
    }
}

#[tokio::test]
async fn tls_to_mosquitto() {
    let pki = Pki::new();
    let (tls_port, mutual_port) = (free_port(), free_port());
    let config = pki.listener(tls_port, false) + &pki.listener(mutual_port, true);
    let Some(_broker) = start_mosquitto_with(&config) else {
        return;
    };
    let ca = pki.path("ca.pem");
    let (cert, key) = pki.client_cert();
    bounded(async {
        for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            let transport = Transport::tls("localhost", tls_port, Some(&ca), None).unwrap();
            round_trip(transport, version).await;
        }
        let url = format!("mqtts://localhost:{mutual_port}");
        let transport = Transport::from_url(&url, Some(&ca), Some((&cert, &key))).unwrap();
        round_trip(transport, ProtocolVersion::V5).await;

        // Without a client certificate the mutual-TLS listener refuses the handshake.
        let transport = Transport::tls("localhost", mutual_port, Some(&ca), None).unwrap();
        let refused = Client::builder(transport).reconnect(None).connect().await;
        assert!(refused.is_err());
        // A server certificate from an unknown CA is refused.
        let other = Pki::new();
        let transport =
            Transport::tls("localhost", tls_port, Some(&other.path("ca.pem")), None).unwrap();
        let refused = Client::builder(transport).connect().await;
        assert!(matches!(refused, Err(ConnectError::Io(_))), "{refused:?}");
    })
    .await;
}

#[tokio::test]
async fn bad_tls_files_are_reported_before_connecting() {
    let missing = Path::new("/nonexistent/ca.pem");
    let e = Transport::tls("localhost", 8883, Some(missing), None).unwrap_err();
    assert!(matches!(e, ConnectError::Tls(_)), "{e}");
}

/// Serves WebSocket (optionally over TLS) on a free port, bridging each connection to the
/// broker's TCP listener. Returns the port.
async fn bridge(broker: &Mosquitto, tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream = broker.port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                let Ok(mqtt) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                    return;
                };
                // Failed handshakes are what some tests want: the client reports them.
                match tls {
                    Some(config) => {
                        if let Ok(tls) = TlsAcceptor::from(config).accept(tcp).await
                            && let Ok(ws) = ws::accept(tls, "/mqtt", 1 << 20).await
                        {
                            splice(ws, mqtt).await;
                        }
                    }
                    None => {
                        if let Ok(ws) = ws::accept(tcp, "/mqtt", 1 << 20).await {
                            splice(ws, mqtt).await;
                        }
                    }
                }
            });
        }
    });
    port
}

async fn splice<S>(mut ws: S, mut mqtt: TcpStream)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let _ = tokio::io::copy_bidirectional(&mut ws, &mut mqtt).await;
}

#[tokio::test]
async fn websocket_and_secure_websocket() {
    let Some(broker) = start_mosquitto_with("") else {
        return;
    };
    let pki = Pki::new();
    bounded(async {
        let port = bridge(&broker, None).await;
        let url = format!("ws://127.0.0.1:{port}/mqtt");
        for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
            round_trip(Transport::from_url(&url, None, None).unwrap(), version).await;
        }

        let server = tls::server_config(
            &pki.path("server.pem"),
            &pki.path("server.key"),
            None,
            false,
        );
        let port = bridge(&broker, Some(server.unwrap())).await;
        let url = format!("wss://localhost:{port}/mqtt");
        let ca = pki.path("ca.pem");
        let transport = Transport::from_url(&url, Some(&ca), None).unwrap();
        assert!(matches!(transport, Transport::Wss { .. }));
        round_trip(transport, ProtocolVersion::V5).await;

        // A wrong path is refused by the WebSocket handshake.
        let url = format!("ws://127.0.0.1:{}/elsewhere", bridge(&broker, None).await);
        let refused = Client::builder(Transport::Ws { url }).connect().await;
        assert!(
            matches!(refused, Err(ConnectError::WebSocket(_))),
            "{refused:?}"
        );
    })
    .await;
}
