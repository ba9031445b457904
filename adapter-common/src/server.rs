//! What the adapters' servers share around the [`hub`](crate::hub) and the
//! [`driver`](crate::driver), free of any runtime.
//!
//! - [`Setup`]: a server before it runs: the checked configuration, the authentication, the
//!   authorization, the counters and the [`ShutdownHandle`]. [`Setup::bind`] loads the TLS
//!   files and binds the listeners with the adapter's sockets ([`BoundListener`]);
//!   [`Setup::start`] makes the broker task's [`Hub`] and what every connection task shares
//!   ([`Connections`]).
//! - [`Accepted`]: an accepted connection through its transport handshakes (TLS, WebSocket):
//!   the deadline, the peer's certificate name, the log lines of failures. The adapter only
//!   runs its runtime's handshakes.
//! - [`Connections`]: the steps of a connection task that need no I/O: registering with the
//!   broker task and making the [`ServerDriver`] ([`open`](Connections::open)), carrying out
//!   the driver's steps ([`drain`](Connections::drain)), handing the session back
//!   ([`close`](Connections::close)). The adapter's task adds the transport and the wait on
//!   read / write / mailbox / timer between them.
//! - [`BrokerSender`]: the adapter's bounded channel into the broker task.
//! - [`ShutdownHandle`]: the stop signal every task of a server waits on, runtime-free.
//! - The sizes and durations both adapters use.
//!
//! The clock is the adapter's: [`Setup::start`] takes it as a function and the connection
//! steps call it once per input they feed.

use std::collections::VecDeque;
use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use event_listener::Event;
use mqtt_broker_core::Broker;
use mqtt_session::ServerConfig;

use crate::auth::{Authenticator, StaticUsers};
use crate::config::{Config, ConfigError, Listener, ListenerKind};
use crate::driver::{Counters, Peer, ServerDriver, Step, authenticate};
use crate::hub::{Hub, Mailbox, ToBroker};
use crate::tls::TlsError;

pub use mqtt_broker_core::Authorizer;

/// Messages waiting for the broker task before connection tasks must wait.
pub const BROKER_QUEUE: usize = 4096;
/// Most messages the broker task takes from its channel per wake-up.
pub const HUB_BATCH: usize = 256;
/// Most chunks given to one vectored write.
pub const MAX_SLICES: usize = 64;
/// How long a closing connection may take to write its last bytes and see the peer close.
pub const CLOSE_FLUSH: Duration = Duration::from_secs(5);
/// How long a stopping server waits for its last connections to write their DISCONNECT.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// The pause after a failed accept (out of file descriptors and the like), instead of
/// spinning.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
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
        source: TlsError,
    },
    /// The configuration is inconsistent.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A bound listener: its configuration, its socket and, for the TLS kinds, its TLS acceptor.
#[derive(Debug)]
pub struct BoundListener<L, A> {
    /// The listener's configuration.
    pub listener: Arc<Listener>,
    /// The adapter's listening socket.
    pub socket: L,
    /// The adapter's TLS acceptor (TLS kinds).
    pub tls: Option<A>,
}

/// The addresses of `bound`, in order, as `local_addr` reports them (useful with port 0).
pub fn local_addrs<L, A>(
    bound: &[BoundListener<L, A>],
    local_addr: impl Fn(&L) -> std::io::Result<SocketAddr>,
) -> Vec<(ListenerKind, SocketAddr)> {
    bound
        .iter()
        .filter_map(|b| Some((b.listener.kind, local_addr(&b.socket).ok()?)))
        .collect()
}

/// Defines an adapter's `Server` type: a broker bound to its listeners, with the methods both
/// adapters share (`bind`, `with_authenticator`, `with_authorizer`, `local_addrs`,
/// `shutdown_handle`, `counters`), so that their public shape is one definition.
///
/// `define_server!(pub struct Server(TcpListener, TlsAcceptor);)` names the adapter's
/// listening socket type (with `bind(SocketAddr)` and `local_addr()`) and TLS acceptor type
/// (`From<Arc<rustls::ServerConfig>>`). The struct has the fields `setup: Setup` and
/// `bound: Vec<BoundListener<..>>`; the adapter adds `run`, which takes them.
#[macro_export]
macro_rules! define_server {
    ($(#[$meta:meta])* $vis:vis struct $name:ident($listener:ty, $acceptor:ty);) => {
        $(#[$meta])*
        $vis struct $name {
            setup: $crate::server::Setup,
            bound: ::std::vec::Vec<$crate::server::BoundListener<$listener, $acceptor>>,
        }

        impl $name {
            /// Checks `config`, loads the TLS files and binds every listener.
            ///
            /// # Errors
            /// A bad configuration, unreadable TLS files or an address that cannot be bound.
            pub async fn bind(
                config: $crate::config::Config,
            ) -> ::std::result::Result<Self, $crate::server::ServerError> {
                let (setup, bound) = $crate::server::Setup::bind(
                    config,
                    |addr| {
                        ::std::future::ready(
                            $crate::server::listen(addr).and_then(<$listener>::try_from),
                        )
                    },
                    <$acceptor>::from,
                )
                .await?;
                Ok(Self { setup, bound })
            }

            /// Replaces the authentication (by default: the `[auth]` section of the
            /// configuration).
            #[must_use]
            pub fn with_authenticator(
                mut self,
                authenticator: impl $crate::auth::Authenticator,
            ) -> Self {
                self.setup
                    .set_authenticator(::std::sync::Arc::new(authenticator));
                self
            }

            /// Sets the authorization policy consulted for every PUBLISH and SUBSCRIBE filter
            /// (by default everything is allowed, except publishing to `$SYS`).
            #[must_use]
            pub fn with_authorizer(
                mut self,
                authorizer: ::std::boxed::Box<dyn $crate::server::Authorizer>,
            ) -> Self {
                self.setup.set_authorizer(authorizer);
                self
            }

            /// The bound addresses, in configuration order (useful with port 0).
            #[must_use]
            pub fn local_addrs(
                &self,
            ) -> ::std::vec::Vec<($crate::config::ListenerKind, ::std::net::SocketAddr)> {
                $crate::server::local_addrs(&self.bound, <$listener>::local_addr)
            }

            /// A handle that stops the server.
            #[must_use]
            pub fn shutdown_handle(&self) -> $crate::server::ShutdownHandle {
                self.setup.shutdown_handle()
            }

            /// The adapter's counters (slow-subscriber drops, protocol violations).
            #[must_use]
            pub fn counters(&self) -> ::std::sync::Arc<$crate::driver::Counters> {
                self.setup.counters()
            }
        }
    };
}

/// Connections waiting to be accepted that the system keeps per listener (`listen(2)`'s
/// backlog; the system caps it at `net.core.somaxconn`). The standard library's 128 drops
/// connection attempts in a burst of clients reconnecting at once.
pub const LISTEN_BACKLOG: i32 = 4096;

/// A non-blocking listening socket on `addr` with [`LISTEN_BACKLOG`], for an adapter to
/// wrap in its own listener type.
///
/// # Errors
/// The address cannot be bound.
pub fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    // A restarted broker can bind while old connections are in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// A server before it runs: everything but its sockets and tasks.
pub struct Setup {
    config: Config,
    authenticator: Option<Arc<dyn Authenticator>>,
    authorizer: Option<Box<dyn Authorizer>>,
    counters: Arc<Counters>,
    shutdown: ShutdownHandle,
}

impl Setup {
    /// Checks `config`, loads the TLS files and binds every listener, in configuration
    /// order, with the adapter's `bind` (a listening socket on an address) and `acceptor` (a
    /// TLS acceptor from a rustls configuration). Authentication follows the `[auth]`
    /// section.
    ///
    /// # Errors
    /// A bad configuration, unreadable TLS files or an address that cannot be bound.
    pub async fn bind<L, A, F>(
        config: Config,
        bind: impl Fn(SocketAddr) -> F,
        acceptor: impl Fn(Arc<rustls::ServerConfig>) -> A,
    ) -> Result<(Self, Vec<BoundListener<L, A>>), ServerError>
    where
        F: Future<Output = std::io::Result<L>>,
    {
        config.validate()?;
        let mut bound = Vec::new();
        for listener in config.effective_listeners() {
            let (kind, addr) = (listener.kind, listener.addr());
            let tls = match (&listener.cert, &listener.key) {
                (Some(cert), Some(key)) if kind.is_tls() => {
                    let client_ca = listener.client_ca.as_deref();
                    let tls = crate::tls::server_config(
                        cert,
                        key,
                        client_ca,
                        listener.require_client_cert,
                    )
                    .map_err(|source| ServerError::Tls {
                        kind,
                        addr,
                        source,
                    })?;
                    Some(acceptor(tls))
                }
                _ => None,
            };
            let socket =
                bind(addr)
                    .await
                    .map_err(|source| ServerError::Bind { kind, addr, source })?;
            bound.push(BoundListener {
                listener: Arc::new(listener),
                socket,
                tls,
            });
        }
        let users = StaticUsers::new(config.auth.allow_anonymous, config.auth.users.clone());
        let authenticator: Option<Arc<dyn Authenticator>> =
            (!users.allows_everyone()).then(|| Arc::new(users) as Arc<dyn Authenticator>);
        let setup = Self {
            config,
            authenticator,
            authorizer: None,
            counters: Arc::new(Counters::default()),
            shutdown: ShutdownHandle::default(),
        };
        Ok((setup, bound))
    }

    /// Replaces the authentication.
    pub fn set_authenticator(&mut self, authenticator: Arc<dyn Authenticator>) {
        self.authenticator = Some(authenticator);
    }

    /// Sets the authorization policy consulted for every PUBLISH and SUBSCRIBE filter.
    pub fn set_authorizer(&mut self, authorizer: Box<dyn Authorizer>) {
        self.authorizer = Some(authorizer);
    }

    /// The counters the connections will share.
    #[must_use]
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// The server's stop signal.
    #[must_use]
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Makes the broker (keyed hashing from `seed`, `clock()` as its start time) inside the
    /// broker task's hub, and what the connection tasks share: `to_broker`, the sending end
    /// of the channel into the broker task, and `clock`, the adapter's clock.
    pub fn start<T>(
        self,
        clock: fn() -> Instant,
        seed: u64,
        to_broker: T,
    ) -> (Hub, Connections<T>) {
        let mut broker = Broker::new(self.config.broker_config(), seed, clock());
        if let Some(authorizer) = self.authorizer {
            broker.set_authorizer(authorizer);
        }
        let connections = Connections {
            server_config: self.config.server_config(),
            max_write_buffer: self.config.connection.max_write_buffer,
            authenticator: self.authenticator,
            counters: self.counters,
            to_broker,
            clock,
        };
        (Hub::new(broker), connections)
    }
}

/// The broker task is gone: the server is stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerGone;

/// The sending end of the adapter's bounded channel into the broker task.
pub trait BrokerSender: Send + Sync + 'static {
    /// Sends `msg`, waiting while the channel is full.
    ///
    /// # Errors
    /// [`BrokerGone`] when the broker task has ended.
    fn send(&self, msg: ToBroker) -> impl Future<Output = Result<(), BrokerGone>> + Send;
}

/// What every connection task of one server shares, and the steps of a connection task that
/// need no I/O.
pub struct Connections<T> {
    server_config: ServerConfig,
    max_write_buffer: usize,
    /// `None` when every client is accepted.
    authenticator: Option<Arc<dyn Authenticator>>,
    counters: Arc<Counters>,
    to_broker: T,
    clock: fn() -> Instant,
}

impl<T: BrokerSender> Connections<T> {
    /// How long the transport handshakes (TLS, WebSocket) of a connection may take.
    #[must_use]
    pub fn handshake_timeout(&self) -> Duration {
        self.server_config.connect_timeout
    }

    /// The largest WebSocket message or frame a client may send.
    #[must_use]
    pub fn ws_max_frame(&self) -> usize {
        self.server_config.max_packet_size as usize + WS_SLACK
    }

    /// The adapter's clock.
    #[must_use]
    pub fn now(&self) -> Instant {
        (self.clock)()
    }

    /// Registers a new connection with the broker task and waits for its answer: the
    /// connection's mailbox and driver, or `None` (and a log line) when the broker is at its
    /// connection limit or stopping.
    pub async fn open(&self, peer: Peer) -> Option<(Arc<Mailbox>, ServerDriver)> {
        let mailbox = Arc::new(Mailbox::default());
        let open = ToBroker::Open {
            mailbox: Arc::clone(&mailbox),
        };
        self.to_broker.send(open).await.ok()?;
        let conn = loop {
            if let Some(answer) = mailbox.opened() {
                break answer;
            }
            mailbox.notified().await;
        };
        let Some(conn) = conn else {
            tracing::warn!(peer = %peer.addr, "connection refused: connection limit reached or shutting down");
            return None;
        };
        let driver = ServerDriver::new(
            self.now(),
            conn,
            self.server_config.clone(),
            self.max_write_buffer,
            peer,
            Arc::clone(&self.counters),
        );
        Some((mailbox, driver))
    }

    /// Carries out the driver's steps: sends the broker its messages (waiting while the
    /// channel is full) and authenticates CONNECTs. True once the connection has closed: then
    /// [`close`](Self::close) it.
    pub async fn drain(&self, d: &mut ServerDriver) -> bool {
        while let Some(step) = d.poll_step(self.now()) {
            let msg = match step {
                Step::ToBroker(msg) => msg,
                Step::Authenticate(connect) => {
                    let answer =
                        authenticate(self.authenticator.as_deref(), &connect, d.peer()).await;
                    match d.authenticated(self.now(), connect, answer) {
                        Some(msg) => msg,
                        None => continue,
                    }
                }
            };
            if self.to_broker.send(msg).await.is_err() {
                d.broker_gone(self.now());
            }
        }
        d.is_closed()
    }

    /// Hands the closed connection's session back to the broker task; gives the last bytes
    /// to write before shutting the transport down (`None` when the transport is gone).
    pub async fn close(&self, mut d: ServerDriver) -> Option<VecDeque<Bytes>> {
        let (closed, rest) = d.finish(self.now());
        let _ = self.to_broker.send(closed).await;
        rest
    }
}

/// Stops a running server gracefully: a signal every task of the server waits on, without a
/// runtime.
#[derive(Debug, Clone, Default)]
pub struct ShutdownHandle(Arc<Stop>);

#[derive(Debug, Default)]
struct Stop {
    asked: AtomicBool,
    event: Event,
}

impl ShutdownHandle {
    /// Stops accepting, disconnects every client (0x8B to 5.0 clients) and lets the server's
    /// `run` return once all connections are closed. Calling it again does nothing more.
    pub fn shutdown(&self) {
        self.0.asked.store(true, Ordering::SeqCst);
        self.0.event.notify(usize::MAX);
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    #[must_use]
    pub fn is_shutting_down(&self) -> bool {
        self.0.asked.load(Ordering::SeqCst)
    }

    /// Waits until [`shutdown`](Self::shutdown) is called (cancel safe).
    pub async fn wait(&self) {
        while !self.is_shutting_down() {
            let listener = self.0.event.listen();
            // Asked between the check and the registration: no notification will come.
            if self.is_shutting_down() {
                return;
            }
            listener.await;
        }
    }
}

/// An accepted connection on its way through the transport handshakes (TLS, then WebSocket,
/// as its listener asks) to its connection task; all of them must finish by one deadline.
///
/// `G` is a guard the adapter holds until the connection ends (say, a clone of a channel
/// sender whose receiver learns when every connection has ended).
pub struct Accepted<T, G> {
    shared: Arc<Connections<T>>,
    listener: Arc<Listener>,
    peer: Peer,
    deadline: Instant,
    guard: G,
}

impl<T: BrokerSender, G> Accepted<T, G> {
    /// A connection from `addr` accepted by `listener`, now.
    pub fn new(
        shared: &Arc<Connections<T>>,
        listener: &Arc<Listener>,
        addr: SocketAddr,
        guard: G,
    ) -> Self {
        Self {
            deadline: shared.now() + shared.handshake_timeout(),
            shared: Arc::clone(shared),
            listener: Arc::clone(listener),
            peer: Peer {
                addr,
                listener: listener.kind,
                certificate_name: None,
            },
            guard,
        }
    }

    /// When the handshakes must be done.
    #[must_use]
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The outcome of the TLS handshake (`None`: the deadline passed first): the TLS stream,
    /// whose client certificate (`session` gives its rustls connection) names the peer; or a
    /// log line and `None`.
    pub fn tls_done<S, E: Display>(
        &mut self,
        outcome: Option<Result<S, E>>,
        session: impl FnOnce(&S) -> &rustls::ServerConnection,
    ) -> Option<S> {
        let stream = self.outcome("TLS", outcome)?;
        self.peer.certificate_name =
            crate::tls::peer_identity(session(&stream)).and_then(|c| c.common_name);
        Some(stream)
    }

    /// For a WebSocket listener: the HTTP path of the upgrade and the largest message or
    /// frame a client may send. `None`: no WebSocket handshake.
    #[must_use]
    pub fn websocket(&self) -> Option<(&str, usize)> {
        let l = &self.listener;
        l.kind
            .is_ws()
            .then(|| (l.ws_path(), self.shared.ws_max_frame()))
    }

    /// The outcome of the WebSocket handshake (`None`: the deadline passed first): the
    /// WebSocket, or a log line and `None`.
    pub fn websocket_done<S, E: Display>(&self, outcome: Option<Result<S, E>>) -> Option<S> {
        self.outcome("WebSocket", outcome)
    }

    /// The handshakes are done: the peer, what the connection tasks share, and the guard.
    pub fn into_parts(self) -> (Peer, Arc<Connections<T>>, G) {
        (self.peer, self.shared, self.guard)
    }

    fn outcome<S, E: Display>(&self, what: &str, outcome: Option<Result<S, E>>) -> Option<S> {
        let peer = self.peer.addr;
        match outcome {
            Some(Ok(stream)) => Some(stream),
            Some(Err(error)) => {
                tracing::info!(%peer, %error, "{what} handshake failed");
                None
            }
            None => {
                tracing::info!(%peer, "{what} handshake timed out");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use crate::config::ListenerKind;

    /// Polls `f` once: the futures under test here are ready at once.
    fn ready<F: Future>(f: F) -> F::Output {
        match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("not ready"),
        }
    }

    #[test]
    fn shutdown_wakes_waiters_once_and_for_all() {
        let handle = ShutdownHandle::default();
        let other = handle.clone();
        let cx = &mut Context::from_waker(Waker::noop());
        let mut wait = pin!(other.wait());
        assert!(wait.as_mut().poll(cx).is_pending());
        assert!(!other.is_shutting_down());
        handle.shutdown();
        assert!(wait.as_mut().poll(cx).is_ready());
        assert!(other.is_shutting_down());
        // Waiting after the signal is over at once.
        ready(other.wait());
        handle.shutdown();
    }

    /// Binds `toml`'s listeners, each "socket" being its address.
    #[allow(clippy::result_large_err)] // `Setup::bind`'s own result
    fn bind(toml: &str) -> Result<(Setup, Vec<BoundListener<SocketAddr, ()>>), ServerError> {
        let config = Config::from_toml_str(toml).unwrap();
        ready(Setup::bind(config, |a| std::future::ready(Ok(a)), |_| ()))
    }

    #[test]
    fn bind_binds_every_listener_in_order_with_the_adapters_functions() {
        let (setup, bound) = bind(
            r#"
            [[listener]]
            kind = "tcp"
            bind = "127.0.0.1:1"
            [[listener]]
            kind = "ws"
            bind = "127.0.0.1:2"
            "#,
        )
        .unwrap();
        let addrs = local_addrs(&bound, |a| Ok(*a));
        assert_eq!(
            addrs,
            [
                (ListenerKind::Tcp, "127.0.0.1:1".parse().unwrap()),
                (ListenerKind::Ws, "127.0.0.1:2".parse().unwrap())
            ]
        );
        assert!(bound.iter().all(|b| b.tls.is_none()));
        assert!(!setup.shutdown_handle().is_shutting_down());
    }

    #[test]
    fn bind_names_the_listener_that_failed() {
        let err = bind(
            r#"
            [[listener]]
            kind = "tls"
            cert = "/nonexistent/cert.pem"
            key = "/nonexistent/key.pem"
            "#,
        )
        .err()
        .unwrap();
        assert!(
            matches!(
                err,
                ServerError::Tls {
                    kind: ListenerKind::Tls,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("cert.pem"), "{err}");

        let refuse = |_| std::future::ready(Err::<(), _>(std::io::ErrorKind::AddrInUse.into()));
        let err = ready(Setup::bind(Config::default(), refuse, |_| ()))
            .err()
            .unwrap();
        assert!(
            matches!(
                err,
                ServerError::Bind {
                    kind: ListenerKind::Tcp,
                    ..
                }
            ),
            "{err}"
        );
    }
}
