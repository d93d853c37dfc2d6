//! The real feed server at a benchmark's scale, through the shared launcher
//! (`shipwatch_e2e::server`). Each server's tracing (stdout) and stderr go to
//! `target/bench/logs/<part>-<name>.log` (see [`log_as`]), emptied the first time a run uses
//! it; [`print_logs`] lists them at the end of a run.

use crate::build::Built;
use crate::cmd::{root, Result};
pub use shipwatch_e2e::server::with_fd_limit;
use shipwatch_e2e::server::Launch;
pub use shipwatch_e2e::Server;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The servers' log files of this run.
struct Logs {
    /// The part now running: the first half of a log file's name.
    part: String,
    /// Servers started in this part without a name of their own.
    unnamed: usize,
    /// Every file written in this run, with what first wrote it (e.g. `server <flags>`).
    files: Vec<(PathBuf, String)>,
}

static LOGS: Mutex<Logs> = Mutex::new(Logs {
    part: String::new(),
    unnamed: 0,
    files: Vec::new(),
});

/// Names the log files of the servers started from now on after `part` (e.g. `replicas`);
/// the same part again goes on numbering its servers.
pub fn log_as(part: &str) {
    let mut logs = LOGS.lock().unwrap_or_else(|e| e.into_inner());
    if logs.part != part {
        logs.part = part.to_string();
        logs.unnamed = 0;
    }
}

/// Prints the servers' log files of this run.
pub fn print_logs() {
    let logs = LOGS.lock().unwrap_or_else(|e| e.into_inner());
    if logs.files.is_empty() {
        return;
    }
    eprintln!("bench: the servers' logs (tracing and stderr):");
    for (path, what) in &logs.files {
        eprintln!("bench:   {} ({what})", path.display());
    }
}

/// Copies the log of a server the bench did not start through [`start`] (e.g. PostgreSQL's)
/// to `target/bench/logs/<part>-<name>.log`, listed with the others.
pub fn keep_log(from: &Path, name: &str, what: &str) {
    let Ok(path) = log_file(Some(name), &format!("{what}'s log, copied")) else {
        return;
    };
    let copied = std::fs::read(from).and_then(|text| {
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)?
            .write_all(&text)
    });
    if let Err(e) = copied {
        eprintln!("bench: cannot keep {}: {e}", from.display());
    }
}

/// The log file named `name` (None: numbered in its part) of `what` (e.g. `server <flags>`),
/// emptied when this run first uses it, then a line saying what follows.
fn log_file(name: Option<&str>, what: &str) -> Result<PathBuf> {
    let mut logs = LOGS.lock().unwrap_or_else(|e| e.into_inner());
    let part = if logs.part.is_empty() {
        "server".to_string()
    } else {
        logs.part.clone()
    };
    let name = match name {
        Some(n) => n.to_string(),
        None => {
            logs.unnamed += 1;
            logs.unnamed.to_string()
        }
    };
    let path = root().join(format!("target/bench/logs/{part}-{name}.log"));
    let first = !logs.files.iter().any(|(p, _)| *p == path);
    if first {
        logs.files.push((path.clone(), what.to_string()));
    }
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    std::fs::create_dir_all(path.parent().unwrap_or(&path)).map_err(err)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(!first)
        .truncate(first)
        .open(&path)
        .map_err(err)?;
    let at = crate::cmd::output("date", &["-u", "+%H:%M:%S UTC"]).unwrap_or_default();
    writeln!(file, "bench: {} {what}", at.trim()).map_err(err)?;
    Ok(path)
}

/// Starts `bin --dist dist <flags>` on a free port and waits until it answers, its log
/// numbered in the part's (`target/bench/logs/<part>-<n>.log`).
pub fn start(bin: &Path, dist: &Path, flags: &[&str]) -> Result<Server> {
    start_named(None, bin, dist, flags)
}

/// [`start`], its log `target/bench/logs/<part>-<name>.log` when `name` is given.
pub fn start_named(name: Option<&str>, bin: &Path, dist: &Path, flags: &[&str]) -> Result<Server> {
    let mut launch = Launch::new(bin, dist, flags);
    let what = format!("server {}", flags.join(" "));
    let log = log_file(name, &what)?;
    eprintln!("bench: {what} (log: {})", log.display());
    launch.log = Some(log);
    // The server's own default: what it did (replica role, sockets opened and closed), not
    // only its warnings; `SHIPWATCH_BENCH_LOG` (a `RUST_LOG` filter) asks for more.
    launch.log_filter =
        std::env::var("SHIPWATCH_BENCH_LOG").unwrap_or_else(|_| "info,tower_http=warn".to_string());
    launch.many_files = true;
    // A million-line log is made before the server listens.
    launch.ready_within = Duration::from_secs(60);
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
