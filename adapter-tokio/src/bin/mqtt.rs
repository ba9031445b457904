//! `mqtt`: publish and subscribe from the command line.
//!
//! `mqtt pub` and `mqtt sub` take the flags of mosquitto_pub and mosquitto_sub where they
//! make sense (`-h -p -t -m -q -r -i -u -P -V -k -c -v -C -W ...`). Exit status: 0 on
//! success, 1 with a message on stderr on failure (connection, refused subscription,
//! undelivered message), 27 when `sub -W` times out (as mosquitto_sub).

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use adapter_tokio::client::{Client, ClientBuilder, Event, Events, PublishHandle, Transport};
use bytes::Bytes;
use clap::{ArgAction, Args, Parser, Subcommand};
use futures_util::StreamExt;
use mqtt_proto::{ProtocolVersion, QoS};
use tokio::sync::mpsc;

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;

/// Exit status of `sub` when `-W` expires (mosquitto's MOSQ_ERR_TIMEOUT).
const TIMED_OUT: u8 = 27;
/// Publications awaited at most at once with `pub -l`.
const MAX_OUTSTANDING: usize = 1024;

#[derive(Parser)]
#[command(name = "mqtt", version, about = "MQTT command-line client")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Publish messages (like mosquitto_pub).
    #[command(disable_help_flag = true)]
    Pub(PubArgs),
    /// Subscribe and print messages (like mosquitto_sub).
    #[command(disable_help_flag = true)]
    Sub(SubArgs),
    /// Load generator: fan-in, fan-out, latency and idle connections against a broker.
    #[command(disable_help_flag = true)]
    Bench(adapter_tokio::bench::Args),
}

/// Connection options shared by every subcommand.
#[derive(Args)]
struct ConnectArgs {
    /// Broker host.
    #[arg(short = 'h', long, default_value = "localhost")]
    host: String,
    /// Broker port [default: 1883, or 8883 with TLS].
    #[arg(short = 'p', long)]
    port: Option<u16>,
    /// Broker URL (mqtt://, mqtts://, ws://, wss://), instead of -h and -p.
    #[arg(short = 'L', long)]
    url: Option<String>,
    /// Client identifier [default: mqtt-pub-PID or mqtt-sub-PID].
    #[arg(short = 'i', long = "id")]
    id: Option<String>,
    /// User name.
    #[arg(short = 'u', long)]
    username: Option<String>,
    /// Password.
    #[arg(short = 'P', long = "pw")]
    password: Option<String>,
    /// Protocol version: 5, 311 or 31 (also mqttv5, mqttv311, mqttv31).
    #[arg(short = 'V', long = "protocol-version", default_value = "311", value_parser = parse_version)]
    version: ProtocolVersion,
    /// Keep alive in seconds (0 disables it).
    #[arg(short = 'k', long, default_value_t = 60)]
    keepalive: u16,
    /// Keep the session when disconnecting (no clean session); needs -i.
    #[arg(short = 'c', long = "disable-clean-session")]
    persistent: bool,
    /// Session expiry interval in seconds (5.0) [default with -c: never].
    #[arg(short = 'x', long = "session-expiry-interval")]
    session_expiry: Option<u32>,
    /// Will topic.
    #[arg(long)]
    will_topic: Option<String>,
    /// Will payload.
    #[arg(long, requires = "will_topic")]
    will_payload: Option<String>,
    /// Will QoS.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    will_qos: u8,
    /// Retain the will.
    #[arg(long, requires = "will_topic")]
    will_retain: bool,
    /// CA certificates (PEM) to verify the broker with; enables TLS.
    #[arg(long)]
    cafile: Option<PathBuf>,
    /// Use TLS with the system's trusted certificates.
    #[arg(long)]
    tls_use_os_certs: bool,
    /// Client certificate chain (PEM); needs --key.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Client private key (PEM); needs --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Print debug messages.
    #[arg(short = 'd', long)]
    debug: bool,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
}

#[derive(Args)]
struct PubArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Topic to publish to.
    #[arg(short = 't', long)]
    topic: String,
    #[command(flatten)]
    payload: PayloadArgs,
    /// QoS.
    #[arg(short = 'q', long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    qos: u8,
    /// Retain the message.
    #[arg(short = 'r', long)]
    retain: bool,
}

/// Where the payload comes from: exactly one of these.
#[derive(Args)]
#[group(required = true, multiple = false)]
struct PayloadArgs {
    /// The message.
    #[arg(short = 'm', long)]
    message: Option<String>,
    /// Send the contents of a file as the message.
    #[arg(short = 'f', long)]
    file: Option<PathBuf>,
    /// Send an empty message.
    #[arg(short = 'n', long = "null-message")]
    null: bool,
    /// Send each line of standard input as a message (blank lines are skipped).
    #[arg(short = 'l', long = "stdin-line")]
    lines: bool,
    /// Send all of standard input as one message.
    #[arg(short = 's', long = "stdin-file")]
    stdin: bool,
}

#[derive(Args)]
struct SubArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Topic filter to subscribe to (repeatable).
    #[arg(short = 't', long, required = true)]
    topic: Vec<String>,
    /// QoS of the subscriptions.
    #[arg(short = 'q', long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    qos: u8,
    /// Print the topic before each payload.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Exit after this many messages.
    #[arg(short = 'C', long)]
    count: Option<u64>,
    /// Exit (status 27) after this many seconds.
    #[arg(short = 'W', long)]
    timeout: Option<u64>,
}

/// Runs the load generator and prints its report (one JSON line with `--json`).
async fn bench(args: adapter_tokio::bench::Args) -> Result<ExitCode> {
    let json = args.json;
    let report = adapter_tokio::bench::run(args).await?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Pub(args) => publish(args).await,
        Command::Sub(args) => subscribe(args).await,
        Command::Bench(args) => bench(args).await,
    };
    result.unwrap_or_else(|e| {
        eprintln!("Error: {e}");
        ExitCode::FAILURE
    })
}

fn parse_version(s: &str) -> Result<ProtocolVersion, String> {
    match s.trim_start_matches("mqttv") {
        "5" => Ok(ProtocolVersion::V5),
        "311" => Ok(ProtocolVersion::V3_1_1),
        "31" => Ok(ProtocolVersion::V3_1),
        _ => Err(format!(
            "unknown protocol version {s:?} (expected 5, 311 or 31)"
        )),
    }
}

fn qos(level: u8) -> QoS {
    QoS::from_u8(level).unwrap_or(QoS::AtMostOnce)
}

impl ConnectArgs {
    fn transport(&self) -> Result<Transport> {
        let ca = self.cafile.as_deref();
        let client_cert = self.cert.as_deref().zip(self.key.as_deref());
        if let Some(url) = &self.url {
            return Ok(Transport::from_url(url, ca, client_cert)?);
        }
        let tls = ca.is_some() || client_cert.is_some() || self.tls_use_os_certs;
        Ok(if tls {
            Transport::tls(&self.host, self.port.unwrap_or(8883), ca, client_cert)?
        } else {
            Transport::tcp(&self.host, self.port.unwrap_or(1883))
        })
    }

    /// Where the broker is, for messages.
    fn target(&self) -> String {
        match (&self.url, self.port) {
            (Some(url), _) => url.clone(),
            (None, Some(port)) => format!("{}:{port}", self.host),
            (None, None) => self.host.clone(),
        }
    }

    /// Connects; the error names the broker.
    async fn connect(&self, role: &str) -> Result<(Client, Events)> {
        let builder = self.builder(role)?;
        let connected = builder.connect().await;
        connected.map_err(|e| format!("cannot connect to {}: {e}", self.target()).into())
    }

    /// The client options; also turns on debug logging with `-d`.
    fn builder(&self, role: &str) -> Result<ClientBuilder> {
        if self.debug {
            tracing_subscriber::fmt()
                .with_env_filter("debug")
                .with_writer(std::io::stderr)
                .init();
        }
        if self.persistent && self.id.is_none() {
            return Err("-c (no clean session) needs a client id (-i)".into());
        }
        let id = match &self.id {
            Some(id) => id.clone(),
            None => format!("mqtt-{role}-{}", std::process::id()),
        };
        let mut builder = Client::builder(self.transport()?)
            .protocol(self.version)
            .client_id(id)
            .clean_start(!self.persistent)
            .keep_alive(Duration::from_secs(self.keepalive.into()));
        let expiry = match self.session_expiry {
            None if self.persistent => Some(u32::MAX),
            expiry => expiry,
        };
        if let Some(expiry) = expiry.filter(|_| self.version.is_v5()) {
            builder = builder.session_expiry(expiry);
        }
        if let Some(user) = &self.username {
            builder = builder.username(user.as_str());
        }
        if let Some(password) = &self.password {
            builder = builder.password(password.clone());
        }
        if let Some(topic) = &self.will_topic {
            let payload = self.will_payload.clone().unwrap_or_default();
            builder = builder.will(
                topic.as_str(),
                payload,
                qos(self.will_qos),
                self.will_retain,
            );
        }
        Ok(builder)
    }
}

async fn publish(args: PubArgs) -> Result<ExitCode> {
    let p = args.payload;
    // A single payload is read before connecting: a bad path costs no connection, and
    // blocking on the file is harmless while nothing else runs.
    let single = match (p.message, p.file) {
        _ if p.lines => None,
        (Some(message), _) => Some(Bytes::from(message)),
        (None, Some(file)) => Some(
            std::fs::read(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?
                .into(),
        ),
        (None, None) if p.stdin => Some(read_stdin().await?),
        (None, None) => Some(Bytes::new()),
    };
    let (client, _events) = args.connect.connect("pub").await?;
    let (topic, qos, retain) = (args.topic.as_str(), qos(args.qos), args.retain);
    if let Some(payload) = single {
        delivered(client.publish(topic, qos, retain, payload).await?).await?;
    } else {
        let mut lines = stdin_lines();
        let mut outstanding = std::collections::VecDeque::new();
        while let Some(line) = lines.recv().await {
            let line = line?;
            if line.is_empty() {
                continue;
            }
            if outstanding.len() >= MAX_OUTSTANDING
                && let Some(oldest) = outstanding.pop_front()
            {
                delivered(oldest).await?;
            }
            outstanding.push_back(client.publish(topic, qos, retain, line).await?);
        }
        for handle in outstanding {
            delivered(handle).await?;
        }
    }
    client.disconnect().await;
    Ok(ExitCode::SUCCESS)
}

/// Waits for a publication and turns a refusal into an error.
async fn delivered(handle: PublishHandle) -> Result<()> {
    let outcome = handle.await?;
    if outcome.is_success() {
        Ok(())
    } else {
        Err(format!("the broker refused the message: {}", outcome.reason_code).into())
    }
}

/// Standard input, line by line, from a thread (reading it blocks).
fn stdin_lines() -> mpsc::Receiver<std::io::Result<String>> {
    let (tx, rx) = mpsc::channel(MAX_OUTSTANDING);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            if tx.blocking_send(line).is_err() {
                return;
            }
        }
    });
    rx
}

async fn read_stdin() -> Result<Bytes> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = tx.send(std::io::Read::read_to_end(&mut std::io::stdin(), &mut all).map(|_| all));
    });
    Ok(rx.await.map_err(|_| "cannot read standard input")??.into())
}

async fn subscribe(args: SubArgs) -> Result<ExitCode> {
    let debug = args.connect.debug;
    let (client, mut events) = args.connect.connect("sub").await?;
    // Like mosquitto_sub, -W counts from the connection.
    let expiry = args
        .timeout
        .map(|secs| tokio::time::sleep(Duration::from_secs(secs)));
    for filter in &args.topic {
        let code = client.subscribe(filter, qos(args.qos)).await?;
        if code.is_error() {
            client.disconnect().await;
            return Err(format!("subscription to {filter} refused: {code}").into());
        }
    }
    let print = async {
        let mut received = 0;
        while let Some(event) = events.next().await {
            match event {
                Event::Message(m) => {
                    print_message(args.verbose, m.topic(), m.payload())?;
                    received += 1;
                    if args.count.is_some_and(|count| received >= count) {
                        break;
                    }
                }
                other if debug => eprintln!("{other:?}"),
                _ => {}
            }
        }
        Ok::<_, std::io::Error>(())
    };
    let expired = async {
        match expiry {
            Some(expiry) => expiry.await,
            None => std::future::pending().await,
        }
    };
    let status = tokio::select! {
        printed = print => printed.map(|()| ExitCode::SUCCESS)?,
        () = expired => {
            eprintln!("Timed out");
            ExitCode::from(TIMED_OUT)
        }
        _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
    };
    client.disconnect().await;
    Ok(status)
}

fn print_message(verbose: bool, topic: &str, payload: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if verbose {
        write!(out, "{topic} ")?;
    }
    out.write_all(payload)?;
    out.write_all(b"\n")?;
    out.flush()
}
