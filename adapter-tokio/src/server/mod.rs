//! The broker on tokio: listeners, one task per connection, one broker task.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use adapter_tokio::config::Config;
//! use adapter_tokio::server::Server;
//!
//! let server = Server::bind(Config::default()).await?; // 127.0.0.1:1883
//! let stop = server.shutdown_handle();
//! tokio::spawn(async move {
//!     let _ = tokio::signal::ctrl_c().await;
//!     stop.shutdown();
//! });
//! server.run().await;
//! # Ok(())
//! # }
//! ```
//!
//! Data flow: each connection task owns its socket and its `ServerConnection` and does the
//! per-client protocol work; what concerns other clients goes to the broker task through one
//! bounded channel, and the broker's instructions come back through a per-connection mailbox
//! (see `adapter_common::hub`). Shutdown: the listeners stop accepting, the broker core sends each client
//! DISCONNECT 0x8B (5.0) and settles the wills, and `run` returns once every connection has
//! closed.

mod conn;
mod hub;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use mqtt_broker_core::{Authorizer, Broker};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

pub use adapter_common::auth::{AuthFuture, Authenticator, ClientInfo, StaticUsers};
pub use adapter_common::driver::Counters;

use adapter_common::driver::Peer;
use adapter_common::hub::Hub;

use crate::config::{Config, Listener, ListenerKind};
use conn::Shared;

/// Messages waiting for the broker task before connection tasks must wait.
const BROKER_QUEUE: usize = 4096;
/// Slack above the maximum packet size allowed in one WebSocket message.
const WS_SLACK: usize = 1024;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A listener could not bind its address.
    #[error("cannot listen on {kind} {addr}: {source}")]
    Bind {
        /// The listener's transport.
        kind: ListenerKind,
        /// Its address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A TLS listener's certificate, key or CA could not be loaded.
    #[error("{kind} listener {addr}: {source}")]
    Tls {
        /// The listener's transport.
        kind: ListenerKind,
        /// Its address.
        addr: SocketAddr,
        /// Why.
        source: crate::tls::TlsError,
    },
    /// The configuration is inconsistent.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

struct Bound {
    listener: Listener,
    socket: TcpListener,
    tls: Option<TlsAcceptor>,
}

/// Stops a running [`Server`] gracefully.
#[derive(Debug, Clone)]
pub struct ShutdownHandle(Arc<watch::Sender<bool>>);

impl ShutdownHandle {
    /// Stops accepting, disconnects every client (0x8B to 5.0 clients) and lets
    /// [`Server::run`] return once all connections are closed.
    pub fn shutdown(&self) {
        self.0.send_replace(true);
    }
}

/// A broker bound to its listeners, ready to [`run`](Self::run).
pub struct Server {
    config: Config,
    bound: Vec<Bound>,
    authenticator: Option<Arc<dyn Authenticator>>,
    authorizer: Option<Box<dyn Authorizer>>,
    shutdown: Arc<watch::Sender<bool>>,
    counters: Arc<Counters>,
}

impl Server {
    /// Checks `config`, loads the TLS files and binds every listener.
    ///
    /// # Errors
    /// A bad configuration, unreadable TLS files or an address that cannot be bound.
    pub async fn bind(config: Config) -> Result<Self, ServerError> {
        config.validate()?;
        let mut bound = Vec::new();
        for listener in config.effective_listeners() {
            let addr = listener.addr();
            let kind = listener.kind;
            let tls = match (&listener.cert, &listener.key) {
                (Some(cert), Some(key)) if kind.is_tls() => {
                    let tls = crate::tls::server_config(
                        cert,
                        key,
                        listener.client_ca.as_deref(),
                        listener.require_client_cert,
                    )
                    .map_err(|source| ServerError::Tls {
                        kind,
                        addr,
                        source,
                    })?;
                    Some(TlsAcceptor::from(tls))
                }
                _ => None,
            };
            let socket = TcpListener::bind(addr)
                .await
                .map_err(|source| ServerError::Bind { kind, addr, source })?;
            bound.push(Bound {
                listener,
                socket,
                tls,
            });
        }
        let users = StaticUsers::new(config.auth.allow_anonymous, config.auth.users.clone());
        let authenticator: Option<Arc<dyn Authenticator>> =
            (!users.allows_everyone()).then(|| Arc::new(users) as Arc<dyn Authenticator>);
        Ok(Self {
            config,
            bound,
            authenticator,
            authorizer: None,
            shutdown: Arc::new(watch::channel(false).0),
            counters: Arc::new(Counters::default()),
        })
    }

    /// Replaces the authentication (by default: the `[auth]` section of the configuration).
    #[must_use]
    pub fn with_authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticator = Some(Arc::new(authenticator));
        self
    }

    /// Sets the authorization policy consulted for every PUBLISH and SUBSCRIBE filter (by
    /// default everything is allowed, except publishing to `$SYS`).
    #[must_use]
    pub fn with_authorizer(mut self, authorizer: Box<dyn Authorizer>) -> Self {
        self.authorizer = Some(authorizer);
        self
    }

    /// The bound addresses, in configuration order (useful with port 0).
    #[must_use]
    pub fn local_addrs(&self) -> Vec<(ListenerKind, SocketAddr)> {
        self.bound
            .iter()
            .filter_map(|b| Some((b.listener.kind, b.socket.local_addr().ok()?)))
            .collect()
    }

    /// A handle that stops the server.
    #[must_use]
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(Arc::clone(&self.shutdown))
    }

    /// The adapter's counters (slow-subscriber drops, protocol violations).
    #[must_use]
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// Serves clients until [`ShutdownHandle::shutdown`], then closes every connection as
    /// the protocol asks and returns.
    pub async fn run(self) {
        let seed = random_seed();
        let mut broker = Broker::new(self.config.broker_config(), seed, StdInstant::now());
        if let Some(authorizer) = self.authorizer {
            broker.set_authorizer(authorizer);
        }
        let (to_broker, from_conns) = mpsc::channel(BROKER_QUEUE);
        let broker_task = tokio::spawn(hub::run(
            Hub::new(broker),
            from_conns,
            self.shutdown.subscribe(),
        ));
        let server_config = self.config.server_config();
        let ws_max = server_config.max_packet_size as usize + WS_SLACK;
        let handshake_timeout = server_config.connect_timeout;
        let shared = Arc::new(Shared {
            server_config,
            max_write_buffer: self.config.connection.max_write_buffer,
            authenticator: self.authenticator,
            to_broker,
            counters: self.counters,
        });
        // Every connection task holds a clone of `done`; `finished` reports when all are gone.
        let (done, mut finished) = mpsc::channel::<()>(1);
        for b in self.bound {
            let accept = AcceptLoop {
                shared: Arc::clone(&shared),
                shutdown: self.shutdown.subscribe(),
                done: done.clone(),
                ws_max,
                handshake_timeout,
            };
            tracing::info!(kind = %b.listener.kind, addr = ?b.socket.local_addr().ok(), "listening");
            tokio::spawn(accept.run(b));
        }
        drop(done);
        drop(shared);
        if broker_task.await.is_err() {
            tracing::error!("broker task failed");
        }
        // Let the last connections write their DISCONNECT.
        let _ = tokio::time::timeout(Duration::from_secs(10), finished.recv()).await;
        tracing::info!("shut down");
    }
}

struct AcceptLoop {
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    done: mpsc::Sender<()>,
    ws_max: usize,
    handshake_timeout: Duration,
}

impl AcceptLoop {
    async fn run(mut self, b: Bound) {
        let Bound {
            listener,
            socket,
            tls,
        } = b;
        let listener = Arc::new(listener);
        loop {
            let accepted = tokio::select! {
                r = socket.accept() => r,
                _ = self.shutdown.changed() => break,
            };
            let (stream, addr) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if *self.shutdown.borrow() {
                break;
            }
            let _ = stream.set_nodelay(true);
            let task = Handshake {
                shared: Arc::clone(&self.shared),
                listener: Arc::clone(&listener),
                tls: tls.clone(),
                ws_max: self.ws_max,
                timeout: self.handshake_timeout,
                done: self.done.clone(),
            };
            tokio::spawn(task.run(stream, addr));
        }
    }
}

/// The transport handshakes (TLS, WebSocket) of one connection, then the connection.
struct Handshake {
    shared: Arc<Shared>,
    listener: Arc<Listener>,
    tls: Option<TlsAcceptor>,
    ws_max: usize,
    timeout: Duration,
    done: mpsc::Sender<()>,
}

impl Handshake {
    async fn run(self, stream: TcpStream, addr: SocketAddr) {
        let kind = self.listener.kind;
        let mut peer = Peer {
            addr,
            listener: kind,
            certificate_name: None,
        };
        let deadline = Instant::now() + self.timeout;
        match &self.tls {
            None => self.websocket_or_not(stream, peer, deadline).await,
            Some(acceptor) => {
                let tls = match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::info!(%addr, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::info!(%addr, "TLS handshake timed out");
                        return;
                    }
                };
                peer.certificate_name =
                    crate::tls::peer_identity(tls.get_ref().1).and_then(|c| c.common_name);
                self.websocket_or_not(tls, peer, deadline).await;
            }
        }
    }

    async fn websocket_or_not<S>(self, stream: S, peer: Peer, deadline: Instant)
    where
        S: AsyncRead + AsyncWrite + Send + Unpin,
    {
        let _done = self.done;
        if !self.listener.kind.is_ws() {
            return conn::run(stream, peer, self.shared).await;
        }
        let path = self.listener.ws_path();
        match tokio::time::timeout_at(deadline, crate::ws::accept(stream, path, self.ws_max)).await
        {
            Ok(Ok(ws)) => conn::run(ws, peer, self.shared).await,
            Ok(Err(e)) => {
                tracing::info!(peer = %peer.addr, error = %e, "WebSocket handshake failed")
            }
            Err(_) => tracing::info!(peer = %peer.addr, "WebSocket handshake timed out"),
        }
    }
}

/// Sleeps until `deadline`; forever when there is none.
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// A seed for the broker's keyed hashing that peers cannot predict.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one((StdInstant::now(), std::process::id()))
}
