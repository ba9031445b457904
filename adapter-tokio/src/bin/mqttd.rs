//! `mqttd`: the MQTT broker.
//!
//! With no arguments it serves MQTT over TCP on 127.0.0.1:1883, allows anonymous clients and
//! keeps sessions in memory. See `mqttd --help` and `docs/mqttd.example.toml`.

use std::process::ExitCode;

use adapter_common::cli::{Args, configure};
use adapter_tokio::config::Config;
use adapter_tokio::server::Server;

fn main() -> ExitCode {
    adapter_common::cli::init_logging();
    let args = Args::parse_from_env("mqttd");
    let config = match configure(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mqttd: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        println!("configuration ok");
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mqttd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> ExitCode {
    let server = match Server::bind(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mqttd: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = server.shutdown_handle();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received");
        stop.shutdown();
    });
    server.run().await;
    ExitCode::SUCCESS
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
