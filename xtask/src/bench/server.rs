//! The real feed server at a benchmark's scale, through the shared launcher
//! (`shipwatch_e2e::server`), its log in `target/bench/server.log`.

use crate::build::Built;
use crate::cmd::{root, Result};
pub use shipwatch_e2e::server::with_fd_limit;
use shipwatch_e2e::server::Launch;
pub use shipwatch_e2e::Server;
use std::path::Path;
use std::time::Duration;

/// Starts `bin --dist dist <flags>` on a free port and waits until it answers.
pub fn start(bin: &Path, dist: &Path, flags: &[&str]) -> Result<Server> {
    let mut launch = Launch::new(bin, dist, flags);
    launch.log = Some(root().join("target/bench/server.log"));
    launch.many_files = true;
    // A million-line log is made before the server listens.
    launch.ready_within = Duration::from_secs(60);
    eprintln!("bench: server {}", flags.join(" "));
    Server::launch(&launch)
}

/// Whether the server binary lists `flag` in its `--help`.
pub fn takes_flag(bin: &Path, flag: &str) -> bool {
    std::process::Command::new(bin)
        .arg("--help")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(flag))
}

/// The server of the rated workloads: one environment of `services` services whose
/// simulator sends `rate` status events a second, from `seed`.
pub fn start_rated(built: &Built, services: &str, rate: &str, seed: &str) -> Result<Server> {
    let flags = [
        "--environments",
        "1",
        "--services",
        services,
        "--rate",
        rate,
        "--seed",
        seed,
    ];
    start(&built.server, &built.dist, &flags)
}
