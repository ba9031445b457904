//! The connection task: owns the transport and the [`ClientConnection`], reconnects, and
//! answers the [`Client`](super::Client) handles through their commands.
//!
//! One wake-up reads the clock once, feeds one input (bytes read, bytes written, commands,
//! room in the event channel, or the timer), drains the connection (transmit, then
//! events), and waits again. It never awaits anything the application must do: events go
//! to a bounded channel, and while that is full the task stops reading the socket instead.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use mqtt_proto::{
    ConnAck, Connect, Disconnect, PacketId, Publish, QoS, ReasonCode, SubAck, SubscribeProperties,
    SubscriptionId, SubscriptionOptions, TopicFilter, UnsubAck, UnsubscribeProperties,
};
use mqtt_session::{ClientConfig, ClientConnection, ClientEvent, CloseReason, MessageId};
use mqtt_session::{OutgoingMessage, SessionState};
use tokio::io::{AsyncReadExt, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::event::Responder;
use super::transport::Io;
use super::{
    Backoff, ClientError, ConnectError, DisconnectReason, Event, Message, PublishOutcome, Transport,
};

/// Commands taken from the queue per wake-up.
const COMMAND_BATCH: usize = 64;
/// Bytes read per wake-up at most.
const READ_CHUNK: usize = 16 * 1024;
/// Buffers handed to one vectored write.
const MAX_IOV: usize = 64;
/// Unwritten bytes above which the task takes no more commands (the network is slower
/// than the application).
const MAX_UNWRITTEN: usize = 1024 * 1024;
/// Written but unflushed bytes after which the transport is flushed even though more
/// writes are waiting.
const FLUSH_EVERY: u64 = 64 * 1024;
/// Connection events (not messages) kept for an event stream nobody reads; later ones
/// are discarded.
const MAX_HELD_EVENTS: usize = 1024;
/// How long a closing connection may take to write its last bytes (a DISCONNECT).
const CLOSE_FLUSH: Duration = Duration::from_secs(2);

/// A request from a [`Client`](super::Client) handle.
pub(crate) enum Command {
    Publish {
        message: OutgoingMessage,
        done: Responder<PublishOutcome>,
    },
    /// `done` is `None` for the task's own re-subscriptions.
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
    Ack {
        generation: u64,
        packet_id: PacketId,
        reason_code: ReasonCode,
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
            Self::Subscribe { done: None, .. } | Self::Ack { .. } | Self::DropTransport => {}
        }
    }
}

/// Everything the task is configured with.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) transport: Transport,
    pub(crate) session: ClientConfig,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) connect_timeout: Duration,
    pub(crate) manual_ack: bool,
    /// Most requests held while there is no connection.
    pub(crate) max_pending: usize,
}

/// Reports the first connection attempt to [`ClientBuilder::connect`](super::ClientBuilder::connect).
pub(crate) type FirstAttempt = Option<oneshot::Sender<Result<(), ConnectError>>>;

/// How one connection ended.
enum Ended {
    /// The server accepted it, then it closed.
    Lost(CloseReason),
    /// It never got accepted.
    Failed(ConnectError),
}

/// What woke the task.
enum Wake {
    Io(io::Result<Step>),
    EventSpace(bool),
    Commands(usize),
    Timeout,
}

/// A transport operation that completed.
enum Step {
    Read(usize),
    Wrote(usize),
    Flushed,
}

pub(crate) struct Driver {
    opts: Options,
    commands: mpsc::Receiver<Command>,
    /// Handed to messages for manual acknowledgement.
    ack_sender: mpsc::WeakSender<Command>,
    batch: Vec<Command>,
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
}

/// One open transport and its connection.
struct Link {
    conn: ClientConnection,
    io: Box<dyn Io>,
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

/// The clock, read once per wake-up (tokio's, so paused-time tests control it).
fn clock() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Driver {
    /// A driver whose first connection sends `connect` (already validated).
    pub(crate) fn new(
        opts: Options,
        connect: Connect,
        commands: mpsc::Receiver<Command>,
        ack_sender: mpsc::WeakSender<Command>,
        events: mpsc::Sender<Event>,
    ) -> Self {
        Self {
            connect,
            opts,
            commands,
            ack_sender,
            batch: Vec::with_capacity(COMMAND_BATCH),
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
        }
    }

    /// Runs until the client disconnects, every handle is dropped, or the connection is
    /// lost for good (reconnection disabled, or `first` is given and the first attempt
    /// fails).
    pub(crate) async fn run(mut self, mut first: FirstAttempt) {
        loop {
            let transport = self.opts.transport.clone();
            let limit = self.opts.connect_timeout;
            let open = async {
                tokio::time::timeout(limit, transport.open())
                    .await
                    .unwrap_or(Err(ConnectError::Timeout))
            };
            let ended = match self.offline(open).await {
                None => break,
                Some(Ok(io)) => self.online(io, &mut first).await,
                Some(Err(e)) => Ended::Failed(e),
            };
            let reason = match ended {
                Ended::Lost(reason) => DisconnectReason::Closed(reason),
                Ended::Failed(e) => match first.take() {
                    Some(first) => {
                        let _ = first.send(Err(e));
                        break;
                    }
                    None => DisconnectReason::Connect(e),
                },
            };
            let fatal = matches!(&reason, DisconnectReason::Connect(e) if e.is_fatal());
            debug!(%reason, "disconnected");
            self.emit(Event::Disconnected { reason });
            if self.stop || fatal {
                break;
            }
            let Some(backoff) = self.opts.backoff.as_mut() else {
                break;
            };
            let delay = backoff.next_delay();
            let attempt = backoff.attempt();
            self.emit(Event::Reconnecting { attempt, delay });
            if self.offline(tokio::time::sleep(delay)).await.is_none() {
                break;
            }
        }
        if let Some(first) = first {
            let _ = first.send(Err(ConnectError::ClientClosed));
        }
        self.shut_down();
    }

    /// Waits for `fut` without a connection, holding requests for the next one. `None`
    /// when the client is to stop.
    async fn offline<T>(&mut self, fut: impl Future<Output = T>) -> Option<T> {
        let mut fut = pin!(fut);
        while !self.stop {
            let wake = tokio::select! {
                out = &mut fut => return Some(out),
                n = self.commands.recv_many(&mut self.batch, COMMAND_BATCH) => Wake::Commands(n),
                r = self.events.reserve(), if !self.outbox.is_empty() => Wake::EventSpace(r.is_ok()),
            };
            match wake {
                Wake::Commands(0) => self.stop = true,
                Wake::Commands(_) => {
                    let mut batch = std::mem::take(&mut self.batch);
                    for command in batch.drain(..) {
                        match command {
                            Command::Disconnect { done, .. } => {
                                self.closing.push(done);
                                self.stop = true;
                            }
                            Command::Ack { .. } | Command::DropTransport => {}
                            request => self.hold(request),
                        }
                    }
                    self.batch = batch;
                }
                Wake::EventSpace(open) => self.flush_outbox(open),
                Wake::Io(_) | Wake::Timeout => {}
            }
        }
        None
    }

    /// Drives one connection over `io` until it closes.
    async fn online(&mut self, io: Box<dyn Io>, first: &mut FirstAttempt) -> Ended {
        let now = clock();
        let session = std::mem::take(&mut self.session);
        let conn = match ClientConnection::new(
            now,
            self.connect.clone(),
            session,
            self.opts.session.clone(),
        ) {
            Ok(conn) => conn,
            // The builder encoded this CONNECT once already.
            Err(e) => return Ended::Failed(ConnectError::InvalidOptions(e.to_string())),
        };
        self.generation += 1;
        // A partial packet of the previous connection means nothing on this one.
        self.rbuf.clear();
        let mut link = Link {
            conn,
            io,
            out: VecDeque::new(),
            out_len: 0,
            queued: 0,
            written: 0,
            flushed: 0,
            qos0: VecDeque::new(),
            accepted: false,
            closed: None,
            aborted: false,
        };
        loop {
            let now = clock();
            self.drain(&mut link, now, first);
            self.settle_qos0(&mut link);
            if let Some(reason) = link.closed.take() {
                return self.finish(link, reason).await;
            }
            let deadline = link.conn.poll_timeout();
            // Reading stops while the application has not taken the events, and while
            // our answers (acknowledgements) cannot be written.
            let read =
                link.conn.wants_read() && self.outbox.is_empty() && link.out_len < MAX_UNWRITTEN;
            let take_commands = !self.stop && link.out_len < MAX_UNWRITTEN;
            let sleep_until = tokio::time::Instant::from_std(deadline.unwrap_or(now));
            let wake = tokio::select! {
                r = link.step(&mut self.rbuf, read) => Wake::Io(r),
                r = self.events.reserve(), if !self.outbox.is_empty() => Wake::EventSpace(r.is_ok()),
                n = self.commands.recv_many(&mut self.batch, COMMAND_BATCH), if take_commands => {
                    Wake::Commands(n)
                }
                () = tokio::time::sleep_until(sleep_until), if deadline.is_some() => Wake::Timeout,
            };
            let now = clock();
            match wake {
                Wake::Io(Ok(Step::Read(0))) => link.conn.handle_transport_closed(now),
                Wake::Io(Ok(Step::Read(_))) => link.conn.handle_read(now, &mut self.rbuf),
                Wake::Io(Ok(Step::Wrote(n))) => link.advance(n),
                Wake::Io(Ok(Step::Flushed)) => link.flushed = link.written,
                Wake::Io(Err(e)) => {
                    debug!(error = %e, "transport failed");
                    link.conn.handle_transport_closed(now);
                }
                Wake::EventSpace(open) => self.flush_outbox(open),
                Wake::Commands(0) => {
                    // Every handle is gone: nobody can use the connection any more.
                    self.stop = true;
                    if let Err(e) = link
                        .conn
                        .disconnect(now, Disconnect::new(ReasonCode::Success))
                    {
                        debug!(error = %e, "disconnect");
                    }
                }
                Wake::Commands(_) => {
                    let mut batch = std::mem::take(&mut self.batch);
                    for command in batch.drain(..) {
                        self.command(&mut link, now, command);
                    }
                    self.batch = batch;
                }
                Wake::Timeout => link.conn.handle_timeout(now),
            }
        }
    }

    /// After the connection closed: write its last bytes, keep the session and the
    /// unanswered requests for the next connection.
    async fn finish(&mut self, mut link: Link, reason: CloseReason) -> Ended {
        if !link.aborted && reason != CloseReason::TransportClosed {
            let _ = tokio::time::timeout(CLOSE_FLUSH, link.close()).await;
        }
        self.settle_qos0(&mut link);
        for (_, id) in link.qos0.drain(..) {
            if let Some(done) = self.publishes.remove(&id) {
                let _ = done.send(Err(ClientError::ConnectionLost));
            }
        }
        self.session = link.conn.take_session_state();
        // Unanswered SUBSCRIBE and UNSUBSCRIBE go again, first, on the next connection; the
        // task's own re-subscriptions are rebuilt from `subscriptions` instead.
        for (_, request) in self.requests.drain(..).rev() {
            if !matches!(request, Command::Subscribe { done: None, .. }) {
                self.pending.push_front(request);
            }
        }
        self.resubscribing = 0;
        if link.accepted {
            Ended::Lost(reason)
        } else {
            Ended::Failed(reason.into())
        }
    }

    /// Moves output to the transport queue and handles events until the connection has
    /// nothing more to say.
    fn drain(&mut self, link: &mut Link, now: Instant, first: &mut FirstAttempt) {
        loop {
            link.pull(now);
            let Some(event) = link.conn.poll_event() else {
                return;
            };
            match event {
                ClientEvent::Connected(ack) => self.on_connected(link, now, &ack, first),
                ClientEvent::Publish(publish) => self.on_message(link, now, publish),
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
    }

    fn on_connected(
        &mut self,
        link: &mut Link,
        now: Instant,
        ack: &ConnAck,
        first: &mut FirstAttempt,
    ) {
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
        if let Some(first) = first.take() {
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
            let properties = SubscribeProperties {
                subscription_identifier: id,
                ..SubscribeProperties::default()
            };
            match link
                .conn
                .subscribe(now, filters.clone(), properties.clone())
            {
                Ok(packet_id) => {
                    self.resubscribing += 1;
                    let request = Command::Subscribe {
                        filters,
                        properties,
                        done: None,
                    };
                    self.requests.push((packet_id, request));
                }
                Err(e) => warn!(error = %e, "cannot subscribe again"),
            }
        }
        self.resubscribe = self.resubscribing > 0;
    }

    fn command(&mut self, link: &mut Link, now: Instant, command: Command) {
        match command {
            Command::Ack {
                generation,
                packet_id,
                reason_code,
            } => {
                if generation == self.generation
                    && link.conn.is_connected()
                    && let Err(e) = link.conn.acknowledge(now, packet_id, reason_code)
                {
                    debug!(error = %e, "acknowledgement ignored");
                }
            }
            Command::Disconnect { packet, done } => {
                self.closing.push(done);
                self.stop = true;
                if link.conn.is_closed() {
                    return;
                }
                if let Err(e) = link.conn.disconnect(now, packet) {
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
            request => self.execute(link, now, request),
        }
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
            Command::Subscribe {
                filters,
                properties,
                done,
            } => match link
                .conn
                .subscribe(now, filters.clone(), properties.clone())
            {
                Ok(packet_id) => {
                    let request = Command::Subscribe {
                        filters,
                        properties,
                        done,
                    };
                    self.requests.push((packet_id, request));
                }
                Err(e) => {
                    if let Some(done) = done {
                        let _ = done.send(Err(session_error(e)));
                    }
                }
            },
            Command::Unsubscribe {
                filters,
                properties,
                done,
            } => match link
                .conn
                .unsubscribe(now, filters.clone(), properties.clone())
            {
                Ok(packet_id) => {
                    let request = Command::Unsubscribe {
                        filters,
                        properties,
                        done,
                    };
                    self.requests.push((packet_id, request));
                }
                Err(e) => drop(done.send(Err(session_error(e)))),
            },
            other => self.command(link, now, other),
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
            Err(mpsc::error::TrySendError::Full(event)) => self.outbox.push_back(event),
            Err(mpsc::error::TrySendError::Closed(_)) => self.events_closed = true,
        }
    }

    /// Moves held events into the channel while it has room (`open`: the receiver exists).
    fn flush_outbox(&mut self, open: bool) {
        while open && let Some(event) = self.outbox.pop_front() {
            match self.events.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(event)) => {
                    self.outbox.push_front(event);
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => break,
            }
        }
        if !open || self.events.is_closed() {
            self.events_closed = true;
            self.outbox.clear();
        }
    }

    /// Answers everything still waiting; the event channel closes when `self` drops.
    fn shut_down(mut self) {
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

    /// Writes, flushes or reads, whichever the transport allows first. Cancel-safe: each
    /// poll either completes one operation or leaves everything as it was.
    async fn step(&mut self, rbuf: &mut BytesMut, read: bool) -> io::Result<Step> {
        let Self {
            io,
            out,
            written,
            flushed,
            ..
        } = self;
        poll_fn(|cx| {
            let unflushed = *written - *flushed;
            if unflushed > 0 && (out.is_empty() || unflushed >= FLUSH_EVERY) {
                if let Poll::Ready(r) = Pin::new(&mut *io).poll_flush(cx) {
                    return Poll::Ready(r.map(|()| Step::Flushed));
                }
            } else if !out.is_empty()
                && let Poll::Ready(r) = poll_write_out(Pin::new(&mut *io), cx, out)
            {
                return Poll::Ready(r.map(Step::Wrote));
            }
            if read {
                if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
                    rbuf.reserve(READ_CHUNK);
                }
                if let Poll::Ready(r) = pin!(io.read_buf(&mut *rbuf)).poll(cx) {
                    return Poll::Ready(r.map(Step::Read));
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Writes and flushes everything queued, then shuts the transport down.
    async fn close(&mut self) -> io::Result<()> {
        while !self.out.is_empty() {
            let n = poll_fn(|cx| poll_write_out(Pin::new(&mut *self.io), cx, &self.out)).await?;
            self.advance(n);
        }
        poll_fn(|cx| Pin::new(&mut *self.io).poll_flush(cx)).await?;
        self.flushed = self.written;
        poll_fn(|cx| Pin::new(&mut *self.io).poll_shutdown(cx)).await
    }
}

/// One vectored write of the front of `out`; writing nothing means the transport is gone.
fn poll_write_out<W: AsyncWrite + ?Sized>(
    io: Pin<&mut W>,
    cx: &mut std::task::Context<'_>,
    out: &VecDeque<Bytes>,
) -> Poll<io::Result<usize>> {
    let mut slices = [IoSlice::new(&[]); MAX_IOV];
    let n = slices
        .iter_mut()
        .zip(out)
        .map(|(slice, chunk)| *slice = IoSlice::new(chunk))
        .count();
    io.poll_write_vectored(cx, &slices[..n]).map(|r| match r {
        Ok(0) => Err(io::ErrorKind::WriteZero.into()),
        r => r,
    })
}
