//! Argument parsing, and runs against our broker on 127.0.0.1:0.

use clap::{CommandFactory, Parser, Subcommand};

use super::*;
use crate::config::{Config, Listener, ListenerKind};
use crate::server::Server;

#[derive(Debug, Parser)]
struct Top {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Bench(Args),
}

fn parse(args: &[&str]) -> Args {
    let mut argv = vec!["mqtt", "bench"];
    argv.extend_from_slice(args);
    match Top::try_parse_from(argv).unwrap().command {
        Command::Bench(args) => args,
    }
}

#[test]
fn parses_as_a_subcommand_with_mosquitto_style_flags() {
    Top::command().debug_assert();
    let a = parse(&["fanin", "-h", "example", "-p", "1884", "-q", "2", "-V", "5"]);
    assert_eq!(a.mode, Mode::Fanin);
    assert_eq!((a.host.as_str(), a.port, a.qos), ("example", 1884, 2));
    assert_eq!(a.protocol, Protocol::V5);
    assert_eq!(parse(&["latency", "-V", "3.1.1"]).protocol, Protocol::V311);
    let help = Top::try_parse_from(["mqtt", "bench", "--help"]).unwrap_err();
    assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    assert!(Top::try_parse_from(["mqtt", "bench", "fanin", "-q", "3"]).is_err());
}

/// Runs `args` (after the mode and port) against our broker on 127.0.0.1:0.
async fn against_our_broker(args: &[&str]) -> Result<Report, BenchError> {
    let config = Config {
        listeners: vec![Listener::new(
            ListenerKind::Tcp,
            "127.0.0.1:0".parse().unwrap(),
        )],
        ..Config::default()
    };
    let server = Server::bind(config).await.unwrap();
    let port = server.local_addrs()[0].1.port().to_string();
    let stop = server.shutdown_handle();
    let serving = tokio::spawn(server.run());
    let mut argv = vec![args[0], "-p", &port];
    argv.extend_from_slice(&args[1..]);
    let pid = std::process::id().to_string();
    argv.extend_from_slice(&["--broker-pid", &pid]);
    let report = tokio::time::timeout(Duration::from_secs(60), run(parse(&argv)))
        .await
        .unwrap();
    stop.shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(10), serving).await;
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos1_fan_in_loses_nothing() {
    let quick = ["--duration", "0.5", "--warmup", "0.2"];
    // The backlog bound keeps the subscriber's queue below the broker's limit (10,000
    // by default), beyond which it drops messages by design.
    let mut args = vec![
        "fanin",
        "--publishers",
        "3",
        "-q",
        "1",
        "--size",
        "100",
        "--backlog",
        "2000",
    ];
    args.extend_from_slice(&quick);
    let r = against_our_broker(&args).await.unwrap();
    let t = r.traffic.unwrap();
    assert!(t.sent > 0 && t.acked == t.sent, "{r}");
    assert_eq!((t.expected, t.received, t.lost), (t.sent, t.sent, 0), "{r}");
    assert_eq!(
        (t.duplicates, t.out_of_order, t.malformed),
        (0, 0, 0),
        "{r}"
    );
    assert!(r.latency.is_some() && r.problems.is_empty(), "{r}");
    assert!(r.broker_cpu.is_some(), "{r}");
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["traffic"]["lost"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paced_fan_out_reaches_every_subscriber() {
    let args = [
        "fanout",
        "--subscribers",
        "3",
        "--rate",
        "2000",
        "-q",
        "2",
        "-V",
        "5",
        "--duration",
        "0.5",
        "--warmup",
        "0.2",
    ];
    let r = against_our_broker(&args).await.unwrap();
    let t = r.traffic.unwrap();
    // 0.7 s at 2,000 msg/s: 1,400 credits, sent or (on a busy machine) behind.
    assert!((1399..=1401).contains(&(t.sent + t.behind_schedule)), "{r}");
    assert_eq!(
        (t.expected, t.received, t.lost),
        (3 * t.sent, 3 * t.sent, 0),
        "{r}"
    );
    assert!(r.problems.is_empty(), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_counted() {
    let args = ["connections", "--count", "20", "--duration", "0.2"];
    let r = against_our_broker(&args).await.unwrap();
    let c = r.connections.unwrap();
    assert_eq!(
        (c.requested, c.succeeded, c.open_at_end),
        (20, 20, 20),
        "{r}"
    );
    assert!(c.rss_before_kib.is_some() && c.bytes_per_connection.is_some());
}

#[tokio::test]
async fn bad_arguments_are_refused() {
    let latency_without_rate = run(parse(&["latency"])).await;
    assert!(matches!(latency_without_rate, Err(BenchError::Invalid(_))));
    let tiny = run(parse(&["fanin", "--size", "8"])).await;
    assert!(matches!(tiny, Err(BenchError::Invalid(_))));
}
