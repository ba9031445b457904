//! Graceful shutdown of the real broker binary (`mqttd` or `mqttd-smol`, the test binary's
//! `adapter::MQTTD`) on SIGTERM and SIGINT.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};
use tokio::time::Instant;

use crate::adapter;
use crate::raw::{self, Raw, assert_disconnect};
use crate::support::{Proc, TempDir, within};

/// How long `mqttd` may take from the signal to its exit.
const EXIT: Duration = Duration::from_secs(5);

/// The broker binary with plain logs on stderr.
fn mqttd(args: &[&str]) -> Command {
    let mut cmd = Command::new(adapter::MQTTD);
    cmd.args(args).env("NO_COLOR", "1").env("RUST_LOG", "info");
    cmd
}

/// Removes ANSI colour sequences, in case the logger colours anyway.
fn strip_ansi(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ parameters final-byte
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Waits for the "listening" log line and returns the address it names
/// (`addr=Some(127.0.0.1:PORT)`).
async fn listening_addr(server: &mut Proc) -> SocketAddr {
    let line = server.expect_contains("listening").await;
    let line = strip_ansi(&line);
    let addr = line
        .split("addr=Some(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    addr.parse()
        .unwrap_or_else(|e| panic!("bad address {addr:?} in {line:?}: {e}"))
}

/// Starts `mqttd` with `args` and returns it with the address it listens on.
async fn start(args: &[&str]) -> (Proc, SocketAddr) {
    let mut server = Proc::spawn(&mut mqttd(args));
    let addr = listening_addr(&mut server).await;
    (server, addr)
}

/// Waits for `mqttd` to exit, at most `within` from `since`, and checks status 0.
async fn exits_zero(server: &mut Proc, since: Instant, within: Duration) {
    let left = within.saturating_sub(since.elapsed());
    let Some(status) = server.wait(left).await else {
        panic!(
            "mqttd still running {within:?} after the signal:\n{}",
            server.transcript()
        );
    };
    assert!(
        status.success(),
        "mqttd exited with {status}:\n{}",
        server.transcript()
    );
}

/// SIGTERM: a 5.0 client gets DISCONNECT 0x8B (Server shutting down) before the close, a
/// 3.1.1 client with a will is closed (3.1.1 has no server DISCONNECT); once they close
/// their side the process exits with status 0 at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_disconnects_clients_and_exits_zero() {
    within(30, async {
        let (mut server, addr) = start(&["--port", "0"]).await;
        let mut v5 = Raw::connect(addr, ProtocolVersion::V5, "shutdown-v5").await;
        v5.subscribe("goodbye/#", QoS::AtLeastOnce).await;
        let will = raw::connect_with_will(
            ProtocolVersion::V3_1_1,
            "shutdown-v311",
            60,
            "goodbye/v311",
            b"gone",
        );
        let (mut v311, ack) = Raw::connect_with(addr, will).await;
        assert_eq!(ack.reason_code, ReasonCode::Success);
        // Both are served before the signal.
        v311.publish("goodbye/hello", b"hi").await;
        let (topic, _) = v5.expect_publish().await;
        assert_eq!(topic, "goodbye/hello");

        let signalled = Instant::now();
        server.signal("TERM");
        assert_disconnect(
            &v5.closed_within(EXIT).await,
            ReasonCode::ServerShuttingDown,
        );
        let got = v311.closed_within(EXIT).await;
        assert!(got.is_empty(), "3.1.1 gets no DISCONNECT: {got:?}");
        // Well-behaved clients close their side when the server closes.
        drop((v5, v311));
        exits_zero(&mut server, signalled, Duration::from_secs(3)).await;
        let (_, log) = server.finish(EXIT).await;
        assert!(log.contains("signal received"), "{log}");
        assert!(log.contains("shut down"), "{log}");
    })
    .await;
}

/// A client that never closes its side (nor reads) cannot hold the shutdown for long: the
/// connection lingers for at most its close timeout (5 s), then the process exits with 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_even_if_a_client_never_closes() {
    within(30, async {
        let (mut server, addr) = start(&["--port", "0"]).await;
        let mut stuck = Raw::connect(addr, ProtocolVersion::V5, "stuck").await;
        stuck.ping().await;
        let signalled = Instant::now();
        server.signal("TERM");
        exits_zero(&mut server, signalled, Duration::from_secs(5 + 3)).await;
        // It was still told why.
        assert_disconnect(
            &stuck.closed_within(EXIT).await,
            ReasonCode::ServerShuttingDown,
        );
    })
    .await;
}

/// SIGINT with a configuration file naming a fixed port: same orderly exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_with_config_file_exits_zero() {
    within(30, async {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe port");
            probe.local_addr().expect("probe address").port()
        };
        let dir = TempDir::new(&format!("{}-mqttd", adapter::NAME));
        let file = dir.path("mqttd.toml");
        let toml = format!("[[listener]]\nkind = \"tcp\"\nbind = \"127.0.0.1:{port}\"\n");
        std::fs::write(&file, toml).expect("write config");
        let file = file.to_str().expect("UTF-8 path");
        let (mut server, addr) = start(&["--config", file]).await;
        assert_eq!(addr.port(), port);

        let mut client = Raw::connect(addr, ProtocolVersion::V5, "sigint").await;
        client.ping().await;
        let signalled = Instant::now();
        server.signal("INT");
        assert_disconnect(
            &client.closed_within(EXIT).await,
            ReasonCode::ServerShuttingDown,
        );
        drop(client);
        exits_zero(&mut server, signalled, Duration::from_secs(3)).await;
    })
    .await;
}
