//! Per-message cost of the QoS 0, 1 and 2 paths through a connection pair: a
//! `ClientConnection` publishing to a `ServerConnection` over an in-memory wire, every
//! byte encoded, decoded and acknowledged as on a real connection.
//!
//! One iteration sends a batch of 100 messages and runs both sides until every
//! acknowledgement has been processed; the reported time is per message.

use std::hint::black_box;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mqtt_proto::{Connect, MqttString, ProtocolVersion, QoS, TopicName};
use mqtt_session::{
    Accept, ClientConfig, ClientConnection, ClientEvent, OutgoingMessage, ServerConfig,
    ServerConnection, ServerEvent, SessionState,
};

const BATCH: u64 = 100;

struct Pair {
    client: ClientConnection,
    server: ServerConnection,
    to_server: BytesMut,
    to_client: BytesMut,
}

impl Pair {
    fn new(version: ProtocolVersion) -> Self {
        // Benchmarks measure with the real clock; the pair only needs one instant.
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let connect = Connect::new(version, MqttString::from_static("bench"));
        let client =
            ClientConnection::new(now, connect, SessionState::new(), ClientConfig::default())
                .expect("CONNECT encodes");
        let server = ServerConnection::new(now, ServerConfig::default());
        let mut pair = Self {
            client,
            server,
            to_server: BytesMut::with_capacity(1 << 16),
            to_client: BytesMut::with_capacity(1 << 16),
        };
        pair.run(now);
        assert!(pair.client.is_connected());
        pair
    }

    /// Moves bytes both ways until both sides are quiet; returns messages delivered to the
    /// server application and acknowledgements completed at the client.
    fn run(&mut self, now: Instant) -> (u64, u64) {
        let (mut received, mut completed) = (0, 0);
        loop {
            let mut moved = false;
            while let Some(b) = self.client.poll_transmit(now) {
                self.to_server.extend_from_slice(&b);
                moved = true;
            }
            self.server.handle_read(now, &mut self.to_server);
            while let Some(e) = self.server.poll_event() {
                match e {
                    ServerEvent::Connect(_) => {
                        self.server.accept(now, Accept::default()).expect("accept");
                    }
                    ServerEvent::Publish(p) => {
                        black_box(&p);
                        received += 1;
                    }
                    _ => {}
                }
            }
            while let Some(b) = self.server.poll_transmit(now) {
                self.to_client.extend_from_slice(&b);
                moved = true;
            }
            self.client.handle_read(now, &mut self.to_client);
            while let Some(e) = self.client.poll_event() {
                if let ClientEvent::Delivered { .. } = e {
                    completed += 1;
                }
            }
            if !moved {
                return (received, completed);
            }
        }
    }
}

fn bench_qos(c: &mut Criterion) {
    let payload = Bytes::from_static(&[0x5a; 64]);
    let topic = TopicName::from_static("sensors/room1/temp");
    let mut group = c.benchmark_group("connection-pair");
    group.throughput(Throughput::Elements(BATCH));
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let mut pair = Pair::new(version);
            let name = format!("{version}/qos{}-64B", qos.as_u8());
            group.bench_function(name, |b| {
                b.iter(|| {
                    #[allow(clippy::disallowed_methods)]
                    let now = Instant::now();
                    for _ in 0..BATCH {
                        let m = OutgoingMessage::new(topic.clone(), qos, payload.clone());
                        pair.client.publish(now, m).expect("publish");
                    }
                    let (received, completed) = pair.run(now);
                    assert_eq!(received, BATCH);
                    if qos != QoS::AtMostOnce {
                        assert_eq!(completed, BATCH);
                    }
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_qos);
criterion_main!(benches);
