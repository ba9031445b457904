//! The broker task: takes the connections' messages in batches and runs them through the
//! [`Hub`] (see `adapter_common::hub` for the data flow).

use std::time::Instant as StdInstant;

use adapter_common::hub::{Hub, ToBroker};
use adapter_common::server::HUB_BATCH as BATCH;
use adapter_common::server::ShutdownHandle;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::sleep_until;

/// The broker task. Ends once shutdown was asked and every connection has closed.
pub(crate) async fn run(mut hub: Hub, mut rx: mpsc::Receiver<ToBroker>, shutdown: ShutdownHandle) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut shutting_down = false;
    loop {
        let deadline = hub.poll_timeout().map(Instant::from_std);
        tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    break;
                }
                let now = StdInstant::now();
                for msg in batch.drain(..) {
                    hub.handle(now, msg);
                }
            }
            () = sleep_until(deadline), if deadline.is_some() => {
                hub.handle_timeout(StdInstant::now());
            }
            () = shutdown.wait(), if !shutting_down => {
                shutting_down = true;
                tracing::info!("shutting down: disconnecting clients");
                hub.begin_shutdown(StdInstant::now());
            }
        }
        hub.dispatch();
        if shutting_down && hub.is_shut_down() {
            break;
        }
    }
}
