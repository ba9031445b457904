//! The connection task: one per client. It owns the transport and the connection's
//! [`ServerDriver`](adapter_common::driver::ServerDriver), which does all the protocol work of
//! its client in parallel with the other connections; the steps around the driver are
//! `adapter_common::server::Connections`.
//!
//! Each wake-up one `poll_fn` polls the sources in turn (timer, write, mailbox, read) and
//! returns the first that is ready. Polling is cancel safe by construction: a source that is
//! not ready did nothing (a write that returned `Pending` wrote nothing, a read that returned
//! `Pending` read nothing), and the one that is ready is handled before anything else is
//! polled. A task that finds a source ready wake-up after wake-up yields now and then
//! ([`Budget`]).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use adapter_common::io::poll_read_buf;
use adapter_common::server::{CLOSE_FLUSH, MAX_SLICES};
use bytes::Bytes;
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Budget, Deadline, Incoming, until};

/// What woke the connection task.
enum Wake {
    Timeout,
    Mailbox,
    /// A write (`Some(n)`) or a flush (`None`) completed.
    Wrote(io::Result<Option<usize>>),
    Read(io::Result<usize>),
}

/// Runs one client connection to its end.
pub(crate) async fn run<S>(mut stream: S, incoming: Incoming)
where
    S: AsyncRead + AsyncWrite + Send + Unpin,
{
    let (peer, shared, _done) = incoming.into_parts();
    let Some((mailbox, mut d)) = shared.open(peer).await else {
        return;
    };
    let mut timer = Deadline::new();
    let mut budget = Budget::new();
    while !shared.drain(&mut d).await {
        let can_read = d.wants_read();
        let writing = !d.pending_writes().is_empty() || d.needs_flush();
        timer.set(d.poll_timeout());
        let (buf, pending) = d.buffers();
        let mut waited = false;
        let wake = poll_fn(|cx| {
            if timer.poll(cx).is_ready() {
                return Poll::Ready(Wake::Timeout);
            }
            if writing && let Poll::Ready(r) = poll_write_or_flush(&mut stream, cx, pending) {
                return Poll::Ready(Wake::Wrote(r));
            }
            if mailbox.poll_notified(cx).is_ready() {
                return Poll::Ready(Wake::Mailbox);
            }
            if can_read && let Poll::Ready(r) = poll_read_buf(&mut stream, cx, buf) {
                return Poll::Ready(Wake::Read(r));
            }
            waited = true;
            Poll::Pending
        })
        .await;
        budget.spend(waited).await;
        let now = Instant::now();
        match wake {
            Wake::Timeout => d.handle_timeout(now),
            Wake::Mailbox => d.handle_mailbox(now, &mailbox),
            Wake::Wrote(Ok(None)) => d.handle_flushed(),
            Wake::Wrote(Ok(Some(n))) => d.handle_written(n),
            Wake::Read(Ok(n)) => d.handle_read(now, n),
            Wake::Wrote(Err(e)) | Wake::Read(Err(e)) => d.handle_transport_error(now, &e),
        }
    }
    if let Some(rest) = shared.close(d).await {
        let _ = until(Instant::now() + CLOSE_FLUSH, linger(stream, rest)).await;
    }
}

/// One vectored write of the first chunks waiting (`Some(n)`), or a flush when none are
/// (`None`).
fn poll_write_or_flush<W: AsyncWrite + Unpin>(
    wr: &mut W,
    cx: &mut Context<'_>,
    out: &VecDeque<Bytes>,
) -> Poll<io::Result<Option<usize>>> {
    let wr = Pin::new(wr);
    if out.is_empty() {
        return wr.poll_flush(cx).map_ok(|()| None);
    }
    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
    let mut used = 0;
    for (slice, chunk) in slices.iter_mut().zip(out) {
        *slice = IoSlice::new(chunk);
        used += 1;
    }
    let slices = slices.get(..used).unwrap_or_default();
    wr.poll_write_vectored(cx, slices).map(|r| match r {
        Ok(0) => Err(io::ErrorKind::WriteZero.into()),
        Ok(n) => Ok(Some(n)),
        Err(e) => Err(e),
    })
}

/// Writes the last bytes, closes the transport, then reads until the peer closes too:
/// closing with unread input would reset the connection, and the peer could lose the last
/// packets (a DISCONNECT, a refusing CONNACK) or the end of the WebSocket closing handshake.
async fn linger<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    rest: VecDeque<Bytes>,
) -> io::Result<()> {
    for chunk in rest {
        stream.write_all(&chunk).await?;
    }
    stream.close().await?;
    let mut sink = [0; 512];
    while stream.read(&mut sink).await? > 0 {}
    Ok(())
}
