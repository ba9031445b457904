//! Raw-socket checks of protocol details that the peer tests ran into.

use std::time::Duration;

use mqtt_proto::{Disconnect, Packet, ProtocolVersion, QoS, ReasonCode};

use crate::raw::{self, Raw};
use crate::support::{TestBroker, within};

/// MQTT 3.1 has no Session Present flag (the CONNACK's first byte is reserved), so a 3.1
/// client resuming its session must get a plain successful CONNACK, then what was queued
/// for it ([MQTT-3.2.0-1]: CONNACK is the first packet the server sends). mosquitto_sub
/// `-V 31 -c` hits the same path (`mosquitto_persistent_session_v31`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v31_client_resumes_its_persistent_session() {
    let broker = TestBroker::tcp().await;
    let addr = broker.tcp_addr();
    within(30, async {
        let mut connect = raw::connect(ProtocolVersion::V3_1, "resume-v31");
        connect.clean_start = false;
        let (mut first, ack) = Raw::connect_with(addr, connect.clone()).await;
        assert_eq!(ack.reason_code, ReasonCode::Success);
        first.subscribe("resume/#", QoS::AtLeastOnce).await;
        first
            .send(&Disconnect::new(ReasonCode::Success).into())
            .await;
        first.closed_within(Duration::from_secs(2)).await;

        let mut publisher = Raw::connect(addr, ProtocolVersion::V3_1_1, "resume-pub").await;
        publisher.publish_qos1("resume/x", b"kept for you").await;

        let (mut again, ack) = Raw::connect_with(addr, connect).await;
        assert_eq!(ack.reason_code, ReasonCode::Success, "{ack:?}");
        assert!(!ack.session_present, "3.1 cannot say so: {ack:?}");
        let (topic, p) = again.expect_publish().await;
        assert_eq!(topic, "resume/x");
        assert_eq!(&p.payload[..], b"kept for you");
        assert_eq!(p.qos(), QoS::AtLeastOnce);
        if let Some(id) = p.packet_id() {
            again
                .send(&Packet::PubAck(mqtt_proto::PubAck::new(id)))
                .await;
        }
        again.ping().await;
    })
    .await;
    broker.stop().await;
}
