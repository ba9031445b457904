//! The broker task: the one place where messages from different connections meet.
//!
//! Connection tasks decode, check and encode in parallel; they send the broker only what
//! crosses connections (CONNECT decisions, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, closes) over one
//! bounded channel. The broker task takes them in batches, runs them through
//! `mqtt_broker_core::Broker`, and puts each resulting `Output` into the target
//! connection's [`Mailbox`], waking that connection's task once per batch. It never waits
//! on a connection, so a slow client cannot stall it; the bounded channel slows down the
//! publishers instead when the broker task falls behind.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant as StdInstant;

use mqtt_broker_core::{Broker, ConnId, Output};
use mqtt_proto::{Connect, Publish, QoS, Subscribe, Unsubscribe};
use mqtt_session::{CloseReason, SessionState};
use tokio::sync::{Notify, mpsc, oneshot, watch};

use super::sleep_until;
use tokio::time::Instant;

/// Most messages taken from the channel per wake-up.
const BATCH: usize = 256;

/// What a connection task tells the broker task.
#[derive(Debug)]
pub(crate) enum ToBroker {
    /// A transport opened: register it (answered with `None` at the connection limit).
    Open {
        mailbox: Arc<Mailbox>,
        reply: oneshot::Sender<Option<ConnId>>,
    },
    /// An authenticated CONNECT.
    Connect { conn: ConnId, connect: Box<Connect> },
    Publish { conn: ConnId, publish: Publish },
    Subscribe { conn: ConnId, subscribe: Subscribe },
    Unsubscribe { conn: ConnId, unsubscribe: Unsubscribe },
    /// The connection closed; it reads its mailbox no more. `state` is its session state.
    Closed {
        conn: ConnId,
        reason: CloseReason,
        state: SessionState,
    },
}

/// The broker's instructions for one connection, waiting for its task.
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    outputs: Mutex<VecDeque<Output>>,
    pub(crate) notify: Notify,
}

impl Mailbox {
    /// Adds one instruction; true when the mailbox was empty (its task needs a wake-up).
    fn push(&self, out: Output) -> bool {
        let mut q = self.outputs.lock().unwrap_or_else(PoisonError::into_inner);
        q.push_back(out);
        q.len() == 1
    }

    /// Takes every waiting instruction, in order.
    pub(crate) fn take(&self, into: &mut VecDeque<Output>) {
        let mut q = self.outputs.lock().unwrap_or_else(PoisonError::into_inner);
        if into.is_empty() {
            std::mem::swap(&mut *q, into);
        } else {
            into.extend(q.drain(..));
        }
    }
}

/// Carries out on a closed connection's session state what the broker asked of the
/// connection after it closed: QoS 1/2 deliveries join its queue (QoS 0 ones are lost, as
/// the protocol allows), and an `Accept` that came too late brings the state to hand back.
pub(crate) fn absorb_after_close(state: &mut SessionState, out: Output) {
    match out {
        Output::Deliver { message, .. } if message.qos != QoS::AtMostOnce => {
            // The clock only stamps message expiry; a std instant is what the state keeps.
            state.enqueue(StdInstant::now(), message);
        }
        Output::Accept { accept, .. } => *state = accept.session,
        _ => {}
    }
}

/// The broker task. Ends once shutdown was asked and every connection has closed.
pub(crate) async fn run(
    mut broker: Broker,
    mut rx: mpsc::Receiver<ToBroker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut mailboxes: HashMap<ConnId, Arc<Mailbox>> = HashMap::new();
    let mut batch = Vec::with_capacity(BATCH);
    let mut wake: Vec<Arc<Mailbox>> = Vec::new();
    let mut shutting_down = false;
    loop {
        let deadline = broker.poll_timeout().map(Instant::from_std);
        tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    break;
                }
                let now = StdInstant::now();
                for msg in batch.drain(..) {
                    handle(&mut broker, &mut mailboxes, now, msg);
                }
            }
            () = sleep_until(deadline), if deadline.is_some() => {
                broker.handle_timeout(StdInstant::now());
            }
            r = shutdown.changed(), if !shutting_down => {
                shutting_down = true;
                if r.is_ok() || *shutdown.borrow() {
                    tracing::info!("shutting down: disconnecting clients");
                }
                broker.begin_shutdown(StdInstant::now());
            }
        }
        while let Some(out) = broker.poll_output() {
            let conn = target(&out);
            if let Some(mailbox) = mailboxes.get(&conn)
                && mailbox.push(out)
            {
                wake.push(Arc::clone(mailbox));
            }
        }
        for mailbox in wake.drain(..) {
            mailbox.notify.notify_one();
        }
        if shutting_down && broker.is_shut_down() {
            break;
        }
    }
}

fn handle(
    broker: &mut Broker,
    mailboxes: &mut HashMap<ConnId, Arc<Mailbox>>,
    now: StdInstant,
    msg: ToBroker,
) {
    match msg {
        ToBroker::Open { mailbox, reply } => {
            let conn = broker.open_connection(now);
            if let Some(conn) = conn {
                mailboxes.insert(conn, mailbox);
            }
            if reply.send(conn).is_err()
                && let Some(conn) = conn
            {
                // The task went away before hearing back: close the registration.
                mailboxes.remove(&conn);
                broker.handle_closed(
                    now,
                    conn,
                    &CloseReason::TransportClosed,
                    SessionState::new(),
                );
            }
        }
        ToBroker::Connect { conn, connect } => {
            let pending = broker.handle_connect(now, conn, connect);
            broker.accept(now, pending);
        }
        ToBroker::Publish { conn, publish } => broker.handle_publish(now, conn, publish),
        ToBroker::Subscribe { conn, subscribe } => broker.handle_subscribe(now, conn, subscribe),
        ToBroker::Unsubscribe { conn, unsubscribe } => {
            broker.handle_unsubscribe(now, conn, unsubscribe);
        }
        ToBroker::Closed {
            conn,
            reason,
            mut state,
        } => {
            // What the connection did not take out of its mailbox before closing is
            // carried out on the state it hands back, so no QoS 1/2 message is lost.
            if let Some(mailbox) = mailboxes.remove(&conn) {
                let mut left = VecDeque::new();
                mailbox.take(&mut left);
                for out in left {
                    absorb_after_close(&mut state, out);
                }
            }
            broker.handle_closed(now, conn, &reason, state);
        }
    }
}

fn target(out: &Output) -> ConnId {
    match out {
        Output::Accept { conn, .. }
        | Output::Refuse { conn, .. }
        | Output::Deliver { conn, .. }
        | Output::Ack { conn, .. }
        | Output::SubAck { conn, .. }
        | Output::UnsubAck { conn, .. }
        | Output::Disconnect { conn, .. } => *conn,
    }
}
