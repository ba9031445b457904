//! The connection task: one per client. It owns the transport and the connection's
//! [`ServerDriver`], which does all the protocol work of its client (decoding, checks,
//! acknowledgements, encoding) in parallel with the other connections.

use std::io::IoSlice;
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use adapter_common::driver::{Counters, Peer, ServerDriver, Step, authenticate};
use adapter_common::hub::{Mailbox, ToBroker};
use bytes::Bytes;
use mqtt_session::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::sleep_until;
use crate::server::Authenticator;

/// Most chunks given to one vectored write.
const MAX_SLICES: usize = 64;
/// How long a closing connection may take to write its last bytes and see the peer close.
const CLOSE_FLUSH: Duration = Duration::from_secs(5);

/// What every connection task shares.
pub(crate) struct Shared {
    pub(crate) server_config: ServerConfig,
    pub(crate) max_write_buffer: usize,
    /// `None` when every client is accepted.
    pub(crate) authenticator: Option<Arc<dyn Authenticator>>,
    pub(crate) to_broker: mpsc::Sender<ToBroker>,
    pub(crate) counters: Arc<Counters>,
}

/// Runs one client connection to its end.
pub(crate) async fn run<S>(stream: S, peer: Peer, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin,
{
    let mailbox = Arc::new(Mailbox::default());
    let open = ToBroker::Open {
        mailbox: Arc::clone(&mailbox),
    };
    if shared.to_broker.send(open).await.is_err() {
        return;
    }
    let conn = loop {
        if let Some(answer) = mailbox.opened() {
            break answer;
        }
        mailbox.notified().await;
    };
    let Some(conn) = conn else {
        tracing::warn!(peer = %peer.addr, "connection refused: connection limit reached or shutting down");
        return;
    };
    let mut d = ServerDriver::new(
        StdInstant::now(),
        conn,
        shared.server_config.clone(),
        shared.max_write_buffer,
        peer,
        Arc::clone(&shared.counters),
    );
    let (mut rd, mut wr) = tokio::io::split(stream);
    loop {
        if drain(&mut d, &shared).await {
            break;
        }
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
    let (closed, rest) = d.finish(StdInstant::now());
    let _ = shared.to_broker.send(closed).await;
    if let Some(rest) = rest {
        let _ = tokio::time::timeout(CLOSE_FLUSH, linger(rd, wr, rest)).await;
    }
}

/// Carries out the driver's steps; true once the connection has closed.
async fn drain(d: &mut ServerDriver, shared: &Shared) -> bool {
    while let Some(step) = d.poll_step(StdInstant::now()) {
        let msg = match step {
            Step::ToBroker(msg) => msg,
            Step::Authenticate(connect) => {
                let answer =
                    authenticate(shared.authenticator.as_deref(), &connect, d.peer()).await;
                match d.authenticated(StdInstant::now(), connect, answer) {
                    Some(msg) => msg,
                    None => continue,
                }
            }
        };
        if shared.to_broker.send(msg).await.is_err() {
            d.broker_gone(StdInstant::now());
        }
    }
    d.is_closed()
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
    out: &std::collections::VecDeque<Bytes>,
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
