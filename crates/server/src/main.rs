//! `shipwatch-server`: parses the command line, serves, stops on Ctrl-C or SIGTERM.

use clap::Parser;
use shipwatch_server::{serve, Config};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .init();
    let (_, handle) = match serve(Config::parse()).await {
        Ok(served) => served,
        Err(e) => {
            // Said plainly (e.g. which data file cannot be used), not as a debug dump.
            eprintln!("shipwatch-server: {e}");
            std::process::exit(1);
        }
    };
    shipwatch_server::shutdown_signal().await;
    tracing::info!("shutting down");
    handle.shutdown();
    let limit = std::time::Duration::from_secs(handle.app().cfg.stop_timeout_secs);
    let stopped = handle.stop_within(limit).await;
    if stopped != shipwatch_server::Stopped::Clean {
        eprintln!("shipwatch-server: {stopped}");
    }
    std::process::exit(stopped.exit_code())
}
