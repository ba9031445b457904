//! Publisher and subscriber tasks, and the pacer that gives publishers their rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use hdrhistogram::Histogram;
use mqtt_proto::{QoS, TopicName};
use mqtt_session::{ClientEvent, OutgoingMessage};
use tokio::sync::{Notify, watch};

use super::conn::{Conn, sleep_opt};
use super::track::{self, Stream};

/// Most messages a publisher produces per wake-up.
const BATCH: u64 = 256;
/// Output bytes above which a QoS 0 publisher waits for the socket instead of producing.
const HIGH_WATER: usize = 256 * 1024;

/// What every task of one run shares.
pub(super) struct Ctx {
    /// The shared start: send times are nanoseconds since this instant.
    pub(super) t0: Instant,
    /// End of the warm-up.
    pub(super) measure_from: Instant,
    /// End of the run: publishers stop producing.
    pub(super) end: Instant,
    pub(super) qos: QoS,
    pub(super) size: usize,
    /// Most QoS 1/2 messages a publisher has unacknowledged.
    pub(super) window: usize,
    /// How long publishers wait for their last acknowledgements.
    pub(super) drain: Duration,
    /// Most deliveries outstanding end to end (published times subscribers, less
    /// received); 0 = no bound.
    pub(super) backlog: u64,
    pub(super) subscribers: u64,
    /// Messages published by all publishers.
    pub(super) published: AtomicU64,
    /// Deliveries received by all subscribers.
    pub(super) delivered: AtomicU64,
}

impl Ctx {
    /// How many more messages the end-to-end backlog bound allows now.
    fn backlog_room(&self) -> u64 {
        if self.backlog == 0 {
            return u64::MAX;
        }
        let outstanding = (self.published.load(Ordering::Relaxed) * self.subscribers)
            .saturating_sub(self.delivered.load(Ordering::Relaxed));
        self.backlog.saturating_sub(outstanding) / self.subscribers.max(1)
    }

    fn ns(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.t0).as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The send credits of one publisher: how many messages it may have sent by now.
#[derive(Default)]
pub(super) struct Slot {
    credits: AtomicU64,
    notify: Notify,
}

/// Grants credits to `slots` round-robin at `rate` messages per second in total, from
/// `start` to `end`, on a thread of its own: `std::thread::sleep` wakes within tens of
/// microseconds, where the runtime's timer has millisecond granularity.
pub(super) fn spawn_pacer(
    slots: Vec<Arc<Slot>>,
    rate: u64,
    start: Instant,
    end: Instant,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("bench-pacer".into())
        .spawn(move || {
            let n = slots.len() as u64;
            let rate = u128::from(rate.max(1));
            loop {
                let now = Instant::now();
                let at = now.min(end);
                let due = u64::try_from(
                    at.saturating_duration_since(start).as_nanos() * rate / 1_000_000_000,
                )
                .unwrap_or(u64::MAX);
                for (i, slot) in (0u64..).zip(&slots) {
                    let credits = if due > i { (due - i - 1) / n + 1 } else { 0 };
                    if slot.credits.swap(credits, Ordering::AcqRel) != credits {
                        slot.notify.notify_one();
                    }
                }
                if now >= end {
                    return;
                }
                let next_ns =
                    u64::try_from(u128::from(due + 1) * 1_000_000_000 / rate).unwrap_or(u64::MAX);
                let next = start + Duration::from_nanos(next_ns);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        })
}

/// What one publisher did.
#[derive(Debug, Default)]
pub(super) struct PubResult {
    /// Which publisher (its topic is `TOPIC/index`).
    pub(super) index: usize,
    /// Messages published (handed to the session).
    pub(super) sent: u64,
    /// Of which after the warm-up.
    pub(super) sent_in_window: u64,
    /// QoS 1/2 messages the broker acknowledged.
    pub(super) acked: u64,
    /// QoS 1/2 messages the session reported dropped.
    pub(super) dropped: u64,
    /// Paced runs: credits granted but not used (the publisher could not keep the rate).
    pub(super) behind: u64,
    /// Messages still unacknowledged when the publisher gave up waiting.
    pub(super) unacked: u64,
    pub(super) error: Option<String>,
}

/// Publishes to `topic` until `ctx.end`: as fast as the socket (QoS 0) or the in-flight
/// window (QoS 1/2) allows, or as the pacer's credits allow. Then waits for the last
/// acknowledgements and disconnects.
pub(super) async fn publisher(
    mut conn: Conn,
    index: usize,
    topic: TopicName,
    ctx: Arc<Ctx>,
    slot: Option<Arc<Slot>>,
) -> PubResult {
    let mut r = PubResult {
        index,
        ..PubResult::default()
    };
    let mut buf = BytesMut::new();
    let mut outstanding = 0usize;
    let qos0 = ctx.qos == QoS::AtMostOnce;
    let end = tokio::time::Instant::from_std(ctx.end);
    r.error = loop {
        let now = Instant::now();
        if now >= ctx.end {
            break None;
        }
        let allowed = slot
            .as_ref()
            .map_or(u64::MAX, |s| s.credits.load(Ordering::Acquire));
        let room = ctx.backlog_room();
        let mut produced = 0u64;
        let mut blocked = false;
        let mut full = false;
        while r.sent < allowed && produced < BATCH {
            full = produced >= room;
            if full {
                break;
            }
            blocked = if qos0 {
                conn.pending() >= HIGH_WATER
            } else {
                outstanding >= ctx.window
            };
            if blocked {
                break;
            }
            let payload = track::payload(&mut buf, r.sent, ctx.ns(now), ctx.size);
            let message = OutgoingMessage::new(topic.clone(), ctx.qos, payload);
            if let Err(e) = conn.session.publish(now, message) {
                return finish(conn, r, Some(format!("publish: {e}")), &ctx).await;
            }
            r.sent += 1;
            produced += 1;
            if now >= ctx.measure_from {
                r.sent_in_window += 1;
            }
            if !qos0 {
                outstanding += 1;
            }
        }
        ctx.published.fetch_add(produced, Ordering::Relaxed);
        conn.collect(now);
        if let Err(e) = conn.try_flush() {
            break Some(format!("write: {e}"));
        }
        if let Some(e) = on_events(&mut conn, &mut r, &mut outstanding) {
            break Some(e);
        }
        let more_now = produced == BATCH && !blocked && r.sent < allowed;
        if more_now && conn.pending() < HIGH_WATER {
            // Still producing flat out: take what the socket has without waiting, and let
            // the other tasks run.
            match conn.try_read(Instant::now()) {
                Ok(true) => {}
                Ok(false) => break Some("connection closed by the broker".into()),
                Err(e) => break Some(format!("read: {e}")),
            }
            if let Some(e) = on_events(&mut conn, &mut r, &mut outstanding) {
                break Some(e);
            }
            tokio::task::yield_now().await;
            continue;
        }
        let credit = async {
            match &slot {
                Some(s) if !blocked && !full => s.notify.notified().await,
                _ => std::future::pending().await,
            }
        };
        // The backlog bound has no wake-up of its own: look again a little later.
        let backlog_retry = async {
            if full {
                tokio::time::sleep(Duration::from_millis(1)).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            ready = conn.ready() => {
                match ready.and_then(|ready| conn.on_ready(Instant::now(), ready)) {
                    Ok(true) => {}
                    Ok(false) => break Some("connection closed by the broker".into()),
                    Err(e) => break Some(format!("socket: {e}")),
                }
            }
            () = credit => {}
            () = backlog_retry => {}
            () = tokio::time::sleep_until(end) => {}
            () = sleep_opt(conn.deadline()) => {
                if let Err(e) = conn.on_timeout() {
                    break Some(format!("socket: {e}"));
                }
            }
        }
        if let Some(e) = on_events(&mut conn, &mut r, &mut outstanding) {
            break Some(e);
        }
    };
    if let Some(s) = &slot {
        r.behind = s.credits.load(Ordering::Acquire).saturating_sub(r.sent);
    }
    if r.error.is_none() {
        let drained = drain(&mut conn, &mut r, &mut outstanding, &ctx).await;
        r.error = drained;
    }
    r.unacked = outstanding as u64;
    let error = r.error.take();
    finish(conn, r, error, &ctx).await
}

async fn finish(conn: Conn, mut r: PubResult, error: Option<String>, ctx: &Ctx) -> PubResult {
    r.error = error;
    conn.close(ctx.drain).await;
    r
}

/// After the run: writes what is pending and waits for every acknowledgement.
async fn drain(
    conn: &mut Conn,
    r: &mut PubResult,
    outstanding: &mut usize,
    ctx: &Ctx,
) -> Option<String> {
    let limit = tokio::time::Instant::from_std(ctx.end + ctx.drain);
    while *outstanding > 0 || conn.pending() > 0 {
        tokio::select! {
            ready = conn.ready() => {
                match ready.and_then(|ready| conn.on_ready(Instant::now(), ready)) {
                    Ok(true) => {}
                    Ok(false) => return Some("connection closed by the broker".into()),
                    Err(e) => return Some(format!("socket: {e}")),
                }
            }
            () = tokio::time::sleep_until(limit) => {
                return (*outstanding > 0).then(|| {
                    format!("{outstanding} messages unacknowledged {:?} after the end", ctx.drain)
                });
            }
        }
        if let Some(e) = on_events(conn, r, outstanding) {
            return Some(e);
        }
    }
    None
}

fn on_events(conn: &mut Conn, r: &mut PubResult, outstanding: &mut usize) -> Option<String> {
    while let Some(event) = conn.session.poll_event() {
        match event {
            ClientEvent::Delivered { reason_code, .. } => {
                *outstanding = outstanding.saturating_sub(1);
                if reason_code.is_error() {
                    r.dropped += 1;
                } else {
                    r.acked += 1;
                }
            }
            ClientEvent::Dropped { why, .. } => {
                *outstanding = outstanding.saturating_sub(1);
                r.dropped += 1;
                r.error
                    .get_or_insert_with(|| format!("message dropped: {why:?}"));
            }
            ClientEvent::Closed { reason } => return Some(format!("closed: {reason:?}")),
            _ => {}
        }
    }
    None
}

/// What one subscriber received.
pub(super) struct SubResult {
    /// Per publisher.
    pub(super) streams: Vec<Stream>,
    /// Latency of messages sent after the warm-up, in nanoseconds.
    pub(super) histogram: Histogram<u64>,
    /// Every delivery, duplicates included.
    pub(super) received: u64,
    /// Deliveries that arrived between the end of the warm-up and the end of the run.
    pub(super) in_window: u64,
    /// Deliveries without a sequence number or from an unknown topic.
    pub(super) malformed: u64,
    pub(super) error: Option<String>,
}

/// Receives until `stop` changes; counts every delivery into `ctx.delivered` as well.
pub(super) async fn subscriber(
    mut conn: Conn,
    ctx: Arc<Ctx>,
    publishers: usize,
    mut stop: watch::Receiver<bool>,
) -> SubResult {
    let mut r = SubResult {
        streams: vec![Stream::default(); publishers],
        histogram: track::histogram(),
        received: 0,
        in_window: 0,
        malformed: 0,
        error: None,
    };
    let warm_ns = ctx.ns(ctx.measure_from);
    let end_ns = ctx.ns(ctx.end);
    r.error = loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break None,
            ready = conn.ready() => {
                let now = Instant::now();
                let open = match ready.and_then(|ready| conn.on_ready(now, ready)) {
                    Ok(open) => open,
                    Err(e) => break Some(format!("socket: {e}")),
                };
                let before = r.received;
                let now_ns = ctx.ns(now);
                let mut closed = None;
                while let Some(event) = conn.session.poll_event() {
                    match event {
                        ClientEvent::Publish(p) => record(&mut r, &p, now_ns, warm_ns, end_ns),
                        ClientEvent::Closed { reason } => closed = Some(format!("closed: {reason:?}")),
                        _ => {}
                    }
                }
                ctx.delivered.fetch_add(r.received - before, Ordering::Relaxed);
                if closed.is_some() {
                    break closed;
                }
                if !open {
                    break Some("connection closed by the broker".into());
                }
            }
            () = sleep_opt(conn.deadline()) => {
                if let Err(e) = conn.on_timeout() {
                    break Some(format!("socket: {e}"));
                }
            }
        }
    };
    conn.close(ctx.drain).await;
    r
}

fn record(r: &mut SubResult, p: &mqtt_proto::Publish, now_ns: u64, warm_ns: u64, end_ns: u64) {
    let publisher = p
        .topic
        .as_ref()
        .and_then(|t| t.as_str().rsplit('/').next()?.parse::<usize>().ok());
    let (Some((seq, sent_ns)), Some(stream)) = (
        track::parse(&p.payload),
        publisher.and_then(|i| r.streams.get_mut(i)),
    ) else {
        r.malformed += 1;
        return;
    };
    r.received += 1;
    stream.record(seq);
    if (warm_ns..end_ns).contains(&now_ns) {
        r.in_window += 1;
    }
    if sent_ns >= warm_ns {
        r.histogram
            .saturating_record(now_ns.saturating_sub(sent_ns).max(1));
    }
}
