//! The broker task: takes the connections' messages in batches and runs them through the
//! [`Hub`] (see `adapter_common::hub` for the data flow).

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::Instant;

use adapter_common::hub::{Hub, ToBroker};
use adapter_common::server::{HUB_BATCH, ShutdownHandle};
use async_channel::Receiver;
use futures_lite::Stream;

use super::{Budget, Deadline};

/// What woke the broker task.
#[allow(clippy::large_enum_variant)] // moved once, straight into the hub
enum Wake {
    Shutdown,
    Timeout,
    Message(ToBroker),
    /// Every connection task and the server are gone.
    Closed,
}

/// The broker task. Ends once shutdown was asked and every connection has closed.
pub(crate) async fn run(mut hub: Hub, rx: Receiver<ToBroker>, shutdown: ShutdownHandle) {
    let mut rx = pin!(rx);
    let mut shutdown = pin!(shutdown.wait());
    let mut shutting_down = false;
    let mut timer = Deadline::new();
    let mut budget = Budget::new();
    loop {
        timer.set(hub.poll_timeout());
        // Each source is polled without side effects until it is ready, so the order below
        // is a priority, never a loss.
        let mut waited = false;
        let wake = poll_fn(|cx| {
            if !shutting_down && shutdown.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Wake::Shutdown);
            }
            if timer.poll(cx).is_ready() {
                return Poll::Ready(Wake::Timeout);
            }
            let wake = rx.as_mut().poll_next(cx).map(|msg| match msg {
                Some(msg) => Wake::Message(msg),
                None => Wake::Closed,
            });
            waited |= wake.is_pending();
            wake
        })
        .await;
        let now = Instant::now();
        match wake {
            Wake::Shutdown => {
                shutting_down = true;
                tracing::info!("shutting down: disconnecting clients");
                hub.begin_shutdown(now);
            }
            Wake::Timeout => hub.handle_timeout(now),
            Wake::Message(msg) => {
                hub.handle(now, msg);
                for _ in 1..HUB_BATCH {
                    let Ok(msg) = rx.try_recv() else { break };
                    hub.handle(now, msg);
                }
            }
            Wake::Closed => break,
        }
        hub.dispatch();
        if shutting_down && hub.is_shut_down() {
            break;
        }
        budget.spend(waited).await;
    }
}
