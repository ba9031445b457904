//! Clients and brokers of the two runtimes together: the smol client against the tokio
//! broker and the tokio client against the smol broker, exchanging QoS 1 and 2 messages in
//! both directions (a smol client and a tokio client on each broker, each publishing to
//! the other).

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use adapter_common::client::{ClientRuntime, Events};
use adapter_common::config::{Config, Listener, ListenerKind};
use adapter_common::server::ShutdownHandle;
use adapter_smol::client::Smol;
use adapter_tokio::client::Tokio;
use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};

type Client<R> = adapter_common::client::Client<R>;

/// A broker of either adapter on its own thread, on 127.0.0.1 with a system-chosen port.
struct Broker {
    addr: SocketAddr,
    stop: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
}

impl Broker {
    fn config() -> Config {
        let listener = Listener::new(ListenerKind::Tcp, SocketAddr::from(([127, 0, 0, 1], 0)));
        Config {
            listeners: vec![listener],
            ..Config::default()
        }
    }

    /// Runs `serve` on a new thread; it binds, reports its address and handle, then runs.
    fn spawn(
        serve: impl FnOnce(mpsc::Sender<(SocketAddr, ShutdownHandle)>) + Send + 'static,
    ) -> Self {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || serve(tx));
        let (addr, stop) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("broker bound");
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn tokio() -> Self {
        Self::spawn(|ready| {
            let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
            rt.block_on(async {
                let server = adapter_tokio::server::Server::bind(Self::config()).await;
                let server = server.expect("tokio broker binds");
                let addr = server.local_addrs().first().expect("a listener").1;
                ready
                    .send((addr, server.shutdown_handle()))
                    .expect("test waits");
                server.run().await;
            });
        })
    }

    fn smol() -> Self {
        Self::spawn(|ready| {
            smol::block_on(async {
                let server = adapter_smol::server::Server::bind(Self::config()).await;
                let server = server.expect("smol broker binds");
                let addr = server.local_addrs().first().expect("a listener").1;
                ready
                    .send((addr, server.shutdown_handle()))
                    .expect("test waits");
                server.run().await;
            });
        })
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop.shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn builder<R: ClientRuntime>(
    addr: SocketAddr,
    version: ProtocolVersion,
    id: &str,
) -> adapter_common::client::ClientBuilder<R> {
    Client::<R>::builder(adapter_common::client::Transport::tcp(
        "127.0.0.1",
        addr.port(),
    ))
    .protocol(version)
    .client_id(id)
    .reconnect(None)
}

/// Subscribes `client` to `inbox/{name}/#` at QoS 2.
async fn open_inbox<R>(client: &Client<R>, name: &str) {
    let code = client
        .subscribe(&format!("inbox/{name}/#"), QoS::ExactlyOnce)
        .await;
    assert_eq!(code.unwrap(), ReasonCode::GrantedQoS2);
}

/// Sends QoS 1 and 2 messages to `to`'s inbox and waits for PUBACK and PUBCOMP.
async fn send<R>(client: &Client<R>, to: &str, from: &str) {
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let topic = format!("inbox/{to}/{}", qos.as_u8());
        let handle = client.publish(&topic, qos, false, from.to_owned()).await;
        let outcome = handle.unwrap().await.unwrap();
        assert_eq!(
            outcome.reason_code,
            ReasonCode::Success,
            "{from} -> {to} {qos:?}"
        );
    }
}

/// Expects the QoS 1 and 2 messages from `from`.
async fn receive(events: &mut Events, from: &str) {
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let message = loop {
            match events.recv().await.expect("event stream ended") {
                adapter_common::client::Event::Message(m) => break m,
                other => eprintln!("event: {other:?}"),
            }
        };
        assert_eq!(message.qos(), qos);
        assert_eq!(message.payload().as_ref(), from.as_bytes());
    }
}

/// A smol client and a tokio client on `broker` send each other QoS 1 and 2 messages.
fn exchange(broker: &Broker) {
    let addr = broker.addr;
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let (smol_client, mut smol_events) = smol::block_on(
            builder::<Smol>(addr, version, "smol-side")
                .connect_with(|task| smol::spawn(task).detach()),
        )
        .expect("smol client connects");
        let (tokio_client, mut tokio_events) = rt
            .block_on(builder::<Tokio>(addr, version, "tokio-side").connect())
            .expect("tokio client connects");
        smol::block_on(open_inbox(&smol_client, "smol"));
        rt.block_on(open_inbox(&tokio_client, "tokio"));
        // Each side sends on its own runtime while the other receives on its own.
        let tokio_side = std::thread::scope(|scope| {
            let from_smol = scope.spawn(|| smol::block_on(send(&smol_client, "tokio", "smol")));
            rt.block_on(async {
                send(&tokio_client, "smol", "tokio").await;
                receive(&mut tokio_events, "smol").await;
            });
            from_smol.join()
        });
        tokio_side.expect("smol client sent");
        smol::block_on(receive(&mut smol_events, "tokio"));
        smol::block_on(smol_client.disconnect());
        rt.block_on(tokio_client.disconnect());
    }
}

/// Runs `test` on a thread of its own, failing after 30 s.
fn within(test: impl FnOnce() + Send + 'static) {
    let worker = std::thread::spawn(test);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !worker.is_finished() {
        assert!(std::time::Instant::now() < deadline, "test timed out");
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Err(panic) = worker.join() {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn smol_client_and_tokio_client_on_the_tokio_broker() {
    within(|| exchange(&Broker::tokio()));
}

#[test]
fn tokio_client_and_smol_client_on_the_smol_broker() {
    within(|| exchange(&Broker::smol()));
}
