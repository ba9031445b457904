//! Memory per idle session: heap bytes the broker core holds for each connected client
//! with one subscription, and for each `ServerConnection` at rest, measured with a
//! counting allocator. Prints a report; not a timing benchmark.
#![allow(unsafe_code)] // the counting allocator

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use mqtt_broker_core::{Broker, BrokerConfig};
use mqtt_proto::{
    Connect, MqttString, PacketId, ProtocolVersion, QoS, Subscribe, SubscriptionOptions,
    TopicFilter,
};
use mqtt_session::{ServerConfig, ServerConnection};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn main() {
    const N: usize = 10_000;
    // Benchmarks run on the real clock.
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    let config = BrokerConfig {
        sys_interval: None,
        ..BrokerConfig::default()
    };
    let mut broker = Broker::new(config, 1, now);
    let before = live();
    for i in 0..N {
        let conn = broker.open_connection(now).expect("limit");
        let id = MqttString::try_from(format!("client-{i:06}")).expect("id");
        let pending =
            broker.handle_connect(now, conn, Box::new(Connect::new(ProtocolVersion::V5, id)));
        broker.accept(now, pending);
        let filter = TopicFilter::try_from(format!("devices/{i:06}/cmd")).expect("filter");
        let sub = Subscribe {
            packet_id: PacketId::MIN,
            properties: Default::default(),
            filters: vec![(filter, SubscriptionOptions::new(QoS::AtLeastOnce))],
        };
        broker.handle_subscribe(now, conn, sub);
        while broker.poll_output().is_some() {}
    }
    let per_session = (live() - before) / N as isize;

    let before = live();
    let conns: Vec<ServerConnection> = (0..N)
        .map(|_| ServerConnection::new(now, ServerConfig::default()))
        .collect();
    let per_connection = (live() - before) / N as isize;
    println!(
        "broker core: {per_session} heap bytes per idle session (one subscription, {N} sessions)"
    );
    let inline = size_of::<ServerConnection>() as isize;
    println!(
        "ServerConnection: {inline} bytes per idle connection, of which {} outside the struct",
        per_connection - inline
    );
    drop(conns);
    drop(broker);
}
