//! Helpers shared by the broker tests: an in-process broker (whichever the test binary's
//! `adapter` module starts), peer programs, child processes with deadlines, temporary
//! directories and certificates.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::Value;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::adapter::config::{Config, Listener, ListenerKind};
use crate::adapter::{self, Counters, ShutdownHandle};

/// How long one expected step (a line, a packet, a process exit) may take.
pub(crate) const STEP: Duration = Duration::from_secs(10);

/// Runs a test body with an overall deadline.
pub(crate) async fn within<F: Future>(secs: u64, body: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(secs), body).await {
        Ok(out) => out,
        Err(_) => panic!("test did not finish within {secs} s"),
    }
}

/// A broker running in this process, on 127.0.0.1 with system-chosen ports, started by
/// the test binary's `adapter` module (on the test's tokio runtime, or on threads of its
/// own for the smol broker). Dropping it asks the broker to shut down.
pub(crate) struct TestBroker {
    addrs: Vec<(ListenerKind, SocketAddr)>,
    stop: ShutdownHandle,
    running: Option<adapter::Running>,
    /// The adapter's counters (protocol violations and drops).
    pub(crate) counters: Arc<Counters>,
}

/// What an adapter hands back once its broker is bound and running.
pub(crate) struct Started {
    /// Each listener's kind and bound address.
    pub(crate) addrs: Vec<(ListenerKind, SocketAddr)>,
    /// Stops the broker.
    pub(crate) stop: ShutdownHandle,
    /// The broker's counters.
    pub(crate) counters: Arc<Counters>,
    /// The running broker (a task or a thread).
    pub(crate) running: adapter::Running,
}

impl TestBroker {
    /// Starts a broker with one plain TCP listener and otherwise default settings.
    pub(crate) async fn tcp() -> Self {
        Self::start(config(&[ListenerKind::Tcp])).await
    }

    /// Starts a broker with `config` (see [`config`] for listeners on port 0).
    pub(crate) async fn start(config: Config) -> Self {
        Self::from(adapter::start(config).await)
    }

    fn from(started: Started) -> Self {
        Self {
            addrs: started.addrs,
            stop: started.stop,
            running: Some(started.running),
            counters: started.counters,
        }
    }

    /// The address of the first listener of `kind`.
    pub(crate) fn addr(&self, kind: ListenerKind) -> SocketAddr {
        self.addrs
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("no {kind} listener"))
    }

    /// The address of the plain TCP listener.
    pub(crate) fn tcp_addr(&self) -> SocketAddr {
        self.addr(ListenerKind::Tcp)
    }

    /// The port of the plain TCP listener.
    pub(crate) fn port(&self) -> u16 {
        self.addr(ListenerKind::Tcp).port()
    }

    /// Whether the broker is still serving (its run task or thread has not ended).
    pub(crate) fn is_running(&self) -> bool {
        self.running.as_ref().is_some_and(|r| !r.is_finished())
    }

    /// Shuts the broker down and waits for it (at most [`STEP`]); panics if it does not
    /// stop in time or if it panicked.
    pub(crate) async fn stop(mut self) {
        self.stop.shutdown();
        let running = self.running.take().expect("broker running");
        let deadline = Instant::now() + STEP;
        while !running.is_finished() {
            assert!(
                Instant::now() < deadline,
                "broker did not stop within {STEP:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        running.join().await;
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        // A failed test still stops its broker.
        self.stop.shutdown();
    }
}

/// Where a broker of [`broker_on_own_runtime`] runs: dropped (outside of any runtime) once
/// the broker has stopped.
pub(crate) use adapter::Host;

/// A broker on a runtime (or threads) of its own whose threads are told apart by
/// [`is_broker_thread`] with `thread_name`: a test's own load cannot starve the broker's
/// accept loop, and the broker's panics can be told apart. Drive the test from
/// [`client_runtime`], and drop the host outside of any runtime.
pub(crate) fn broker_on_own_runtime(config: Config, thread_name: &str) -> (Host, TestBroker) {
    let (host, started) = adapter::start_on_own_runtime(config, thread_name);
    (host, TestBroker::from(started))
}

/// Whether the current thread is one of a broker's of [`broker_on_own_runtime`] that was
/// given `thread_name`.
pub(crate) fn is_broker_thread(thread_name: &str) -> bool {
    std::thread::current()
        .name()
        .is_some_and(|name| adapter::is_broker_thread(name, thread_name))
}

/// The runtime that drives a test whose broker runs on [`broker_on_own_runtime`].
pub(crate) fn client_runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime")
}

/// A default configuration with one listener of each kind in `kinds` on 127.0.0.1:0.
pub(crate) fn config(kinds: &[ListenerKind]) -> Config {
    Config {
        listeners: kinds
            .iter()
            .map(|&k| Listener::new(k, SocketAddr::from(([127, 0, 0, 1], 0))))
            .collect(),
        ..Config::default()
    }
}

/// Says a peer program is missing: a failure when `CI` is "true", otherwise a note on
/// stderr (the caller then returns).
fn missing(peer: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{peer} not installed (CI=true requires it)");
    }
    eprintln!("SKIP: {peer} not installed");
}

/// The path of an executable found on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A peer program from `PATH`, or `None` after reporting it missing.
pub(crate) fn peer(name: &str) -> Option<PathBuf> {
    let found = on_path(name);
    if found.is_none() {
        missing(name);
    }
    found
}

/// A `python3` that can import paho-mqtt 2.x, or `None` after reporting it missing.
pub(crate) fn python_with_paho() -> Option<PathBuf> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let python = on_path("python3")?;
        let ok = Command::new(&python)
            .args([
                "-c",
                "import sys, paho.mqtt.client as m; sys.exit(0 if m.CallbackAPIVersion else 1)",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(python)
    });
    if found.is_none() {
        missing("python3 with paho-mqtt 2.x");
    }
    found.clone()
}

/// A file of the suite's folder, `tests-shared/broker` (the Python helpers).
pub(crate) fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests-shared/broker")
        .join(name)
}

/// A child process whose stdout and stderr lines arrive on one channel. It is killed when
/// dropped, so a failing test leaves nothing behind.
pub(crate) struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    /// Lines read but not yet taken by an `expect`, in order.
    pending: VecDeque<String>,
    transcript: Vec<String>,
}

impl Proc {
    /// Starts `cmd` with piped standard streams.
    pub(crate) fn spawn(cmd: &mut Command) -> Self {
        let name = Path::new(cmd.get_program())
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let name = format!(
            "{name} {}",
            cmd.get_args()
                .map(OsStr::to_string_lossy)
                .collect::<Vec<_>>()
                .join(" ")
        );
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let (tx, lines) = mpsc::unbounded_channel();
        if let Some(out) = child.stdout.take() {
            forward_lines(out, tx.clone());
        }
        if let Some(err) = child.stderr.take() {
            forward_lines(err, tx);
        }
        let stdin = child.stdin.take();
        Self {
            name,
            child,
            stdin,
            lines,
            pending: VecDeque::new(),
            transcript: Vec::new(),
        }
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next output line from the process (whether or not an `expect` passed over
    /// earlier ones), or `None` when none came `within` (or the output ended).
    pub(crate) async fn next_line(&mut self, within: Duration) -> Option<String> {
        let line = tokio::time::timeout(within, self.lines.recv())
            .await
            .ok()??;
        self.transcript.push(line.clone());
        Some(line)
    }

    /// Takes the first line not taken yet that satisfies `pred`, waiting for it at most
    /// [`STEP`] (then panics with the transcript). Lines passed over stay for later calls,
    /// so the order in which events are awaited need not be the order they came in.
    pub(crate) async fn expect(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        if let Some(i) = self.pending.iter().position(|l| pred(l)) {
            return self.pending.remove(i).unwrap_or_default();
        }
        let deadline = Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left).await {
                Some(line) if pred(&line) => return line,
                Some(line) => self.pending.push_back(line),
                None => panic!(
                    "{}: no line with {what} within {STEP:?}; output so far:\n{}",
                    self.name,
                    self.transcript()
                ),
            }
        }
    }

    /// Waits for a line containing `needle`.
    pub(crate) async fn expect_contains(&mut self, needle: &str) -> String {
        self.expect(&format!("{needle:?}"), |l| l.contains(needle))
            .await
    }

    /// Waits for a JSON line whose `event` is `event` (the helper scripts' protocol).
    pub(crate) async fn expect_event(&mut self, event: &str) -> Value {
        let line = self
            .expect(&format!("event {event:?}"), |l| {
                json(l).is_some_and(|v| v["event"] == event)
            })
            .await;
        json(&line).unwrap_or_default()
    }

    /// Writes one line to the process's stdin.
    pub(crate) fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("{}: cannot write stdin: {e}", self.name));
    }

    /// Sends SIGKILL.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
    }

    /// Sends the signal `name` ("TERM", "INT") through `kill(1)`, so no libc binding is
    /// needed.
    pub(crate) fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{name} {} failed", self.pid());
    }

    /// The exit status, if the process ends `within`.
    pub(crate) async fn wait(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for the process to end (killing it and failing after `within`) and returns
    /// its status and whole output.
    pub(crate) async fn finish(mut self, within: Duration) -> (ExitStatus, String) {
        let Some(status) = self.wait(within).await else {
            self.kill();
            panic!(
                "{} did not exit within {within:?}; output:\n{}",
                self.name,
                self.transcript()
            );
        };
        // The output ends once both pipes are closed.
        while self.next_line(Duration::from_secs(2)).await.is_some() {}
        (status, self.transcript())
    }

    /// Every line seen so far.
    pub(crate) fn transcript(&self) -> String {
        self.transcript.join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn forward_lines(stream: impl Read + Send + 'static, tx: mpsc::UnboundedSender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
}

/// Runs `cmd` to its end; panics if it takes longer than `within`.
pub(crate) async fn run(cmd: &mut Command, within: Duration) -> (ExitStatus, String) {
    Proc::spawn(cmd).finish(within).await
}

/// Runs `cmd` and panics unless it exits with status 0; returns its output.
pub(crate) async fn run_ok(cmd: &mut Command) -> String {
    let (status, out) = run(cmd, STEP).await;
    assert!(status.success(), "{cmd:?} failed with {status}:\n{out}");
    out
}

/// A line as JSON, if it is a JSON object.
pub(crate) fn json(line: &str) -> Option<Value> {
    line.starts_with('{')
        .then(|| serde_json::from_str(line).ok())
        .flatten()
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A directory under the system temporary directory, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh directory whose name starts with `prefix`.
    pub(crate) fn new(prefix: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create temporary directory");
        Self(dir)
    }

    /// A path inside the directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// PEM files of a test CA and a server certificate for `localhost` and `127.0.0.1` it
/// signed, in a temporary directory.
pub(crate) struct Certs {
    dir: TempDir,
}

impl Certs {
    /// Generates the CA and the server certificate.
    pub(crate) fn new() -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
            KeyPair, KeyUsagePurpose,
        };
        let dir = TempDir::new(&format!("{}-broker-certs", adapter::NAME));
        let mut ca = CertificateParams::new(Vec::new()).expect("CA params");
        ca.distinguished_name
            .push(DnType::CommonName, "broker test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().expect("CA key");
        let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
        std::fs::write(dir.path("ca.pem"), ca_cert.pem()).expect("write CA");
        let issuer = Issuer::new(ca, ca_key);

        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let mut server = CertificateParams::new(names).expect("server params");
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().expect("server key");
        let cert = server.signed_by(&key, &issuer).expect("server certificate");
        std::fs::write(dir.path("server.pem"), cert.pem()).expect("write certificate");
        std::fs::write(dir.path("server.key"), key.serialize_pem()).expect("write key");
        Self { dir }
    }

    /// The CA certificate clients trust.
    pub(crate) fn ca(&self) -> PathBuf {
        self.dir.path("ca.pem")
    }

    /// Gives a TLS listener the server certificate and key.
    pub(crate) fn equip(&self, listener: &mut Listener) {
        listener.cert = Some(self.dir.path("server.pem"));
        listener.key = Some(self.dir.path("server.key"));
    }
}

/// A small deterministic generator (SplitMix64) for reproducible garbage.
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `len` random bytes.
    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}
