//! The broker task's logic: the one place where messages from different connections meet.
//!
//! Connection tasks decode, check and encode in parallel; they send the broker only what
//! crosses connections ([`ToBroker`]: registrations, authenticated CONNECTs, PUBLISH,
//! SUBSCRIBE, UNSUBSCRIBE, closes), over one bounded channel of the adapter's runtime. The
//! broker task hands them to [`Hub::handle`] in batches, then calls [`Hub::dispatch`], which
//! puts each resulting `Output` into the target connection's [`Mailbox`] and wakes that
//! connection's task once per batch. The hub never waits on a connection, so a slow client
//! cannot stall it; the bounded channel slows the publishers down instead when the broker task
//! falls behind.

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use atomic_waker::AtomicWaker;
use mqtt_broker_core::{Broker, ConnId, Output};
use mqtt_proto::{Connect, Publish, QoS, Subscribe, Unsubscribe};
use mqtt_session::{CloseReason, SessionState};

/// What a connection task tells the broker task.
#[derive(Debug)]
pub enum ToBroker {
    /// A transport opened: register it. The answer (a `ConnId`, or `None` at the connection
    /// limit or during shutdown) comes through the mailbox: [`Mailbox::opened`].
    Open {
        /// The connection's mailbox.
        mailbox: Arc<Mailbox>,
    },
    /// An authenticated CONNECT.
    Connect {
        /// The connection.
        conn: ConnId,
        /// The packet.
        connect: Box<Connect>,
    },
    /// An application message from the client.
    Publish {
        /// The connection.
        conn: ConnId,
        /// The message.
        publish: Publish,
    },
    /// A SUBSCRIBE.
    Subscribe {
        /// The connection.
        conn: ConnId,
        /// The packet.
        subscribe: Subscribe,
    },
    /// An UNSUBSCRIBE.
    Unsubscribe {
        /// The connection.
        conn: ConnId,
        /// The packet.
        unsubscribe: Unsubscribe,
    },
    /// The connection's in-flight window towards its client became full or has room again.
    Window {
        /// The connection.
        conn: ConnId,
        /// Whether it is full.
        full: bool,
    },
    /// Messages to a client were dropped by its connection (slow subscriber, full session
    /// queue, expired or too large), for the statistics.
    Dropped {
        /// How many.
        count: u64,
    },
    /// The connection closed and reads its mailbox no more; `state` is its session state.
    Closed {
        /// The connection.
        conn: ConnId,
        /// Why it closed.
        reason: CloseReason,
        /// Its session state, with what it had taken from the mailbox carried out on it.
        state: SessionState,
    },
}

/// The broker's instructions for one connection, waiting for its task, and the wake-up
/// signal. Runtime-free: the task waits with [`Mailbox::notified`].
#[derive(Debug, Default)]
pub struct Mailbox {
    outputs: Mutex<VecDeque<Output>>,
    opened: OnceLock<Option<ConnId>>,
    signal: AtomicBool,
    waker: AtomicWaker,
}

impl Mailbox {
    /// Adds one instruction; true when the mailbox was empty (its task needs a wake-up).
    fn push(&self, out: Output) -> bool {
        let mut q = self.outputs.lock().unwrap_or_else(PoisonError::into_inner);
        q.push_back(out);
        q.len() == 1
    }

    /// Takes every waiting instruction, in order, appending them to `into`.
    pub fn take(&self, into: &mut VecDeque<Output>) {
        let mut q = self.outputs.lock().unwrap_or_else(PoisonError::into_inner);
        if into.is_empty() {
            std::mem::swap(&mut *q, into);
        } else {
            into.extend(q.drain(..));
        }
    }

    /// The broker's answer to [`ToBroker::Open`], once it came.
    #[must_use]
    pub fn opened(&self) -> Option<Option<ConnId>> {
        self.opened.get().copied()
    }

    fn wake(&self) {
        self.signal.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Ready once the mailbox was signalled since the last time this returned ready.
    pub fn poll_notified(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        if self.signal.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Waits for a signal (cancel safe: a signal is consumed only when this completes).
    pub async fn notified(&self) {
        poll_fn(|cx| self.poll_notified(cx)).await;
    }
}

/// Carries out on a closed connection's session state what the broker asked of the
/// connection after it closed: QoS 1/2 deliveries join its queue (QoS 0 ones are lost, as
/// the protocol allows), and an `Accept` that came too late brings the state to hand back.
pub fn absorb_after_close(now: Instant, state: &mut SessionState, out: Output) {
    match out {
        Output::Deliver { message, .. } if message.qos != QoS::AtMostOnce => {
            state.enqueue(now, message);
        }
        Output::Accept { accept, .. } => *state = accept.session,
        _ => {}
    }
}

/// The broker and the mailboxes of its connections.
pub struct Hub {
    broker: Broker,
    mailboxes: HashMap<ConnId, Arc<Mailbox>>,
    wake: Vec<Arc<Mailbox>>,
}

impl Hub {
    /// A hub around `broker`.
    #[must_use]
    pub fn new(broker: Broker) -> Self {
        Self {
            broker,
            mailboxes: HashMap::new(),
            wake: Vec::new(),
        }
    }

    /// The broker.
    #[must_use]
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Handles one message from a connection task. Call [`dispatch`](Self::dispatch) after
    /// a batch.
    pub fn handle(&mut self, now: Instant, msg: ToBroker) {
        let broker = &mut self.broker;
        match msg {
            ToBroker::Open { mailbox } => {
                let conn = broker.open_connection(now);
                let _ = mailbox.opened.set(conn);
                mailbox.wake();
                if let Some(conn) = conn {
                    self.mailboxes.insert(conn, mailbox);
                }
            }
            ToBroker::Connect { conn, connect } => {
                let pending = broker.handle_connect(now, conn, connect);
                broker.accept(now, pending);
            }
            ToBroker::Publish { conn, publish } => broker.handle_publish(now, conn, publish),
            ToBroker::Subscribe { conn, subscribe } => {
                broker.handle_subscribe(now, conn, subscribe);
            }
            ToBroker::Unsubscribe { conn, unsubscribe } => {
                broker.handle_unsubscribe(now, conn, unsubscribe);
            }
            ToBroker::Window { conn, full } => broker.handle_window(now, conn, full),
            ToBroker::Dropped { count } => broker.count_dropped(count),
            ToBroker::Closed {
                conn,
                reason,
                mut state,
            } => {
                // What the connection did not take out of its mailbox before closing is
                // carried out on the state it hands back, so no QoS 1/2 message is lost.
                if let Some(mailbox) = self.mailboxes.remove(&conn) {
                    let mut left = VecDeque::new();
                    mailbox.take(&mut left);
                    for out in left {
                        absorb_after_close(now, &mut state, out);
                    }
                }
                broker.handle_closed(now, conn, &reason, state);
            }
        }
    }

    /// Will delays, session expiry, `$SYS`: call when [`poll_timeout`](Self::poll_timeout)
    /// passes (spurious calls are harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.broker.handle_timeout(now);
    }

    /// Starts the graceful shutdown (see `Broker::begin_shutdown`).
    pub fn begin_shutdown(&mut self, now: Instant) {
        self.broker.begin_shutdown(now);
    }

    /// Shutdown begun and every connection closed.
    #[must_use]
    pub fn is_shut_down(&self) -> bool {
        self.broker.is_shut_down()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.broker.poll_timeout()
    }

    /// Puts the broker's instructions into the mailboxes and wakes each connection that got
    /// some, once.
    pub fn dispatch(&mut self) {
        while let Some(out) = self.broker.poll_output() {
            if let Some(mailbox) = self.mailboxes.get(&out.conn())
                && mailbox.push(out)
            {
                self.wake.push(Arc::clone(mailbox));
            }
        }
        for mailbox in self.wake.drain(..) {
            mailbox.wake();
        }
    }
}
