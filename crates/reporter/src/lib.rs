//! `shipwatch`, the reporter: runs a CI job's or a script's deployment command and reports
//! it to a Shipwatch server's push API (`docs/push-api.md`): the deployment, its stages, its
//! statuses and its output as log lines, buffered while the server is away; heartbeats of
//! instances; and a deployment's log in the terminal over the websocket protocol.

#![warn(missing_docs)]

pub mod api;
pub mod backoff;
pub mod ci;
pub mod cli;
pub mod deploy;
pub mod instance;
pub mod level;
pub mod lines;
pub mod outbox;
pub mod progress;
pub mod sender;
pub mod stages;
pub mod tail;

use clap::Parser;

/// Parses the command line, runs the command, returns the process's exit code.
#[must_use]
pub fn main() -> i32 {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("shipwatch: cannot start: {e}");
            return 1;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            cli::Command::Deploy(args) => deploy::run(args).await,
            cli::Command::Report {
                what: cli::Report::Instance(args),
            } => instance::run(args).await,
            cli::Command::Tail(args) => tail::run(args).await,
        }
    })
}
