//! Broker core benchmarks: routing one PUBLISH with 100,000 unrelated subscriptions
//! present, fan-out of one PUBLISH to 10,000 subscribers, and the retained lookup for `#`
//! over 100,000 retained topics.
//!
//! The broker is driven directly (no sockets, no connections): each iteration is one
//! `handle_publish` (or one retained lookup) and the draining of the outputs it caused.

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mqtt_broker_core::{Broker, BrokerConfig, ConnId, Output, RetainedStore};
use mqtt_proto::{
    Connect, MqttString, PacketId, ProtocolVersion, Publish, QoS, QoSPid, Subscribe,
    SubscriptionOptions, TopicFilter, TopicName,
};

fn now() -> Instant {
    // Benchmarks run on the real clock.
    #[allow(clippy::disallowed_methods)]
    Instant::now()
}

fn broker() -> Broker {
    let config = BrokerConfig {
        sys_interval: None,
        ..BrokerConfig::default()
    };
    Broker::new(config, 1, now())
}

/// Opens and accepts a 5.0 connection for `client_id`.
fn connect(b: &mut Broker, client_id: &str) -> ConnId {
    let t = now();
    let conn = b.open_connection(t).expect("connection limit");
    let c = Connect::new(
        ProtocolVersion::V5,
        MqttString::try_from(client_id).expect("id"),
    );
    let pending = b.handle_connect(t, conn, Box::new(c));
    b.accept(t, pending);
    while b.poll_output().is_some() {}
    conn
}

fn subscribe(b: &mut Broker, conn: ConnId, filters: &[String]) {
    let sub = Subscribe {
        packet_id: PacketId::MIN,
        properties: Default::default(),
        filters: filters
            .iter()
            .map(|f| {
                let f = TopicFilter::try_from(f.as_str()).expect("filter");
                (f, SubscriptionOptions::new(QoS::AtLeastOnce))
            })
            .collect(),
    };
    b.handle_subscribe(now(), conn, sub);
    while b.poll_output().is_some() {}
}

/// Publishes once and counts the deliveries it caused.
fn publish(b: &mut Broker, conn: ConnId, p: &Publish) -> usize {
    b.handle_publish(now(), conn, p.clone());
    let mut delivered = 0;
    while let Some(out) = b.poll_output() {
        if let Output::Deliver { message, .. } = out {
            black_box(&message);
            delivered += 1;
        }
    }
    delivered
}

fn message(topic: &'static str) -> Publish {
    let qos_pid = QoSPid::AtLeastOnce(PacketId::MIN);
    Publish::new(
        TopicName::from_static(topic),
        qos_pid,
        Bytes::from_static(&[0x5a; 64]),
    )
}

fn routing(c: &mut Criterion) {
    let mut group = c.benchmark_group("broker");

    // 1,000 sessions with 100 unrelated subscriptions each, plus one matching subscriber.
    let mut b = broker();
    for s in 0..1_000 {
        let conn = connect(&mut b, &format!("dev{s}"));
        let filters: Vec<String> = (0..100).map(|i| format!("dev/{s}/{i}/+")).collect();
        subscribe(&mut b, conn, &filters);
    }
    let sub = connect(&mut b, "target");
    subscribe(&mut b, sub, &["site/a/temp".to_owned()]);
    let publisher = connect(&mut b, "publisher");
    let p = message("site/a/temp");
    assert_eq!(publish(&mut b, publisher, &p), 1);
    group.throughput(Throughput::Elements(1));
    group.bench_function("route-1-match-100k-unrelated-subscriptions", |bench| {
        bench.iter(|| publish(&mut b, publisher, &p));
    });

    // One PUBLISH to 10,000 subscribers of the same filter.
    let mut b = broker();
    for s in 0..10_000 {
        let conn = connect(&mut b, &format!("fan{s}"));
        subscribe(&mut b, conn, &["fan/+/out".to_owned()]);
    }
    let publisher = connect(&mut b, "publisher");
    let p = message("fan/1/out");
    assert_eq!(publish(&mut b, publisher, &p), 10_000);
    group.throughput(Throughput::Elements(10_000));
    group.sample_size(20);
    group.bench_function("fan-out-to-10k-subscribers", |bench| {
        bench.iter(|| publish(&mut b, publisher, &p));
    });
    group.finish();
}

fn retained(c: &mut Criterion) {
    let mut store = RetainedStore::new(1);
    for i in 0..100_000u32 {
        let topic = TopicName::try_from(format!("r/{}/{}", i / 1000, i % 1000)).expect("topic");
        store.set(&topic, i);
    }
    let all = TopicFilter::from_static("#");
    let one_level = TopicFilter::from_static("r/42/+");
    let count = |f: &TopicFilter| {
        let mut n = 0u32;
        store.for_each_match(f, |_, m| {
            black_box(m);
            n += 1;
        });
        n
    };
    assert_eq!(count(&all), 100_000);
    assert_eq!(count(&one_level), 1_000);
    let mut group = c.benchmark_group("retained");
    group.sample_size(20);
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("lookup-hash-over-100k-topics", |bench| {
        bench.iter(|| count(&all));
    });
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("lookup-plus-over-100k-topics", |bench| {
        bench.iter_batched(|| (), |()| count(&one_level), BatchSize::SmallInput);
    });
    group.finish();
}

criterion_group!(benches, routing, retained);
criterion_main!(benches);
