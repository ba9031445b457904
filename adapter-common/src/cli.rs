//! The command line of the broker binaries (`mqttd` on tokio, `mqttd-smol`): flags that
//! override the configuration file.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::config::{Config, Listener, ListenerKind};

/// The MQTT broker (MQTT 3.1, 3.1.1 and 5.0 over TCP, TLS and WebSocket).
#[derive(Debug, Clone, clap::Parser)]
#[command(version)]
pub struct Args {
    /// TOML configuration file (every key optional; see docs/mqttd.example.toml).
    #[arg(short, long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Address every listener binds (default 127.0.0.1; 0.0.0.0 opens it to the network).
    #[arg(short, long, value_name = "IP")]
    pub bind: Option<IpAddr>,
    /// Port of the plain TCP listener (default 1883).
    #[arg(short, long)]
    pub port: Option<u16>,
    /// Listeners, replacing those of the file: `tcp://IP:PORT`, `ws://IP:PORT/path`,
    /// `tls://IP:PORT`, `wss://IP:PORT/path` (TLS kinds use --cert and --key). Repeatable.
    #[arg(short, long, value_name = "URL")]
    pub listen: Vec<String>,
    /// PEM certificate chain for the TLS listeners given with --listen.
    #[arg(long, value_name = "PATH")]
    pub cert: Option<PathBuf>,
    /// PEM private key for the TLS listeners given with --listen.
    #[arg(long, value_name = "PATH")]
    pub key: Option<PathBuf>,
    /// Refuse clients that give no user name.
    #[arg(long)]
    pub no_anonymous: bool,
    /// Check the configuration and exit.
    #[arg(long)]
    pub check: bool,
}

/// The file's configuration with the flags applied over it.
///
/// # Errors
/// A message naming the bad flag, key or value.
pub fn configure(args: &Args) -> Result<Config, String> {
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

/// Structured logs to stderr; `RUST_LOG` sets the filter (default `info`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}

impl Args {
    /// Parses the process's arguments, naming the program `name` in help and errors (exits
    /// with a usage message on bad flags, as command-line tools do).
    #[must_use]
    pub fn parse_from_env(name: &'static str) -> Self {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Self::command().name(name).get_matches();
        match Self::from_arg_matches(&matches) {
            Ok(args) => args,
            Err(e) => e.exit(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(flags: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("mqttd").chain(flags.iter().copied())).unwrap()
    }

    #[test]
    fn no_flags_give_the_local_default_listener() {
        let c = configure(&args(&[])).unwrap();
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.listeners[0].addr(), "127.0.0.1:1883".parse().unwrap());
    }

    #[test]
    fn bind_and_port_override_the_tcp_listener() {
        let c = configure(&args(&["--bind", "0.0.0.0", "--port", "1999"])).unwrap();
        assert_eq!(c.listeners[0].addr(), "0.0.0.0:1999".parse().unwrap());
    }

    #[test]
    fn listen_urls_replace_the_listeners() {
        let c = configure(&args(&[
            "--listen",
            "tcp://127.0.0.1:0",
            "--listen",
            "ws://127.0.0.1:9001/mq",
        ]))
        .unwrap();
        assert_eq!(c.listeners.len(), 2);
        assert_eq!(c.listeners[1].kind, ListenerKind::Ws);
        assert_eq!(c.listeners[1].ws_path(), "/mq");
        let e = configure(&args(&["--listen", "tls://127.0.0.1:0"])).unwrap_err();
        assert!(e.contains("--cert"), "{e}");
        let e = configure(&args(&["--listen", "quic://127.0.0.1:0"])).unwrap_err();
        assert!(e.contains("tcp, tls, ws, wss"), "{e}");
    }

    #[test]
    fn no_anonymous_switches_anonymous_access_off() {
        let c = configure(&args(&["--no-anonymous"])).unwrap();
        assert!(!c.auth.allow_anonymous);
    }
}
