//! MQTT.js (the npm `mqtt` package, the client browsers use) under Node.js, over our
//! WebSocket listener, exchanging messages with TCP clients (`mosquitto_pub`/`mosquitto_sub`).
//! `.ci/run` installs the package with `npm ci` in `tests/mqttjs`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use adapter_tokio::config::{Config, Listener, ListenerKind};
use adapter_tokio::server::Server;

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mqttjs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mqttjs")
}

/// Whether Node.js, MQTT.js and the mosquitto clients are here; in CI their absence fails.
fn peers_present() -> bool {
    let node = Command::new("node").arg("--version").output().is_ok();
    let mqttjs = mqttjs_dir().join("node_modules/mqtt/package.json").exists();
    let mosquitto = Command::new("mosquitto_pub").arg("--help").output().is_ok();
    if node && mqttjs && mosquitto {
        return true;
    }
    let missing = format!(
        "node: {node}, MQTT.js in tests/mqttjs/node_modules: {mqttjs} (run `npm ci` there), \
         mosquitto clients: {mosquitto}"
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "peers missing in CI: {missing}"
    );
    eprintln!("SKIP: peers missing: {missing}");
    false
}

fn exchange(version: u8) {
    if !peers_present() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = Config {
        listeners: vec![
            Listener::new(ListenerKind::Tcp, "127.0.0.1:0".parse().unwrap()),
            Listener::new(ListenerKind::Ws, "127.0.0.1:0".parse().unwrap()),
        ],
        ..Config::default()
    };
    let server = rt.block_on(Server::bind(config)).unwrap();
    let addrs = server.local_addrs();
    let tcp = addrs[0].1.port().to_string();
    let ws = format!("ws://{}/mqtt", addrs[1].1);
    let stop = server.shutdown_handle();
    let task = rt.spawn(server.run());

    // A TCP subscriber waiting for what MQTT.js publishes.
    // `-d` prints the protocol steps: once SUBACK is printed the subscription is in place
    // (`stdbuf -oL`: line-buffered, as stdout is a pipe).
    let mut sub = Killed(
        Command::new("stdbuf")
            .args(["-oL", "mosquitto_sub"])
            .args(["-h", "127.0.0.1", "-p", &tcp, "-t", "js/out", "-q", "1"])
            .args(["-C", "1", "-W", "10", "-v", "-d"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut sub_lines = BufReader::new(sub.0.stdout.take().unwrap()).lines();
    let suback = sub_lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("SUBACK"));
    assert!(suback.is_some(), "mosquitto_sub did not subscribe");
    let mut js = Killed(
        Command::new("node")
            .current_dir(mqttjs_dir())
            .args(["exchange.mjs", &ws, &version.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(js.0.stdout.take().unwrap()).lines();
    let mut next = || lines.next().map(Result::unwrap).unwrap_or_default();
    let connected = next();
    assert!(connected.contains(r#""connected":true"#), "{connected}");
    let subscribed = next();
    assert_eq!(subscribed, r#"{"subscribed":[1]}"#);
    // A TCP publisher reaches MQTT.js.
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &tcp, "-t", "js/in", "-q", "1"])
        .args(["-m", "from-tcp"])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while Instant::now() < deadline {
        let line = next();
        if line.is_empty() {
            break;
        }
        got.push(line);
        if got.iter().any(|l| l.contains("from-tcp")) && got.iter().any(|l| l.contains("published"))
        {
            break;
        }
    }
    assert!(
        got.iter()
            .any(|l| l == r#"{"topic":"js/in","payload":"from-tcp","qos":1}"#),
        "{got:?}"
    );
    assert!(got.iter().any(|l| l == r#"{"published":true}"#), "{got:?}");
    let status = js.0.wait().unwrap();
    assert!(status.success());
    // MQTT.js's publication reached the TCP subscriber.
    let received: Vec<String> = sub_lines.map_while(Result::ok).collect();
    assert!(
        received.iter().any(|l| l == "js/out from-js"),
        "{received:?}"
    );
    assert!(sub.0.wait().unwrap().success());

    stop.shutdown();
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), task).await })
        .unwrap()
        .unwrap();
}

#[test]
fn mqttjs_v311_over_websocket_exchanges_with_tcp_clients() {
    exchange(4);
}

#[test]
fn mqttjs_v5_over_websocket_exchanges_with_tcp_clients() {
    exchange(5);
}
