//! Helpers shared by the integration tests: a real Debian `mosquitto` broker on 127.0.0.1.
//!
//! Each test starts its own broker on a free port, so tests run in parallel and never see
//! each other's retained messages or sessions.
#![allow(dead_code, unreachable_pub)]

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long a broker may take to accept connections.
const STARTUP: Duration = Duration::from_secs(10);

/// A running mosquitto, killed (and its directory removed) on drop.
pub struct Mosquitto {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Mosquitto {
    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `mqtt://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Kills the broker (its clients see their connections drop).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a new broker with the same configuration on the same port, and waits until
    /// it accepts connections. It starts empty: persistence is off.
    pub fn start(&mut self) {
        self.stop();
        let log = std::fs::File::create(self.dir.join("mosquitto.log")).expect("create log");
        let bin = mosquitto_binary().expect("mosquitto vanished during the test");
        let child = Command::new(bin)
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            .spawn()
            .expect("spawn mosquitto");
        self.child = Some(child);
        self.wait_until_listening();
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + STARTUP;
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.join("mosquitto.log"));
                panic!(
                    "mosquitto on port {} did not start ({exited:?}):\n{}",
                    self.port,
                    log.unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts mosquitto on a free port, or returns `None` (after printing a SKIP line) when
/// it is not installed. With `CI=true` a missing mosquitto is a failure instead.
pub fn start_mosquitto() -> Option<Mosquitto> {
    start_mosquitto_with("")
}

/// As [`start_mosquitto`], with extra configuration lines.
pub fn start_mosquitto_with(extra_config: &str) -> Option<Mosquitto> {
    spawn(free_port(), extra_config)
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A client identifier unique to this test process.
pub fn unique_id(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

fn mosquitto_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("mosquitto"))
        .find(|bin| bin.is_file())
}

fn spawn(port: u16, extra_config: &str) -> Option<Mosquitto> {
    if mosquitto_binary().is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("mosquitto is not installed, and CI=true requires it (apt install mosquitto)");
        }
        eprintln!("SKIP: mosquitto not installed");
        return None;
    }
    let dir = temp_dir();
    let config = format!(
        "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n{extra_config}\n"
    );
    std::fs::write(dir.join("mosquitto.conf"), config).expect("write mosquitto.conf");
    let mut broker = Mosquitto {
        port,
        dir,
        child: None,
    };
    broker.start();
    Some(broker)
}

fn temp_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("mqtt-test-{}-{n}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A child process killed on drop, so a failing or timed-out test leaves none behind.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
