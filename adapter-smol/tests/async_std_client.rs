//! The smol client unchanged under async-std's executor: its task is spawned with
//! `async_std::task::spawn` and everything is awaited inside `async_std::task::block_on`,
//! against the smol broker (itself run by async-std).

use std::net::SocketAddr;
use std::time::Duration;

use adapter_smol::client::{Client, Event, Transport};
use adapter_smol::config::{Config, Listener, ListenerKind};
use adapter_smol::server::Server;
use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};

#[test]
fn smol_client_runs_under_async_std() {
    async_std::task::block_on(async_std::future::timeout(Duration::from_secs(30), async {
        let listener = Listener::new(ListenerKind::Tcp, SocketAddr::from(([127, 0, 0, 1], 0)));
        let config = Config {
            listeners: vec![listener],
            ..Config::default()
        };
        let server = Server::bind(config).await.expect("broker binds");
        let port = server.local_addrs().first().expect("a listener").1.port();
        let stop = server.shutdown_handle();
        let broker = async_std::task::spawn(server.run());

        let (client, mut events) = Client::builder(Transport::tcp("127.0.0.1", port))
            .protocol(ProtocolVersion::V5)
            .client_id("async-std")
            .reconnect(None)
            .connect_with(|task| drop(async_std::task::spawn(task)))
            .await
            .expect("connects");
        let granted = client.subscribe("std/+", QoS::ExactlyOnce).await.unwrap();
        assert_eq!(granted, ReasonCode::GrantedQoS2);
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let topic = format!("std/{}", qos.as_u8());
            let handle = client.publish(&topic, qos, false, "x").await.unwrap();
            assert!(handle.await.unwrap().is_success());
        }
        let mut received = Vec::new();
        while received.len() < 3 {
            if let Some(Event::Message(m)) = events.recv().await {
                received.push(m.qos());
            }
        }
        assert_eq!(
            received,
            [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        );
        client.disconnect().await;
        stop.shutdown();
        broker.await;
    }))
    .expect("test timed out");
}
