//! The real feed server as a child process: the one launcher of the end-to-end tests, the
//! benchmark and the profiler.

use crate::{env_path, free_port};
use std::fs::OpenOptions;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The write token every launched server takes (named [`WRITE_TOKEN_NAME`]) unless the
/// caller gives its own `--write-token`: the action API and the push API need one.
pub const WRITE_TOKEN: &str = "e2e-write-token-8d41c07b95";

/// The name of [`WRITE_TOKEN`].
pub const WRITE_TOKEN_NAME: &str = "e2e";

/// How to start a server.
#[derive(Clone, Debug)]
pub struct Launch {
    /// The server binary.
    pub bin: PathBuf,
    /// The built app it serves (`--dist`).
    pub dist: PathBuf,
    /// More server flags (see its `--help`).
    pub args: Vec<String>,
    /// The port on 127.0.0.1; None: a free one.
    pub port: Option<u16>,
    /// Where its stdout (its tracing) and stderr go, appended; None: stdout discarded,
    /// stderr to this process's stderr.
    pub log: Option<PathBuf>,
    /// `RUST_LOG` of a server with a [`Launch::log`] file.
    pub log_filter: String,
    /// Raise its open-file limit to the hard limit (thousands of sockets).
    pub many_files: bool,
    /// How long it may take to listen.
    pub ready_within: Duration,
}

impl Launch {
    /// `bin` serving `dist` with `args`, on a free port.
    pub fn new(bin: &Path, dist: &Path, args: &[&str]) -> Launch {
        Launch {
            bin: bin.to_path_buf(),
            dist: dist.to_path_buf(),
            args: args.iter().map(|s| s.to_string()).collect(),
            port: None,
            log: None,
            log_filter: "warn".to_string(),
            many_files: false,
            ready_within: Duration::from_secs(20),
        }
    }

    /// The binary and app that `cargo xtask test` built (`SHIPWATCH_SERVER_BIN`,
    /// `SHIPWATCH_DIST`), with `args`.
    pub fn from_env(args: &[&str]) -> Launch {
        Launch::new(
            &env_path("SHIPWATCH_SERVER_BIN"),
            &env_path("SHIPWATCH_DIST"),
            args,
        )
    }
}

/// A running server; killed when dropped.
pub struct Server {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    launch: Launch,
}

impl Server {
    /// Starts the server and waits (blocking) until it accepts connections.
    pub fn launch(launch: &Launch) -> Result<Server, String> {
        let port = launch.port.unwrap_or_else(free_port);
        let mut cmd = if launch.many_files {
            with_fd_limit(&launch.bin)
        } else {
            Command::new(&launch.bin)
        };
        cmd.arg("--addr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--dist")
            .arg(&launch.dist)
            // A new world at every start unless the caller names a data directory to keep.
            .args((!launch.args.iter().any(|a| a == "--data-dir")).then_some("--ephemeral"))
            .args(
                (!launch.args.iter().any(|a| a == "--write-token"))
                    .then(|| {
                        [
                            "--write-token".to_string(),
                            format!("{WRITE_TOKEN_NAME}={WRITE_TOKEN}"),
                        ]
                    })
                    .into_iter()
                    .flatten(),
            )
            .args(&launch.args);
        match &launch.log {
            Some(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
                }
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let out = file
                    .try_clone()
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                cmd.stdout(out)
                    .stderr(file)
                    .env("RUST_LOG", &launch.log_filter)
                    // A file, not a terminal: no colour codes in it.
                    .env("NO_COLOR", "1");
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
            }
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", launch.bin.display()))?;
        let mut server = Server {
            child: Some(child),
            port,
            launch: Launch {
                port: Some(port),
                ..launch.clone()
            },
        };
        let deadline = Instant::now() + launch.ready_within;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(Ok(Some(status))) = server.child.as_mut().map(Child::try_wait) {
                return Err(format!("the server exited before listening ({status})"));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the server did not listen within {:?}",
                    launch.ready_within
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// Starts the built server with the built app and these extra flags (end-to-end tests).
    pub async fn start(args: &[&str]) -> Server {
        Self::expect(&Launch::from_env(args))
    }

    /// Starts on a given port (to restart on the same address).
    pub async fn start_on(port: u16, args: &[&str]) -> Server {
        let mut launch = Launch::from_env(args);
        launch.port = Some(port);
        Self::expect(&launch)
    }

    /// Starts serving another copy of the app.
    pub async fn start_serving(dist: &Path, args: &[&str]) -> Server {
        let launch = Launch::new(&env_path("SHIPWATCH_SERVER_BIN"), dist, args);
        Self::expect(&launch)
    }

    fn expect(launch: &Launch) -> Server {
        Server::launch(launch).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Its health (`/api/health`), asked of it directly (not through a proxy in front); None
    /// when it does not answer.
    pub async fn health(&self) -> Option<serde_json::Value> {
        let res = crate::http::get(&self.url("/api/health"), &[], Duration::from_secs(5))
            .await
            .ok()?;
        serde_json::from_slice(&res.body).ok()
    }

    /// Its replica role from its health (`leader` or `follower`); None when it does not answer.
    pub async fn role(&self) -> Option<String> {
        Some(
            self.health().await?["replica"]["role"]
                .as_str()?
                .to_string(),
        )
    }

    /// The websocket clients it holds now, from its health; None when it does not answer.
    pub async fn clients(&self) -> Option<u64> {
        self.health().await?["clients"].as_u64()
    }

    /// The process id (for its memory in /proc); None once stopped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server (as a crash or a restart would).
    pub async fn stop(&mut self) {
        self.kill();
    }

    /// Stops the server as a service manager does (SIGTERM) and waits until it exited: a
    /// server with a data directory closes its store cleanly.
    pub async fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port with the same flags.
    pub async fn restart(&mut self) {
        self.kill();
        *self = Self::expect(&self.launch);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until a page's one websocket is on one of two replicas (their health counts one
/// client between them), and returns how many clients each holds then.
pub async fn one_socket_on(a: &Server, b: &Server, timeout: Duration) -> (u64, u64) {
    crate::wait_for("the page's socket on one replica", timeout, || async {
        let counts = (a.clients().await?, b.clients().await?);
        (counts.0 + counts.1 == 1).then_some(counts)
    })
    .await
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
