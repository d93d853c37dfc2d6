//! The real feed server, started with the simulator at a benchmark's scale.

use super::webdriver::free_port;
use crate::build::Built;
use crate::cmd::{root, Result};
use std::fs::OpenOptions;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server, stopped on drop.
pub struct Server {
    child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
}

impl Server {
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
        Server::start(&built.server, &built.dist, &flags)
    }

    /// Starts `bin --addr 127.0.0.1:<free> --dist dist <flags>` and waits until it answers.
    /// Its log goes to `target/bench/server.log`.
    pub fn start(bin: &Path, dist: &Path, flags: &[&str]) -> Result<Server> {
        let addr = format!("127.0.0.1:{}", free_port()?);
        let log_dir = root().join("target/bench");
        std::fs::create_dir_all(&log_dir).map_err(|e| e.to_string())?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_dir.join("server.log"))
            .map_err(|e| e.to_string())?;
        let mut cmd = with_fd_limit(bin);
        cmd.arg("--addr")
            .arg(&addr)
            .arg("--dist")
            .arg(dist)
            // Every workload starts from a new world: nothing kept between runs.
            .arg("--ephemeral")
            .args(flags)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log);
        eprintln!("bench: server {}", flags.join(" "));
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start the server: {e}"))?;
        let server = Server { child, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(&server.addr).is_err() {
            if Instant::now() > deadline {
                return Err("the server did not listen within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// The process id (for its memory in /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The page URL for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A command for `bin` whose open-file limit is raised to the hard limit (10,000 sockets need
/// more than the usual soft limit of 1,024; the server and the load generator do not raise
/// their own), through `prlimit` when it exists.
pub fn with_fd_limit(bin: &Path) -> Command {
    match open_file_limits() {
        Some((soft, hard)) if soft < hard && Path::new("/usr/bin/prlimit").exists() => {
            let mut c = Command::new("/usr/bin/prlimit");
            c.arg(format!("--nofile={hard}:{hard}")).arg(bin);
            c
        }
        _ => Command::new(bin),
    }
}

/// The (soft, hard) open-file limits of this process.
pub fn open_file_limits() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut n = line["Max open files".len()..].split_whitespace();
    let soft = n.next()?.parse().ok()?;
    let hard = n.next()?.parse().ok()?;
    Some((soft, hard))
}
