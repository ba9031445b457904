//! The client's sans-IO core: [`ClientDriver`] owns the [`ClientConnection`] of the open
//! transport, the requests of the [`Client`](super::Client) handles and their answers, and
//! everything that outlives one connection.
//!
//! It never awaits and never reads a clock: the connection task ([`super::task`]) reads
//! the clock once per wake-up and feeds one input:
//!
//! | what happened | call |
//! | --- | --- |
//! | [`poll_channels`](ClientDriver::poll_channels) was ready | [`handle_channels`](ClientDriver::handle_channels) |
//! | a transport opened | [`handle_opened`](ClientDriver::handle_opened) |
//! | opening a transport failed | [`handle_open_failed`](ClientDriver::handle_open_failed) |
//! | bytes read into [`read_buffer`](ClientDriver::read_buffer) | [`handle_read`](ClientDriver::handle_read) (`0` = end of stream) |
//! | a read or write failed | [`handle_transport_error`](ClientDriver::handle_transport_error) |
//! | bytes of [`pending_writes`](ClientDriver::pending_writes) written | [`handle_written`](ClientDriver::handle_written) |
//! | a flush completed | [`handle_flushed`](ClientDriver::handle_flushed) |
//! | [`poll_timeout`](ClientDriver::poll_timeout) passed | [`handle_timeout`](ClientDriver::handle_timeout) |
//!
//! then calls [`drain`](ClientDriver::drain) (transmit into the write queue, then the
//! connection's events). Once the connection is closed ([`closed`](ClientDriver::closed)),
//! the task writes the last bytes and calls [`handle_closed`](ClientDriver::handle_closed),
//! which says what comes next ([`Next`]).
//!
//! Requests are answered through their own `futures-channel` oneshot, events go to a
//! bounded channel without ever waiting for it: while it is full the driver holds events
//! back and stops wanting to read.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use futures_channel::{mpsc, oneshot};
use futures_core::Stream;
use mqtt_proto::{
    ConnAck, Connect, Disconnect, PacketId, Publish, QoS, ReasonCode, SubAck, SubscribeProperties,
    SubscriptionId, SubscriptionOptions, TopicFilter, UnsubAck, UnsubscribeProperties,
};
use mqtt_session::{ClientConfig, ClientConnection, ClientEvent, CloseReason, MessageId};
use mqtt_session::{OutgoingMessage, SessionState};
use std::pin::Pin;
use tracing::{debug, warn};

use super::event::{Ack, Responder};
use super::{Backoff, ClientError, ConnectError, DisconnectReason, Event, Message, PublishOutcome};

/// Commands taken from the queue per wake-up.
const COMMAND_BATCH: usize = 64;
/// Bytes read per wake-up at most.
const READ_CHUNK: usize = 16 * 1024;
/// Unwritten bytes above which the task takes no more commands (the network is slower
/// than the application).
const MAX_UNWRITTEN: usize = 1024 * 1024;
/// Written but unflushed bytes after which the transport is flushed even though more
/// writes are waiting.
const FLUSH_EVERY: u64 = 64 * 1024;
/// Connection events (not messages) kept for an event stream nobody reads; later ones
/// are discarded.
const MAX_HELD_EVENTS: usize = 1024;

/// A request from a [`Client`](super::Client) handle.
pub(crate) enum Command {
    Publish {
        message: OutgoingMessage,
        done: Responder<PublishOutcome>,
    },
    /// `done` is `None` for the driver's own re-subscriptions.
    Subscribe {
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        properties: SubscribeProperties,
        done: Option<Responder<SubAck>>,
    },
    Unsubscribe {
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
        done: Responder<UnsubAck>,
    },
    Disconnect {
        packet: Disconnect,
        done: oneshot::Sender<()>,
    },
    /// Test support: drop the transport without a DISCONNECT.
    DropTransport,
}

impl Command {
    fn reject(self, error: ClientError) {
        // A requester that went away needs no answer.
        match self {
            Self::Publish { done, .. } => drop(done.send(Err(error))),
            Self::Subscribe {
                done: Some(done), ..
            } => drop(done.send(Err(error))),
            Self::Unsubscribe { done, .. } => drop(done.send(Err(error))),
            Self::Disconnect { done, .. } => drop(done.send(())),
            Self::Subscribe { done: None, .. } | Self::DropTransport => {}
        }
    }
}

/// Everything the driver is configured with.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) session: ClientConfig,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) connect_timeout: Duration,
    pub(crate) manual_ack: bool,
    /// Most requests held while there is no connection.
    pub(crate) max_pending: usize,
}

/// Reports the first connection attempt to
/// [`ClientBuilder::connect_with`](super::ClientBuilder::connect_with).
pub(crate) type FirstAttempt = Option<oneshot::Sender<Result<(), ConnectError>>>;

/// What the connection task does after a connection ended or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Wait this long, then open the transport again.
    Reconnect(Duration),
    /// Stop: call [`ClientDriver::shut_down`].
    Stop,
}

/// The client's state across connections; see the [module documentation](self).
pub(crate) struct ClientDriver {
    opts: Options,
    commands: mpsc::Receiver<Command>,
    /// Manual acknowledgements, on a channel of their own (see [`Message`]).
    acks: mpsc::UnboundedReceiver<Ack>,
    ack_sender: mpsc::UnboundedSender<Ack>,
    /// Commands and acknowledgements received, for [`Self::handle_channels`].
    batch: Vec<Command>,
    ack_batch: Vec<Ack>,
    /// Every handle is gone.
    handles_gone: bool,
    /// The read buffer, reused from one read and one connection to the next.
    rbuf: BytesMut,
    events: mpsc::Sender<Event>,
    /// Events waiting for room in the channel, in order.
    outbox: VecDeque<Event>,
    events_closed: bool,
    /// The CONNECT of the next connection.
    connect: Connect,
    /// Between connections; inside the connection while one is open.
    session: SessionState,
    /// Counts connections, so acknowledgements are matched to theirs.
    generation: u64,
    /// Subscriptions the server acknowledged, to send again to a server that lost them.
    subscriptions: BTreeMap<TopicFilter, (SubscriptionOptions, Option<SubscriptionId>)>,
    /// Whether the remembered subscriptions still have to be sent again.
    resubscribe: bool,
    /// Re-subscriptions awaiting their SUBACK.
    resubscribing: usize,
    publishes: HashMap<MessageId, Responder<PublishOutcome>>,
    /// SUBSCRIBE and UNSUBSCRIBE awaiting their acknowledgement, in order.
    requests: Vec<(PacketId, Command)>,
    /// Requests waiting for a connection, in order.
    pending: VecDeque<Command>,
    /// Disconnect was requested, or every handle is gone.
    stop: bool,
    closing: Vec<oneshot::Sender<()>>,
    first: FirstAttempt,
    link: Option<Link>,
}

/// One open transport's connection and write queue.
struct Link {
    conn: ClientConnection,
    /// Chunks to write, in order.
    out: VecDeque<Bytes>,
    out_len: usize,
    /// Bytes ever queued, written and flushed on this link.
    queued: u64,
    written: u64,
    flushed: u64,
    /// QoS 0 messages with the `queued` count that includes their last byte.
    qos0: VecDeque<(u64, MessageId)>,
    /// The server accepted the connection.
    accepted: bool,
    closed: Option<CloseReason>,
    aborted: bool,
}

impl ClientDriver {
    /// A driver whose first connection sends `connect` (already validated); `first` hears
    /// how the first connection attempt went.
    pub(crate) fn new(
        opts: Options,
        connect: Connect,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<Event>,
        first: FirstAttempt,
    ) -> Self {
        let (ack_sender, acks) = mpsc::unbounded();
        Self {
            connect,
            opts,
            commands,
            acks,
            ack_sender,
            batch: Vec::with_capacity(COMMAND_BATCH),
            ack_batch: Vec::new(),
            handles_gone: false,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            events,
            outbox: VecDeque::new(),
            events_closed: false,
            session: SessionState::new(),
            generation: 0,
            subscriptions: BTreeMap::new(),
            resubscribe: false,
            resubscribing: 0,
            publishes: HashMap::new(),
            requests: Vec::new(),
            pending: VecDeque::new(),
            stop: false,
            closing: Vec::new(),
            first,
            link: None,
        }
    }

    /// How long opening the transport may take.
    pub(crate) fn connect_timeout(&self) -> Duration {
        self.opts.connect_timeout
    }

    /// Whether the client is to stop (once the current connection, if any, has closed).
    pub(crate) fn is_stopping(&self) -> bool {
        self.stop
    }

    /// Polls the channels: moves held events into the event channel when it has room, and
    /// takes acknowledgements and (unless the write queue is too long or the client is
    /// stopping) a batch of commands. `Ready` when there is something for
    /// [`handle_channels`](Self::handle_channels).
    pub(crate) fn poll_channels(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut ready = false;
        if !self.outbox.is_empty()
            && let Poll::Ready(r) = self.events.poll_ready(cx)
        {
            // Reading may resume: the caller looks again.
            self.flush_outbox(r.is_ok());
            ready = true;
        }
        while let Poll::Ready(Some(ack)) = Pin::new(&mut self.acks).poll_next(cx) {
            self.ack_batch.push(ack);
        }
        let unwritten = self.link.as_ref().map_or(0, |l| l.out_len);
        if !self.stop && !self.handles_gone && unwritten < MAX_UNWRITTEN {
            while self.batch.len() < COMMAND_BATCH {
                match Pin::new(&mut self.commands).poll_next(cx) {
                    Poll::Ready(Some(command)) => self.batch.push(command),
                    Poll::Ready(None) => {
                        self.handles_gone = true;
                        break;
                    }
                    Poll::Pending => break,
                }
            }
        }
        ready |= !self.batch.is_empty() || !self.ack_batch.is_empty();
        if ready || (self.handles_gone && !self.stop) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Carries out what [`poll_channels`](Self::poll_channels) received: on the
    /// connection, or held for the next one.
    pub(crate) fn handle_channels(&mut self, now: Instant) {
        for ack in std::mem::take(&mut self.ack_batch) {
            self.acknowledge(now, ack);
        }
        let mut batch = std::mem::take(&mut self.batch);
        for command in batch.drain(..) {
            self.command(now, command);
        }
        self.batch = batch;
        if self.handles_gone && !self.stop {
            // Every handle is gone: nobody can use the connection any more.
            self.stop = true;
            if let Some(link) = &mut self.link
                && let Err(e) = link
                    .conn
                    .disconnect(now, Disconnect::new(ReasonCode::Success))
            {
                debug!(error = %e, "disconnect");
            }
        }
    }

    /// A transport opened: starts a connection over it.
    pub(crate) fn handle_opened(&mut self, now: Instant) {
        let session = std::mem::take(&mut self.session);
        let conn = ClientConnection::new(
            now,
            self.connect.clone(),
            session,
            self.opts.session.clone(),
        );
        let conn = match conn {
            Ok(conn) => conn,
            // The builder encoded this CONNECT once already.
            Err(e) => {
                self.link = None;
                warn!(error = %e, "CONNECT refused by the connection");
                return;
            }
        };
        self.generation += 1;
        // A partial packet of the previous connection means nothing on this one.
        self.rbuf.clear();
        self.link = Some(Link {
            conn,
            out: VecDeque::new(),
            out_len: 0,
            queued: 0,
            written: 0,
            flushed: 0,
            qos0: VecDeque::new(),
            accepted: false,
            closed: None,
            aborted: false,
        });
    }

    /// Opening a transport failed.
    pub(crate) fn handle_open_failed(&mut self, error: ConnectError) -> Next {
        self.ended(Err(error))
    }

    /// Whether the connection wants input: it has room, the application has taken the
    /// events, and the answers to the server can be written.
    pub(crate) fn wants_read(&self) -> bool {
        self.link.as_ref().is_some_and(|link| {
            link.conn.wants_read() && self.outbox.is_empty() && link.out_len < MAX_UNWRITTEN
        })
    }

    /// The buffer to read into (after the bytes of a partial packet), with room reserved.
    pub(crate) fn read_buffer(&mut self) -> &mut BytesMut {
        if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 4 {
            self.rbuf.reserve(READ_CHUNK);
        }
        &mut self.rbuf
    }

    /// `n` bytes were appended to the [`read_buffer`](Self::read_buffer); 0 means the
    /// transport reached its end.
    pub(crate) fn handle_read(&mut self, now: Instant, n: usize) {
        if let Some(link) = &mut self.link {
            if n == 0 {
                link.conn.handle_transport_closed(now);
            } else {
                link.conn.handle_read(now, &mut self.rbuf);
            }
        }
    }

    /// A read, write or flush failed.
    pub(crate) fn handle_transport_error(&mut self, now: Instant, error: &std::io::Error) {
        debug!(%error, "transport failed");
        self.handle_read(now, 0);
    }

    /// The chunks to write, in order.
    pub(crate) fn pending_writes(&self) -> &VecDeque<Bytes> {
        static EMPTY: VecDeque<Bytes> = VecDeque::new();
        self.link.as_ref().map_or(&EMPTY, |l| &l.out)
    }

    /// Whether the transport should be flushed before more is written: everything queued
    /// is written, or much has been written since the last flush.
    pub(crate) fn needs_flush(&self) -> bool {
        self.link.as_ref().is_some_and(|l| {
            let unflushed = l.written - l.flushed;
            unflushed > 0 && (l.out.is_empty() || unflushed >= FLUSH_EVERY)
        })
    }

    /// `n` bytes of the [`pending_writes`](Self::pending_writes) were written.
    pub(crate) fn handle_written(&mut self, n: usize) {
        if let Some(link) = &mut self.link {
            link.advance(n);
        }
    }

    /// A flush completed.
    pub(crate) fn handle_flushed(&mut self) {
        if let Some(link) = &mut self.link {
            link.flushed = link.written;
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due (`None`: no deadline).
    #[must_use]
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.link.as_ref().and_then(|l| l.conn.poll_timeout())
    }

    /// A deadline passed (spurious calls are fine).
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if let Some(link) = &mut self.link {
            link.conn.handle_timeout(now);
        }
    }

    /// After each input: moves the connection's output into the write queue and handles its
    /// events until it has nothing more to say.
    pub(crate) fn drain(&mut self, now: Instant) {
        let Some(mut link) = self.link.take() else {
            return;
        };
        loop {
            link.pull(now);
            let Some(event) = link.conn.poll_event() else {
                break;
            };
            match event {
                ClientEvent::Connected(ack) => self.on_connected(&mut link, now, &ack),
                ClientEvent::Publish(publish) => self.on_message(&mut link, now, publish),
                ClientEvent::Delivered { id, reason_code } => {
                    if let Some(done) = self.publishes.remove(&id) {
                        let _ = done.send(Ok(PublishOutcome { reason_code }));
                    }
                }
                ClientEvent::Dropped { id, topic, why } => {
                    debug!(%topic, ?why, "message dropped");
                    if let Some(done) = self.publishes.remove(&id) {
                        let _ = done.send(Err(ClientError::Dropped(why)));
                    }
                }
                ClientEvent::SubAck(ack) => self.on_suback(ack),
                ClientEvent::UnsubAck(ack) => self.on_unsuback(ack),
                ClientEvent::Auth(_) => {
                    debug!("AUTH ignored: enhanced authentication is not supported");
                }
                ClientEvent::Disconnect(d) => debug!(reason = %d.reason_code, "server disconnect"),
                ClientEvent::Closed { reason } => link.closed = Some(reason),
            }
        }
        self.settle_qos0(&mut link);
        self.link = Some(link);
    }

    /// `Some` once the connection has closed (or could not start): whether its last bytes
    /// (a DISCONNECT) are to be written before the transport is closed. Then call
    /// [`handle_closed`](Self::handle_closed).
    pub(crate) fn closed(&self) -> Option<bool> {
        match &self.link {
            None => Some(false),
            Some(link) => link
                .closed
                .as_ref()
                .map(|reason| !link.aborted && *reason != CloseReason::TransportClosed),
        }
    }

    /// The transport of the closed connection is closed: keeps the session and the
    /// unanswered requests for the next connection, and says what comes next.
    pub(crate) fn handle_closed(&mut self) -> Next {
        let Some(mut link) = self.link.take() else {
            return self.ended(Err(ConnectError::InvalidOptions(
                "CONNECT refused by the connection".into(),
            )));
        };
        self.settle_qos0(&mut link);
        for (_, id) in link.qos0.drain(..) {
            if let Some(done) = self.publishes.remove(&id) {
                let _ = done.send(Err(ClientError::ConnectionLost));
            }
        }
        self.session = link.conn.take_session_state();
        // Unanswered SUBSCRIBE and UNSUBSCRIBE go again, first, on the next connection; the
        // driver's own re-subscriptions are rebuilt from `subscriptions` instead.
        for (_, request) in self.requests.drain(..).rev() {
            if !matches!(request, Command::Subscribe { done: None, .. }) {
                self.pending.push_front(request);
            }
        }
        self.resubscribing = 0;
        let reason = link.closed.unwrap_or(CloseReason::TransportClosed);
        if link.accepted {
            self.ended(Ok(reason))
        } else {
            self.ended(Err(reason.into()))
        }
    }

    /// Reports how a connection (`Ok`) or an attempt (`Err`) ended, and decides what next.
    fn ended(&mut self, how: Result<CloseReason, ConnectError>) -> Next {
        let reason = match how {
            Ok(reason) => DisconnectReason::Closed(reason),
            Err(e) => match self.first.take() {
                Some(first) => {
                    let _ = first.send(Err(e));
                    return Next::Stop;
                }
                None => DisconnectReason::Connect(e),
            },
        };
        let fatal = matches!(&reason, DisconnectReason::Connect(e) if e.is_fatal());
        debug!(%reason, "disconnected");
        self.emit(Event::Disconnected { reason });
        if self.stop || fatal {
            return Next::Stop;
        }
        let Some(backoff) = self.opts.backoff.as_mut() else {
            return Next::Stop;
        };
        let delay = backoff.next_delay();
        let attempt = backoff.attempt();
        self.emit(Event::Reconnecting { attempt, delay });
        Next::Reconnect(delay)
    }

    fn on_connected(&mut self, link: &mut Link, now: Instant, ack: &ConnAck) {
        link.accepted = true;
        if let Some(id) = &ack.properties.assigned_client_identifier {
            // Resuming the session needs the identifier the server chose.
            self.connect.client_id = id.clone();
        }
        if self.connect.protocol.is_v5() {
            // 5.0 separates Clean Start from the session's lifetime: later connections
            // resume whatever the Session Expiry Interval kept. A 3.x Clean Session flag
            // also sets the lifetime, so it stays as configured.
            self.connect.clean_start = false;
        }
        if let Some(backoff) = &mut self.opts.backoff {
            backoff.reset();
        }
        if let Some(first) = self.first.take() {
            let _ = first.send(Ok(()));
        }
        debug!(session_present = ack.session_present, "connected");
        self.emit(Event::Connected {
            session_present: ack.session_present,
        });
        if !ack.session_present || self.resubscribe {
            self.resubscribe_all(link, now);
        }
        for request in std::mem::take(&mut self.pending) {
            self.execute(link, now, request);
        }
    }

    fn on_message(&mut self, link: &mut Link, now: Instant, publish: Publish) {
        let ack = match publish.packet_id() {
            Some(packet_id) if self.opts.manual_ack && publish.qos() != QoS::AtMostOnce => {
                if self.events_closed {
                    // Nobody can acknowledge it any more.
                    let _ = link.conn.acknowledge(now, packet_id, ReasonCode::Success);
                    return;
                }
                Some((self.ack_sender.clone(), self.generation, packet_id))
            }
            _ => None,
        };
        self.emit(Event::Message(Message::new(publish, ack)));
    }

    fn on_suback(&mut self, ack: SubAck) {
        let Some(Command::Subscribe {
            filters,
            properties,
            done,
        }) = self.take_request(ack.packet_id)
        else {
            return;
        };
        for ((filter, options), code) in filters.into_iter().zip(&ack.reason_codes) {
            if !code.is_error() {
                let id = properties.subscription_identifier;
                self.subscriptions.insert(filter, (options, id));
            } else if done.is_none() {
                warn!(filter = filter.as_str(), %code, "re-subscription refused");
                self.subscriptions.remove(&filter);
            }
        }
        match done {
            Some(done) => drop(done.send(Ok(ack))),
            None => {
                self.resubscribing = self.resubscribing.saturating_sub(1);
                self.resubscribe = self.resubscribing > 0;
            }
        }
    }

    fn on_unsuback(&mut self, ack: UnsubAck) {
        if let Some(Command::Unsubscribe { filters, done, .. }) = self.take_request(ack.packet_id) {
            for filter in &filters {
                self.subscriptions.remove(filter);
            }
            let _ = done.send(Ok(ack));
        }
    }

    fn take_request(&mut self, packet_id: PacketId) -> Option<Command> {
        let pos = self.requests.iter().position(|(id, _)| *id == packet_id)?;
        Some(self.requests.remove(pos).1)
    }

    /// Subscribes again to everything remembered, one SUBSCRIBE per subscription
    /// identifier.
    fn resubscribe_all(&mut self, link: &mut Link, now: Instant) {
        let mut groups: BTreeMap<Option<SubscriptionId>, Vec<_>> = BTreeMap::new();
        for (filter, (options, id)) in &self.subscriptions {
            groups
                .entry(*id)
                .or_default()
                .push((filter.clone(), *options));
        }
        self.resubscribing = 0;
        for (id, filters) in groups {
            let request = Command::Subscribe {
                filters,
                properties: SubscribeProperties {
                    subscription_identifier: id,
                    ..SubscribeProperties::default()
                },
                done: None,
            };
            match send_request(&mut link.conn, now, &request) {
                Some(Ok(packet_id)) => {
                    self.resubscribing += 1;
                    self.requests.push((packet_id, request));
                }
                Some(Err(e)) => warn!(error = %e, "cannot subscribe again"),
                None => {}
            }
        }
        self.resubscribe = self.resubscribing > 0;
    }

    fn acknowledge(&mut self, now: Instant, ack: Ack) {
        if let Some(link) = &mut self.link
            && ack.generation == self.generation
            && link.conn.is_connected()
            && let Err(e) = link.conn.acknowledge(now, ack.packet_id, ack.reason_code)
        {
            debug!(error = %e, "acknowledgement ignored");
        }
    }

    fn command(&mut self, now: Instant, command: Command) {
        let Some(mut link) = self.link.take() else {
            match command {
                Command::Disconnect { done, .. } => {
                    self.closing.push(done);
                    self.stop = true;
                }
                Command::DropTransport => {}
                request => self.hold(request),
            }
            return;
        };
        match command {
            Command::Disconnect { packet, done } => {
                self.closing.push(done);
                self.stop = true;
                if !link.conn.is_closed()
                    && let Err(e) = link.conn.disconnect(now, packet)
                {
                    // A 5.0-only DISCONNECT on a 3.x connection: a plain one still closes.
                    debug!(error = %e, "disconnect packet refused");
                    let _ = link
                        .conn
                        .disconnect(now, Disconnect::new(ReasonCode::Success));
                }
            }
            Command::DropTransport => {
                link.aborted = true;
                link.conn.handle_transport_closed(now);
            }
            request => self.execute(&mut link, now, request),
        }
        self.link = Some(link);
    }

    /// Carries out a request on the connection, or holds it until there is one.
    fn execute(&mut self, link: &mut Link, now: Instant, request: Command) {
        if !link.conn.is_connected() {
            return self.hold(request);
        }
        match request {
            Command::Publish { message, done } => {
                let qos0 = message.qos == QoS::AtMostOnce;
                match link.conn.publish(now, message) {
                    Ok(id) => {
                        self.publishes.insert(id, done);
                        if qos0 {
                            link.pull(now);
                            link.qos0.push_back((link.queued, id));
                        }
                    }
                    Err(e) => drop(done.send(Err(session_error(e)))),
                }
            }
            request => match send_request(&mut link.conn, now, &request) {
                Some(Ok(packet_id)) => self.requests.push((packet_id, request)),
                Some(Err(e)) => request.reject(session_error(e)),
                // Not a request: `command` handles the others before.
                None => request.reject(ClientError::Closed),
            },
        }
    }

    /// Keeps a request for the next connection, within the bound.
    fn hold(&mut self, request: Command) {
        if self.pending.len() >= self.opts.max_pending {
            request.reject(ClientError::QueueFull);
        } else {
            self.pending.push_back(request);
        }
    }

    fn settle_qos0(&mut self, link: &mut Link) {
        while let Some(&(end, id)) = link.qos0.front() {
            if end > link.flushed {
                break;
            }
            link.qos0.pop_front();
            if let Some(done) = self.publishes.remove(&id) {
                let _ = done.send(Ok(PublishOutcome {
                    reason_code: ReasonCode::Success,
                }));
            }
        }
    }

    /// Hands an event to the application without ever waiting for it.
    fn emit(&mut self, event: Event) {
        if self.events_closed {
            return;
        }
        if !self.outbox.is_empty() {
            if self.outbox.len() >= MAX_HELD_EVENTS && !matches!(event, Event::Message(_)) {
                debug!(?event, "event stream not read: event discarded");
                return;
            }
            self.outbox.push_back(event);
            return;
        }
        match self.events.try_send(event) {
            Ok(()) => {}
            Err(e) if e.is_full() => self.outbox.push_back(e.into_inner()),
            Err(_) => self.events_closed = true,
        }
    }

    /// Moves held events into the channel while it has room (`open`: the receiver exists).
    fn flush_outbox(&mut self, open: bool) {
        while open && let Some(event) = self.outbox.pop_front() {
            match self.events.try_send(event) {
                Ok(()) => {}
                Err(e) if e.is_full() => {
                    self.outbox.push_front(e.into_inner());
                    return;
                }
                Err(_) => break,
            }
        }
        if !open || self.events.is_closed() {
            self.events_closed = true;
            self.outbox.clear();
        }
    }

    /// Answers everything still waiting; the event channel closes when `self` drops.
    pub(crate) fn shut_down(mut self) {
        if let Some(first) = self.first.take() {
            let _ = first.send(Err(ConnectError::ClientClosed));
        }
        self.commands.close();
        let closed = || ClientError::Closed;
        for (_, done) in self.publishes.drain() {
            let _ = done.send(Err(closed()));
        }
        for (_, request) in self.requests.drain(..) {
            request.reject(closed());
        }
        let leftover = self.pending.drain(..).chain(self.batch.drain(..));
        for request in leftover.collect::<Vec<_>>() {
            request.reject(closed());
        }
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Disconnect { done, .. } => self.closing.push(done),
                other => other.reject(closed()),
            }
        }
        self.flush_outbox(true);
        for done in self.closing.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Sends a SUBSCRIBE or UNSUBSCRIBE; `None` for other commands.
fn send_request(
    conn: &mut ClientConnection,
    now: Instant,
    request: &Command,
) -> Option<Result<PacketId, mqtt_session::Error>> {
    match request {
        Command::Subscribe {
            filters,
            properties,
            ..
        } => Some(conn.subscribe(now, filters.clone(), properties.clone())),
        Command::Unsubscribe {
            filters,
            properties,
            ..
        } => Some(conn.unsubscribe(now, filters.clone(), properties.clone())),
        _ => None,
    }
}

fn session_error(e: mqtt_session::Error) -> ClientError {
    match e {
        mqtt_session::Error::QueueFull => ClientError::QueueFull,
        mqtt_session::Error::Closed => ClientError::Closed,
        other => ClientError::Rejected(other),
    }
}

impl Link {
    /// Takes the connection's output into the write queue.
    fn pull(&mut self, now: Instant) {
        while let Some(chunk) = self.conn.poll_transmit(now) {
            if !chunk.is_empty() {
                self.out_len += chunk.len();
                self.queued += chunk.len() as u64;
                self.out.push_back(chunk);
            }
        }
    }

    /// Accounts for `n` written bytes.
    fn advance(&mut self, mut n: usize) {
        self.out_len -= n;
        self.written += n as u64;
        while n > 0 {
            let Some(front) = self.out.front_mut() else {
                return;
            };
            if n < front.len() {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.out.pop_front();
        }
    }
}

#[cfg(test)]
mod tests;
