//! The broker suite (`tests-shared/broker`, also run by adapter-tokio's `tests/broker`)
//! against the smol broker: real MQTT clients (mosquitto's command-line clients, Python's
//! paho-mqtt, the tokio client across runtimes), hand-made and malformed bytes, and the
//! `mqttd-smol` binary's shutdown. This file only says how to start a broker: each runs on
//! a thread of its own, `smol::block_on(server.run_with_threads(2))`; the test bodies run on
//! tokio and reach it only through sockets.
//!
//! Everything runs on 127.0.0.1 with system-chosen ports, and every test bounds its own
//! time. A missing peer program fails the test when `CI` is "true" and skips it (with
//! "SKIP: ..." on stderr) otherwise.

#[path = "../../tests-shared/broker/our_client.rs"]
mod our_client;
#[path = "../../tests-shared/broker/paho.rs"]
mod paho;
#[path = "../../tests-shared/broker/peers.rs"]
mod peers;
#[path = "../../tests-shared/broker/protocol.rs"]
mod protocol;
#[path = "../../tests-shared/broker/raw.rs"]
mod raw;
#[path = "../../tests-shared/broker/robustness.rs"]
mod robustness;
#[path = "../../tests-shared/broker/shutdown.rs"]
mod shutdown;
#[path = "../../tests-shared/broker/support.rs"]
mod support;

/// The smol broker, as the suite starts it: on a thread of its own (and one more executor
/// thread the server adds), stopped through its `ShutdownHandle` and joined.
mod adapter {
    pub(crate) use adapter_smol::config;
    pub(crate) use adapter_smol::server::{Counters, ShutdownHandle};

    use std::thread::JoinHandle;

    use adapter_smol::server::Server;
    use config::Config;
    use tokio::sync::oneshot;

    use crate::support::Started;

    /// A short name for temporary files.
    pub(crate) const NAME: &str = "smol";
    /// The broker binary.
    pub(crate) const MQTTD: &str = env!("CARGO_BIN_EXE_mqttd-smol");
    /// The executor threads of each broker: the one polling `run_with_threads` and one more.
    const THREADS: usize = 2;
    /// The name `Server::run_with_threads` gives its extra threads, before their number.
    const EXTRA_THREAD: &str = "mqttd-smol-";

    /// The thread polling `run_with_threads`.
    pub(crate) struct Running(JoinHandle<()>);

    impl Running {
        /// Whether `run_with_threads` has returned (or panicked).
        pub(crate) fn is_finished(&self) -> bool {
            self.0.is_finished()
        }

        /// Joins the (finished) thread; panics if it panicked.
        pub(crate) async fn join(self) {
            self.0.join().expect("broker thread did not panic");
        }
    }

    /// What the broker thread reports once bound: the addresses, the shutdown handle and
    /// the counters, or why it could not bind.
    type Bound = Result<
        (
            Vec<(config::ListenerKind, std::net::SocketAddr)>,
            ShutdownHandle,
            std::sync::Arc<Counters>,
        ),
        String,
    >;

    /// Spawns the thread `thread_name`, which binds `config`, reports on the returned
    /// receiver and runs the server until it is shut down.
    fn spawn(config: Config, thread_name: &str) -> (oneshot::Receiver<Bound>, Running) {
        let (tx, rx) = oneshot::channel::<Bound>();
        let thread = std::thread::Builder::new()
            .name(thread_name.to_owned())
            .spawn(move || {
                smol::block_on(async move {
                    let server = match Server::bind(config).await {
                        Ok(server) => server,
                        Err(e) => {
                            let _ = tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let handles = (
                        server.local_addrs(),
                        server.shutdown_handle(),
                        server.counters(),
                    );
                    if tx.send(Ok(handles)).is_ok() {
                        server.run_with_threads(THREADS).await;
                    }
                });
            })
            .expect("broker thread starts");
        (rx, Running(thread))
    }

    fn started(bound: Result<Bound, oneshot::error::RecvError>, running: Running) -> Started {
        let bound = bound.unwrap_or_else(|_| panic!("the broker thread ended before binding"));
        let (addrs, stop, counters) = bound.unwrap_or_else(|e| panic!("broker binds: {e}"));
        Started {
            addrs,
            stop,
            counters,
            running,
        }
    }

    /// Starts the broker on a thread named "smol-broker".
    pub(crate) async fn start(config: Config) -> Started {
        let (bound, running) = spawn(config, "smol-broker");
        // Binding takes no time; the bound is for a broken build.
        let bound = tokio::time::timeout(crate::support::STEP, bound)
            .await
            .expect("broker binds in time");
        started(bound, running)
    }

    /// Nothing: the smol broker's threads end with `run_with_threads`.
    pub(crate) struct Host;

    impl Host {
        /// Nothing to close (see [`Host`]).
        pub(crate) fn close(self) {}
    }

    /// The broker on a thread named `thread_name` (and the server's extra thread).
    pub(crate) fn start_on_own_runtime(config: Config, thread_name: &str) -> (Host, Started) {
        let (bound, running) = spawn(config, thread_name);
        (Host, started(bound.blocking_recv(), running))
    }

    /// Whether the thread `name` runs a broker of [`start_on_own_runtime`] given
    /// `thread_name`: that thread, or an extra executor thread of the server. Extra threads
    /// are named alike for every smol broker in this process, so a panic on another test's
    /// broker counts too; there is none to expect either.
    pub(crate) fn is_broker_thread(name: &str, thread_name: &str) -> bool {
        name == thread_name || name.starts_with(EXTRA_THREAD)
    }
}
