//! One simulated client: a `ClientConnection` driven over a non-blocking `TcpStream`.
//!
//! The driver never blocks on a write: output chunks wait in `out` and go with
//! `try_write_vectored` whenever the socket takes them, so a task can read (and answer
//! acknowledgements) while its writes are held up, and never deadlocks with the broker.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use mqtt_proto::{ConnAck, Connect, Disconnect, ReasonCode};
use mqtt_session::{ClientConfig, ClientConnection, ClientEvent, SessionState};
use tokio::io::{Interest, Ready};
use tokio::net::TcpStream;

use super::BenchError;

/// Most chunks given to one vectored write.
const MAX_SLICES: usize = 64;
/// Most bytes read in one wake-up before the task yields to the others.
const MAX_READ_PER_WAKE: usize = 1024 * 1024;

/// A client connection and its socket.
pub(super) struct Conn {
    stream: TcpStream,
    pub(super) session: ClientConnection,
    rbuf: BytesMut,
    /// How much room a read gets.
    read_chunk: usize,
    /// Chunks waiting for the socket, in order; the first may be partly written.
    out: VecDeque<Bytes>,
    out_len: usize,
}

impl Conn {
    /// Connects, sends CONNECT and waits for the CONNACK.
    ///
    /// # Errors
    /// A socket error, a refused or closed connection, or no CONNACK within `timeout`.
    pub(super) async fn open(
        addr: SocketAddr,
        connect: Connect,
        config: ClientConfig,
        read_chunk: usize,
        timeout: Duration,
    ) -> Result<(Self, ConnAck), BenchError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| BenchError::Timeout("TCP connect"))?
            .map_err(|e| BenchError::Connect(addr, e))?;
        stream.set_nodelay(true).map_err(BenchError::Io)?;
        let now = Instant::now();
        let session = ClientConnection::new(now, connect, SessionState::new(), config)
            .map_err(|e| BenchError::Session(e.to_string()))?;
        let mut conn = Self {
            stream,
            session,
            rbuf: BytesMut::new(),
            read_chunk,
            out: VecDeque::new(),
            out_len: 0,
        };
        conn.collect(now);
        let ack = tokio::time::timeout(timeout, conn.until_connack())
            .await
            .map_err(|_| BenchError::Timeout("CONNACK"))??;
        Ok((conn, ack))
    }

    async fn until_connack(&mut self) -> Result<ConnAck, BenchError> {
        loop {
            self.try_flush()?;
            let ready = self.ready().await?;
            self.on_ready(Instant::now(), ready)?;
            while let Some(event) = self.session.poll_event() {
                match event {
                    ClientEvent::Connected(ack) => return Ok(ack),
                    ClientEvent::Closed { reason } => {
                        return Err(BenchError::Closed(format!("{reason:?}")));
                    }
                    _ => {}
                }
            }
        }
    }

    /// Moves what the session wants to send into the output queue.
    pub(super) fn collect(&mut self, now: Instant) {
        while let Some(chunk) = self.session.poll_transmit(now) {
            self.out_len += chunk.len();
            self.out.push_back(chunk);
        }
    }

    /// Bytes waiting for the socket.
    pub(super) fn pending(&self) -> usize {
        self.out_len
    }

    /// Writes as much of the output queue as the socket takes now.
    ///
    /// # Errors
    /// A socket error.
    pub(super) fn try_flush(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            let slices: Vec<IoSlice<'_>> = self
                .out
                .iter()
                .take(MAX_SLICES)
                .map(|c| IoSlice::new(c))
                .collect();
            let written = match self.stream.try_write_vectored(&slices) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            };
            self.advance(written);
        }
        Ok(())
    }

    fn advance(&mut self, mut n: usize) {
        self.out_len -= n;
        while n > 0 {
            let Some(front) = self.out.front_mut() else {
                return;
            };
            if front.len() > n {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.out.pop_front();
        }
    }

    /// Reads what the socket has (up to a bound) and feeds it to the session. Returns
    /// false once the transport is closed.
    ///
    /// # Errors
    /// A socket error other than "would block".
    pub(super) fn try_read(&mut self, now: Instant) -> io::Result<bool> {
        let mut total = 0;
        while total < MAX_READ_PER_WAKE {
            if self.rbuf.capacity() - self.rbuf.len() < self.read_chunk / 4 {
                self.rbuf.reserve(self.read_chunk);
            }
            match self.stream.try_read_buf(&mut self.rbuf) {
                Ok(0) => {
                    self.session.handle_transport_closed(now);
                    return Ok(false);
                }
                Ok(n) => {
                    total += n;
                    self.session.handle_read(now, &mut self.rbuf);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        self.collect(now);
        Ok(true)
    }

    /// Waits until the socket is readable, or writable while output waits.
    ///
    /// # Errors
    /// A socket error.
    pub(super) async fn ready(&self) -> io::Result<Ready> {
        let interest = if self.out.is_empty() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        };
        self.stream.ready(interest).await
    }

    /// Handles a readiness at `now`: reads, then writes what is pending. Returns false
    /// once the transport is closed.
    ///
    /// # Errors
    /// A socket error.
    pub(super) fn on_ready(&mut self, now: Instant, ready: Ready) -> io::Result<bool> {
        let mut open = true;
        if ready.is_readable() || ready.is_read_closed() {
            open = self.try_read(now)?;
        }
        self.try_flush()?;
        Ok(open)
    }

    /// Runs the session's timers (PINGREQ, PINGRESP deadline).
    ///
    /// # Errors
    /// A socket error.
    pub(super) fn on_timeout(&mut self) -> io::Result<()> {
        let now = Instant::now();
        self.session.handle_timeout(now);
        self.collect(now);
        self.try_flush()
    }

    /// When [`on_timeout`](Self::on_timeout) is due.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.session.poll_timeout()
    }

    /// Sends DISCONNECT and waits (bounded) until every byte is written.
    pub(super) async fn close(mut self, limit: Duration) {
        let now = Instant::now();
        if self
            .session
            .disconnect(now, Disconnect::new(ReasonCode::Success))
            .is_err()
        {
            return;
        }
        self.collect(now);
        let _ = tokio::time::timeout(limit, async {
            while self.pending() > 0 {
                if self.try_flush().is_err() {
                    return;
                }
                if self.pending() > 0 && self.stream.writable().await.is_err() {
                    return;
                }
            }
        })
        .await;
    }
}

/// Sleeps until `deadline`, or forever without one.
pub(super) async fn sleep_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}
