//! The broker suite (`tests-shared/broker`) against the tokio broker: real MQTT clients
//! (mosquitto's command-line clients, Python's paho-mqtt, our tokio client), hand-made and
//! malformed bytes, and the `mqttd` binary's shutdown. adapter-smol's `tests/broker.rs` runs
//! the same files against the smol broker; this file only says how to start a broker.
//!
//! Everything runs on 127.0.0.1 with system-chosen ports, and every test bounds its own
//! time. A missing peer program fails the test when `CI` is "true" and skips it (with
//! "SKIP: ..." on stderr) otherwise.

#[path = "../../../tests-shared/broker/our_client.rs"]
mod our_client;
#[path = "../../../tests-shared/broker/paho.rs"]
mod paho;
#[path = "../../../tests-shared/broker/peers.rs"]
mod peers;
#[path = "../../../tests-shared/broker/protocol.rs"]
mod protocol;
#[path = "../../../tests-shared/broker/raw.rs"]
mod raw;
#[path = "../../../tests-shared/broker/robustness.rs"]
mod robustness;
#[path = "../../../tests-shared/broker/shutdown.rs"]
mod shutdown;
#[path = "../../../tests-shared/broker/support.rs"]
mod support;

/// The tokio broker, as the suite starts it: a task on the test's runtime.
mod adapter {
    pub(crate) use adapter_tokio::config;
    pub(crate) use adapter_tokio::server::{Counters, ShutdownHandle};

    use adapter_tokio::server::Server;
    use config::Config;
    use tokio::runtime::Runtime;
    use tokio::task::JoinHandle;

    use crate::support::Started;

    /// A short name for temporary files.
    pub(crate) const NAME: &str = "tokio";
    /// The broker binary.
    pub(crate) const MQTTD: &str = env!("CARGO_BIN_EXE_mqttd");

    /// The broker's run task.
    pub(crate) struct Running(JoinHandle<()>);

    impl Running {
        /// Whether `run` has returned (or panicked).
        pub(crate) fn is_finished(&self) -> bool {
            self.0.is_finished()
        }

        /// Waits for `run`; panics if it panicked.
        pub(crate) async fn join(self) {
            self.0.await.expect("broker task did not panic");
        }
    }

    /// Binds `config` and spawns `run` on the current runtime.
    pub(crate) async fn start(config: Config) -> Started {
        let server = Server::bind(config).await.expect("broker binds");
        Started {
            addrs: server.local_addrs(),
            stop: server.shutdown_handle(),
            counters: server.counters(),
            running: Running(tokio::spawn(server.run())),
        }
    }

    /// The runtime of a broker of [`start_on_own_runtime`].
    pub(crate) struct Host(Runtime);

    impl Host {
        /// Drops the runtime (outside of any runtime).
        pub(crate) fn close(self) {
            drop(self.0);
        }
    }

    /// A broker on a runtime of its own with two worker threads named `thread_name`.
    pub(crate) fn start_on_own_runtime(config: Config, thread_name: &str) -> (Host, Started) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(thread_name)
            .enable_all()
            .build()
            .expect("broker runtime");
        let started = rt.block_on(start(config));
        (Host(rt), started)
    }

    /// Whether the thread `name` runs a broker of [`start_on_own_runtime`] given
    /// `thread_name`.
    pub(crate) fn is_broker_thread(name: &str, thread_name: &str) -> bool {
        name == thread_name
    }
}
