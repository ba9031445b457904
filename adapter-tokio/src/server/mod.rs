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

use std::sync::Arc;
use std::time::Instant as StdInstant;

use adapter_common::server::{
    ACCEPT_BACKOFF, Accepted, BROKER_QUEUE, BoundListener, BrokerGone, BrokerSender, Connections,
    SHUTDOWN_GRACE,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

pub use adapter_common::auth::{AuthFuture, Authenticator, ClientInfo, StaticUsers};
pub use adapter_common::driver::Counters;
pub use adapter_common::server::{ServerError, ShutdownHandle};

use adapter_common::hub::ToBroker;

/// The channel into the broker task.
pub(crate) struct ToHub(mpsc::Sender<ToBroker>);

impl BrokerSender for ToHub {
    async fn send(&self, msg: ToBroker) -> Result<(), BrokerGone> {
        self.0.send(msg).await.map_err(|_| BrokerGone)
    }
}

/// What every connection task shares.
type Shared = Connections<ToHub>;
/// A connection through its handshakes; it holds a clone of the sender whose receiver learns
/// when every connection has ended.
type Incoming = Accepted<ToHub, mpsc::Sender<()>>;
type Bound = BoundListener<TcpListener, TlsAcceptor>;

adapter_common::define_server! {
    /// A broker bound to its listeners, ready to [`run`](Self::run).
    pub struct Server(TcpListener, TlsAcceptor);
}

impl Server {
    /// Serves clients until [`ShutdownHandle::shutdown`], then closes every connection as
    /// the protocol asks and returns.
    pub async fn run(self) {
        let shutdown = self.setup.shutdown_handle();
        let (to_broker, from_conns) = mpsc::channel(BROKER_QUEUE);
        let (hub, shared) = self
            .setup
            .start(StdInstant::now, random_seed(), ToHub(to_broker));
        let broker_task = tokio::spawn(hub::run(hub, from_conns, shutdown.clone()));
        let shared = Arc::new(shared);
        // Every connection task holds a clone of `done`; `finished` reports when all are gone.
        let (done, mut finished) = mpsc::channel::<()>(1);
        for b in self.bound {
            tracing::info!(kind = %b.listener.kind, addr = ?b.socket.local_addr().ok(), "listening");
            tokio::spawn(accept_loop(
                b,
                Arc::clone(&shared),
                shutdown.clone(),
                done.clone(),
            ));
        }
        drop(done);
        drop(shared);
        if broker_task.await.is_err() {
            tracing::error!("broker task failed");
        }
        // Let the last connections write their DISCONNECT.
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, finished.recv()).await;
        tracing::info!("shut down");
    }
}

/// Accepts connections until shutdown; a task per connection does its handshakes.
async fn accept_loop(
    b: Bound,
    shared: Arc<Shared>,
    shutdown: ShutdownHandle,
    done: mpsc::Sender<()>,
) {
    loop {
        let accepted = tokio::select! {
            r = b.socket.accept() => r,
            () = shutdown.wait() => break,
        };
        let (stream, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        if shutdown.is_shutting_down() {
            break;
        }
        let _ = stream.set_nodelay(true);
        let incoming = Accepted::new(&shared, &b.listener, addr, done.clone());
        tokio::spawn(handshake(incoming, b.tls.clone(), stream));
    }
}

/// The transport handshakes (TLS, WebSocket) of one connection, then the connection.
async fn handshake(mut incoming: Incoming, tls: Option<TlsAcceptor>, stream: TcpStream) {
    let Some(acceptor) = tls else {
        return websocket_or_not(incoming, stream).await;
    };
    let deadline = Instant::from_std(incoming.deadline());
    let tls = tokio::time::timeout_at(deadline, acceptor.accept(stream)).await;
    if let Some(tls) = incoming.tls_done(tls.ok(), |s| s.get_ref().1) {
        websocket_or_not(incoming, tls).await;
    }
}

async fn websocket_or_not<S>(incoming: Incoming, stream: S)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let Some((path, max_frame)) = incoming.websocket() else {
        return serve(stream, incoming);
    };
    let deadline = Instant::from_std(incoming.deadline());
    let ws = tokio::time::timeout_at(deadline, crate::ws::accept(stream, path, max_frame)).await;
    if let Some(ws) = incoming.websocket_done(ws.ok()) {
        serve(ws, incoming);
    }
}

/// Runs the connection in a task of its own, so that it does not carry the memory of the
/// handshakes (every handshake future a listener may run is part of the handshake task's
/// size; an idle connection keeps only its own state).
fn serve<S>(stream: S, incoming: Incoming)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    tokio::spawn(conn::run(stream, incoming));
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
