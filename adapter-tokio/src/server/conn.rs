//! The connection task: one per client. It owns the transport, the read buffer and the
//! connection's `ServerConnection`, and does all the protocol work of its client (decoding,
//! checks, acknowledgements, encoding) in parallel with the other connections.
//!
//! Each wake-up reads the clock once, feeds one input (bytes read, bytes written, the
//! broker's instructions, a timer), then drains the connection's output: bytes go to the
//! write queue, events that concern other clients go to the broker task.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant as StdInstant};

use bytes::{Buf, Bytes, BytesMut};
use mqtt_broker_core::{ConnId, Output};
use mqtt_proto::{QoS, ReasonCode};
use mqtt_session::{CloseReason, Error, ServerConfig, ServerConnection, ServerEvent};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::sleep_until;
use super::auth::{Authenticator, ClientInfo};
use super::hub::{Mailbox, ToBroker, absorb_after_close};
use crate::config::ListenerKind;

/// Smallest and largest read buffer. An idle connection keeps no buffer at all; the next
/// read gets one sized after the previous read.
const MIN_READ: usize = 64;
const MAX_READ: usize = 64 * 1024;
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

/// Adapter-level counters.
#[derive(Debug, Default)]
pub struct Counters {
    /// QoS 0 messages dropped because their subscriber was not reading.
    pub qos0_dropped_slow: AtomicU64,
    /// QoS 1/2 messages dropped because their subscriber's session queue was full.
    pub queue_full_dropped: AtomicU64,
    /// Connections closed for a protocol violation.
    pub violations: AtomicU64,
}

/// Who the peer is, for authentication and logs.
pub(crate) struct Peer {
    pub(crate) addr: SocketAddr,
    pub(crate) listener: ListenerKind,
    pub(crate) certificate_name: Option<String>,
}

/// Runs one client connection to its end.
pub(crate) async fn run<S>(stream: S, peer: Peer, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin,
{
    let mailbox = Arc::new(Mailbox::default());
    let (reply, answer) = oneshot::channel();
    let open = ToBroker::Open {
        mailbox: Arc::clone(&mailbox),
        reply,
    };
    if shared.to_broker.send(open).await.is_err() {
        return;
    }
    let Ok(Some(conn)) = answer.await else {
        tracing::warn!(peer = %peer.addr, "connection refused: connection limit reached or shutting down");
        return;
    };
    tracing::debug!(conn = conn.get(), peer = %peer.addr, listener = %peer.listener, "connection opened");
    let (rd, wr) = tokio::io::split(stream);
    let now = StdInstant::now();
    let mut c = Conn {
        conn,
        server: ServerConnection::new(now, shared.server_config.clone()),
        rd,
        wr,
        buf: BytesMut::new(),
        read_hint: MIN_READ,
        eof: false,
        out: VecDeque::new(),
        out_bytes: 0,
        needs_flush: false,
        inbox: VecDeque::new(),
        late: Vec::new(),
        closed: None,
        peer,
        shared,
    };
    c.run(&mailbox).await;
}

struct Conn<S> {
    conn: ConnId,
    server: ServerConnection,
    rd: tokio::io::ReadHalf<S>,
    wr: tokio::io::WriteHalf<S>,
    buf: BytesMut,
    /// Size of the next read buffer.
    read_hint: usize,
    eof: bool,
    /// Bytes waiting to be written, in order.
    out: VecDeque<Bytes>,
    out_bytes: usize,
    needs_flush: bool,
    /// The broker's instructions taken from the mailbox, not yet carried out.
    inbox: VecDeque<Output>,
    /// Instructions that came after the connection closed.
    late: Vec<Output>,
    closed: Option<CloseReason>,
    peer: Peer,
    shared: Arc<Shared>,
}

impl<S: AsyncRead + AsyncWrite + Send + Unpin> Conn<S> {
    async fn run(&mut self, mailbox: &Mailbox) {
        loop {
            if self.drain().await {
                break;
            }
            let can_read = !self.eof
                && self.server.wants_read()
                && self.out_bytes < self.shared.max_write_buffer;
            if can_read && self.buf.capacity() - self.buf.len() < MIN_READ {
                self.buf.reserve(self.read_hint);
            }
            let deadline = self.server.poll_timeout().map(Instant::from_std);
            let writing = !self.out.is_empty();
            tokio::select! {
                r = self.rd.read_buf(&mut self.buf), if can_read => {
                    let now = StdInstant::now();
                    match r {
                        Ok(0) => {
                            self.eof = true;
                            self.server.handle_transport_closed(now);
                        }
                        Ok(n) => {
                            self.read_hint = (n * 2).clamp(MIN_READ, MAX_READ);
                            self.server.handle_read(now, &mut self.buf);
                            if self.buf.is_empty() {
                                // Nothing partial is waiting: keep no buffer while idle.
                                self.buf = BytesMut::new();
                            }
                        }
                        Err(e) => {
                            tracing::debug!(conn = self.conn.get(), error = %e, "read failed");
                            self.eof = true;
                            self.server.handle_transport_closed(now);
                        }
                    }
                }
                r = write_or_flush(&mut self.wr, &self.out), if writing || self.needs_flush => {
                    match r {
                        Ok(0) => self.needs_flush = false,
                        Ok(n) => self.advance(n),
                        Err(e) => {
                            tracing::debug!(conn = self.conn.get(), error = %e, "write failed");
                            self.write_failed();
                        }
                    }
                }
                () = mailbox.notify.notified() => {
                    mailbox.take(&mut self.inbox);
                    self.apply_inbox();
                }
                () = sleep_until(deadline), if deadline.is_some() => {
                    self.server.handle_timeout(StdInstant::now());
                }
            }
        }
        self.finish().await;
    }

    /// Moves the connection's output along: bytes to the write queue, events to the
    /// broker. True once the connection has closed.
    async fn drain(&mut self) -> bool {
        loop {
            let now = StdInstant::now();
            while let Some(chunk) = self.server.poll_transmit(now) {
                self.out_bytes += chunk.len();
                self.out.push_back(chunk);
            }
            let Some(event) = self.server.poll_event() else {
                break;
            };
            let conn = self.conn;
            let msg = match event {
                ServerEvent::Connect(connect) => {
                    if let Some(code) = self.authenticate(&connect).await {
                        let _ = self.server.refuse(StdInstant::now(), code);
                        continue;
                    }
                    ToBroker::Connect { conn, connect }
                }
                ServerEvent::Publish(publish) => ToBroker::Publish { conn, publish },
                ServerEvent::Subscribe(subscribe) => ToBroker::Subscribe { conn, subscribe },
                ServerEvent::Unsubscribe(unsubscribe) => ToBroker::Unsubscribe { conn, unsubscribe },
                ServerEvent::Auth(_) => {
                    // No enhanced authentication method is offered, so an AUTH packet is
                    // out of place [MQTT-4.12.0-1].
                    self.server
                        .disconnect(StdInstant::now(), ReasonCode::ProtocolError);
                    continue;
                }
                ServerEvent::Delivered { .. } => continue,
                ServerEvent::Dropped { topic, why, .. } => {
                    tracing::debug!(conn = conn.get(), topic = topic.as_str(), ?why, "message to client dropped");
                    continue;
                }
                ServerEvent::Closed { reason } => {
                    self.log_close(&reason);
                    self.closed = Some(reason);
                    continue;
                }
            };
            if self.shared.to_broker.send(msg).await.is_err() {
                // The broker is gone (shut down): nothing more can be served.
                self.server.disconnect(now, ReasonCode::ServerShuttingDown);
            }
        }
        self.closed.is_some()
    }

    /// The refusal reason code, if the client may not connect.
    async fn authenticate(&self, connect: &mqtt_proto::Connect) -> Option<ReasonCode> {
        if connect.properties.authentication_method.is_some() {
            // No enhanced authentication method is supported [MQTT-4.12.0-1].
            return Some(ReasonCode::BadAuthenticationMethod);
        }
        let auth = self.shared.authenticator.as_ref()?;
        let info = ClientInfo {
            connect,
            peer: self.peer.addr,
            listener: self.peer.listener,
            certificate_name: self.peer.certificate_name.as_deref(),
        };
        match auth.authenticate(info).await {
            Ok(()) => None,
            Err(code) => {
                tracing::info!(conn = self.conn.get(), peer = %self.peer.addr, client_id = %connect.client_id, %code, "connection refused by authentication");
                Some(code)
            }
        }
    }

    /// Carries out the broker's instructions, in order.
    fn apply_inbox(&mut self) {
        while let Some(out) = self.inbox.pop_front() {
            let now = StdInstant::now();
            if self.server.is_closed() {
                self.late.push(out);
                continue;
            }
            let s = &mut self.server;
            let r = match out {
                Output::Accept { accept, .. } => {
                    let r = s.accept(now, *accept);
                    // Packets that arrived behind the CONNECT are processed now.
                    s.handle_read(now, &mut self.buf);
                    r
                }
                Output::Refuse { reason_code, .. } => s.refuse(now, reason_code),
                Output::Deliver { message, .. } => {
                    if message.qos == QoS::AtMostOnce
                        && self.out_bytes >= self.shared.max_write_buffer
                    {
                        // A subscriber that does not read loses QoS 0 messages rather
                        // than growing the broker's memory.
                        self.shared
                            .counters
                            .qos0_dropped_slow
                            .fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    match s.publish(now, message) {
                        Err(Error::QueueFull) => {
                            self.shared
                                .counters
                                .queue_full_dropped
                                .fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(conn = self.conn.get(), "session queue full: message dropped");
                            Ok(())
                        }
                        r => r.map(|_| ()),
                    }
                }
                Output::Ack {
                    packet_id,
                    reason_code,
                    ..
                } => s.acknowledge(now, packet_id, reason_code),
                Output::SubAck { suback, .. } => s.suback(now, suback),
                Output::UnsubAck { unsuback, .. } => s.unsuback(now, unsuback),
                Output::Disconnect { reason_code, .. } => {
                    s.disconnect(now, reason_code);
                    Ok(())
                }
            };
            if let Err(e) = r {
                tracing::warn!(conn = self.conn.get(), error = %e, "broker instruction could not be carried out");
            }
        }
    }

    fn advance(&mut self, mut n: usize) {
        self.out_bytes -= n.min(self.out_bytes);
        self.needs_flush = true;
        while n > 0 {
            let Some(front) = self.out.front_mut() else {
                break;
            };
            if n >= front.len() {
                n -= front.len();
                self.out.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
        if self.out.is_empty() && self.out.capacity() > MAX_SLICES {
            self.out = VecDeque::new();
        }
    }

    fn write_failed(&mut self) {
        self.out.clear();
        self.out_bytes = 0;
        self.needs_flush = false;
        self.eof = true;
        self.server.handle_transport_closed(StdInstant::now());
    }

    fn log_close(&self, reason: &CloseReason) {
        let conn = self.conn.get();
        let peer = &self.peer.addr;
        match reason {
            CloseReason::Violation(v) => {
                self.shared.counters.violations.fetch_add(1, Ordering::Relaxed);
                tracing::info!(conn, %peer, reason_code = %v.reason_code, detail = %v.detail, "protocol violation: connection closed");
            }
            CloseReason::KeepAliveTimeout => {
                tracing::info!(conn, %peer, "keep alive expired: connection closed");
            }
            CloseReason::ConnectTimeout => {
                tracing::info!(conn, %peer, "no CONNECT in time: connection closed");
            }
            other => tracing::debug!(conn, %peer, reason = ?other, "connection closed"),
        }
    }

    /// Hands the session back to the broker, then writes what is left and closes.
    async fn finish(&mut self) {
        let reason = self.closed.take().unwrap_or(CloseReason::TransportClosed);
        let mut state = self.server.take_session_state();
        for out in self.late.drain(..).chain(self.inbox.drain(..)) {
            absorb_after_close(&mut state, out);
        }
        let closed = ToBroker::Closed {
            conn: self.conn,
            reason,
            state,
        };
        let _ = self.shared.to_broker.send(closed).await;
        let now = StdInstant::now();
        while let Some(chunk) = self.server.poll_transmit(now) {
            self.out.push_back(chunk);
        }
        if self.eof {
            return;
        }
        let out = std::mem::take(&mut self.out);
        let (rd, wr) = (&mut self.rd, &mut self.wr);
        let _ = tokio::time::timeout(CLOSE_FLUSH, async move {
            for chunk in out {
                wr.write_all(&chunk).await?;
            }
            wr.shutdown().await?;
            // Read until the peer closes too: closing with unread input would reset the
            // connection, and the peer could lose the last packets (a DISCONNECT, a
            // refusing CONNACK) or the end of the WebSocket closing handshake.
            let mut sink = vec![0; 512];
            while rd.read(&mut sink).await? > 0 {}
            Ok::<_, std::io::Error>(())
        })
        .await;
    }
}

/// One vectored write of the first chunks waiting, or a flush when none are (`Ok(0)`).
/// Either is cancel safe: a write that did not complete wrote nothing.
async fn write_or_flush<W: AsyncWrite + Unpin>(
    wr: &mut W,
    out: &VecDeque<Bytes>,
) -> std::io::Result<usize> {
    if out.is_empty() {
        return wr.flush().await.map(|()| 0);
    }
    let slices: Vec<IoSlice<'_>> = out
        .iter()
        .take(MAX_SLICES)
        .map(|b| IoSlice::new(b))
        .collect();
    match wr.write_vectored(&slices).await {
        Ok(0) => Err(std::io::ErrorKind::WriteZero.into()),
        r => r,
    }
}
