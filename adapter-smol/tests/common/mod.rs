//! Helpers of the smol broker tests: a broker on a thread of its own, a blocking MQTT client
//! over TCP, TLS or WebSocket (std sockets, rustls and tungstenite, no async runtime), and
//! certificates made at test time.
#![allow(dead_code)] // each test crate uses a part

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use adapter_smol::config::{Config, Listener, ListenerKind};
use adapter_smol::server::{Server, ShutdownHandle};
use bytes::BytesMut;
use mqtt_proto::{
    ConnAck, Connect, DecodeOptions, MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS,
    QoSPid, ReasonCode, Subscribe, SubscribeProperties, SubscriptionOptions, TopicFilter,
    TopicName, decode,
};

/// How long one expected step (a packet, a handshake, a thread ending) may take.
pub(crate) const STEP: Duration = Duration::from_secs(10);

/// A broker on 127.0.0.1 with system-chosen ports, run on its own thread by `run`.
pub(crate) struct TestBroker {
    pub(crate) addrs: Vec<(ListenerKind, SocketAddr)>,
    pub(crate) stop: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
}

impl TestBroker {
    /// Binds `config` and runs the server's future with `block_on` (an executor's
    /// `block_on`) on a new thread.
    pub(crate) fn start(config: Config, block_on: fn(Server)) -> Self {
        let server = smol::block_on(Server::bind(config)).expect("broker binds");
        let addrs = server.local_addrs();
        let stop = server.shutdown_handle();
        let thread = std::thread::spawn(move || block_on(server));
        Self {
            addrs,
            stop,
            thread: Some(thread),
        }
    }

    /// A broker with one listener of each kind in `kinds`, driven by `smol::block_on`.
    pub(crate) fn smol(kinds: &[ListenerKind], pki: Option<&Pki>) -> Self {
        Self::start(config(kinds, pki), |server| smol::block_on(server.run()))
    }

    /// The address of the first listener of `kind`.
    pub(crate) fn addr(&self, kind: ListenerKind) -> SocketAddr {
        self.addrs
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, a)| *a)
            .expect("listener of that kind")
    }

    /// Asks for shutdown and waits (bounded) for `run` to return.
    pub(crate) fn stop(mut self) {
        self.stop.shutdown();
        let thread = self.thread.take().expect("running");
        let deadline = Instant::now() + STEP;
        while !thread.is_finished() {
            assert!(Instant::now() < deadline, "broker did not stop in time");
            std::thread::sleep(Duration::from_millis(10));
        }
        thread.join().expect("broker thread");
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        // A failed test still stops its broker; the thread ends on its own.
        self.stop.shutdown();
    }
}

/// A configuration with one listener of each kind on 127.0.0.1:0 (the TLS kinds with the
/// certificates of `pki`).
pub(crate) fn config(kinds: &[ListenerKind], pki: Option<&Pki>) -> Config {
    Config {
        listeners: kinds
            .iter()
            .map(|&kind| {
                let mut l = Listener::new(kind, SocketAddr::from(([127, 0, 0, 1], 0)));
                if kind.is_tls() {
                    let pki = pki.expect("TLS listeners need certificates");
                    l.cert = Some(pki.path("server.pem"));
                    l.key = Some(pki.path("server.key"));
                }
                l
            })
            .collect(),
        ..Config::default()
    }
}

/// A byte stream to the broker: TCP, TLS over TCP, or WebSocket.
pub(crate) trait Wire: Read + Write + Send {}
impl<T: Read + Write + Send> Wire for T {}

/// A TCP connection with the test's read timeout.
pub(crate) fn tcp(addr: SocketAddr) -> TcpStream {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(STEP)).expect("timeout");
    tcp.set_nodelay(true).expect("nodelay");
    tcp
}

/// A TLS connection verified against the test CA.
pub(crate) fn tls(addr: SocketAddr, pki: &Pki) -> Box<dyn Wire> {
    let config = adapter_smol::tls::client_config(Some(&pki.path("server.pem")), None).expect("CA");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(config, name).expect("TLS client");
    Box::new(rustls::StreamOwned::new(conn, tcp(addr)))
}

/// A WebSocket connection to `/mqtt` over `stream` (TCP or TLS to `addr`), offering the
/// `mqtt` subprotocol.
pub(crate) fn ws(addr: SocketAddr, stream: impl Wire + 'static) -> Box<dyn Wire> {
    use tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}/mqtt")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        tungstenite::http::HeaderValue::from_static("mqtt"),
    );
    let (ws, response) = tungstenite::client(request, stream).expect("upgrade");
    assert_eq!(
        response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|v| v.as_bytes()),
        Some(&b"mqtt"[..])
    );
    Box::new(WsWire {
        ws,
        pending: Vec::new(),
    })
}

/// A blocking WebSocket as a byte stream: one binary message per write.
struct WsWire<S> {
    ws: tungstenite::WebSocket<S>,
    pending: Vec<u8>,
}

impl<S: Read + Write> Read for WsWire<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pending.is_empty() {
            match self.ws.read() {
                Ok(tungstenite::Message::Binary(b)) => self.pending = b.to_vec(),
                Ok(tungstenite::Message::Close(_)) | Err(tungstenite::Error::ConnectionClosed) => {
                    return Ok(0);
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) => return Err(e),
                Err(e) => return Err(io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

impl<S: Read + Write> Write for WsWire<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.ws
            .send(tungstenite::Message::binary(buf.to_vec()))
            .map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.ws.flush().map_err(io::Error::other)
    }
}

/// A blocking MQTT client speaking raw packets (mqtt-proto's codec) over a [`Wire`].
pub(crate) struct Client {
    wire: Box<dyn Wire>,
    version: ProtocolVersion,
    buf: BytesMut,
}

impl Client {
    /// Connects with a clean session and `client_id`; `edit` may change the CONNECT (a will,
    /// a keep alive). Panics unless the CONNACK accepts.
    pub(crate) fn connect(
        wire: impl Wire + 'static,
        version: ProtocolVersion,
        client_id: &str,
        edit: impl FnOnce(&mut Connect),
    ) -> Self {
        let mut client = Self {
            wire: Box::new(wire),
            version,
            buf: BytesMut::new(),
        };
        let mut connect = Connect::new(version, MqttString::try_from(client_id).expect("id"));
        edit(&mut connect);
        client.send(&Packet::Connect(connect));
        match client.recv() {
            Packet::ConnAck(ConnAck {
                reason_code: ReasonCode::Success,
                ..
            }) => client,
            other => panic!("expected a successful CONNACK, got {other:?}"),
        }
    }

    /// Writes one packet.
    pub(crate) fn send(&mut self, packet: &Packet) {
        let mut out = Vec::new();
        packet.encode(self.version, &mut out).expect("encode");
        self.wire.write_all(&out).expect("write");
        self.wire.flush().expect("flush");
    }

    /// Reads the next packet (panics on end of stream or after [`STEP`]).
    pub(crate) fn recv(&mut self) -> Packet {
        self.try_recv().expect("connection closed")
    }

    /// Reads the next packet; `None` at the end of the stream.
    pub(crate) fn try_recv(&mut self) -> Option<Packet> {
        loop {
            let packet = decode(&mut self.buf, self.version, &DecodeOptions::default())
                .expect("well-formed packet");
            if packet.is_some() {
                return packet;
            }
            let mut chunk = [0; 4096];
            match self.wire.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    /// Subscribes to `filter` at `qos` and checks the grant.
    pub(crate) fn subscribe(&mut self, filter: &str, qos: QoS) {
        let packet_id = PacketId::new(1).expect("id");
        self.send(&Packet::Subscribe(Subscribe {
            packet_id,
            properties: SubscribeProperties::default(),
            filters: vec![(
                TopicFilter::try_from(filter).expect("filter"),
                SubscriptionOptions::new(qos),
            )],
        }));
        match self.recv() {
            Packet::SubAck(ack) => {
                assert_eq!(ack.packet_id, packet_id);
                assert_eq!(ack.reason_codes.len(), 1);
                assert_eq!(ack.reason_codes[0] as u8, qos as u8, "granted QoS");
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// Publishes and completes the QoS flow (PUBACK, or PUBREC / PUBREL / PUBCOMP).
    pub(crate) fn publish(&mut self, topic: &str, qos: QoS, retain: bool, payload: &'static [u8]) {
        let id = PacketId::new(7).expect("id");
        let mut p = Publish::new(
            TopicName::try_from(topic).expect("topic"),
            QoSPid::new(qos, id),
            payload,
        );
        p.retain = retain;
        self.send(&Packet::Publish(p));
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                assert!(matches!(self.recv(), Packet::PubAck(a) if a.packet_id == id))
            }
            QoS::ExactlyOnce => {
                assert!(matches!(self.recv(), Packet::PubRec(r) if r.packet_id == id));
                self.send(&Packet::PubRel(mqtt_proto::PubRel::new(id)));
                assert!(matches!(self.recv(), Packet::PubComp(c) if c.packet_id == id));
            }
        }
    }

    /// Receives one PUBLISH and completes its QoS flow as the receiver.
    pub(crate) fn expect_publish(&mut self) -> Publish {
        let p = match self.recv() {
            Packet::Publish(p) => p,
            other => panic!("expected PUBLISH, got {other:?}"),
        };
        match p.qos_pid {
            QoSPid::AtMostOnce => {}
            QoSPid::AtLeastOnce(id) => self.send(&Packet::PubAck(mqtt_proto::PubAck::new(id))),
            QoSPid::ExactlyOnce(id) => {
                self.send(&Packet::PubRec(mqtt_proto::PubRec::new(id)));
                assert!(matches!(self.recv(), Packet::PubRel(r) if r.packet_id == id));
                self.send(&Packet::PubComp(mqtt_proto::PubComp::new(id)));
            }
        }
        p
    }

    /// Sends DISCONNECT (normal) and waits for the broker to close.
    pub(crate) fn disconnect(mut self) {
        self.send(&Packet::Disconnect(mqtt_proto::Disconnect::default()));
        assert!(
            self.try_recv().is_none(),
            "the broker closes after DISCONNECT"
        );
    }
}

/// A self-signed certificate for localhost and 127.0.0.1 (`server.pem`, also the clients'
/// trust anchor) and its key (`server.key`), in a temporary directory removed on drop.
pub(crate) struct Pki {
    dir: PathBuf,
}

impl Pki {
    pub(crate) fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("adapter-smol-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let pki = Self { dir };
        let names = ["localhost", "127.0.0.1"].map(str::to_owned);
        let certified = rcgen::generate_simple_self_signed(names).expect("certificate");
        pki.write("server.pem", &certified.cert.pem());
        pki.write("server.key", &certified.signing_key.serialize_pem());
        pki
    }

    fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.path(name), contents).expect("write");
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `test` on a thread and fails if it takes longer than `secs`.
pub(crate) fn within(secs: u64, test: impl FnOnce() + Send + 'static) {
    let thread = std::thread::spawn(test);
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !thread.is_finished() {
        assert!(
            Instant::now() < deadline,
            "test did not finish within {secs} s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}
