//! The broker's configuration: a TOML file, every key optional.
//!
//! With no file at all the broker listens for plain MQTT on `127.0.0.1:1883`, allows
//! anonymous clients and keeps sessions in memory. `docs/mqttd.example.toml` documents every
//! key. Unknown keys are errors that name the key, so a typo is never silently ignored.
//!
//! ```
//! let config = adapter_common::config::Config::from_toml_str(
//!     r#"
//!     [limits]
//!     max_queued_messages = 500
//!
//!     [[listener]]
//!     kind = "ws"
//!     bind = "0.0.0.0:8080"
//!     "#,
//! )
//! .unwrap();
//! assert_eq!(config.listeners.len(), 1);
//! assert_eq!(config.broker_config().max_queued_messages, 500);
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mqtt_broker_core::BrokerConfig;
use mqtt_proto::QoS;
use mqtt_session::ServerConfig;
use serde::Deserialize;

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed, a key is unknown or a value has the wrong type; the message
    /// names the key and the line.
    #[error("{origin}: {message}")]
    Parse {
        /// The file, or `<string>`.
        origin: String,
        /// What the TOML parser said.
        message: String,
    },
    /// A value is out of its range or the values contradict each other.
    #[error("{key}: {message}")]
    Invalid {
        /// The key, as written in the file (`listener[1].cert`).
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// The whole configuration of `mqttd`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where clients connect. Empty means one plain TCP listener on `127.0.0.1:1883`.
    #[serde(default, rename = "listener")]
    pub listeners: Vec<Listener>,
    /// Broker-wide limits and features.
    #[serde(default)]
    pub limits: Limits,
    /// Per-connection limits.
    #[serde(default)]
    pub connection: ConnectionLimits,
    /// Who may connect.
    #[serde(default)]
    pub auth: AuthConfig,
}

/// The transport a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerKind {
    /// MQTT over TCP (default port 1883).
    Tcp,
    /// MQTT over TLS (default port 8883).
    Tls,
    /// MQTT over WebSocket (path `/mqtt` by default).
    Ws,
    /// MQTT over WebSocket over TLS.
    Wss,
}

impl ListenerKind {
    /// Whether the listener needs a certificate.
    #[must_use]
    pub fn is_tls(self) -> bool {
        matches!(self, Self::Tls | Self::Wss)
    }

    /// Whether the listener speaks WebSocket.
    #[must_use]
    pub fn is_ws(self) -> bool {
        matches!(self, Self::Ws | Self::Wss)
    }

    /// The conventional port.
    #[must_use]
    pub fn default_port(self) -> u16 {
        match self {
            Self::Tcp => 1883,
            Self::Tls => 8883,
            Self::Ws => 8080,
            Self::Wss => 8081,
        }
    }
}

impl std::fmt::Display for ListenerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Tls => "tls",
            Self::Ws => "ws",
            Self::Wss => "wss",
        })
    }
}

/// One listening socket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// The transport.
    pub kind: ListenerKind,
    /// Address and port to listen on (port 0 lets the system choose). Default:
    /// `127.0.0.1` with the kind's conventional port.
    pub bind: Option<SocketAddr>,
    /// PEM certificate chain (TLS kinds).
    pub cert: Option<PathBuf>,
    /// PEM private key (TLS kinds).
    pub key: Option<PathBuf>,
    /// PEM CA bundle: client certificates are verified against it (TLS kinds).
    pub client_ca: Option<PathBuf>,
    /// Refuse clients without a valid certificate (needs `client_ca`).
    #[serde(default)]
    pub require_client_cert: bool,
    /// HTTP path of the WebSocket endpoint (WebSocket kinds). Default `/mqtt`.
    pub path: Option<String>,
}

impl Listener {
    /// A listener of `kind` on `bind` with no TLS files.
    #[must_use]
    pub fn new(kind: ListenerKind, bind: SocketAddr) -> Self {
        Self {
            kind,
            bind: Some(bind),
            cert: None,
            key: None,
            client_ca: None,
            require_client_cert: false,
            path: None,
        }
    }

    /// The address to bind.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.bind
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], self.kind.default_port())))
    }

    /// The WebSocket path.
    #[must_use]
    pub fn ws_path(&self) -> &str {
        self.path.as_deref().unwrap_or("/mqtt")
    }
}

/// Broker-wide limits; each maps to a [`BrokerConfig`] field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Highest QoS granted and accepted: 0, 1 or 2.
    pub max_qos: u8,
    /// Whether retained messages are supported.
    pub retain_available: bool,
    /// Whether wildcard subscriptions are allowed.
    pub wildcard_subscriptions: bool,
    /// Whether subscription identifiers are supported.
    pub subscription_identifiers: bool,
    /// Whether shared subscriptions are supported.
    pub shared_subscriptions: bool,
    /// Largest keep alive granted, in seconds (absent: any).
    pub max_keep_alive: Option<u16>,
    /// Longest session expiry granted, in seconds (absent: never expire).
    pub max_session_expiry: Option<u32>,
    /// Most messages queued per offline session.
    pub max_queued_messages: usize,
    /// Queue QoS 0 messages for offline persistent sessions too.
    pub queue_qos0_offline: bool,
    /// Most retained messages.
    pub max_retained: usize,
    /// Most connections at once.
    pub max_connections: usize,
    /// Seconds between `$SYS` statistics; 0 disables them.
    pub sys_interval: u64,
}

impl Default for Limits {
    fn default() -> Self {
        let d = BrokerConfig::default();
        Self {
            max_qos: d.max_qos as u8,
            retain_available: d.retain_available,
            wildcard_subscriptions: d.wildcard_subscriptions,
            subscription_identifiers: d.subscription_identifiers,
            shared_subscriptions: d.shared_subscriptions,
            max_keep_alive: d.max_keep_alive,
            max_session_expiry: (d.max_session_expiry != u32::MAX).then_some(d.max_session_expiry),
            max_queued_messages: d.max_queued_messages,
            queue_qos0_offline: d.queue_qos0_offline,
            max_retained: d.max_retained,
            max_connections: d.max_connections,
            sys_interval: d.sys_interval.map_or(0, |i| i.as_secs()),
        }
    }
}

/// Per-connection limits; most map to a [`ServerConfig`] field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionLimits {
    /// Largest packet accepted, in bytes (advertised to 5.0 clients).
    pub max_packet_size: u32,
    /// QoS 1/2 messages a client may have unacknowledged towards the broker.
    pub receive_maximum: u16,
    /// Highest topic alias a client may use (0: none).
    pub topic_alias_maximum: u16,
    /// Most QoS 1/2 messages in flight to one client.
    pub max_inflight: u16,
    /// Seconds a new connection has to complete its transport handshake and send CONNECT.
    pub connect_timeout: u64,
    /// Give topic aliases to 5.0 clients that allow them.
    pub outbound_topic_aliases: bool,
    /// Refuse the control characters and non-characters the specification discourages.
    pub strict_strings: bool,
    /// Bytes waiting to be written to one client above which QoS 0 messages to it are
    /// dropped (and counted) and its input is no longer read: a slow subscriber cannot grow
    /// the broker's memory without bound. QoS 1/2 messages wait in its session queue.
    pub max_write_buffer: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        let d = ServerConfig::default();
        Self {
            max_packet_size: d.max_packet_size,
            receive_maximum: d.receive_maximum,
            topic_alias_maximum: d.topic_alias_maximum,
            max_inflight: d.max_inflight,
            connect_timeout: d.connect_timeout.as_secs(),
            outbound_topic_aliases: d.outbound_topic_aliases,
            strict_strings: d.strict_strings,
            max_write_buffer: 1024 * 1024,
        }
    }
}

/// Who may connect.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Accept clients that give no user name.
    pub allow_anonymous: bool,
    /// User names and their passwords. A client giving a user name must give its password.
    pub users: std::collections::BTreeMap<String, String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            allow_anonymous: true,
            users: std::collections::BTreeMap::new(),
        }
    }
}

impl Config {
    /// Reads and checks a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::parse(text, "<string>")
    }

    fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges and combinations that the types alone do not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        if self.limits.max_qos > 2 {
            return invalid("limits.max_qos".into(), "must be 0, 1 or 2");
        }
        if self.connection.max_packet_size < 64 {
            return invalid("connection.max_packet_size".into(), "must be at least 64");
        }
        if self.connection.receive_maximum == 0 {
            return invalid("connection.receive_maximum".into(), "must be at least 1");
        }
        if self.connection.max_inflight == 0 {
            return invalid("connection.max_inflight".into(), "must be at least 1");
        }
        if self.connection.connect_timeout == 0 {
            return invalid("connection.connect_timeout".into(), "must be at least 1");
        }
        for (i, l) in self.listeners.iter().enumerate() {
            let key = |k: &str| format!("listener[{i}].{k}");
            if l.kind.is_tls() {
                if l.cert.is_none() {
                    return invalid(key("cert"), "a TLS listener needs a certificate chain");
                }
                if l.key.is_none() {
                    return invalid(key("key"), "a TLS listener needs a private key");
                }
            } else if l.cert.is_some() || l.key.is_some() || l.client_ca.is_some() {
                return invalid(key("kind"), "certificates given for a listener without TLS");
            }
            if l.require_client_cert && l.client_ca.is_none() {
                return invalid(
                    key("require_client_cert"),
                    "needs client_ca to verify the certificates against",
                );
            }
            if l.path.is_some() && !l.kind.is_ws() {
                return invalid(key("path"), "only WebSocket listeners have a path");
            }
            if let Some(p) = &l.path
                && !p.starts_with('/')
            {
                return invalid(key("path"), "must start with '/'");
            }
        }
        Ok(())
    }

    /// The listeners to open: those configured, or the default TCP one.
    #[must_use]
    pub fn effective_listeners(&self) -> Vec<Listener> {
        if self.listeners.is_empty() {
            vec![Listener::new(
                ListenerKind::Tcp,
                SocketAddr::from(([127, 0, 0, 1], 1883)),
            )]
        } else {
            self.listeners.clone()
        }
    }

    /// The broker core's configuration.
    #[must_use]
    #[allow(clippy::field_reassign_with_default)] // fields the file does not set keep the core's defaults
    pub fn broker_config(&self) -> BrokerConfig {
        let l = &self.limits;
        let mut b = BrokerConfig::default();
        b.max_qos = match l.max_qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        };
        b.retain_available = l.retain_available;
        b.wildcard_subscriptions = l.wildcard_subscriptions;
        b.subscription_identifiers = l.subscription_identifiers;
        b.shared_subscriptions = l.shared_subscriptions;
        b.max_keep_alive = l.max_keep_alive;
        b.max_session_expiry = l.max_session_expiry.unwrap_or(u32::MAX);
        b.max_queued_messages = l.max_queued_messages;
        b.queue_qos0_offline = l.queue_qos0_offline;
        b.max_retained = l.max_retained;
        b.max_connections = l.max_connections;
        b.sys_interval = (l.sys_interval > 0).then(|| Duration::from_secs(l.sys_interval));
        b
    }

    /// The configuration of each connection's protocol state machine.
    #[must_use]
    pub fn server_config(&self) -> ServerConfig {
        let c = &self.connection;
        ServerConfig {
            max_packet_size: c.max_packet_size,
            receive_maximum: c.receive_maximum,
            topic_alias_maximum: c.topic_alias_maximum,
            max_inflight: c.max_inflight,
            max_queued: self.limits.max_queued_messages,
            connect_timeout: Duration::from_secs(c.connect_timeout),
            outbound_topic_aliases: c.outbound_topic_aliases,
            auto_ack: false,
            strict_strings: c.strict_strings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_the_defaults_and_one_local_tcp_listener() {
        let c = Config::from_toml_str("").unwrap();
        let l = c.effective_listeners();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].kind, ListenerKind::Tcp);
        assert_eq!(l[0].addr(), "127.0.0.1:1883".parse().unwrap());
        assert!(c.auth.allow_anonymous);
        let b = c.broker_config();
        let d = BrokerConfig::default();
        assert_eq!(b.max_queued_messages, d.max_queued_messages);
        assert_eq!(b.max_session_expiry, d.max_session_expiry);
        assert_eq!(b.sys_interval, d.sys_interval);
        assert!(!c.server_config().auto_ack);
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let e = Config::from_toml_str("[limits]\nmax_qos = 1\nmax_qeued_messages = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_qeued_messages"), "{e}");
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn wrong_type_is_named() {
        let e = Config::from_toml_str("[connection]\nmax_packet_size = \"big\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_packet_size"), "{e}");
    }

    #[test]
    fn out_of_range_values_are_refused_with_their_key() {
        let e = Config::from_toml_str("[limits]\nmax_qos = 3\n").unwrap_err();
        assert!(e.to_string().starts_with("limits.max_qos:"), "{e}");
        let e = Config::from_toml_str("[[listener]]\nkind = \"tls\"\n").unwrap_err();
        assert!(e.to_string().starts_with("listener[0].cert:"), "{e}");
        let e = Config::from_toml_str(
            "[[listener]]\nkind = \"tcp\"\n[[listener]]\nkind = \"ws\"\npath = \"mqtt\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("listener[1].path:"), "{e}");
        let e = Config::from_toml_str("[[listener]]\nkind = \"quic\"\n").unwrap_err();
        assert!(e.to_string().contains("quic"), "{e}");
    }

    #[test]
    fn the_documented_example_is_valid_and_states_the_defaults() {
        let text = include_str!("../../docs/mqttd.example.toml");
        let c = Config::from_toml_str(text).unwrap();
        let d = Config::default();
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.listeners[0].addr(), d.effective_listeners()[0].addr());
        assert_eq!(format!("{:?}", c.limits), format!("{:?}", d.limits));
        assert_eq!(format!("{:?}", c.connection), format!("{:?}", d.connection));
        // Every commented-out key is a real key: uncommented, the file still parses.
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") || rest.starts_with('[') => rest,
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let all = Config::from_toml_str(&uncommented).unwrap();
        assert_eq!(all.listeners.len(), 4);
        assert_eq!(all.auth.users.len(), 1);
        assert_eq!(all.limits.max_keep_alive, Some(600));
    }

    #[test]
    fn limits_reach_the_cores() {
        let c = Config::from_toml_str(
            "[limits]\nmax_qos = 1\nmax_session_expiry = 60\nsys_interval = 0\n\
             [connection]\nmax_packet_size = 4096\nmax_inflight = 7\n",
        )
        .unwrap();
        let b = c.broker_config();
        assert_eq!(b.max_qos, QoS::AtLeastOnce);
        assert_eq!(b.max_session_expiry, 60);
        assert_eq!(b.sys_interval, None);
        let s = c.server_config();
        assert_eq!(s.max_packet_size, 4096);
        assert_eq!(s.max_inflight, 7);
    }
}
