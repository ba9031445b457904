//! The connection task: one per client. It owns the transport and the connection's
//! [`ServerDriver`](adapter_common::driver::ServerDriver), which does all the protocol work of
//! its client (decoding, checks, acknowledgements, encoding) in parallel with the other
//! connections; the steps around the driver are `adapter_common::server::Connections`.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::time::Instant as StdInstant;

use adapter_common::server::{CLOSE_FLUSH, MAX_SLICES};
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::{Incoming, sleep_until};

/// Runs one client connection to its end.
pub(crate) async fn run<S>(stream: S, incoming: Incoming)
where
    S: AsyncRead + AsyncWrite + Send + Unpin,
{
    let (peer, shared, _done) = incoming.into_parts();
    let Some((mailbox, mut d)) = shared.open(peer).await else {
        return;
    };
    let (mut rd, mut wr) = tokio::io::split(stream);
    while !shared.drain(&mut d).await {
        let can_read = d.wants_read();
        let writing = !d.pending_writes().is_empty() || d.needs_flush();
        let deadline = d.poll_timeout().map(Instant::from_std);
        let (buf, pending) = d.buffers();
        tokio::select! {
            r = rd.read_buf(buf), if can_read => match r {
                Ok(n) => d.handle_read(StdInstant::now(), n),
                Err(e) => d.handle_transport_error(StdInstant::now(), &e),
            },
            r = write_or_flush(&mut wr, pending), if writing => match r {
                Ok(None) => d.handle_flushed(),
                Ok(Some(n)) => d.handle_written(n),
                Err(e) => d.handle_transport_error(StdInstant::now(), &e),
            },
            () = mailbox.notified() => d.handle_mailbox(StdInstant::now(), &mailbox),
            () = sleep_until(deadline), if deadline.is_some() => {
                d.handle_timeout(StdInstant::now());
            }
        }
    }
    if let Some(rest) = shared.close(d).await {
        let _ = tokio::time::timeout(CLOSE_FLUSH, linger(rd, wr, rest)).await;
    }
}

/// Writes the last bytes, shuts the transport down, then reads until the peer closes too:
/// closing with unread input would reset the connection, and the peer could lose the last
/// packets (a DISCONNECT, a refusing CONNACK) or the end of the WebSocket closing handshake.
async fn linger<S: AsyncRead + AsyncWrite>(
    mut rd: tokio::io::ReadHalf<S>,
    mut wr: tokio::io::WriteHalf<S>,
    rest: impl IntoIterator<Item = Bytes>,
) -> std::io::Result<()> {
    for chunk in rest {
        wr.write_all(&chunk).await?;
    }
    wr.shutdown().await?;
    let mut sink = vec![0; 512];
    while rd.read(&mut sink).await? > 0 {}
    Ok(())
}

/// One vectored write of the first chunks waiting (`Some(n)`), or a flush when none are
/// (`None`). Either is cancel safe: a write that did not complete wrote nothing.
async fn write_or_flush<W: AsyncWrite + Unpin>(
    wr: &mut W,
    out: &VecDeque<Bytes>,
) -> std::io::Result<Option<usize>> {
    if out.is_empty() {
        return wr.flush().await.map(|()| None);
    }
    let slices: Vec<IoSlice<'_>> = out
        .iter()
        .take(MAX_SLICES)
        .map(|b| IoSlice::new(b))
        .collect();
    match wr.write_vectored(&slices).await {
        Ok(0) => Err(std::io::ErrorKind::WriteZero.into()),
        Ok(n) => Ok(Some(n)),
        Err(e) => Err(e),
    }
}
