//! `mqtt bench`: a load generator for MQTT brokers.
//!
//! Built directly on [`mqtt_session::ClientConnection`] over tokio `TcpStream`s
//! (`TCP_NODELAY` on), one task per simulated client, so that the generator stays cheap.
//! Scenarios ([`Mode`]):
//!
//! - `fanin --publishers P`: P publishers on `TOPIC/RUN/0` .. `TOPIC/RUN/P-1`, one
//!   subscriber on `TOPIC/RUN/+` (RUN is unique to the run);
//! - `fanout --subscribers N`: one publisher on `TOPIC/RUN/0`, N subscribers on it;
//! - `latency --rate R`: one publisher and one subscriber at a fixed rate;
//! - `connections --count C`: C idle connections (with keep alive) held for the duration.
//!
//! Every payload starts with a sequence number and the send time (big-endian `u64`s,
//! nanoseconds since one start instant of the run), padded to `--size`. Subscribers check
//! loss, duplicates and order per publisher, and record the latency of every message sent
//! after the warm-up in a histogram. Publishers run open loop at `--rate` (messages per
//! second over all publishers; a pacer thread hands out send credits), or with rate 0 as
//! fast as the socket (QoS 0) or the in-flight window (QoS 1/2, the session's receive
//! maximum flow control with `--inflight` as our window) allows.
//!
//! `--backlog N` bounds the deliveries outstanding end to end (published times
//! subscribers, less received): publishers pause above it, so that a broker which
//! acknowledges faster than it delivers does not fill its queues until it drops.
//!
//! The generator reports its own CPU use (`/proc/self/stat`) over the measured interval,
//! and flags a run where it used more than 90% of the cores it had; with `--broker-pid`
//! it also reports the broker's CPU use and, in connections mode, its RSS.

mod conn;
mod report;
mod track;
mod traffic;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use mqtt_proto::{
    Connect, MqttString, ProtocolVersion, QoS, SubscribeProperties, SubscriptionOptions,
    TopicFilter, TopicName,
};
use mqtt_session::{ClientConfig, ClientEvent};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use conn::{Conn, sleep_opt};
pub use report::{BrokerCpu, Connections, Generator, Report, Traffic};
pub use track::Latency;
use traffic::{Ctx, PubResult, Slot, SubResult};

/// Time allowed for TCP connect + CONNACK, and for SUBACK.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections being opened at once in connections mode (brokers' listen backlogs are
/// small: Mosquitto's is 100).
const CONNECT_CONCURRENCY: usize = 64;
/// After the publishers finish: how long the subscribers may go without receiving anything
/// before the run ends, and how long they get at most.
const QUIET: Duration = Duration::from_secs(1);
const DRAIN: Duration = Duration::from_secs(10);

/// Load generator for MQTT brokers (fan-in, fan-out, latency and idle connections).
#[derive(Debug, Clone, clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// Scenario.
    #[arg(value_enum)]
    pub mode: Mode,
    /// Broker host.
    #[arg(short = 'h', long, default_value = "127.0.0.1")]
    pub host: String,
    /// Broker port.
    #[arg(short = 'p', long, default_value_t = 1883)]
    pub port: u16,
    /// QoS of publications and subscriptions.
    #[arg(short = 'q', long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// MQTT version.
    #[arg(
        short = 'V',
        long = "protocol-version",
        value_enum,
        default_value = "311"
    )]
    pub protocol: Protocol,
    /// Payload bytes (at least 16: sequence number and send time).
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Seconds measured, after the warm-up (connections mode: seconds the connections are
    /// held).
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Seconds of warm-up, excluded from throughput and latency.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Messages per second over all publishers; 0 = as fast as possible.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// fanin: number of publishers.
    #[arg(long, default_value_t = 4)]
    pub publishers: usize,
    /// fanout: number of subscribers.
    #[arg(long, default_value_t = 100)]
    pub subscribers: usize,
    /// connections: number of idle connections.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Most QoS 1/2 messages in flight per publisher (the broker's Receive Maximum may
    /// lower it).
    #[arg(long, default_value_t = 128)]
    pub inflight: u16,
    /// Most deliveries outstanding end to end (messages published times subscribers, less
    /// deliveries received): publishers pause above it. Keeps a broker that acknowledges
    /// faster than it delivers from filling its queues; 0 = no bound (open loop).
    #[arg(long, default_value_t = 0)]
    pub backlog: u64,
    /// Keep alive in seconds.
    #[arg(short = 'k', long, default_value_t = 60)]
    pub keep_alive: u16,
    /// Topic prefix: publisher `i` publishes to `TOPIC/RUN/i`, where RUN is unique to
    /// the run.
    #[arg(short = 't', long, default_value = "bench")]
    pub topic: String,
    /// PID of the broker (on this machine): its CPU use over the measured interval is
    /// reported, and in connections mode its RSS before and after opening.
    #[arg(long, value_name = "PID")]
    pub broker_pid: Option<u32>,
    /// Print one JSON line instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
}

/// A scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// `--publishers` publishers, one subscriber on a wildcard.
    Fanin,
    /// One publisher, `--subscribers` subscribers.
    Fanout,
    /// One publisher, one subscriber, at `--rate`.
    Latency,
    /// `--count` idle connections.
    Connections,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Self::Fanin => "fanin",
            Self::Fanout => "fanout",
            Self::Latency => "latency",
            Self::Connections => "connections",
        }
    }
}

/// MQTT version of the simulated clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// MQTT 3.1.1.
    #[value(name = "311", alias = "3.1.1", alias = "4")]
    V311,
    /// MQTT 5.0.
    #[value(name = "5", alias = "5.0")]
    V5,
}

impl Protocol {
    fn version(self) -> ProtocolVersion {
        match self {
            Self::V311 => ProtocolVersion::V3_1_1,
            Self::V5 => ProtocolVersion::V5,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::V311 => "3.1.1",
            Self::V5 => "5.0",
        }
    }
}

/// Why a run could not be carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A flag has a value that cannot work.
    #[error("invalid arguments: {0}")]
    Invalid(String),
    /// The broker address did not resolve.
    #[error("cannot resolve {0}")]
    Resolve(String),
    /// TCP connect failed.
    #[error("cannot connect to {0}: {1}")]
    Connect(SocketAddr, std::io::Error),
    /// A socket or thread error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The broker refused the connection or a subscription.
    #[error("refused by the broker: {0}")]
    Refused(String),
    /// The connection closed during setup.
    #[error("connection closed during setup: {0}")]
    Closed(String),
    /// The session refused a command.
    #[error("session error: {0}")]
    Session(String),
    /// Setup took too long.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

/// Runs one scenario and returns its report.
///
/// # Errors
/// Invalid arguments, or when the clients cannot be set up (connect, CONNACK, SUBACK).
/// Problems during the run itself (loss, closed connections) are in
/// [`Report::problems`].
pub async fn run(args: Args) -> Result<Report, BenchError> {
    if !(args.duration > 0.0 && args.duration.is_finite()) {
        return Err(BenchError::Invalid("--duration must be positive".into()));
    }
    if !(args.warmup >= 0.0 && args.warmup.is_finite()) {
        return Err(BenchError::Invalid("--warmup must be 0 or more".into()));
    }
    if args.size < track::HEADER {
        return Err(BenchError::Invalid(format!(
            "--size must be at least {} bytes",
            track::HEADER
        )));
    }
    let addr = (args.host.as_str(), args.port)
        .to_socket_addrs()
        .map_err(|e| BenchError::Resolve(format!("{}:{}: {e}", args.host, args.port)))?
        .next()
        .ok_or_else(|| BenchError::Resolve(format!("{}:{}", args.host, args.port)))?;
    match args.mode {
        Mode::Fanin => {
            if args.publishers == 0 {
                return Err(BenchError::Invalid(
                    "--publishers must be at least 1".into(),
                ));
            }
            traffic_run(&args, addr, args.publishers, 1, args.rate).await
        }
        Mode::Fanout => {
            if args.subscribers == 0 {
                return Err(BenchError::Invalid(
                    "--subscribers must be at least 1".into(),
                ));
            }
            traffic_run(&args, addr, 1, args.subscribers, args.rate).await
        }
        Mode::Latency => {
            if args.rate == 0 {
                return Err(BenchError::Invalid("latency mode needs --rate".into()));
            }
            traffic_run(&args, addr, 1, 1, args.rate).await
        }
        Mode::Connections => connections_run(&args, addr).await,
    }
}

fn qos(n: u8) -> QoS {
    match n {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

fn connect_packet(args: &Args, client_id: String) -> Result<Connect, BenchError> {
    let id = MqttString::try_from(client_id).map_err(|e| BenchError::Invalid(e.to_string()))?;
    let mut connect = Connect::new(args.protocol.version(), id);
    connect.keep_alive = args.keep_alive;
    Ok(connect)
}

/// Unique per run on this machine: the process id and the clock.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{nanos:x}", std::process::id())
}

fn broker_cpu(args: &Args) -> Option<f64> {
    report::process_cpu_seconds(&args.broker_pid?.to_string())
}

fn broker_usage(
    before: Option<f64>,
    after: Option<f64>,
    wall: Duration,
    throughput: Option<f64>,
) -> Option<BrokerCpu> {
    let cpu_s = after? - before?;
    let wall_s = wall.as_secs_f64();
    Some(BrokerCpu {
        cpu_s,
        cores_used: if wall_s > 0.0 { cpu_s / wall_s } else { 0.0 },
        deliveries_per_cpu_s: throughput
            .filter(|_| cpu_s > 0.0)
            .map(|t| t * wall_s / cpu_s),
    })
}

fn client_id(args: &Args, role: &str, i: usize) -> String {
    format!(
        "bench-{}-{}-{role}{i}",
        args.mode.name(),
        std::process::id()
    )
}

fn empty_report(args: &Args, addr: SocketAddr, publishers: usize, subscribers: usize) -> Report {
    Report {
        mode: args.mode.name(),
        broker: addr.to_string(),
        protocol: args.protocol.name(),
        qos: args.qos,
        size: args.size,
        duration_s: args.duration,
        warmup_s: args.warmup,
        rate: args.rate,
        backlog: args.backlog,
        inflight: args.inflight,
        publishers,
        subscribers,
        traffic: None,
        latency: None,
        connections: None,
        generator: Generator::new(0.0, Duration::ZERO, cores()),
        broker_cpu: None,
        problems: Vec::new(),
    }
}

async fn open_subscriber(
    addr: SocketAddr,
    connect: Connect,
    filter: TopicFilter,
    qos: QoS,
) -> Result<Conn, BenchError> {
    let (mut conn, _) = Conn::open(
        addr,
        connect,
        ClientConfig::default(),
        64 * 1024,
        OPEN_TIMEOUT,
    )
    .await?;
    let now = Instant::now();
    let packet_id = conn
        .session
        .subscribe(
            now,
            vec![(filter, SubscriptionOptions::new(qos))],
            SubscribeProperties::default(),
        )
        .map_err(|e| BenchError::Session(e.to_string()))?;
    conn.collect(now);
    let wait_suback = async {
        loop {
            conn.try_flush().map_err(BenchError::Io)?;
            let ready = conn.ready().await.map_err(BenchError::Io)?;
            conn.on_ready(Instant::now(), ready)
                .map_err(BenchError::Io)?;
            while let Some(event) = conn.session.poll_event() {
                match event {
                    ClientEvent::SubAck(ack) if ack.packet_id == packet_id => {
                        if let Some(code) = ack.reason_codes.iter().find(|c| c.is_error()) {
                            return Err(BenchError::Refused(format!("SUBACK {code:?}")));
                        }
                        return Ok(());
                    }
                    ClientEvent::Closed { reason } => {
                        return Err(BenchError::Closed(format!("{reason:?}")));
                    }
                    _ => {}
                }
            }
        }
    };
    tokio::time::timeout(OPEN_TIMEOUT, wait_suback)
        .await
        .map_err(|_| BenchError::Timeout("SUBACK"))??;
    Ok(conn)
}

async fn join_all<T: 'static>(
    mut set: JoinSet<Result<T, BenchError>>,
) -> Result<Vec<T>, BenchError> {
    let mut out = Vec::with_capacity(set.len());
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(v)) => out.push(v),
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(BenchError::Session(format!("setup task failed: {e}"))),
        }
    }
    Ok(out)
}

/// Fan-in, fan-out and latency: `publishers` -> `subscribers`, every subscriber receiving
/// every publisher.
async fn traffic_run(
    args: &Args,
    addr: SocketAddr,
    publishers: usize,
    subscribers: usize,
    rate: u64,
) -> Result<Report, BenchError> {
    let qos = qos(args.qos);
    // A level of its own per run, so that what a broker still holds from an earlier run
    // (a publisher's unread bytes) never reaches this run's subscribers.
    let prefix = format!("{}/{}", args.topic, run_id());
    let filter_text = if publishers > 1 {
        format!("{prefix}/+")
    } else {
        format!("{prefix}/0")
    };
    let filter = TopicFilter::new(
        MqttString::try_from(filter_text).map_err(|e| BenchError::Invalid(e.to_string()))?,
    )
    .map_err(|e| BenchError::Invalid(format!("--topic: {e}")))?;

    let mut set = JoinSet::new();
    for i in 0..subscribers {
        let connect = connect_packet(args, client_id(args, "sub", i))?;
        set.spawn(open_subscriber(addr, connect, filter.clone(), qos));
    }
    let sub_conns = join_all(set).await?;

    let config = ClientConfig {
        max_inflight: args.inflight.max(1),
        max_queued: usize::from(args.inflight) + 1024,
        ..ClientConfig::default()
    };
    let mut set = JoinSet::new();
    let mut topics = Vec::with_capacity(publishers);
    for i in 0..publishers {
        let connect = connect_packet(args, client_id(args, "pub", i))?;
        let topic = MqttString::try_from(format!("{prefix}/{i}"))
            .ok()
            .and_then(|s| TopicName::new(s).ok())
            .ok_or_else(|| BenchError::Invalid("--topic is not a valid topic name".into()))?;
        topics.push(topic);
        let config = config.clone();
        set.spawn(async move {
            Conn::open(addr, connect, config, 16 * 1024, OPEN_TIMEOUT)
                .await
                .map(|(c, _)| (i, c))
        });
    }
    let mut pub_conns = join_all(set).await?;
    pub_conns.sort_by_key(|(i, _)| *i);

    let t0 = Instant::now();
    let measure_from = t0 + Duration::from_secs_f64(args.warmup);
    let end = measure_from + Duration::from_secs_f64(args.duration);
    let ctx = Arc::new(Ctx {
        t0,
        measure_from,
        end,
        qos,
        size: args.size,
        window: usize::from(args.inflight.max(1)),
        drain: DRAIN,
        backlog: args.backlog,
        subscribers: subscribers as u64,
        published: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
    });
    let slots: Vec<Arc<Slot>> = (0..publishers).map(|_| Arc::default()).collect();
    let pacer = if rate > 0 {
        Some(traffic::spawn_pacer(slots.clone(), rate, t0, end).map_err(BenchError::Io)?)
    } else {
        None
    };

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut subs = JoinSet::new();
    for conn in sub_conns {
        subs.spawn(traffic::subscriber(
            conn,
            Arc::clone(&ctx),
            publishers,
            stop_rx.clone(),
        ));
    }
    let mut pubs = JoinSet::new();
    for ((i, conn), (topic, slot)) in pub_conns.into_iter().zip(topics.into_iter().zip(slots)) {
        let slot = (rate > 0).then_some(slot);
        pubs.spawn(traffic::publisher(conn, i, topic, Arc::clone(&ctx), slot));
    }

    tokio::time::sleep_until(measure_from.into()).await;
    let cpu0 = report::cpu_seconds();
    let broker0 = broker_cpu(args);
    let wall0 = Instant::now();
    tokio::time::sleep_until(end.into()).await;
    let cpu1 = report::cpu_seconds();
    let broker1 = broker_cpu(args);
    let wall = wall0.elapsed();

    let mut problems = Vec::new();
    let mut pub_results: Vec<PubResult> = Vec::new();
    while let Some(joined) = pubs.join_next().await {
        match joined {
            Ok(r) => pub_results.push(r),
            Err(e) => problems.push(format!("publisher task failed: {e}")),
        }
    }
    pub_results.sort_by_key(|r| r.index);
    if let Some(p) = pacer {
        let _ = tokio::task::spawn_blocking(move || p.join()).await;
    }
    let sent: u64 = pub_results.iter().map(|r| r.sent).sum();
    let expected = sent * subscribers as u64;
    wait_for_deliveries(&ctx.delivered, expected).await;
    let drain_s = end.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let mut sub_results: Vec<SubResult> = Vec::new();
    while let Some(joined) = subs.join_next().await {
        match joined {
            Ok(r) => sub_results.push(r),
            Err(e) => problems.push(format!("subscriber task failed: {e}")),
        }
    }

    let mut report = empty_report(args, addr, publishers, subscribers);
    if let (Some(a), Some(b)) = (cpu0, cpu1) {
        report.generator = Generator::new(b - a, wall, cores());
    }
    let (traffic, latency) = summarize(&pub_results, &sub_results, args.duration, &mut problems);
    if qos != QoS::AtMostOnce && traffic.lost > 0 {
        problems.insert(
            0,
            format!(
                "LOSS at QoS {}: {} of {} expected deliveries never arrived",
                args.qos, traffic.lost, traffic.expected
            ),
        );
    }
    report.broker_cpu = broker_usage(broker0, broker1, wall, Some(traffic.throughput));
    report.traffic = Some(Traffic { drain_s, ..traffic });
    report.latency = latency;
    report.problems = problems;
    Ok(report)
}

/// Waits until `expected` deliveries arrived, or nothing arrived for [`QUIET`], or
/// [`DRAIN`] passed.
async fn wait_for_deliveries(progress: &AtomicU64, expected: u64) {
    let start = Instant::now();
    let mut last = progress.load(Ordering::Relaxed);
    let mut last_change = start;
    while start.elapsed() < DRAIN {
        let now_count = progress.load(Ordering::Relaxed);
        if now_count >= expected {
            return;
        }
        if now_count != last {
            last = now_count;
            last_change = Instant::now();
        } else if last_change.elapsed() >= QUIET {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn summarize(
    pubs: &[PubResult],
    subs: &[SubResult],
    duration: f64,
    problems: &mut Vec<String>,
) -> (Traffic, Option<Latency>) {
    let mut histogram = track::histogram();
    let mut t = Traffic {
        sent: 0,
        acked: 0,
        expected: 0,
        received: 0,
        lost: 0,
        lost_tail: 0,
        duplicates: 0,
        out_of_order: 0,
        malformed: 0,
        publish_rate: 0.0,
        throughput: 0.0,
        behind_schedule: 0,
        drain_s: 0.0,
    };
    let mut sent_in_window = 0;
    for p in pubs {
        let i = p.index;
        t.sent += p.sent;
        t.acked += p.acked;
        t.behind_schedule += p.behind;
        sent_in_window += p.sent_in_window;
        if let Some(e) = &p.error {
            problems.push(format!("publisher {i}: {e}"));
        }
        if p.dropped > 0 {
            problems.push(format!(
                "publisher {i}: {} messages dropped or refused",
                p.dropped
            ));
        }
    }
    // Publisher `i` is stream `i` of every subscriber.
    let mut sent_by = vec![0; pubs.iter().map(|p| p.index + 1).max().unwrap_or(0)];
    for p in pubs {
        if let Some(s) = sent_by.get_mut(p.index) {
            *s = p.sent;
        }
    }
    let mut in_window = 0;
    for (i, s) in subs.iter().enumerate() {
        t.received += s.received;
        t.malformed += s.malformed;
        in_window += s.in_window;
        for (stream, sent) in s.streams.iter().zip(&sent_by) {
            t.expected += sent;
            let (gaps, tail) = stream.missing(*sent);
            t.lost += gaps + tail;
            t.lost_tail += tail;
            t.duplicates += stream.duplicates;
            t.out_of_order += stream.out_of_order;
        }
        if histogram.add(&s.histogram).is_err() {
            problems.push("latency histograms could not be merged".into());
        }
        if let Some(e) = &s.error {
            problems.push(format!("subscriber {i}: {e}"));
        }
    }
    #[allow(clippy::cast_precision_loss)]
    {
        t.publish_rate = sent_in_window as f64 / duration;
        t.throughput = in_window as f64 / duration;
    }
    (t, track::latency(&histogram))
}

/// Connections mode: opens `--count` idle connections, holds them for `--duration`.
async fn connections_run(args: &Args, addr: SocketAddr) -> Result<Report, BenchError> {
    let rss_before = args.broker_pid.and_then(report::rss_kib);
    let cpu0 = report::cpu_seconds();
    let wall0 = Instant::now();
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let (opened_tx, mut opened_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let closed = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for i in 0..args.count {
        let connect = connect_packet(args, client_id(args, "idle", i))?;
        tasks.spawn(idle(
            addr,
            connect,
            Arc::clone(&gate),
            opened_tx.clone(),
            stop_rx.clone(),
            Arc::clone(&closed),
        ));
    }
    drop(opened_tx);
    let mut succeeded = 0usize;
    let mut errors: Vec<String> = Vec::new();
    let mut failed = 0usize;
    while let Some(result) = opened_rx.recv().await {
        match result {
            Ok(()) => succeeded += 1,
            Err(e) => {
                failed += 1;
                if errors.len() < 3 {
                    errors.push(e);
                }
            }
        }
    }
    let connect_s = wall0.elapsed().as_secs_f64();
    // Let the broker finish its per-connection work before reading its RSS.
    tokio::time::sleep(Duration::from_secs(1).min(Duration::from_secs_f64(args.duration))).await;
    let rss_after = args.broker_pid.and_then(report::rss_kib);
    let broker0 = broker_cpu(args);
    let hold0 = Instant::now();
    let hold_end = wall0 + Duration::from_secs_f64(connect_s + args.duration);
    tokio::time::sleep_until(hold_end.into()).await;
    let open_at_end = succeeded
        .saturating_sub(usize::try_from(closed.load(Ordering::Relaxed)).unwrap_or(usize::MAX));
    let cpu1 = report::cpu_seconds();
    let broker1 = broker_cpu(args);
    let hold = hold0.elapsed();
    let wall = wall0.elapsed();
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}

    let mut report = empty_report(args, addr, 0, 0);
    report.broker_cpu = broker_usage(broker0, broker1, hold, None);
    if let (Some(a), Some(b)) = (cpu0, cpu1) {
        report.generator = Generator::new(b - a, wall, cores());
    }
    #[allow(clippy::cast_precision_loss)]
    let bytes_per_connection = match (rss_before, rss_after) {
        (Some(b), Some(a)) if succeeded > 0 => {
            Some((a as f64 - b as f64) * 1024.0 / succeeded as f64)
        }
        _ => None,
    };
    report.connections = Some(Connections {
        requested: args.count,
        succeeded,
        open_at_end,
        connect_s,
        rss_before_kib: rss_before,
        rss_after_kib: rss_after,
        bytes_per_connection,
    });
    if failed > 0 {
        report.problems.push(format!(
            "{failed} of {} connections failed, first errors: {}",
            args.count,
            errors.join("; ")
        ));
    }
    if open_at_end < succeeded {
        report.problems.push(format!(
            "{} connections closed by the broker while idle",
            succeeded - open_at_end
        ));
    }
    Ok(report)
}

/// One idle connection: opens (at most [`CONNECT_CONCURRENCY`] at once), reports, then
/// answers keep alive until `stop`.
async fn idle(
    addr: SocketAddr,
    connect: Connect,
    gate: Arc<Semaphore>,
    opened: mpsc::UnboundedSender<Result<(), String>>,
    mut stop: watch::Receiver<bool>,
    closed: Arc<AtomicU64>,
) {
    let permit = gate.acquire_owned().await;
    let result = Conn::open(addr, connect, ClientConfig::default(), 256, OPEN_TIMEOUT).await;
    drop(permit);
    let mut conn = match result {
        Ok((conn, _)) => {
            let _ = opened.send(Ok(()));
            conn
        }
        Err(e) => {
            let _ = opened.send(Err(e.to_string()));
            return;
        }
    };
    drop(opened);
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            ready = conn.ready() => {
                let open = ready.and_then(|r| conn.on_ready(Instant::now(), r));
                if !matches!(open, Ok(true)) || closed_event(&mut conn) {
                    closed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
            () = sleep_opt(conn.deadline()) => {
                if conn.on_timeout().is_err() || closed_event(&mut conn) {
                    closed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
    }
    conn.close(Duration::from_secs(5)).await;
}

/// Drains the events of an idle connection; true if it closed.
fn closed_event(conn: &mut Conn) -> bool {
    let mut closed = false;
    while let Some(event) = conn.session.poll_event() {
        closed |= matches!(event, ClientEvent::Closed { .. });
    }
    closed
}

#[cfg(test)]
mod tests;
