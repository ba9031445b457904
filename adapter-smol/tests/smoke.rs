//! What is particular to the smol broker, end to end on 127.0.0.1 with a blocking client
//! and no async runtime in the test: several executor threads (`run_with_threads`). The
//! broker's behaviour towards clients (every QoS, retained messages, wills, sessions,
//! take-over, TLS, WebSocket, malformed input, the `mqttd-smol` binary's shutdown) is the
//! shared suite's, `tests/broker.rs`; async-std's executor is `tests/async_std_executor.rs`.
//! Every test is time-bounded.

mod common;

use common::{Client, TestBroker, config, tcp, within};
use mqtt_proto::ProtocolVersion::V5;
use mqtt_proto::QoS;

#[test]
fn several_executor_threads_serve_many_clients() {
    within(30, || {
        let broker = TestBroker::start(config(), |server| {
            smol::block_on(server.run_with_threads(3));
        });
        let addr = broker.addr();
        let subs: Vec<Client> = (0..8)
            .map(|i| {
                let mut c = Client::connect(tcp(addr), V5, &format!("sub-{i}"), |_| {});
                c.subscribe("fan/out", QoS::AtLeastOnce);
                c
            })
            .collect();
        let mut publisher = Client::connect(tcp(addr), V5, "pub", |_| {});
        for _ in 0..20 {
            publisher.publish("fan/out", QoS::AtLeastOnce, false, b"m");
        }
        for mut sub in subs {
            for _ in 0..20 {
                assert_eq!(&sub.expect_publish().payload[..], b"m");
            }
            sub.disconnect();
        }
        publisher.disconnect();
        broker.stop();
    });
}
