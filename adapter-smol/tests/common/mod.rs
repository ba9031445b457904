//! Helpers of the smol-specific broker tests (`smoke.rs`, `async_std_executor.rs`; the
//! shared suite, `broker.rs`, has its own): a broker on a thread of its own driven by a
//! given executor, and a blocking MQTT client over TCP (std sockets, no async runtime).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use adapter_smol::config::{Config, Listener, ListenerKind};
use adapter_smol::server::{Server, ShutdownHandle};
use bytes::BytesMut;
use mqtt_proto::{
    Connect, DecodeOptions, MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS, QoSPid,
    ReasonCode, Subscribe, SubscribeProperties, SubscriptionOptions, TopicFilter, TopicName,
    decode,
};

/// How long one expected step (a packet, a handshake, a thread ending) may take.
pub(crate) const STEP: Duration = Duration::from_secs(10);

/// A broker on 127.0.0.1 with a system-chosen port (see [`config`]), run on its own thread.
pub(crate) struct TestBroker {
    addr: SocketAddr,
    stop: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
}

impl TestBroker {
    /// Binds `config` and runs the server's future with `block_on` (an executor's
    /// `block_on`) on a new thread.
    pub(crate) fn start(config: Config, block_on: fn(Server)) -> Self {
        let server = smol::block_on(Server::bind(config)).expect("broker binds");
        let addr = server
            .local_addrs()
            .into_iter()
            .find(|(kind, _)| *kind == ListenerKind::Tcp)
            .map(|(_, addr)| addr)
            .expect("a TCP listener");
        let stop = server.shutdown_handle();
        let thread = std::thread::spawn(move || block_on(server));
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// The address of the TCP listener.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
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

/// A configuration with one TCP listener on 127.0.0.1:0.
pub(crate) fn config() -> Config {
    Config {
        listeners: vec![Listener::new(
            ListenerKind::Tcp,
            SocketAddr::from(([127, 0, 0, 1], 0)),
        )],
        ..Config::default()
    }
}

/// A TCP connection with the test's read timeout.
pub(crate) fn tcp(addr: SocketAddr) -> TcpStream {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(STEP)).expect("timeout");
    tcp.set_nodelay(true).expect("nodelay");
    tcp
}

/// A blocking MQTT client speaking raw packets (mqtt-proto's codec) over TCP.
pub(crate) struct Client {
    wire: TcpStream,
    version: ProtocolVersion,
    buf: BytesMut,
}

impl Client {
    /// Connects with a clean session and `client_id`; `edit` may change the CONNECT (a will,
    /// a keep alive). Panics unless the CONNACK accepts.
    pub(crate) fn connect(
        wire: TcpStream,
        version: ProtocolVersion,
        client_id: &str,
        edit: impl FnOnce(&mut Connect),
    ) -> Self {
        let mut client = Self {
            wire,
            version,
            buf: BytesMut::new(),
        };
        let mut connect = Connect::new(version, MqttString::try_from(client_id).expect("id"));
        edit(&mut connect);
        client.send(&connect.into());
        match client.recv() {
            Packet::ConnAck(ack) if ack.reason_code == ReasonCode::Success => client,
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
        self.send(&mqtt_proto::Disconnect::default().into());
        assert!(
            self.try_recv().is_none(),
            "the broker closes after DISCONNECT"
        );
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
