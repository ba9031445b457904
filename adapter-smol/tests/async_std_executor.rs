//! The smol broker unchanged under async-std's executor: `Server::run` drives its own
//! executor inside the future that `async_std::task::block_on` polls.

mod common;

use common::{Client, TestBroker, config, tcp, within};
use mqtt_proto::ProtocolVersion::V5;
use mqtt_proto::QoS;

#[test]
fn broker_runs_under_async_std_block_on() {
    within(30, || {
        let broker = TestBroker::start(config(), |server| {
            async_std::task::block_on(server.run());
        });
        let addr = broker.addr();
        let mut sub = Client::connect(tcp(addr), V5, "sub", |_| {});
        sub.subscribe("std/#", QoS::ExactlyOnce);
        let mut publisher = Client::connect(tcp(addr), V5, "pub", |_| {});
        publisher.publish("std/1", QoS::ExactlyOnce, false, b"async-std");
        assert_eq!(&sub.expect_publish().payload[..], b"async-std");
        publisher.disconnect();
        sub.disconnect();
        broker.stop();
    });
}
