//! The real server binary on a data directory, started, stopped (SIGTERM) and killed
//! (SIGKILL), for the tests of what survives a restart.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The server binary, running.
pub struct Server {
    child: Child,
    /// Its log (shown when a test fails).
    log: std::path::PathBuf,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts the binary on a free port with the data directory `data`; its log goes to
    /// `server.log` beside it. A port another process took first is retried with another.
    pub async fn start(data: &Path, extra: &[&str]) -> Server {
        let log_path = data.with_file_name("server.log");
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .expect("log file");
            // SHIPWATCH_SERVER_BIN: another build of the binary (as the end-to-end tests take it).
            let bin = std::env::var("SHIPWATCH_SERVER_BIN")
                .unwrap_or_else(|_| env!("CARGO_BIN_EXE_shipwatch-server").to_string());
            let mut child = Command::new(bin)
                .args(["--addr", &addr.to_string(), "--dist", "/nonexistent-dist"])
                .arg("--data-dir")
                .arg(data)
                .args(["--write-token", &super::write_token_flag()])
                .args(extra)
                .env("RUST_LOG", "info")
                // Its log lines (stdout) and its errors (stderr).
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .expect("the server starts");
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    assert!(
                        log.contains("Address already in use"),
                        "the server exited ({status}):\n{log}"
                    );
                    break;
                }
                if tokio::net::TcpStream::connect(addr).await.is_ok() {
                    return Server {
                        child,
                        log: log_path,
                        addr,
                    };
                }
                assert!(Instant::now() < deadline, "the server listens within 30 s");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!("no free port in 5 tries");
    }

    /// SIGTERM, as a service manager stops it; waits for it to exit.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let status = self.child.wait().expect("exits");
        assert!(status.success(), "a stopped server exits 0: {status:?}");
    }

    /// SIGTERM; waits at most `within` for it to exit (then SIGKILL): its exit status (None
    /// if it had to be killed) and its log so far.
    pub async fn terminate(
        mut self,
        within: Duration,
    ) -> (Option<std::process::ExitStatus>, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waits") {
                break Some(status);
            }
            if Instant::now() >= deadline {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        (
            status,
            std::fs::read_to_string(&self.log).unwrap_or_default(),
        )
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` (`STOP`, `CONT`, ...) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit by itself, at most `within`: its exit code.
    pub async fn exited(&mut self, within: Duration) -> Option<i32> {
        let t0 = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("waits") {
                return status.code();
            }
            assert!(
                t0.elapsed() < within,
                "the server exits within {within:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(mut self) {
        self.child.kill().expect("killed");
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- server log (last 40 lines) ---");
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
