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
/// simulator sends `rate` status events a second, from `seed`, with `extra` flags (e.g.
/// `--data-dir DIR`: the store on instead of `--ephemeral`).
pub fn start_rated(
    built: &Built,
    services: &str,
    rate: &str,
    seed: &str,
    extra: &[&str],
) -> Result<Server> {
    let mut flags = vec![
        "--environments",
        "1",
        "--services",
        services,
        "--rate",
        rate,
        "--seed",
        seed,
    ];
    flags.extend_from_slice(extra);
    start(&built.server, &built.dist, &flags)
}

/// CPU seconds (user + system) the process `pid` has used so far.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // Clock ticks of 1/100 s (USER_HZ on Linux).
    Some(ticks / 100.0)
}
