//! Interoperability with Python's paho-mqtt 2.x, driven through `paho_client.py` (JSON
//! lines: commands on stdin, events on stdout).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::adapter::config::ListenerKind;
use crate::support::{self, Certs, Proc, STEP, TestBroker, hex, python_with_paho, within};

/// One paho client process.
struct Paho {
    proc: Proc,
}

impl Paho {
    /// Starts a client with the script's `args` (see `paho_client.py`) without waiting.
    fn spawn(python: &Path, port: u16, args: &[&str]) -> Self {
        let mut cmd = Command::new(python);
        cmd.arg("-u")
            .arg(support::script("paho_client.py"))
            .args(["--port", &port.to_string()])
            .args(args);
        Self {
            proc: Proc::spawn(&mut cmd),
        }
    }

    /// Starts a client and waits for a successful CONNACK, which is returned.
    async fn connect(python: &Path, port: u16, args: &[&str]) -> (Self, Value) {
        let mut paho = Self::spawn(python, port, args);
        let ack = paho.proc.expect_event("connack").await;
        assert_eq!(ack["reason_code"], 0, "{ack}");
        (paho, ack)
    }

    /// Subscribes and checks the granted QoS.
    async fn subscribe(&mut self, topic: &str, qos: u8) {
        self.proc
            .send(&json!({"op": "sub", "topic": topic, "qos": qos}).to_string());
        let ack = self.proc.expect_event("suback").await;
        assert_eq!(ack["reason_codes"], json!([qos]), "{ack}");
    }

    /// Publishes and waits until paho reports the flow complete (PUBACK / PUBCOMP).
    async fn publish(&mut self, topic: &str, payload: &[u8], qos: u8, retain: bool) {
        let cmd = json!({
            "op": "pub", "topic": topic, "payload_hex": hex(payload), "qos": qos, "retain": retain,
        });
        self.proc.send(&cmd.to_string());
        self.proc.expect_event("published").await;
    }

    /// The next message received.
    async fn message(&mut self) -> Value {
        self.proc.expect_event("message").await
    }

    /// Disconnects cleanly and checks the process exits with 0.
    async fn disconnect(mut self) {
        self.proc.send(&json!({"op": "disconnect"}).to_string());
        let (status, out) = self.proc.finish(STEP).await;
        assert!(status.success(), "paho client failed:\n{out}");
    }
}

/// Checks one received message.
fn assert_message(m: &Value, topic: &str, payload: &[u8], qos: u8, retain: bool) {
    assert_eq!(m["topic"], topic, "{m}");
    assert_eq!(m["payload_hex"], hex(payload), "{m}");
    assert_eq!(m["qos"], qos, "{m}");
    assert_eq!(m["retain"], retain, "{m}");
}

/// Payloads of each QoS go through unchanged: empty, binary with 0x00 and 0xff, and 64 KiB.
async fn qos_round_trip(version: &'static str) {
    let Some(py) = python_with_paho() else { return };
    let broker = TestBroker::tcp().await;
    let port = broker.port();
    within(60, async {
        let (mut sub, _) = Paho::connect(&py, port, &["--version", version]).await;
        sub.subscribe("rt/#", 2).await;
        let (mut publisher, _) = Paho::connect(&py, port, &["--version", version]).await;
        let big: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
        let payloads: [&[u8]; 3] = [b"", &[0x00, 0x01, 0x7f, 0x80, 0xff], &big];
        for qos in 0..=2u8 {
            for payload in payloads {
                let topic = format!("rt/q{qos}/len{}", payload.len());
                publisher.publish(&topic, payload, qos, false).await;
                let m = sub.message().await;
                assert_message(&m, &topic, payload, qos, false);
            }
        }
        publisher.disconnect().await;
        sub.disconnect().await;
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paho_qos_round_trip_v311() {
    qos_round_trip("311").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paho_qos_round_trip_v5() {
    qos_round_trip("5").await;
}

/// A retained message reaches a later subscriber flagged retained; the empty retained
/// publication that deletes it reaches existing subscribers as a normal message, and later
/// subscribers get nothing retained.
async fn retained(version: &'static str) {
    let Some(py) = python_with_paho() else { return };
    let broker = TestBroker::tcp().await;
    let port = broker.port();
    within(60, async {
        let v = ["--version", version];
        let (mut publisher, _) = Paho::connect(&py, port, &v).await;
        publisher.publish("ret/a", b"state", 1, true).await;

        let (mut early, _) = Paho::connect(&py, port, &v).await;
        early.subscribe("ret/a", 1).await;
        assert_message(&early.message().await, "ret/a", b"state", 1, true);

        publisher.publish("ret/a", b"", 1, true).await;
        // [MQTT-3.3.1-9] (3.1.1 [MQTT-3.3.1-12]): an established subscription gets it with
        // retain 0.
        assert_message(&early.message().await, "ret/a", b"", 1, false);

        let (mut late, _) = Paho::connect(&py, port, &v).await;
        late.subscribe("ret/a", 1).await;
        publisher.publish("ret/a", b"live", 1, false).await;
        assert_message(&late.message().await, "ret/a", b"live", 1, false);
        for p in [publisher, early, late] {
            p.disconnect().await;
        }
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paho_retained_v311() {
    retained("311").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paho_retained_v5() {
    retained("5").await;
}

/// A client killed with SIGKILL has its QoS 1 will published.
async fn will_on_sigkill(version: &'static str) {
    let Some(py) = python_with_paho() else { return };
    let broker = TestBroker::tcp().await;
    let port = broker.port();
    within(60, async {
        let (mut watcher, _) = Paho::connect(&py, port, &["--version", version]).await;
        watcher.subscribe("wills/+", 1).await;
        let victim_args = [
            "--version",
            version,
            "--will-topic",
            "wills/victim",
            "--will-payload",
            "victim died",
            "--will-qos",
            "1",
        ];
        let (mut victim, _) = Paho::connect(&py, port, &victim_args).await;
        victim.proc.kill();
        assert_message(
            &watcher.message().await,
            "wills/victim",
            b"victim died",
            1,
            false,
        );
        watcher.disconnect().await;
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paho_will_on_sigkill_v311() {
    will_on_sigkill("311").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paho_will_on_sigkill_v5() {
    will_on_sigkill("5").await;
}

/// A session that outlives its connection (3.1.1 clean session 0; 5.0 clean start 0 with
/// a session expiry) keeps its subscription and queues QoS 1 messages in order while the
/// client is away; clean start afterwards discards it.
async fn persistent_session(version: &'static str) {
    let Some(py) = python_with_paho() else { return };
    let broker = TestBroker::tcp().await;
    let port = broker.port();
    within(60, async {
        let id = format!("paho-persistent-{version}");
        let mut keep = vec!["--version", version, "--id", &id, "--clean", "0"];
        if version == "5" {
            keep.extend(["--expiry", "300"]);
        }
        let (mut client, ack) = Paho::connect(&py, port, &keep).await;
        assert_eq!(ack["session_present"], false, "{ack}");
        client.subscribe("away/#", 1).await;
        client.disconnect().await;

        let (mut publisher, _) = Paho::connect(&py, port, &["--version", version]).await;
        for n in 1..=3 {
            let payload = format!("queued {n}");
            publisher
                .publish(&format!("away/{n}"), payload.as_bytes(), 1, false)
                .await;
        }
        publisher.disconnect().await;

        let (mut client, ack) = Paho::connect(&py, port, &keep).await;
        assert_eq!(ack["session_present"], true, "{ack}");
        for n in 1..=3 {
            let payload = format!("queued {n}");
            let m = client.message().await;
            assert_message(&m, &format!("away/{n}"), payload.as_bytes(), 1, false);
        }
        client.disconnect().await;

        let clean = ["--version", version, "--id", &id, "--clean", "1"];
        let (client, ack) = Paho::connect(&py, port, &clean).await;
        assert_eq!(ack["session_present"], false, "{ack}");
        client.disconnect().await;
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paho_persistent_session_v311() {
    persistent_session("311").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paho_persistent_session_v5() {
    persistent_session("5").await;
}

/// 5.0: clean start 0 without a Session Expiry Interval (so 0, section 3.1.2.11.2) means
/// the session ends with the connection: nothing is present on return.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paho_session_without_expiry_ends_with_connection_v5() {
    let Some(py) = python_with_paho() else { return };
    let broker = TestBroker::tcp().await;
    let port = broker.port();
    within(60, async {
        let args = ["--version", "5", "--id", "paho-no-expiry", "--clean", "0"];
        let (mut client, _) = Paho::connect(&py, port, &args).await;
        client.subscribe("gone/#", 1).await;
        client.disconnect().await;
        let (client, ack) = Paho::connect(&py, port, &args).await;
        assert_eq!(ack["session_present"], false, "{ack}");
        client.disconnect().await;
    })
    .await;
    broker.stop().await;
}

/// A second client with the same id takes over: the first is disconnected (5.0: with
/// DISCONNECT 0x8E Session taken over) and the second works.
async fn take_over(version: &'static str) {
    let Some(py) = python_with_paho() else { return };
    let broker = TestBroker::tcp().await;
    let port = broker.port();
    within(60, async {
        let args = ["--version", version, "--id", "paho-twin"];
        let (mut first, _) = Paho::connect(&py, port, &args).await;
        let (mut second, _) = Paho::connect(&py, port, &args).await;
        if version == "5" {
            let d = first.proc.expect_event("server_disconnect").await;
            assert_eq!(d["reason_code"], 0x8E, "{d}");
        }
        let d = first.proc.expect_event("disconnect").await;
        if version != "5" {
            assert_ne!(d["reason_code"], 0, "an unexpected close: {d}");
        }
        second.subscribe("twin/echo", 1).await;
        second.publish("twin/echo", b"still here", 1, false).await;
        assert_message(
            &second.message().await,
            "twin/echo",
            b"still here",
            1,
            false,
        );
        second.disconnect().await;
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paho_take_over_v311() {
    take_over("311").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paho_take_over_v5() {
    take_over("5").await;
}

/// Exchanges messages both ways between a client on port `remote_port` (with
/// `remote_args`) and a plain TCP client.
async fn exchange_with_tcp(
    py: &Path,
    broker: &TestBroker,
    version: &str,
    remote_port: u16,
    remote_args: &[&str],
) {
    let (mut tcp, _) = Paho::connect(py, broker.port(), &["--version", version]).await;
    tcp.subscribe("to-tcp/#", 2).await;
    let mut args = vec!["--version", version];
    args.extend(remote_args);
    let (mut remote, _) = Paho::connect(py, remote_port, &args).await;
    remote.subscribe("to-remote/#", 2).await;

    tcp.publish("to-remote/1", b"over tcp", 1, false).await;
    assert_message(
        &remote.message().await,
        "to-remote/1",
        b"over tcp",
        1,
        false,
    );
    let big = vec![0xA5u8; 100_000];
    remote.publish("to-tcp/1", &big, 2, false).await;
    assert_message(&tcp.message().await, "to-tcp/1", &big, 2, false);
    remote.disconnect().await;
    tcp.disconnect().await;
}

async fn websocket(version: &'static str) {
    let Some(py) = python_with_paho() else { return };
    let config = support::config(&[ListenerKind::Tcp, ListenerKind::Ws]);
    let broker = TestBroker::start(config).await;
    let ws_port = broker.addr(ListenerKind::Ws).port();
    within(60, async {
        let ws = ["--transport", "websockets", "--ws-path", "/mqtt"];
        exchange_with_tcp(&py, &broker, version, ws_port, &ws).await;
    })
    .await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paho_websocket_interop_v311() {
    websocket("311").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paho_websocket_interop_v5() {
    websocket("5").await;
}

/// paho over TLS and over WebSocket on TLS, trusting only the CA made for this test, talks
/// with a plain TCP client; a client that does not trust that CA is refused by its own
/// certificate check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paho_tls_and_wss_interop() {
    let Some(py) = python_with_paho() else { return };
    let certs = Certs::new();
    let mut config = support::config(&[ListenerKind::Tcp, ListenerKind::Tls, ListenerKind::Wss]);
    for l in &mut config.listeners[1..] {
        certs.equip(l);
    }
    let broker = TestBroker::start(config).await;
    let tls_port = broker.addr(ListenerKind::Tls).port();
    let wss_port = broker.addr(ListenerKind::Wss).port();
    let ca = certs.ca();
    let ca = ca.to_str().expect("UTF-8 path");
    within(60, async {
        for version in ["311", "5"] {
            exchange_with_tcp(&py, &broker, version, tls_port, &["--ca", ca]).await;
            let wss = ["--ca", ca, "--transport", "websockets"];
            exchange_with_tcp(&py, &broker, version, wss_port, &wss).await;
        }
        // Trusting the system roots only, the client's certificate check fails.
        let mut stranger = Paho::spawn(&py, tls_port, &["--tls"]);
        let e = stranger.proc.expect_event("error").await;
        assert!(
            e["message"]
                .as_str()
                .unwrap_or_default()
                .contains("CERTIFICATE_VERIFY_FAILED"),
            "{e}"
        );
        let (status, out) = stranger.proc.finish(STEP).await;
        assert!(!status.success(), "{out}");
    })
    .await;
    broker.stop().await;
}
