//! The connection task: one loop around the [`ClientDriver`], generic over what a runtime
//! adapter supplies ([`ClientRuntime`]).
//!
//! One wake-up reads the clock once, feeds one input (bytes read, bytes written, commands,
//! room in the event channel, or the timer), drains the driver, and waits again. Waiting is
//! one `poll_fn` over the sources in turn (transport, channels, timer) that returns the first
//! that is ready; it is cancel safe by construction, since a source that is not ready did
//! nothing; after [`BUSY_WAKES`] wake-ups in a row that found a source ready it yields once.
//! The task never awaits anything the application must do: events go to a bounded
//! channel, and while that is full the driver stops wanting to read.

use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_io::{AsyncRead, AsyncWrite};

use super::builder::ClientTask;
use super::driver::{ClientDriver, Next};
use super::{ConnectError, Transport};

pub(crate) use super::driver::FirstAttempt;

/// Buffers handed to one vectored write.
const MAX_IOV: usize = 64;
/// How long a closing connection may take to write its last bytes (a DISCONNECT).
const CLOSE_FLUSH: Duration = Duration::from_secs(2);
/// Wake-ups in a row that found a source ready, after which the task yields to its
/// executor: not every runtime has a cooperative budget like tokio's (async-io has none).
const BUSY_WAKES: u32 = 16;

/// What a runtime adapter supplies to run the client: its clock, a timer, and opening its
/// transports.
///
/// Implemented by a marker type of the adapter (`adapter_tokio::client::Tokio`,
/// `adapter_smol::client::Smol`), which names the client types:
/// `Client<Tokio>`, `ClientBuilder<Tokio>`.
pub trait ClientRuntime: Send + Sync + 'static {
    /// The current time on the runtime's clock (read once per wake-up).
    fn now() -> Instant;

    /// A future that completes at `deadline` (its output is ignored).
    fn sleep_until(deadline: Instant) -> impl Future + Send;

    /// Opens `transport`: the TCP connection, then the TLS and WebSocket handshakes.
    fn open(
        transport: &Transport,
    ) -> impl Future<Output = Result<Box<dyn ClientIo>, ConnectError>> + Send;
}

/// The byte stream of an open transport, as the connection task drives it. Every
/// `futures-io` stream is one; an adapter whose streams use other traits (tokio's) wraps
/// them.
pub trait ClientIo: Send + Unpin + 'static {
    /// Reads into the free capacity of `buf` (which the driver reserved), appending;
    /// `Ok(0)` is the end of the stream.
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>>;

    /// Writes from the slices in order.
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>>;

    /// Flushes what was written.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Closes the stream (TLS close_notify, WebSocket Close frame, TCP FIN).
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> ClientIo for T {
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        crate::io::poll_read_buf(self, cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self).poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self).poll_close(cx)
    }
}

/// A runtime that spawns tasks by itself, for
/// [`ClientBuilder::connect`](super::ClientBuilder::connect) and
/// [`ClientBuilder::spawn`](super::ClientBuilder::spawn).
pub trait SpawnClient: ClientRuntime {
    /// Runs `task` to completion in the background.
    fn spawn(task: ClientTask);
}

/// What woke the task.
enum Wake {
    Read(io::Result<usize>),
    /// A write (`Some(n)`) or a flush (`None`) completed.
    Wrote(io::Result<Option<usize>>),
    Channels,
    Timeout,
}

/// Runs the client until it disconnects, every handle is dropped, or the connection is
/// lost for good (reconnection disabled, or the first attempt fails when one waits for
/// it).
pub(crate) async fn run<R: ClientRuntime>(mut d: ClientDriver, transport: Transport) {
    loop {
        let deadline = R::now() + d.connect_timeout();
        let open = async {
            until::<R, _>(deadline, R::open(&transport))
                .await
                .unwrap_or(Err(ConnectError::Timeout))
        };
        let next = match offline::<R, _>(&mut d, open).await {
            None => break,
            Some(Ok(io)) => {
                d.handle_opened(R::now());
                online::<R>(&mut d, io).await
            }
            Some(Err(e)) => d.handle_open_failed(e),
        };
        let Next::Reconnect(delay) = next else {
            break;
        };
        let wait = R::sleep_until(R::now() + delay);
        if offline::<R, _>(&mut d, wait).await.is_none() {
            break;
        }
    }
    d.shut_down();
}

/// Waits for `fut` without a connection, holding requests for the next one. `None` when
/// the client is to stop.
async fn offline<R: ClientRuntime, T>(
    d: &mut ClientDriver,
    fut: impl Future<Output = T>,
) -> Option<T> {
    let mut fut = pin!(fut);
    while !d.is_stopping() {
        let out = poll_fn(|cx| match fut.as_mut().poll(cx) {
            Poll::Ready(out) => Poll::Ready(Some(out)),
            Poll::Pending => d.poll_channels(cx).map(|()| None),
        })
        .await;
        if out.is_some() {
            return out;
        }
        d.handle_channels(R::now());
    }
    None
}

/// Drives one connection over `io` until it closes, then closes `io`.
async fn online<R: ClientRuntime>(d: &mut ClientDriver, mut io: Box<dyn ClientIo>) -> Next {
    let mut busy = 0;
    loop {
        let now = R::now();
        d.drain(now);
        if let Some(flush) = d.closed() {
            if flush
                && until::<R, _>(now + CLOSE_FLUSH, close(d, &mut *io))
                    .await
                    .is_some()
            {
                d.handle_flushed();
            }
            return d.handle_closed();
        }
        let deadline = d.poll_timeout();
        let mut timer = pin!(deadline.map(R::sleep_until));
        let mut waited = false;
        let wake = poll_fn(|cx| {
            if let Poll::Ready(r) = poll_write_or_flush(d, &mut *io, cx) {
                return Poll::Ready(Wake::Wrote(r));
            }
            if d.wants_read()
                && let Poll::Ready(r) = io.poll_read_buf(cx, d.read_buffer())
            {
                return Poll::Ready(Wake::Read(r));
            }
            if d.poll_channels(cx).is_ready() {
                return Poll::Ready(Wake::Channels);
            }
            if let Some(timer) = timer.as_mut().as_pin_mut()
                && timer.poll(cx).is_ready()
            {
                return Poll::Ready(Wake::Timeout);
            }
            waited = true;
            Poll::Pending
        })
        .await;
        busy = if waited { 0 } else { busy + 1 };
        if busy >= BUSY_WAKES {
            busy = 0;
            yield_now().await;
        }
        let now = R::now();
        match wake {
            Wake::Read(Ok(n)) => d.handle_read(now, n),
            Wake::Wrote(Ok(Some(n))) => d.handle_written(n),
            Wake::Wrote(Ok(None)) => d.handle_flushed(),
            Wake::Read(Err(e)) | Wake::Wrote(Err(e)) => d.handle_transport_error(now, &e),
            Wake::Channels => d.handle_channels(now),
            Wake::Timeout => d.handle_timeout(now),
        }
    }
}

/// A flush when the driver wants one (`None`), else one vectored write of the front of
/// its queue (`Some(n)`); writing nothing means the transport is gone.
fn poll_write_or_flush(
    d: &ClientDriver,
    io: &mut dyn ClientIo,
    cx: &mut Context<'_>,
) -> Poll<io::Result<Option<usize>>> {
    if d.needs_flush() {
        return io.poll_flush(cx).map_ok(|()| None);
    }
    let out = d.pending_writes();
    if out.is_empty() {
        return Poll::Pending;
    }
    let mut slices = [IoSlice::new(&[]); MAX_IOV];
    let n = slices
        .iter_mut()
        .zip(out)
        .map(|(slice, chunk): (_, &Bytes)| *slice = IoSlice::new(chunk))
        .count();
    let slices = slices.get(..n).unwrap_or_default();
    io.poll_write_vectored(cx, slices).map(|r| match r {
        Ok(0) => Err(io::ErrorKind::WriteZero.into()),
        r => r.map(Some),
    })
}

/// Writes and flushes everything queued, then closes the transport.
async fn close(d: &mut ClientDriver, io: &mut dyn ClientIo) -> io::Result<()> {
    while !d.pending_writes().is_empty() {
        match poll_fn(|cx| poll_write_or_flush(d, io, cx)).await? {
            Some(n) => d.handle_written(n),
            None => d.handle_flushed(),
        }
    }
    poll_fn(|cx| io.poll_flush(cx)).await?;
    poll_fn(|cx| io.poll_close(cx)).await
}

/// Lets the executor run other tasks once.
async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// Runs `fut` until `deadline`; `None` if it did not complete by then.
async fn until<R: ClientRuntime, T>(deadline: Instant, fut: impl Future<Output = T>) -> Option<T> {
    let mut fut = pin!(fut);
    let mut timer = pin!(R::sleep_until(deadline));
    poll_fn(|cx| match fut.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending => timer.as_mut().poll(cx).map(|_| None),
    })
    .await
}

/// The task's future, boxed for a spawner.
pub(crate) fn boxed<R: ClientRuntime>(d: ClientDriver, transport: Transport) -> ClientTask {
    Box::pin(run::<R>(d, transport))
}
