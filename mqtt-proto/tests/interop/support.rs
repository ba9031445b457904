//! Harness of the live-wire interop tests: finding the peer programs, running them under
//! `timeout` in their own process group (killed on drop), temporary directories, a private
//! mosquitto broker, and a packet connection that encodes and decodes with `mqtt-proto`
//! only.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_proto::{
    ConnAck, Connect, DecodeOptions, MqttString, Packet, PacketId, ProtocolVersion, ReasonCode,
    TopicFilter, TopicName, decode, decode_exact,
};

/// Longest a single socket read or write, or a single wait for a peer, may block.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Poll interval of the few waits that have no blocking primitive in std (a child's exit,
/// a non-blocking accept). These are waits for a condition, never a synchronisation sleep.
const POLL: Duration = Duration::from_millis(5);

/// How long a spawned client program may run before `timeout` kills it.
pub(crate) const TOOL_LIMIT: Duration = Duration::from_secs(40);

// ------------------------------------------------------------------------------------------
// Small constructors.

pub(crate) fn s(v: &str) -> MqttString {
    MqttString::try_from(v).unwrap_or_else(|e| panic!("bad MQTT string {v:?}: {e}"))
}

pub(crate) fn topic(v: &str) -> TopicName {
    TopicName::try_from(v).unwrap_or_else(|e| panic!("bad topic name {v:?}: {e}"))
}

pub(crate) fn filter(v: &str) -> TopicFilter {
    TopicFilter::try_from(v).unwrap_or_else(|e| panic!("bad topic filter {v:?}: {e}"))
}

pub(crate) fn pid(v: u16) -> PacketId {
    PacketId::new(v).expect("non-zero packet id")
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Short tag of a version for client ids and topics.
pub(crate) fn tag(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::V3_1 => "v31",
        ProtocolVersion::V3_1_1 => "v311",
        ProtocolVersion::V5 => "v5",
    }
}

/// The `-V` argument of the mosquitto client programs.
pub(crate) fn mosquitto_version_arg(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::V3_1 => "mqttv31",
        ProtocolVersion::V3_1_1 => "mqttv311",
        ProtocolVersion::V5 => "mqttv5",
    }
}

// ------------------------------------------------------------------------------------------
// Deadline.

/// The overall time budget of one test. Every blocking step is bounded by it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    end: Instant,
}

impl Deadline {
    pub(crate) fn after(d: Duration) -> Self {
        Self {
            end: Instant::now() + d,
        }
    }

    /// Time left; panics (failing the test) once the budget is spent.
    pub(crate) fn remaining(&self, what: &str) -> Duration {
        let left = self.end.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "overall test deadline exceeded while {what}"
        );
        left
    }

    /// A socket timeout: [`IO_TIMEOUT`], or less if the deadline is nearer.
    pub(crate) fn io_timeout(&self, what: &str) -> Duration {
        self.remaining(what).min(IO_TIMEOUT)
    }
}

// ------------------------------------------------------------------------------------------
// Peer programs.

/// Paths of the programs a test needs, by name.
#[derive(Debug)]
pub(crate) struct Tools(BTreeMap<String, PathBuf>);

impl Tools {
    pub(crate) fn path(&self, name: &str) -> &Path {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("{name} was not required by this test"))
    }
}

fn is_executable(p: &Path) -> bool {
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Looks a program up on `PATH`, then in the sbin directories (the broker lives in
/// `/usr/sbin`, which an unprivileged `PATH` may lack).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// A peer is missing: with `CI=true` the test fails, otherwise it is skipped loudly.
fn missing(what: &str) {
    assert!(
        !ci(),
        "interop test cannot run: {what} is not installed (CI=true, so a missing peer \
         program is a failure, not a skip)"
    );
    // Straight to the stderr handle: `eprintln!` would be captured by the test harness
    // and never shown for a passing (skipped) test.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {what} not installed");
}

/// Finds every program in `names` (plus `timeout`, which wraps them all); `None` after
/// reporting the first missing one.
pub(crate) fn require(names: &[&str]) -> Option<Tools> {
    let mut found = BTreeMap::new();
    for &name in names.iter().chain(&["timeout"]) {
        match find_program(name) {
            Some(p) => {
                found.insert(name.to_owned(), p);
            }
            None => {
                missing(name);
                return None;
            }
        }
    }
    Some(Tools(found))
}

/// Like [`require`] with `python3`, and also checks that python3 can import paho-mqtt.
pub(crate) fn require_paho(deadline: Deadline) -> Option<Tools> {
    let tools = require(&["python3"])?;
    let mut probe = ChildGuard::spawn(
        "python3 paho probe",
        &tools,
        "python3",
        ["-c", "import paho.mqtt.client"],
        Duration::from_secs(20),
    );
    let done = probe.wait(deadline);
    if !done.status.success() {
        missing("paho-mqtt (python3 module)");
        return None;
    }
    Some(tools)
}

// ------------------------------------------------------------------------------------------
// Temporary directories.

static TEMP_SEQ: AtomicU32 = AtomicU32::new(0);

/// A fresh directory under the system temp dir, removed with everything in it on drop.
#[derive(Debug)]
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(label: &str) -> Self {
        let base = std::env::temp_dir();
        let label: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        for _ in 0..1000 {
            let n = TEMP_SEQ.fetch_add(1, Ordering::Relaxed);
            let dir = base.join(format!(
                "mqtt-proto-interop-{}-{n}-{label}",
                std::process::id()
            ));
            match fs::create_dir(&dir) {
                Ok(()) => return Self(dir),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => panic!("cannot create temp dir {}: {e}", dir.display()),
            }
        }
        panic!("cannot find a free temp dir name under {}", base.display());
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

// ------------------------------------------------------------------------------------------
// Child processes.

/// What a finished program left behind.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// A program run as `timeout -k 3 LIMIT program args...` in a new process group, with
/// stdout and stderr going to files (a pipe could fill up and stall it). Dropping the
/// guard kills the whole group, so neither `timeout` nor the program outlives the test.
#[derive(Debug)]
pub(crate) struct ChildGuard {
    name: String,
    child: Child,
    reaped: Option<ExitStatus>,
    dir: TempDir,
}

impl ChildGuard {
    pub(crate) fn spawn<I, A>(
        name: &str,
        tools: &Tools,
        program: &str,
        args: I,
        limit: Duration,
    ) -> Self
    where
        I: IntoIterator<Item = A>,
        A: AsRef<OsStr>,
    {
        let dir = TempDir::new(name);
        let stdout = File::create(dir.path().join("stdout")).expect("create stdout file");
        let stderr = File::create(dir.path().join("stderr")).expect("create stderr file");
        let mut cmd = Command::new(tools.path("timeout"));
        cmd.arg("-k")
            .arg("3")
            .arg(format!("{}", limit.as_secs().max(1)))
            .arg(tools.path(program))
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {name} ({cmd:?}): {e}"));
        Self {
            name: name.to_owned(),
            child,
            reaped: None,
            dir,
        }
    }

    /// The exit status, if the program has ended.
    pub(crate) fn try_status(&mut self) -> Option<ExitStatus> {
        if self.reaped.is_none() {
            self.reaped = self
                .child
                .try_wait()
                .unwrap_or_else(|e| panic!("waiting for {}: {e}", self.name));
        }
        self.reaped
    }

    fn read_file(&self, which: &str) -> String {
        let mut out = String::new();
        if let Ok(mut f) = File::open(self.dir.path().join(which)) {
            let mut bytes = Vec::new();
            let _ = f.read_to_end(&mut bytes);
            out = String::from_utf8_lossy(&bytes).into_owned();
        }
        out
    }

    /// Everything the program wrote to stderr so far (for failure messages).
    pub(crate) fn stderr(&self) -> String {
        self.read_file("stderr")
    }

    /// Everything the program wrote to stdout so far.
    pub(crate) fn stdout(&self) -> String {
        self.read_file("stdout")
    }

    /// Panics with the program's output if it has already ended: used while waiting for
    /// it to do something.
    pub(crate) fn assert_running(&mut self, while_: &str) {
        if let Some(status) = self.try_status() {
            panic!(
                "{} exited ({status}) while {while_}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                self.name,
                self.stdout(),
                self.stderr()
            );
        }
    }

    /// Waits for the program to end (bounded by `deadline`; it is killed on failure).
    pub(crate) fn wait(&mut self, deadline: Deadline) -> Finished {
        let what = format!("waiting for {} to exit", self.name);
        let status = loop {
            if let Some(status) = self.try_status() {
                break status;
            }
            if deadline.end <= Instant::now() {
                self.kill();
                panic!(
                    "overall test deadline exceeded while {what}\n--- stdout ---\n{}\n--- \
                     stderr ---\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            thread::sleep(POLL);
        };
        Finished {
            status,
            stdout: self.stdout(),
            stderr: self.stderr(),
        }
    }

    /// Waits for the program and asserts it succeeded; returns its stdout.
    pub(crate) fn wait_success(&mut self, deadline: Deadline) -> String {
        let done = self.wait(deadline);
        assert!(
            done.status.success(),
            "{} failed: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.name,
            done.status,
            done.stdout,
            done.stderr
        );
        done.stdout
    }

    /// Kills the process group (the `timeout` wrapper and the program) and reaps.
    fn kill(&mut self) {
        if self.reaped.is_some() {
            return;
        }
        if let Ok(None) = self.child.try_wait() {
            // Not yet reaped, so the group id (the wrapper's pid) cannot have been reused.
            let group = format!("-{}", self.child.id());
            let kill = find_program("kill").unwrap_or_else(|| PathBuf::from("/bin/kill"));
            let _ = Command::new(kill)
                .args(["-KILL", "--", &group])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = self.child.kill();
        }
        self.reaped = self.child.wait().ok();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
        if thread::panicking() {
            // The test failed: show what the peer said, it usually tells why.
            eprintln!(
                "--- {} ({:?}) stdout ---\n{}\n--- {} stderr ---\n{}",
                self.name,
                self.reaped,
                self.stdout(),
                self.name,
                self.stderr()
            );
        }
    }
}

// ------------------------------------------------------------------------------------------
// Our server side: a listener that real clients connect to.

/// A listener on 127.0.0.1 with an OS-assigned port.
#[derive(Debug)]
pub(crate) struct Listener {
    inner: TcpListener,
    pub(crate) port: u16,
}

impl Listener {
    pub(crate) fn bind() -> Self {
        let inner = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let port = inner.local_addr().expect("local addr").port();
        inner.set_nonblocking(true).expect("non-blocking listener");
        Self { inner, port }
    }

    /// Accepts the connection of `client`, failing early if the client dies first.
    pub(crate) fn accept(&self, client: &mut ChildGuard, deadline: Deadline) -> TcpStream {
        let what = "waiting for the client to connect";
        let give_up = Instant::now() + deadline.io_timeout(what);
        loop {
            match self.inner.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).expect("blocking stream");
                    return stream;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("accept: {e}"),
            }
            client.assert_running(what);
            assert!(
                Instant::now() < give_up,
                "timed out {what}\n--- stderr ---\n{}",
                client.stderr()
            );
            deadline.remaining(what);
            thread::sleep(POLL);
        }
    }
}

// ------------------------------------------------------------------------------------------
// A connection that speaks MQTT through mqtt-proto only.

/// One TCP connection whose every packet is encoded and decoded by `mqtt-proto`.
///
/// Received packets are checked to survive a re-encode/decode round trip. Packets that
/// arrive ahead of the one a test waits for are kept in a queue, because a broker may
/// legitimately interleave, say, a routed PUBLISH with the PUBACK of our own.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    pending: VecDeque<Packet>,
    pub(crate) version: ProtocolVersion,
    deadline: Deadline,
    name: String,
    /// Server side: answer every PINGREQ at once, wherever it comes in the flow.
    auto_pong: bool,
    pings: u32,
}

/// How strictly received packets are decoded: strings must not contain the code points the
/// specification discourages.
fn options() -> DecodeOptions {
    DecodeOptions {
        strict_strings: true,
        ..DecodeOptions::default()
    }
}

impl Conn {
    pub(crate) fn new(
        stream: TcpStream,
        version: ProtocolVersion,
        deadline: Deadline,
        name: &str,
    ) -> Self {
        stream.set_nodelay(true).expect("nodelay");
        Self {
            stream,
            buf: BytesMut::with_capacity(4096),
            pending: VecDeque::new(),
            version,
            deadline,
            name: name.to_owned(),
            auto_pong: false,
            pings: 0,
        }
    }

    /// Makes this (server) side answer every PINGREQ with a PINGRESP as soon as it is
    /// read, so that a client's keep-alive pings may come at any point of a scenario.
    pub(crate) fn answer_pings(&mut self) {
        self.auto_pong = true;
    }

    /// How many PINGREQs were answered.
    pub(crate) fn pings(&self) -> u32 {
        self.pings
    }

    /// Reads (queueing other packets) until `n` PINGREQs in all have been answered.
    pub(crate) fn wait_pings(&mut self, n: u32) {
        assert!(self.auto_pong, "wait_pings needs answer_pings");
        while self.pings < n {
            match self.read_any() {
                Some(Packet::PingReq) => {}
                Some(p) => self.pending.push_back(p),
                None => panic!("{}: closed while waiting for PINGREQ", self.name),
            }
        }
    }

    /// Encodes `packet` for this connection's version and writes it.
    pub(crate) fn send(&mut self, packet: impl Into<Packet>) {
        let packet = packet.into();
        let mut out = Vec::new();
        let n = packet
            .encode(self.version, &mut out)
            .unwrap_or_else(|e| panic!("{}: encoding {packet:?}: {e}", self.name));
        assert_eq!(n, out.len(), "encode returned a wrong length");
        assert_eq!(
            packet.encoded_len(self.version).expect("encoded_len"),
            n,
            "encoded_len disagrees with encode for {packet:?}"
        );
        let what = format!("{}: sending {}", self.name, packet.packet_type());
        self.stream
            .set_write_timeout(Some(self.deadline.io_timeout(&what)))
            .expect("write timeout");
        self.stream
            .write_all(&out)
            .unwrap_or_else(|e| panic!("{what} ({}): {e}", hex(&out)));
    }

    /// Reads the next packet off the wire; `None` on an orderly end of stream. PINGREQs
    /// answered by [`Conn::answer_pings`] are skipped.
    fn read_packet(&mut self) -> Option<Packet> {
        loop {
            match self.read_any() {
                Some(Packet::PingReq) if self.auto_pong => {}
                other => return other,
            }
        }
    }

    /// Reads the next packet off the wire, answering a PINGREQ if so asked (and still
    /// returning it); `None` on an orderly end of stream.
    fn read_any(&mut self) -> Option<Packet> {
        let what = format!("{}: waiting for a packet", self.name);
        loop {
            let before = self.buf.clone();
            match decode(&mut self.buf, self.version, &options()) {
                Ok(Some(packet)) => {
                    let raw = &before[..before.len() - self.buf.len()];
                    self.check_round_trip(&packet, raw);
                    // A CONNECT fixes the version of everything after it.
                    if let Packet::Connect(c) = &packet {
                        self.version = c.protocol;
                    }
                    if self.auto_pong && packet == Packet::PingReq {
                        self.pings += 1;
                        self.send(Packet::PingResp);
                    }
                    return Some(packet);
                }
                Ok(None) => {}
                Err(e) => panic!(
                    "{}: mqtt-proto rejected bytes from a real peer ({}): {e}\nbytes: {}",
                    self.name,
                    self.version,
                    hex(&before)
                ),
            }
            self.stream
                .set_read_timeout(Some(self.deadline.io_timeout(&what)))
                .expect("read timeout");
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    assert!(
                        self.buf.is_empty(),
                        "{}: stream ended inside a packet: {}",
                        self.name,
                        hex(&self.buf)
                    );
                    return None;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    assert!(self.buf.is_empty(), "{}: reset inside a packet", self.name);
                    return None;
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    panic!("{what}: timed out; already queued: {:?}", self.pending)
                }
                Err(e) => panic!("{what}: {e}"),
            }
        }
    }

    /// What we decoded must re-encode to something that decodes to the same packet.
    fn check_round_trip(&self, packet: &Packet, raw: &[u8]) {
        let mut again = Vec::new();
        packet.encode(self.version, &mut again).unwrap_or_else(|e| {
            panic!(
                "{}: decoded packet does not re-encode: {e}\nwire: {}\npacket: {packet:?}",
                self.name,
                hex(raw)
            )
        });
        let back = decode_exact(&again, self.version, &options()).unwrap_or_else(|e| {
            panic!(
                "{}: re-encoded packet does not decode: {e}\nwire: {}\nre-encoded: {}",
                self.name,
                hex(raw),
                hex(&again)
            )
        });
        assert_eq!(
            &back,
            packet,
            "{}: round trip changed the packet\nwire: {}\nre-encoded: {}",
            self.name,
            hex(raw),
            hex(&again)
        );
    }

    /// The next packet (queued first), failing on end of stream.
    pub(crate) fn recv(&mut self) -> Packet {
        if let Some(p) = self.pending.pop_front() {
            return p;
        }
        self.read_packet()
            .unwrap_or_else(|| panic!("{}: peer closed the connection", self.name))
    }

    /// The next packet (queued first), or `None` if the peer closes the connection.
    pub(crate) fn recv_or_eof(&mut self) -> Option<Packet> {
        self.pending.pop_front().or_else(|| self.read_packet())
    }

    /// The first packet (queued or new) that `pred` accepts; others stay queued in order.
    pub(crate) fn expect<T>(
        &mut self,
        what: &str,
        mut pred: impl FnMut(&Packet) -> Option<T>,
    ) -> T {
        if let Some(i) = self.pending.iter().position(|p| pred(p).is_some()) {
            let p = self.pending.remove(i).expect("index in range");
            return pred(&p).expect("predicate is stable");
        }
        loop {
            let p = self.read_packet().unwrap_or_else(|| {
                panic!(
                    "{}: connection closed while waiting for {what}; queued: {:?}",
                    self.name, self.pending
                )
            });
            if let Some(t) = pred(&p) {
                return t;
            }
            self.pending.push_back(p);
        }
    }

    /// Sends PINGREQ and returns every packet that arrived before the PINGRESP. The broker
    /// answers packets of one connection in order, so whatever our earlier packets caused
    /// to be sent to us is in the returned list.
    pub(crate) fn ping_barrier(&mut self) -> Vec<Packet> {
        self.send(Packet::PingReq);
        let mut before: Vec<Packet> = self.pending.drain(..).collect();
        loop {
            match self.read_packet() {
                Some(Packet::PingResp) => return before,
                Some(p) => before.push(p),
                None => panic!("{}: closed while waiting for PINGRESP", self.name),
            }
        }
    }

    /// Asserts that nothing at all was sent to us before a PINGRESP.
    pub(crate) fn assert_quiet(&mut self, why: &str) {
        let got = self.ping_barrier();
        assert!(
            got.is_empty(),
            "{}: expected nothing ({why}), got {got:?}",
            self.name
        );
    }

    /// Asserts that the peer closes the connection with nothing more to say.
    pub(crate) fn expect_eof(&mut self) {
        assert!(
            self.pending.is_empty(),
            "{}: unconsumed packets: {:?}",
            self.name,
            self.pending
        );
        if let Some(p) = self.read_packet() {
            panic!("{}: expected the connection to close, got {p:?}", self.name);
        }
    }

    /// Closes the socket without DISCONNECT (an abnormal end, which fires a will).
    pub(crate) fn abort(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

// ------------------------------------------------------------------------------------------
// A private mosquitto broker.

/// `mosquitto` on 127.0.0.1 with an OS-chosen port and a throw-away config, killed (with its
/// `timeout` wrapper) on drop.
#[derive(Debug)]
pub(crate) struct Broker {
    pub(crate) port: u16,
    child: ChildGuard,
    _dir: TempDir,
}

impl Broker {
    pub(crate) fn start(tools: &Tools, deadline: Deadline) -> Self {
        // The port is found by binding port 0 and releasing it; if something else takes it
        // before mosquitto does, mosquitto exits and we try again with another one.
        for attempt in 0..5 {
            let port = {
                let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
                l.local_addr().expect("local addr").port()
            };
            let dir = TempDir::new("mosquitto");
            let conf = dir.path().join("mosquitto.conf");
            fs::write(
                &conf,
                format!(
                    "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                     log_dest stderr\nlog_type all\n"
                ),
            )
            .expect("write mosquitto.conf");
            let mut child = ChildGuard::spawn(
                "mosquitto",
                tools,
                "mosquitto",
                [OsStr::new("-c"), conf.as_os_str()],
                Duration::from_secs(300),
            );
            if wait_listening(port, &mut child, deadline) {
                return Self {
                    port,
                    child,
                    _dir: dir,
                };
            }
            eprintln!(
                "mosquitto did not start on port {port} (attempt {attempt}): {}",
                child.stderr()
            );
        }
        panic!("could not start a private mosquitto broker");
    }

    /// A raw TCP connection to the broker, wrapped for mqtt-proto.
    pub(crate) fn connect(&mut self, version: ProtocolVersion, name: &str, d: Deadline) -> Conn {
        self.child.assert_running("connecting to it");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let stream = TcpStream::connect_timeout(&addr, d.io_timeout("connecting to mosquitto"))
            .unwrap_or_else(|e| panic!("connect to mosquitto at {addr}: {e}"));
        Conn::new(stream, version, d, name)
    }

    /// Connects and completes CONNECT/CONNACK, asserting success; returns the CONNACK.
    pub(crate) fn session(&mut self, connect: Connect, name: &str, d: Deadline) -> (Conn, ConnAck) {
        let mut conn = self.connect(connect.protocol, name, d);
        conn.send(connect);
        let ack = conn.expect("CONNACK", |p| match p {
            Packet::ConnAck(a) => Some(ConnAck::clone(a)),
            _ => None,
        });
        assert_eq!(
            ack.reason_code,
            ReasonCode::Success,
            "{name}: CONNACK {ack:?}"
        );
        (conn, ack)
    }
}

/// Waits until something accepts TCP connections on `port`; `false` if mosquitto exited.
fn wait_listening(port: u16, child: &mut ChildGuard, deadline: Deadline) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if child.try_status().is_some() {
            return false;
        }
        let what = "waiting for mosquitto to listen";
        if TcpStream::connect_timeout(&addr, deadline.io_timeout(what)).is_ok() {
            // Still running: it is mosquitto that listens there, not some other program
            // that took the port first.
            return child.try_status().is_none();
        }
        thread::sleep(POLL);
    }
}
