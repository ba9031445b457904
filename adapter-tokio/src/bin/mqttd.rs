//! `mqttd`: the MQTT broker.
//!
//! With no arguments it serves MQTT over TCP on 127.0.0.1:1883, allows anonymous clients and
//! keeps sessions in memory. See `mqttd --help` and `docs/mqttd.example.toml`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use adapter_tokio::config::{Config, Listener, ListenerKind};
use adapter_tokio::server::Server;
use clap::Parser;

/// The MQTT broker (MQTT 3.1, 3.1.1 and 5.0 over TCP, TLS and WebSocket).
#[derive(Debug, Parser)]
#[command(name = "mqttd", version)]
struct Args {
    /// TOML configuration file (every key optional; see docs/mqttd.example.toml).
    #[arg(short, long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Address every listener binds (default 127.0.0.1; 0.0.0.0 opens it to the network).
    #[arg(short, long, value_name = "IP")]
    bind: Option<IpAddr>,
    /// Port of the plain TCP listener (default 1883).
    #[arg(short, long)]
    port: Option<u16>,
    /// Listeners, replacing those of the file: `tcp://IP:PORT`, `ws://IP:PORT/path`,
    /// `tls://IP:PORT`, `wss://IP:PORT/path` (TLS kinds use --cert and --key). Repeatable.
    #[arg(short, long, value_name = "URL")]
    listen: Vec<String>,
    /// PEM certificate chain for the TLS listeners given with --listen.
    #[arg(long, value_name = "PATH")]
    cert: Option<PathBuf>,
    /// PEM private key for the TLS listeners given with --listen.
    #[arg(long, value_name = "PATH")]
    key: Option<PathBuf>,
    /// Refuse clients that give no user name.
    #[arg(long)]
    no_anonymous: bool,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = match configure(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mqttd: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        println!("configuration ok");
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mqttd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> ExitCode {
    let server = match Server::bind(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mqttd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = server.shutdown_handle();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received");
        stop.shutdown();
    });
    server.run().await;
    ExitCode::SUCCESS
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// The file's configuration with the flags applied over it.
fn configure(args: &Args) -> Result<Config, String> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if !args.listen.is_empty() {
        config.listeners = args
            .listen
            .iter()
            .map(|url| parse_listen(url, args))
            .collect::<Result<_, _>>()?;
    }
    if config.listeners.is_empty() {
        config.listeners = config.effective_listeners();
    }
    if let Some(port) = args.port {
        let tcp = config
            .listeners
            .iter_mut()
            .find(|l| l.kind == ListenerKind::Tcp)
            .ok_or("--port: no TCP listener is configured")?;
        let ip = tcp.addr().ip();
        tcp.bind = Some(SocketAddr::new(ip, port));
    }
    if let Some(ip) = args.bind {
        for l in &mut config.listeners {
            l.bind = Some(SocketAddr::new(ip, l.addr().port()));
        }
    }
    if args.no_anonymous {
        config.auth.allow_anonymous = false;
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

fn parse_listen(url: &str, args: &Args) -> Result<Listener, String> {
    let bad = |why: &str| format!("--listen {url}: {why}");
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected KIND://IP:PORT"))?;
    let kind = match scheme {
        "tcp" | "mqtt" => ListenerKind::Tcp,
        "tls" | "mqtts" => ListenerKind::Tls,
        "ws" => ListenerKind::Ws,
        "wss" => ListenerKind::Wss,
        _ => return Err(bad("the kind is one of tcp, tls, ws, wss")),
    };
    let (addr, path) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(rest[i..].to_owned())),
        None => (rest, None),
    };
    let addr: SocketAddr = addr.parse().map_err(|e| bad(&format!("{e}")))?;
    let mut l = Listener::new(kind, addr);
    if kind.is_ws() {
        l.path = path;
    } else if path.is_some() {
        return Err(bad("only WebSocket listeners have a path"));
    }
    if kind.is_tls() {
        l.cert = Some(args.cert.clone().ok_or_else(|| bad("TLS needs --cert"))?);
        l.key = Some(args.key.clone().ok_or_else(|| bad("TLS needs --key"))?);
    }
    Ok(l)
}
