//! TLS configuration: real loopback handshakes with certificates generated at test time.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use adapter_tokio::tls::{self, TlsError};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector, client, server};

const LIMIT: Duration = Duration::from_secs(10);
const CLIENT_CN: &str = "sensor-42";

/// A CA, a server certificate for localhost/127.0.0.1 and a client certificate, as PEM files
/// in a temporary directory removed on drop.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "adapter-tokio-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = Self { dir };

        let mut ca = CertificateParams::new(Vec::new()).unwrap();
        ca.distinguished_name.push(DnType::CommonName, "test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        pki.write("ca.pem", &ca.self_signed(&ca_key).unwrap().pem());
        let issuer = Issuer::new(ca, ca_key);

        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let mut server = CertificateParams::new(names).unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        pki.write(
            "server.pem",
            &server.signed_by(&key, &issuer).unwrap().pem(),
        );
        pki.write("server.key", &key.serialize_pem());

        let mut client = CertificateParams::new(Vec::new()).unwrap();
        client
            .distinguished_name
            .push(DnType::OrganizationName, "Example");
        client
            .distinguished_name
            .push(DnType::CommonName, CLIENT_CN);
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        pki.write(
            "client.pem",
            &client.signed_by(&key, &issuer).unwrap().pem(),
        );
        pki.write("client.key", &key.serialize_pem());
        pki
    }

    fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.path(name), contents).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn server(&self, client_ca: bool, require: bool) -> Result<Arc<ServerConfig>, TlsError> {
        let ca = self.path("ca.pem");
        tls::server_config(
            &self.path("server.pem"),
            &self.path("server.key"),
            client_ca.then_some(ca.as_path()),
            require,
        )
    }

    fn client(&self, with_cert: bool) -> Arc<ClientConfig> {
        let (cert, key) = (self.path("client.pem"), self.path("client.key"));
        let client_cert = with_cert.then_some((cert.as_path(), key.as_path()));
        tls::client_config(Some(&self.path("ca.pem")), client_cert).unwrap()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs both sides of a handshake over loopback TCP, connecting to `name`.
async fn handshake(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    name: &'static str,
) -> (
    std::io::Result<server::TlsStream<TcpStream>>,
    std::io::Result<client::TlsStream<TcpStream>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = async {
        let (tcp, _) = listener.accept().await.unwrap();
        TlsAcceptor::from(server).accept(tcp).await
    };
    let connect = async {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from(name).unwrap();
        TlsConnector::from(client).connect(name, tcp).await
    };
    tokio::join!(accept, connect)
}

async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(LIMIT, test)
        .await
        .expect("test timed out")
}

#[tokio::test]
async fn handshake_succeeds_and_bytes_flow_both_ways() {
    bounded(async {
        let pki = Pki::new();
        let (server, client) = handshake(
            pki.server(false, false).unwrap(),
            pki.client(false),
            "localhost",
        )
        .await;
        let (mut server, mut client) = (server.unwrap(), client.unwrap());

        client.write_all(b"ping").await.unwrap();
        client.flush().await.unwrap();
        let mut buf = [0; 4];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");

        server.write_all(b"pong").await.unwrap();
        server.flush().await.unwrap();
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
        assert_eq!(tls::peer_identity(server.get_ref().1), None);
    })
    .await;
}

#[tokio::test]
async fn server_certificate_matches_ip_address() {
    bounded(async {
        let pki = Pki::new();
        let (server, client) = handshake(
            pki.server(false, false).unwrap(),
            pki.client(false),
            "127.0.0.1",
        )
        .await;
        server.unwrap();
        client.unwrap();
    })
    .await;
}

#[tokio::test]
async fn client_refuses_server_from_another_ca() {
    bounded(async {
        let (pki, other) = (Pki::new(), Pki::new());
        let (server, client) = handshake(
            pki.server(false, false).unwrap(),
            other.client(false),
            "localhost",
        )
        .await;
        assert!(client.is_err());
        assert!(server.is_err());
    })
    .await;
}

#[tokio::test]
async fn required_client_cert_refuses_client_without_one() {
    bounded(async {
        let pki = Pki::new();
        let (server, client) = handshake(
            pki.server(true, true).unwrap(),
            pki.client(false),
            "localhost",
        )
        .await;
        assert!(server.is_err());
        // With TLS 1.3 the client finishes first and learns of the refusal on its next read.
        if let Ok(mut client) = client {
            let mut buf = [0; 1];
            assert!(!matches!(client.read(&mut buf).await, Ok(1)));
        }
    })
    .await;
}

#[tokio::test]
async fn required_client_cert_accepts_client_and_reports_common_name() {
    bounded(async {
        let pki = Pki::new();
        let (server, client) = handshake(
            pki.server(true, true).unwrap(),
            pki.client(true),
            "localhost",
        )
        .await;
        let (server, _client) = (server.unwrap(), client.unwrap());
        let peer = tls::peer_identity(server.get_ref().1).unwrap();
        assert_eq!(peer.common_name.as_deref(), Some(CLIENT_CN));
        let der = CertificateDer::from_pem_file(pki.path("client.pem")).unwrap();
        assert_eq!(peer.der, der);
    })
    .await;
}

#[tokio::test]
async fn optional_client_cert_lets_anonymous_clients_in() {
    bounded(async {
        let pki = Pki::new();
        let config = pki.server(true, false).unwrap();
        let (server, client) = handshake(config.clone(), pki.client(false), "localhost").await;
        client.unwrap();
        assert_eq!(tls::peer_identity(server.unwrap().get_ref().1), None);

        let (server, client) = handshake(config, pki.client(true), "localhost").await;
        client.unwrap();
        let peer = tls::peer_identity(server.unwrap().get_ref().1).unwrap();
        assert_eq!(peer.common_name.as_deref(), Some(CLIENT_CN));
    })
    .await;
}

#[test]
fn missing_file_is_a_read_error() {
    let pki = Pki::new();
    let missing = pki.path("nope.pem");
    let err = tls::server_config(&missing, &pki.path("server.key"), None, false).unwrap_err();
    assert!(
        matches!(&err, TlsError::Read { path, .. } if path == &missing),
        "{err}"
    );
    assert!(err.to_string().contains("nope.pem"), "{err}");

    let err = tls::client_config(Some(&missing), None).unwrap_err();
    assert!(matches!(err, TlsError::Read { .. }), "{err}");
}

#[test]
fn key_file_without_key_is_no_private_key() {
    let pki = Pki::new();
    let cert = pki.path("server.pem");
    let err = tls::server_config(&cert, &cert, None, false).unwrap_err();
    assert!(
        matches!(&err, TlsError::NoPrivateKey { path } if path == &cert),
        "{err}"
    );
}

#[test]
fn cert_file_without_certificate_is_no_certificate() {
    let pki = Pki::new();
    let key = pki.path("server.key");
    let err = tls::server_config(&key, &key, None, false).unwrap_err();
    assert!(
        matches!(&err, TlsError::NoCertificate { path } if path == &key),
        "{err}"
    );

    pki.write("empty.pem", "");
    let err = tls::client_config(Some(&pki.path("empty.pem")), None).unwrap_err();
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
}

#[test]
fn malformed_pem_is_a_pem_error() {
    let pki = Pki::new();
    pki.write(
        "bad.pem",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    );
    let err = tls::client_config(Some(&pki.path("bad.pem")), None).unwrap_err();
    assert!(matches!(err, TlsError::Pem { .. }), "{err}");
}

#[test]
fn garbage_ca_certificate_is_bad_ca() {
    let pki = Pki::new();
    pki.write(
        "ca-bad.pem",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    let err = tls::client_config(Some(&pki.path("ca-bad.pem")), None).unwrap_err();
    assert!(matches!(err, TlsError::BadCa { .. }), "{err}");
}

#[test]
fn mismatched_key_is_key_mismatch() {
    let pki = Pki::new();
    let (cert, key) = (pki.path("server.pem"), pki.path("client.key"));
    let err = tls::server_config(&cert, &key, None, false).unwrap_err();
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");

    let ca = pki.path("ca.pem");
    let err = tls::client_config(
        Some(&ca),
        Some((&pki.path("client.pem"), &pki.path("server.key"))),
    )
    .unwrap_err();
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err}");
}

#[test]
fn required_client_cert_needs_a_ca() {
    let pki = Pki::new();
    let err = pki.server(false, true).unwrap_err();
    assert!(matches!(err, TlsError::ClientCaRequired), "{err}");
}

#[test]
fn system_roots_load_or_report_none() {
    // Machines without a trust store are fine; the result must just be one of the two.
    match tls::client_config(None, None) {
        Ok(_) | Err(TlsError::NoSystemRoots) => {}
        Err(e) => panic!("unexpected error: {e}"),
    }
}
