//! The real server binary on a temporary data directory, the real `shipwatch` binary around
//! real shell scripts, and a websocket reader of a deployment's log, for the reporter's
//! integration tests.

#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use shipwatch_model::protocol::{
    decode_server, encode, Change, ClientFrame, ClientMessage, ServerMessage, Snapshot, Topic,
};
use shipwatch_model::{Deployment, LogLine};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// The write token the test servers take, and its name.
pub const TOKEN: &str = "reporter-test-token-5e2f9a71";
pub const TOKEN_NAME: &str = "ci";

/// The `shipwatch` binary cargo built for these tests.
pub fn shipwatch() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_shipwatch"))
}

/// The server binary: `SHIPWATCH_SERVER_BIN`, else the workspace's debug build, built (or
/// brought up to date) once per test process.
pub fn server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("SHIPWATCH_SERVER_BIN") {
            return PathBuf::from(bin);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let built = Path::new(env!("CARGO_BIN_EXE_shipwatch"))
            .parent()
            .expect("a target directory")
            .join("shipwatch-server");
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "-q",
                "-p",
                "shipwatch-server",
                "--bin",
                "shipwatch-server",
            ])
            .current_dir(&root)
            .status()
            .expect("cargo runs");
        // A tree shared with work in progress may not build this minute: the last build
        // serves, said on stderr.
        if !status.success() {
            assert!(
                built.exists(),
                "the server does not build and none was built before"
            );
            eprintln!(
                "the server did not build: testing against {}",
                built.display()
            );
        }
        built
    })
    .clone()
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running server (`--no-simulator`, a write token, a data directory); killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub data: PathBuf,
    extra: Vec<String>,
}

impl Server {
    /// Starts a server on `data` with extra flags.
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        let mut s = Server {
            child: None,
            port: free_port(),
            data: data.to_path_buf(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let child = Command::new(server_bin())
            .arg("--addr")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data)
            .arg("--dist")
            .arg(self.data.join("no-dist"))
            .arg("--no-simulator")
            // In the environment, so that no command line on the machine holds the token.
            .env("SHIPWATCH_WRITE_TOKENS", format!("{TOKEN_NAME}={TOKEN}"))
            .args(&self.extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "the server listens");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills it (no clean stop: what it acknowledged is all it keeps).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and data directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A shell script in `dir`, executable.
pub fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).expect("script written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

/// `shipwatch deploy` against `server` for env `production`, service `api`, with `args`
/// before `--` and `command` after, the token in the environment.
pub fn deploy(server: &Server, args: &[&str], command: &[&str]) -> Command {
    let mut c = Command::new(shipwatch());
    c.arg("deploy")
        .arg("--server")
        .arg(server.url())
        .args([
            "--env",
            "production",
            "--service",
            "api",
            "--version",
            "9f3c2a1",
        ])
        .args(args)
        .arg("--")
        .args(command)
        .env("SHIPWATCH_WRITE_TOKEN", TOKEN)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env_remove("BUILDKITE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// A deployment's log as a page reads it: its header, then every line, over the websocket.
pub async fn read_log(server: &Server, dep: &str, until_lines: u64) -> (Deployment, Vec<LogLine>) {
    let (header, lines, _) = read_log_statuses(server, dep, until_lines).await;
    (header, lines)
}

/// Same, with every status the log's history went through, in order.
pub async fn read_log_statuses(
    server: &Server,
    dep: &str,
    until_lines: u64,
) -> (Deployment, Vec<LogLine>, Vec<String>) {
    let url = format!("ws://127.0.0.1:{}/ws", server.port);
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("the websocket opens");
    let sub = ClientFrame::new(ClientMessage::Subscribe {
        sub: "log".into(),
        topic: Topic::Logs {
            deployment: dep.to_string(),
        },
        resume_from: None,
        instance_updates: false,
        line_batches: false,
    });
    ws.send(Message::text(encode(&sub))).await.expect("sent");
    let mut header: Option<Deployment> = None;
    let mut statuses: Vec<String> = Vec::new();
    let mut lines: Vec<LogLine> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while header.is_none() || (lines.len() as u64) < until_lines {
        assert!(
            Instant::now() < deadline,
            "the log of {dep} arrives: {lines:?}"
        );
        let Ok(Some(Ok(Message::Text(t)))) =
            tokio::time::timeout(Duration::from_secs(5), ws.next()).await
        else {
            continue;
        };
        match decode_server(&t, 1 << 22).expect("a frame").msg {
            ServerMessage::Snapshot {
                data: Snapshot::Logs { deployment, .. },
                ..
            } => {
                statuses.push(deployment.status.word().to_string());
                header = Some(deployment);
            }
            ServerMessage::Delta { changes, .. } => {
                for c in changes {
                    match c {
                        Change::Line(l) => lines.push(l),
                        Change::Deployment(d) => {
                            if statuses.last().map(String::as_str) != Some(d.status.word()) {
                                statuses.push(d.status.word().to_string());
                            }
                            header = Some(d);
                        }
                        _ => {}
                    }
                }
            }
            ServerMessage::Error { message, .. } => panic!("no log {dep}: {message}"),
            _ => {}
        }
    }
    (header.expect("a header"), lines, statuses)
}

/// `GET /api/v1/deployments/{id}` with the write token.
pub async fn standing(server: &Server, dep: &str) -> serde_json::Value {
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/deployments/{dep}", server.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("an answer");
    assert!(resp.status().is_success(), "{dep}: {}", resp.status());
    resp.json().await.expect("JSON")
}

/// The deployment id the reporter announced on stderr.
pub fn announced_id(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("shipwatch: deployment "))
        .unwrap_or_else(|| panic!("no deployment announced in {stderr}"));
    line["shipwatch: deployment ".len()..]
        .split_whitespace()
        .next()
        .expect("an id")
        .to_string()
}

/// One environment as a page gets it (its snapshot).
pub async fn environment(server: &Server, env: &str) -> shipwatch_model::Environment {
    let url = format!("ws://127.0.0.1:{}/ws", server.port);
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("the websocket opens");
    let sub = ClientFrame::new(ClientMessage::Subscribe {
        sub: "env".into(),
        topic: Topic::Environment {
            env: env.to_string(),
        },
        resume_from: None,
        instance_updates: false,
        line_batches: false,
    });
    ws.send(Message::text(encode(&sub))).await.expect("sent");
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an answer");
        let Some(Ok(Message::Text(t))) = msg else {
            continue;
        };
        match decode_server(&t, 1 << 22).expect("a frame").msg {
            ServerMessage::Snapshot {
                data: Snapshot::Environment { environment },
                ..
            } => return environment,
            ServerMessage::Error { message, .. } => panic!("no environment {env}: {message}"),
            _ => {}
        }
    }
}

/// Runs a command to its end, with a time limit: (exit code, stdout, stderr).
pub async fn finish(mut cmd: Command, limit: Duration) -> (i32, String, String) {
    let child = cmd.spawn().expect("shipwatch runs");
    let out = tokio::time::timeout(
        limit,
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await
    .expect("shipwatch ends in time")
    .expect("joined")
    .expect("output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
