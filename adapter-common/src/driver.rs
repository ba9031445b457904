//! The connection task's logic, without I/O: [`ServerDriver`] joins one
//! `ServerConnection` to the [`Hub`](crate::hub::Hub).
//!
//! The adapter's connection task owns the transport and a `ServerDriver`. Each wake-up it
//! reads the clock once and feeds one input:
//!
//! | what happened | call |
//! | --- | --- |
//! | bytes read into [`read_buffer`](ServerDriver::read_buffer) | [`handle_read`](ServerDriver::handle_read) (`0` = end of stream) |
//! | a read or write failed | [`handle_transport_error`](ServerDriver::handle_transport_error) |
//! | bytes of [`pending_writes`](ServerDriver::pending_writes) written | [`handle_written`](ServerDriver::handle_written) |
//! | a flush completed | [`handle_flushed`](ServerDriver::handle_flushed) |
//! | the mailbox was signalled | [`handle_mailbox`](ServerDriver::handle_mailbox) |
//! | [`poll_timeout`](ServerDriver::poll_timeout) passed | [`handle_timeout`](ServerDriver::handle_timeout) |
//!
//! then drains [`poll_step`](ServerDriver::poll_step): each [`Step`] is a message for the
//! broker task, or a CONNECT to authenticate (possibly asynchronously) and answer with
//! [`authenticated`](ServerDriver::authenticated). Then it waits again: for input when
//! [`wants_read`](ServerDriver::wants_read), for the transport to accept bytes when there are
//! [`pending_writes`](ServerDriver::pending_writes) (or a flush when
//! [`needs_flush`](ServerDriver::needs_flush)), for the mailbox, and for the timeout. Once
//! [`is_closed`](ServerDriver::is_closed), [`finish`](ServerDriver::finish) gives the message
//! that hands the session back and the last bytes to write before closing the transport.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use mqtt_broker_core::{ConnId, Output};
use mqtt_proto::{Connect, QoS, ReasonCode};
use mqtt_session::{CloseReason, Error, ServerConfig, ServerConnection, ServerEvent};

use crate::auth::{Authenticator, ClientInfo};
use crate::config::ListenerKind;
use crate::hub::{Mailbox, ToBroker, absorb_after_close};

/// Smallest and largest read buffer. An idle connection keeps no buffer at all; the next
/// read gets one sized after the previous read.
const MIN_READ: usize = 64;
const MAX_READ: usize = 64 * 1024;
/// Write queue capacity kept while the queue is empty.
const KEEP_OUT: usize = 64;

/// Counters the connections of one server share.
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
#[derive(Debug, Clone)]
pub struct Peer {
    /// Its address.
    pub addr: SocketAddr,
    /// The listener it came through.
    pub listener: ListenerKind,
    /// The Common Name of its verified TLS client certificate.
    pub certificate_name: Option<String>,
}

/// What the connection task must do next.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // a step is moved once, straight into the channel
pub enum Step {
    /// Send this to the broker task.
    ToBroker(ToBroker),
    /// Authenticate this CONNECT ([`authenticate`]), then pass it and the answer to
    /// [`ServerDriver::authenticated`].
    Authenticate(Box<Connect>),
}

/// Runs `authenticator` (`None`: everyone is accepted) on a CONNECT.
///
/// # Errors
/// The reason code of the refusal.
pub async fn authenticate(
    authenticator: Option<&dyn Authenticator>,
    connect: &Connect,
    peer: &Peer,
) -> Result<(), ReasonCode> {
    let Some(auth) = authenticator else {
        return Ok(());
    };
    let info = ClientInfo {
        connect,
        peer: peer.addr,
        listener: peer.listener,
        certificate_name: peer.certificate_name.as_deref(),
    };
    auth.authenticate(info).await
}

/// One client connection's protocol state, write queue and bookkeeping with the broker.
pub struct ServerDriver {
    conn: ConnId,
    server: ServerConnection,
    peer: Peer,
    counters: Arc<Counters>,
    max_write_buffer: usize,
    buf: BytesMut,
    read_hint: usize,
    eof: bool,
    out: VecDeque<Bytes>,
    out_bytes: usize,
    needs_flush: bool,
    inbox: VecDeque<Output>,
    /// Instructions that came after the connection closed.
    late: Vec<Output>,
    closed: Option<CloseReason>,
    /// What the broker was last told of the in-flight window towards the client.
    window_full: bool,
    /// Messages to the client dropped here and not yet reported to the broker (for the
    /// `$SYS` statistics).
    dropped: u64,
}

impl ServerDriver {
    /// The driver of connection `conn` (from [`Mailbox::opened`]). `max_write_buffer` bounds
    /// the bytes waiting for the client: above it, QoS 0 messages to it are dropped and
    /// counted, and its input is not read.
    #[must_use]
    pub fn new(
        now: Instant,
        conn: ConnId,
        config: ServerConfig,
        max_write_buffer: usize,
        peer: Peer,
        counters: Arc<Counters>,
    ) -> Self {
        tracing::debug!(conn = conn.get(), peer = %peer.addr, listener = %peer.listener, "connection opened");
        Self {
            conn,
            server: ServerConnection::new(now, config),
            peer,
            counters,
            max_write_buffer,
            buf: BytesMut::new(),
            read_hint: MIN_READ,
            eof: false,
            out: VecDeque::new(),
            out_bytes: 0,
            needs_flush: false,
            inbox: VecDeque::new(),
            late: Vec::new(),
            closed: None,
            window_full: false,
            dropped: 0,
        }
    }

    /// The connection's identifier.
    #[must_use]
    pub fn conn(&self) -> ConnId {
        self.conn
    }

    /// The peer.
    #[must_use]
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// Whether to read from the transport now: not after its end, not while a CONNECT
    /// awaits its answer, and not while too much waits to be written to a client that does
    /// not read.
    #[must_use]
    pub fn wants_read(&self) -> bool {
        !self.eof && self.server.wants_read() && self.out_bytes < self.max_write_buffer
    }

    /// The buffer to read into (append after its current contents), with room reserved
    /// after the size of the previous read.
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        if self.buf.capacity() - self.buf.len() < MIN_READ {
            self.buf.reserve(self.read_hint);
        }
        &mut self.buf
    }

    /// The read buffer (as [`read_buffer`](Self::read_buffer)) and the bytes waiting to be
    /// written (as [`pending_writes`](Self::pending_writes)) at once, for a task that waits
    /// on both.
    pub fn buffers(&mut self) -> (&mut BytesMut, &VecDeque<Bytes>) {
        self.read_buffer();
        (&mut self.buf, &self.out)
    }

    /// `n` bytes were appended to the read buffer; 0 is the end of the stream.
    pub fn handle_read(&mut self, now: Instant, n: usize) {
        if n == 0 {
            self.eof = true;
            self.server.handle_transport_closed(now);
            return;
        }
        self.read_hint = n.saturating_mul(2).clamp(MIN_READ, MAX_READ);
        self.server.handle_read(now, &mut self.buf);
        if self.buf.is_empty() {
            // Nothing partial is waiting: keep no buffer while idle.
            self.buf = BytesMut::new();
        }
    }

    /// Reading or writing failed: the transport is gone.
    pub fn handle_transport_error(&mut self, now: Instant, error: &std::io::Error) {
        tracing::debug!(conn = self.conn.get(), %error, "transport failed");
        self.out.clear();
        self.out_bytes = 0;
        self.needs_flush = false;
        self.eof = true;
        self.server.handle_transport_closed(now);
    }

    /// The bytes waiting to be written, in order (write them vectored).
    #[must_use]
    pub fn pending_writes(&self) -> &VecDeque<Bytes> {
        &self.out
    }

    /// Whether written bytes may sit in a buffer of the transport (TLS, WebSocket) and a
    /// flush is due once nothing is pending.
    #[must_use]
    pub fn needs_flush(&self) -> bool {
        self.needs_flush && self.out.is_empty()
    }

    /// `n` bytes from the front of [`pending_writes`](Self::pending_writes) were written.
    pub fn handle_written(&mut self, mut n: usize) {
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
        if self.out.is_empty() && self.out.capacity() > KEEP_OUT {
            self.out = VecDeque::new();
        }
    }

    /// A flush completed.
    pub fn handle_flushed(&mut self) {
        self.needs_flush = false;
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.server.poll_timeout()
    }

    /// Keep alive and connect timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.server.handle_timeout(now);
    }

    /// Takes the broker's instructions from `mailbox` and carries them out, in order.
    pub fn handle_mailbox(&mut self, now: Instant, mailbox: &Mailbox) {
        mailbox.take(&mut self.inbox);
        while let Some(out) = self.inbox.pop_front() {
            if self.server.is_closed() {
                self.late.push(out);
                continue;
            }
            self.apply(now, out);
        }
    }

    fn apply(&mut self, now: Instant, out: Output) {
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
                if message.qos == QoS::AtMostOnce && self.out_bytes >= self.max_write_buffer {
                    // A subscriber that does not read loses QoS 0 messages rather than
                    // growing the broker's memory.
                    self.counters
                        .qos0_dropped_slow
                        .fetch_add(1, Ordering::Relaxed);
                    self.dropped += 1;
                    return;
                }
                match s.publish(now, message) {
                    Err(Error::QueueFull) => {
                        self.counters
                            .queue_full_dropped
                            .fetch_add(1, Ordering::Relaxed);
                        self.dropped += 1;
                        tracing::debug!(
                            conn = self.conn.get(),
                            "session queue full: message dropped"
                        );
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

    /// The next thing to do. Also moves the connection's output bytes to the write queue.
    pub fn poll_step(&mut self, now: Instant) -> Option<Step> {
        loop {
            while let Some(chunk) = self.server.poll_transmit(now) {
                self.out_bytes += chunk.len();
                self.out.push_back(chunk);
            }
            let conn = self.conn;
            let Some(event) = self.server.poll_event() else {
                // Shared subscriptions prefer members whose window has room.
                let full = self.server.is_window_full();
                if full != self.window_full && !self.server.is_closed() {
                    self.window_full = full;
                    return Some(Step::ToBroker(ToBroker::Window { conn, full }));
                }
                if self.dropped > 0 {
                    let count = std::mem::take(&mut self.dropped);
                    return Some(Step::ToBroker(ToBroker::Dropped { count }));
                }
                return None;
            };
            let msg = match event {
                ServerEvent::Connect(connect) => {
                    if connect.properties.authentication_method.is_some() {
                        // No enhanced authentication method is offered [MQTT-4.12.0-1].
                        let _ = self.server.refuse(now, ReasonCode::BadAuthenticationMethod);
                        continue;
                    }
                    return Some(Step::Authenticate(connect));
                }
                ServerEvent::Publish(publish) => ToBroker::Publish { conn, publish },
                ServerEvent::Subscribe(subscribe) => ToBroker::Subscribe { conn, subscribe },
                ServerEvent::Unsubscribe(unsubscribe) => {
                    ToBroker::Unsubscribe { conn, unsubscribe }
                }
                ServerEvent::Auth(_) => {
                    // No enhanced authentication exchange was started, so an AUTH packet is
                    // out of place [MQTT-4.12.0-1].
                    self.server.disconnect(now, ReasonCode::ProtocolError);
                    continue;
                }
                ServerEvent::Delivered { .. } => continue,
                ServerEvent::Dropped { topic, why, .. } => {
                    self.dropped += 1;
                    tracing::debug!(
                        conn = conn.get(),
                        topic = topic.as_str(),
                        ?why,
                        "message to client dropped"
                    );
                    continue;
                }
                ServerEvent::Closed { reason } => {
                    self.log_close(&reason);
                    self.closed = Some(reason);
                    continue;
                }
            };
            return Some(Step::ToBroker(msg));
        }
    }

    /// The answer to a [`Step::Authenticate`]: the message for the broker when the client
    /// may connect; otherwise the connection refuses it.
    pub fn authenticated(
        &mut self,
        now: Instant,
        connect: Box<Connect>,
        answer: Result<(), ReasonCode>,
    ) -> Option<ToBroker> {
        match answer {
            Ok(()) => Some(ToBroker::Connect {
                conn: self.conn,
                connect,
            }),
            Err(code) => {
                tracing::info!(conn = self.conn.get(), peer = %self.peer.addr, client_id = %connect.client_id, %code, "connection refused by authentication");
                let _ = self.server.refuse(now, code);
                None
            }
        }
    }

    /// The broker task is gone (the server is stopping): close.
    pub fn broker_gone(&mut self, now: Instant) {
        self.server.disconnect(now, ReasonCode::ServerShuttingDown);
    }

    /// Whether the connection closed: call [`finish`](Self::finish).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Ends the connection: the message handing its session back to the broker, and the
    /// bytes still to write (`None` when the transport is gone) before shutting the
    /// transport down.
    pub fn finish(&mut self, now: Instant) -> (ToBroker, Option<VecDeque<Bytes>>) {
        let reason = self.closed.take().unwrap_or(CloseReason::TransportClosed);
        let mut state = self.server.take_session_state();
        for out in self.late.drain(..).chain(self.inbox.drain(..)) {
            absorb_after_close(now, &mut state, out);
        }
        while let Some(chunk) = self.server.poll_transmit(now) {
            self.out.push_back(chunk);
        }
        let closed = ToBroker::Closed {
            conn: self.conn,
            reason,
            state,
        };
        let rest = (!self.eof).then(|| std::mem::take(&mut self.out));
        (closed, rest)
    }

    fn log_close(&self, reason: &CloseReason) {
        let conn = self.conn.get();
        let peer = &self.peer.addr;
        match reason {
            CloseReason::Violation(v) => {
                self.counters.violations.fetch_add(1, Ordering::Relaxed);
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
}
