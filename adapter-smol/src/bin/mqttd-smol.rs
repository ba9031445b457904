//! `mqttd-smol`: the MQTT broker on smol, with the same flags and configuration file as
//! `mqttd` (see `mqttd-smol --help` and `docs/mqttd.example.toml`).
//!
//! The server's executor runs on one thread per core. SIGINT or SIGTERM shut it down
//! gracefully.

use std::process::ExitCode;

use adapter_common::cli::{Args, configure, init_logging};
use adapter_smol::config::Config;
use adapter_smol::server::Server;
use async_signal::{Signal, Signals};
use futures_lite::{StreamExt, future};

fn main() -> ExitCode {
    init_logging();
    let args = Args::parse_from_env("mqttd-smol");
    let config = match configure(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mqttd-smol: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        println!("configuration ok");
        return ExitCode::SUCCESS;
    }
    async_io::block_on(serve(config))
}

async fn serve(config: Config) -> ExitCode {
    // Registered before binding, so that a signal arriving at any time stops the server.
    let mut signals = match Signals::new([Signal::Int, Signal::Term]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mqttd-smol: cannot handle signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match Server::bind(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mqttd-smol: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = server.shutdown_handle();
    let on_signal = async move {
        let _ = signals.next().await;
        tracing::info!("signal received");
        stop.shutdown();
        future::pending::<()>().await;
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    future::or(server.run_with_threads(threads), on_signal).await;
    ExitCode::SUCCESS
}
