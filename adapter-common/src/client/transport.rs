//! How the client reaches the server: TCP, TLS, WebSocket or WebSocket over TLS.
//!
//! Runtime-free: each adapter opens a [`Transport`] with its own sockets, TLS connector and
//! WebSocket handshake, from [`Transport::address`], [`Transport::tls_config`] and
//! [`Transport::websocket_url`].

use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls_pki_types::ServerName;

use super::ConnectError;
use crate::tls;

/// Where and how to reach the server.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Plain TCP.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port (1883 by convention).
        port: u16,
    },
    /// TLS over TCP; the server certificate must be valid for `host`.
    Tls {
        /// Host name or address.
        host: String,
        /// Port (8883 by convention).
        port: u16,
        /// Trusted roots and optional client certificate ([`tls::client_config`]).
        config: Arc<ClientConfig>,
    },
    /// WebSocket, `ws://host[:port]/path`.
    Ws {
        /// The URL.
        url: String,
    },
    /// WebSocket over TLS, `wss://host[:port]/path`.
    Wss {
        /// The URL.
        url: String,
        /// Trusted roots and optional client certificate ([`tls::client_config`]).
        config: Arc<ClientConfig>,
    },
}

impl Transport {
    /// Plain TCP to `host:port`.
    pub fn tcp(host: impl Into<String>, port: u16) -> Self {
        Self::Tcp {
            host: host.into(),
            port,
        }
    }

    /// TLS to `host:port`, trusting the CA bundle `ca` (or the system roots when `None`),
    /// presenting the PEM certificate chain and key `client_cert` if given.
    ///
    /// # Errors
    /// [`ConnectError::Tls`] when a file cannot be loaded.
    pub fn tls(
        host: impl Into<String>,
        port: u16,
        ca: Option<&Path>,
        client_cert: Option<(&Path, &Path)>,
    ) -> Result<Self, ConnectError> {
        Ok(Self::Tls {
            host: host.into(),
            port,
            config: tls::client_config(ca, client_cert)?,
        })
    }

    /// A transport from a URL: `mqtt://host[:port]` (TCP, port 1883), `mqtts://` (TLS,
    /// 8883), `ws://host[:port]/path` (WebSocket) or `wss://` (WebSocket over TLS). For
    /// the TLS schemes, `ca` and `client_cert` are as in [`tls`](Self::tls).
    ///
    /// # Errors
    /// [`ConnectError::InvalidOptions`] for a URL that is not one of these,
    /// [`ConnectError::Tls`] when a TLS file cannot be loaded.
    pub fn from_url(
        url: &str,
        ca: Option<&Path>,
        client_cert: Option<(&Path, &Path)>,
    ) -> Result<Self, ConnectError> {
        let (scheme, host, port) = parse_url(url)?;
        let port = |default| port.unwrap_or(default);
        match scheme.as_str() {
            "mqtt" | "tcp" => Ok(Self::tcp(host, port(1883))),
            "mqtts" | "ssl" => Self::tls(host, port(8883), ca, client_cert),
            "ws" => Ok(Self::Ws { url: url.into() }),
            "wss" => Ok(Self::Wss {
                url: url.into(),
                config: tls::client_config(ca, client_cert)?,
            }),
            other => Err(ConnectError::InvalidOptions(format!(
                "unknown URL scheme {other:?} (expected mqtt, mqtts, ws or wss)"
            ))),
        }
    }

    /// The host and port to open a TCP connection to (for WebSocket URLs, from the URL,
    /// with port 80 or 443 by default).
    ///
    /// # Errors
    /// [`ConnectError::InvalidOptions`] for a WebSocket URL without a valid host or port.
    pub fn address(&self) -> Result<(String, u16), ConnectError> {
        match self {
            Self::Tcp { host, port } | Self::Tls { host, port, .. } => Ok((host.clone(), *port)),
            Self::Ws { url } => ws_address(url, 80),
            Self::Wss { url, .. } => ws_address(url, 443),
        }
    }

    /// The TLS configuration and the name the server certificate must be valid for, when
    /// the transport uses TLS.
    ///
    /// # Errors
    /// [`ConnectError::InvalidOptions`] when the host is not a valid TLS server name.
    pub fn tls_config(
        &self,
    ) -> Result<Option<(Arc<ClientConfig>, ServerName<'static>)>, ConnectError> {
        let (config, (host, _)) = match self {
            Self::Tcp { .. } | Self::Ws { .. } => return Ok(None),
            Self::Tls { config, .. } | Self::Wss { config, .. } => (config, self.address()?),
        };
        let name = ServerName::try_from(host.clone()).map_err(|e| {
            ConnectError::InvalidOptions(format!("{host:?} is not a valid TLS server name: {e}"))
        })?;
        Ok(Some((Arc::clone(config), name)))
    }

    /// The WebSocket URL, for the WebSocket transports.
    #[must_use]
    pub fn websocket_url(&self) -> Option<&str> {
        match self {
            Self::Ws { url } | Self::Wss { url, .. } => Some(url),
            Self::Tcp { .. } | Self::Tls { .. } => None,
        }
    }
}

/// Scheme (lower case), host and port of a URL `scheme://[user@]host[:port][/...]`.
fn parse_url(url: &str) -> Result<(String, String, Option<u16>), ConnectError> {
    let invalid = |why: &str| ConnectError::InvalidOptions(format!("invalid URL {url:?}: {why}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("no scheme"))?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Err(invalid("bad scheme"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    // An IPv6 literal is bracketed in a URL; sockets and TLS want it bare.
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or_else(|| invalid("unclosed '['"))?;
            let port = match after {
                "" => None,
                after => Some(after.strip_prefix(':').ok_or_else(|| invalid("bad port"))?),
            };
            (host, port)
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err(invalid("no host"));
    }
    let port = port
        .map(|p| p.parse::<u16>().map_err(|_| invalid("bad port")))
        .transpose()?;
    Ok((scheme.to_ascii_lowercase(), host.to_owned(), port))
}

fn ws_address(url: &str, default_port: u16) -> Result<(String, u16), ConnectError> {
    let (_, host, port) = parse_url(url)?;
    Ok((host, port.unwrap_or(default_port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_transport_and_default_port() {
        let t = Transport::from_url("mqtt://broker.example:1999", None, None).unwrap();
        assert!(matches!(t, Transport::Tcp { ref host, port: 1999 } if host == "broker.example"));
        let t = Transport::from_url("tcp://[::1]", None, None).unwrap();
        assert!(matches!(t, Transport::Tcp { ref host, port: 1883 } if host == "::1"));
        let t = Transport::from_url("ws://h/mqtt", None, None).unwrap();
        assert!(matches!(t, Transport::Ws { ref url } if url == "ws://h/mqtt"));
        assert_eq!(ws_address("ws://h/mqtt", 80).unwrap(), ("h".into(), 80));
        assert_eq!(
            ws_address("wss://h:9001/", 443).unwrap(),
            ("h".into(), 9001)
        );
    }

    #[test]
    fn bad_urls_are_option_errors() {
        let bad = [
            "http://h",
            "h:1883",
            "mqtt://",
            "not a url",
            "mqtt://h:99999",
            "mqtt://[::1",
            "ws://[::1]x/",
            "1mqtt://h",
        ];
        for url in bad {
            let e = Transport::from_url(url, None, None).unwrap_err();
            assert!(matches!(e, ConnectError::InvalidOptions(_)), "{url}: {e}");
        }
    }
}
