//! The broker on smol: listeners, one task per connection, one broker task.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use adapter_smol::config::Config;
//! use adapter_smol::server::Server;
//!
//! smol::block_on(async {
//!     let server = Server::bind(Config::default()).await?; // 127.0.0.1:1883
//!     let stop = server.shutdown_handle();
//!     // ... call `stop.shutdown()` on a signal ...
//!     # stop.shutdown();
//!     server.run().await;
//!     Ok(())
//! })
//! # }
//! ```
//!
//! The data flow and the shutdown are those of the tokio adapter (see `adapter_common::hub`
//! and `adapter_common::server`): each connection task owns its socket and its driver; what
//! concerns other clients goes to the broker task through one bounded channel, and the
//! broker's instructions come back through a per-connection mailbox.
//!
//! # Executors
//! The server spawns its tasks on an [`async_executor::Executor`] it owns, and
//! [`Server::run`] drives that executor inside its own future. So whichever executor polls
//! `run` (`smol::block_on`, `async_std::task::block_on`, a task of either) runs the whole
//! broker, and nothing depends on a global executor. `run` uses the thread that polls it;
//! [`Server::run_with_threads`] adds threads that run the same executor, so the connection
//! tasks use every core. Sockets and timers are `async-io`'s, whose reactor runs in
//! `async_io::block_on` (`smol::block_on`) or, under other executors, in its own thread.

mod conn;
mod hub;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Instant;

use adapter_common::hub::ToBroker;
use adapter_common::server::{
    ACCEPT_BACKOFF, Accepted, BROKER_QUEUE, BoundListener, BrokerGone, BrokerSender, Connections,
    SHUTDOWN_GRACE,
};
use async_channel::Sender;
use async_executor::Executor;
use async_io::Timer;
use async_net::{TcpListener, TcpStream};
use futures_lite::{AsyncRead, AsyncWrite, future};
use futures_rustls::TlsAcceptor;

pub use adapter_common::auth::{AuthFuture, Authenticator, ClientInfo, StaticUsers};
pub use adapter_common::driver::Counters;
pub use adapter_common::server::{ServerError, ShutdownHandle};

/// The channel into the broker task.
pub(crate) struct ToHub(Sender<ToBroker>);

impl BrokerSender for ToHub {
    async fn send(&self, msg: ToBroker) -> Result<(), BrokerGone> {
        self.0.send(msg).await.map_err(|_| BrokerGone)
    }
}

/// What every connection task shares.
type Shared = Connections<ToHub>;
/// A connection through its handshakes; it holds a clone of the sender whose receiver learns
/// when every connection has ended.
type Incoming = Accepted<ToHub, Sender<()>>;
type Bound = BoundListener<TcpListener, TlsAcceptor>;

adapter_common::define_server! {
    /// A broker bound to its listeners, ready to [`run`](Self::run).
    pub struct Server(TcpListener, TlsAcceptor);
}

impl Server {
    /// Serves clients until [`ShutdownHandle::shutdown`], then closes every connection as
    /// the protocol asks and returns. Every task runs on the thread polling this future (see
    /// the module's "Executors").
    pub async fn run(self) {
        self.run_with_threads(1).await;
    }

    /// As [`run`](Self::run), with `threads - 1` more threads running the server's tasks
    /// (`threads` is typically `std::thread::available_parallelism()`; 0 counts as 1). The
    /// threads end before this returns.
    pub async fn run_with_threads(self, threads: usize) {
        let executor = Arc::new(Executor::new());
        // Closed when the server has stopped: the helper threads leave the executor.
        let (leave, left) = async_channel::bounded::<()>(1);
        // Each helper thread holds a clone of `alive`; `gone` reports when all have ended.
        let (alive, gone) = async_channel::bounded::<()>(1);
        for i in 1..threads {
            let (executor, left, alive) = (Arc::clone(&executor), left.clone(), alive.clone());
            let helper = std::thread::Builder::new()
                .name(format!("mqttd-smol-{i}"))
                .spawn(move || {
                    let _ = async_io::block_on(executor.run(left.recv()));
                    drop(alive);
                });
            if let Err(e) = helper {
                tracing::warn!(error = %e, "cannot start an executor thread");
                break;
            }
        }
        drop(alive);
        executor.run(self.serve(&executor)).await;
        leave.close();
        let _ = gone.recv().await;
    }

    async fn serve(self, executor: &Arc<Executor<'static>>) {
        let shutdown = self.setup.shutdown_handle();
        let (to_broker, from_conns) = async_channel::bounded(BROKER_QUEUE);
        let (hub, shared) = self
            .setup
            .start(Instant::now, random_seed(), ToHub(to_broker));
        let broker_task = executor.spawn(hub::run(hub, from_conns, shutdown.clone()));
        let shared = Arc::new(shared);
        // Every connection task holds a clone of `done`; `finished` reports when all are gone.
        let (done, finished) = async_channel::bounded::<()>(1);
        for b in self.bound {
            tracing::info!(kind = %b.listener.kind, addr = ?b.socket.local_addr().ok(), "listening");
            let accept = AcceptLoop {
                shared: Arc::clone(&shared),
                shutdown: shutdown.clone(),
                done: done.clone(),
                executor: Arc::downgrade(executor),
            };
            executor.spawn(accept.run(b)).detach();
        }
        drop(done);
        drop(shared);
        broker_task.await;
        // Let the last connections write their DISCONNECT.
        let _ = until(Instant::now() + SHUTDOWN_GRACE, finished.recv()).await;
        tracing::info!("shut down");
    }
}

struct AcceptLoop {
    shared: Arc<Shared>,
    shutdown: ShutdownHandle,
    done: Sender<()>,
    /// Weak: the executor owns this task.
    executor: Weak<Executor<'static>>,
}

impl AcceptLoop {
    /// Accepts connections until shutdown; a task per connection does its handshakes.
    async fn run(self, b: Bound) {
        loop {
            let accept = async { Some(b.socket.accept().await) };
            let stop = async {
                self.shutdown.wait().await;
                None
            };
            let Some(accepted) = future::or(accept, stop).await else {
                break;
            };
            let (stream, addr) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    Timer::after(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            let executor = match self.executor.upgrade() {
                Some(executor) if !self.shutdown.is_shutting_down() => executor,
                _ => break,
            };
            let _ = stream.set_nodelay(true);
            let incoming = Accepted::new(&self.shared, &b.listener, addr, self.done.clone());
            let spawner = Arc::downgrade(&executor);
            executor
                .spawn(handshake(incoming, b.tls.clone(), stream, spawner))
                .detach();
        }
    }
}

/// The transport handshakes (TLS, WebSocket) of one connection, then the connection in a
/// task of its own (`spawner`), so that it does not carry the memory of the handshakes: every
/// handshake future a listener may run is part of the handshake task's size, and an idle
/// connection keeps only its own state.
async fn handshake(
    mut incoming: Incoming,
    tls: Option<TlsAcceptor>,
    stream: TcpStream,
    spawner: Weak<Executor<'static>>,
) {
    let Some(acceptor) = tls else {
        return websocket_or_not(incoming, stream, spawner).await;
    };
    let tls = until(incoming.deadline(), acceptor.accept(stream)).await;
    if let Some(tls) = incoming.tls_done(tls, |s| s.get_ref().1) {
        websocket_or_not(incoming, tls, spawner).await;
    }
}

async fn websocket_or_not<S>(incoming: Incoming, stream: S, spawner: Weak<Executor<'static>>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let Some((path, max_frame)) = incoming.websocket() else {
        return serve(stream, incoming, &spawner);
    };
    let ws = until(
        incoming.deadline(),
        crate::ws::accept(stream, path, max_frame),
    )
    .await;
    if let Some(ws) = incoming.websocket_done(ws) {
        serve(ws, incoming, &spawner);
    }
}

fn serve<S>(stream: S, incoming: Incoming, spawner: &Weak<Executor<'static>>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    // Without the executor the server is gone: the connection is dropped, unserved.
    if let Some(executor) = spawner.upgrade() {
        executor.spawn(conn::run(stream, incoming)).detach();
    }
}

/// Runs `fut` until `deadline`: `None` when the deadline came first.
pub(crate) async fn until<T>(deadline: Instant, fut: impl Future<Output = T>) -> Option<T> {
    let timeout = async {
        Timer::at(deadline).await;
        None
    };
    future::or(async { Some(fut.await) }, timeout).await
}

/// A timer re-armed only when its deadline changes; never ready without one.
pub(crate) struct Deadline {
    timer: Timer,
    armed: Option<Instant>,
}

impl Deadline {
    pub(crate) fn new() -> Self {
        Self {
            timer: Timer::never(),
            armed: None,
        }
    }

    /// Arms the timer for `at` (`None`: disarms it).
    pub(crate) fn set(&mut self, at: Option<Instant>) {
        if at == self.armed {
            return;
        }
        match at {
            Some(at) => self.timer.set_at(at),
            None => self.timer = Timer::never(),
        }
        self.armed = at;
    }

    /// Ready once the deadline has passed (then disarmed until the next [`set`](Self::set)).
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.armed.is_none() {
            return Poll::Pending;
        }
        let fired = Pin::new(&mut self.timer).poll(cx).is_ready();
        if fired {
            self.armed = None;
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// How many wake-ups in a row a task handles without having to wait before it yields to the
/// other tasks of its thread: `async-io` has no cooperative budget like tokio's, so a busy
/// connection or broker task would otherwise keep its thread to itself.
pub(crate) struct Budget(u32);

impl Budget {
    const WAKE_UPS: u32 = 16;

    pub(crate) fn new() -> Self {
        Self(Self::WAKE_UPS)
    }

    /// Counts one wake-up (`waited`: the task had to wait for it) and yields once the budget
    /// is spent.
    pub(crate) async fn spend(&mut self, waited: bool) {
        if waited {
            self.0 = Self::WAKE_UPS;
            return;
        }
        self.0 -= 1;
        if self.0 == 0 {
            self.0 = Self::WAKE_UPS;
            future::yield_now().await;
        }
    }
}

/// A seed for the broker's keyed hashing that peers cannot predict.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one((Instant::now(), std::process::id()))
}
