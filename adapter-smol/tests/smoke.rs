//! The smol broker end to end on 127.0.0.1: publish / subscribe at every QoS, retained
//! messages, wills, every transport, several executor threads, graceful shutdown, the
//! `mqttd-smol` binary and mosquitto's clients. Every test is time-bounded.

mod common;

use std::io::Write;
use std::net::{Shutdown, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use adapter_smol::config::ListenerKind::{Tcp, Tls, Ws, Wss};
use bytes::Bytes;
use common::{Client, Pki, STEP, TestBroker, config, tcp, tls, within, ws};
use mqtt_proto::ProtocolVersion::{V3_1_1, V5};
use mqtt_proto::{Packet, QoS, ReasonCode, TopicName, Will, WillProperties};

fn topic(p: &mqtt_proto::Publish) -> &str {
    p.topic.as_ref().map_or("", TopicName::as_str)
}

#[test]
fn publish_and_subscribe_at_every_qos() {
    within(30, || {
        let broker = TestBroker::smol(&[Tcp], None);
        let addr = broker.addr(Tcp);
        let mut sub = Client::connect(tcp(addr), V5, "sub", |_| {});
        sub.subscribe("t/#", QoS::ExactlyOnce);
        let mut publisher = Client::connect(tcp(addr), V3_1_1, "pub", |_| {});
        let sends: [(QoS, &'static [u8]); 3] = [
            (QoS::AtMostOnce, b"zero"),
            (QoS::AtLeastOnce, b"one"),
            (QoS::ExactlyOnce, b"two"),
        ];
        for (qos, payload) in sends {
            publisher.publish("t/x", qos, false, payload);
            let p = sub.expect_publish();
            assert_eq!((topic(&p), &p.payload[..], p.qos()), ("t/x", payload, qos));
        }
        publisher.disconnect();
        sub.disconnect();
        broker.stop();
    });
}

#[test]
fn retained_message_reaches_a_later_subscriber() {
    within(30, || {
        let broker = TestBroker::smol(&[Tcp], None);
        let addr = broker.addr(Tcp);
        let mut publisher = Client::connect(tcp(addr), V5, "pub", |_| {});
        publisher.publish("r/1", QoS::AtLeastOnce, true, b"kept");
        publisher.disconnect();
        let mut sub = Client::connect(tcp(addr), V3_1_1, "sub", |_| {});
        sub.subscribe("r/#", QoS::AtLeastOnce);
        let p = sub.expect_publish();
        assert!(p.retain);
        assert_eq!((topic(&p), &p.payload[..]), ("r/1", &b"kept"[..]));
        sub.disconnect();
        broker.stop();
    });
}

#[test]
fn will_is_published_when_a_connection_dies() {
    within(30, || {
        let broker = TestBroker::smol(&[Tcp], None);
        let addr = broker.addr(Tcp);
        let mut sub = Client::connect(tcp(addr), V5, "watcher", |_| {});
        sub.subscribe("will/#", QoS::AtLeastOnce);
        let socket = tcp(addr);
        let killed = socket.try_clone().expect("clone");
        let _dying = Client::connect(socket, V5, "dying", |c| {
            c.will = Some(Will {
                topic: TopicName::from_static("will/dying"),
                payload: Bytes::from_static(b"gone"),
                qos: QoS::AtLeastOnce,
                retain: false,
                properties: WillProperties::default(),
            });
        });
        // No DISCONNECT: the connection just ends.
        killed.shutdown(Shutdown::Both).expect("shutdown");
        let p = sub.expect_publish();
        assert_eq!((topic(&p), &p.payload[..]), ("will/dying", &b"gone"[..]));
        sub.disconnect();
        broker.stop();
    });
}

#[test]
fn tls_websocket_and_secure_websocket_listeners_carry_messages() {
    within(30, || {
        let pki = Pki::new();
        let broker = TestBroker::smol(&[Tcp, Tls, Ws, Wss], Some(&pki));
        let mut subs = [
            Client::connect(tls(broker.addr(Tls), &pki), V5, "over-tls", |_| {}),
            Client::connect(
                ws(broker.addr(Ws), tcp(broker.addr(Ws))),
                V5,
                "over-ws",
                |_| {},
            ),
            Client::connect(
                ws(broker.addr(Wss), tls(broker.addr(Wss), &pki)),
                V3_1_1,
                "over-wss",
                |_| {},
            ),
        ];
        for sub in &mut subs {
            sub.subscribe("x", QoS::AtLeastOnce);
        }
        let mut publisher = Client::connect(tcp(broker.addr(Tcp)), V5, "pub", |_| {});
        publisher.publish("x", QoS::AtLeastOnce, false, b"everywhere");
        for sub in &mut subs {
            assert_eq!(&sub.expect_publish().payload[..], b"everywhere");
        }
        // And back: a message published over WebSocket reaches a TLS subscriber.
        let [tls_sub, ws_sub, _] = &mut subs;
        tls_sub.subscribe("back", QoS::ExactlyOnce);
        ws_sub.publish("back", QoS::ExactlyOnce, false, b"back");
        let p = tls_sub.expect_publish();
        assert_eq!((topic(&p), &p.payload[..]), ("back", &b"back"[..]));
        for sub in subs {
            sub.disconnect();
        }
        publisher.disconnect();
        broker.stop();
    });
}

#[test]
fn several_executor_threads_serve_many_clients() {
    within(30, || {
        let broker = TestBroker::start(config(&[Tcp], None), |server| {
            smol::block_on(server.run_with_threads(3));
        });
        let addr = broker.addr(Tcp);
        let subs: Vec<Client> = (0..8)
            .map(|i| {
                let mut c = Client::connect(tcp(addr), V5, &format!("sub-{i}"), |_| {});
                c.subscribe("fan/out", QoS::AtLeastOnce);
                c
            })
            .collect();
        let mut publisher = Client::connect(tcp(addr), V5, "pub", |_| {});
        for _ in 0..20 {
            publisher.publish("fan/out", QoS::AtLeastOnce, false, b"m");
        }
        for mut sub in subs {
            for _ in 0..20 {
                assert_eq!(&sub.expect_publish().payload[..], b"m");
            }
            sub.disconnect();
        }
        publisher.disconnect();
        broker.stop();
    });
}

#[test]
fn shutdown_sends_server_shutting_down_to_5_0_clients() {
    within(30, || {
        let broker = TestBroker::smol(&[Tcp], None);
        let addr = broker.addr(Tcp);
        let mut v5 = Client::connect(tcp(addr), V5, "five", |_| {});
        let mut v311 = Client::connect(tcp(addr), V3_1_1, "three", |_| {});
        broker.stop.shutdown();
        match v5.recv() {
            Packet::Disconnect(d) => assert_eq!(d.reason_code, ReasonCode::ServerShuttingDown),
            other => panic!("expected DISCONNECT 0x8B, got {other:?}"),
        }
        assert!(v5.try_recv().is_none());
        // 3.1.1 has no server DISCONNECT: the connection just closes.
        assert!(v311.try_recv().is_none());
        drop((v5, v311));
        broker.stop();
    });
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn mqttd_smol_serves_and_exits_0_on_sigterm() {
    within(30, || {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mqttd-smol"))
            .args(["--port", &port.to_string()])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .expect("mqttd-smol starts");
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + STEP;
        let socket = loop {
            match std::net::TcpStream::connect(addr) {
                Ok(s) => break s,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("mqttd-smol does not listen: {e}"),
            }
        };
        socket.set_read_timeout(Some(STEP)).expect("timeout");
        let mut client = Client::connect(socket, V5, "c", |_| {});
        client.subscribe("a", QoS::AtMostOnce);
        client.publish("a", QoS::AtMostOnce, false, b"self");
        assert_eq!(&client.expect_publish().payload[..], b"self");
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        match client.recv() {
            Packet::Disconnect(d) => assert_eq!(d.reason_code, ReasonCode::ServerShuttingDown),
            other => panic!("expected DISCONNECT 0x8B, got {other:?}"),
        }
        drop(client);
        let deadline = Instant::now() + STEP;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "mqttd-smol did not exit");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{status}");
    });
}

/// Whether mosquitto's clients are installed; when not, the test is skipped, except under
/// `CI=true`, where it fails.
fn mosquitto_clients() -> bool {
    let found = ["mosquitto_pub", "mosquitto_sub"].iter().all(|tool| {
        Command::new(tool)
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    });
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "mosquitto-clients are missing (CI=true)"
        );
        let _ = writeln!(
            std::io::stderr(),
            "SKIP: mosquitto-clients are not installed"
        );
    }
    found
}

#[test]
fn mosquitto_clients_exchange_a_message() {
    if !mosquitto_clients() {
        return;
    }
    within(30, || {
        let broker = TestBroker::smol(&[Tcp], None);
        let port = broker.addr(Tcp).port().to_string();
        let sub = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &port, "-V", "mqttv5", "-q", "2"])
            .args(["-t", "m/#", "-C", "1", "-W", "10", "-i", "msub"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("mosquitto_sub");
        // Published retained, so the order of subscribe and publish does not matter.
        let status = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port, "-V", "mqttv311", "-q", "1"])
            .args(["-t", "m/1", "-m", "from mosquitto", "-r", "-i", "mpub"])
            .status()
            .expect("mosquitto_pub");
        assert!(status.success());
        let out = sub.wait_with_output().expect("mosquitto_sub output");
        assert!(out.status.success(), "{:?}", out.status);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "from mosquitto"
        );
        broker.stop();
    });
}
