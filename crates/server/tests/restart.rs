//! The real binary on a real data directory, stopped and started again: a client that was
//! following an environment and a deployment's log resumes with `resumed` and exactly what it
//! missed (sequence numbers and line numbers checked), the deployments and logs of before
//! the restart are there; and `kill -9` in a storm of events loses no acknowledged action.
//! Each of these runs on SQLite (the data directory) and on a real PostgreSQL (`--store`).

#[macro_use]
mod common;

use common::binary::Server;
use common::postgres::{store_on, Backend};
use common::{http_at, Client, Got};
use shipwatch_model::protocol::{Change, ServerMessage, Snapshot, Topic};
use shipwatch_model::{DeploymentStatus, Environment};
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

/// An environment as a client keeps it from a snapshot and the changes after it.
fn apply(env: &mut Environment, change: &Change) {
    match change {
        Change::ServiceUpsert(s) => match env.services.iter_mut().find(|x| x.id == s.id) {
            Some(x) => *x = s.clone(),
            None => env.services.push(s.clone()),
        },
        Change::ServiceRemoved { id } => env.services.retain(|s| s.id != *id),
        Change::EnvironmentDeployment { deployment } => env.deployment = deployment.clone(),
        other => panic!("unexpected change on an environment topic: {other:?}"),
    }
}

/// What a client following one environment and one log has seen.
#[derive(Default)]
struct Follower {
    env: Option<Environment>,
    env_seq: u64,
    log_seq: u64,
    last_line: u64,
    lines: Vec<String>,
    status: Option<DeploymentStatus>,
}

impl Follower {
    /// Takes one frame; panics on a gap or a duplicate.
    fn take(&mut self, msg: ServerMessage) {
        match msg {
            ServerMessage::Snapshot { sub, seq, data } => match (sub.as_str(), data) {
                ("env", Snapshot::Environment { environment }) => {
                    self.env = Some(environment);
                    self.env_seq = seq;
                }
                ("log", Snapshot::Logs { deployment, .. }) => {
                    self.log_seq = seq;
                    self.status = Some(deployment.status);
                }
                (sub, data) => panic!("unexpected snapshot for {sub}: {data:?}"),
            },
            ServerMessage::Delta { sub, seq, changes } => {
                let last = if sub == "env" {
                    &mut self.env_seq
                } else {
                    &mut self.log_seq
                };
                assert_eq!(seq, *last + 1, "{sub}: no gap, no duplicate");
                *last += changes.len() as u64;
                for change in &changes {
                    match (sub.as_str(), change) {
                        ("env", c) => apply(self.env.as_mut().expect("snapshot first"), c),
                        ("log", Change::Line(line)) => {
                            assert_eq!(line.n, self.last_line + 1, "line numbers follow");
                            self.last_line = line.n;
                            self.lines.push(line.text.clone());
                        }
                        ("log", Change::Deployment(d)) => self.status = Some(d.status),
                        (sub, c) => panic!("unexpected change for {sub}: {c:?}"),
                    }
                }
            }
            ServerMessage::Resumed { .. } | ServerMessage::Hello { .. } => {}
            other => panic!("unexpected frame: {other:?}"),
        }
    }
}

/// Reads frames for `secs` seconds (or until the socket closes) into `f`; whether it closed.
async fn follow(c: &mut Client, f: &mut Follower, secs: u64) -> bool {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match tokio::time::timeout(left, c.next()).await {
            Err(_) => return false,
            Ok(Got::Closed(_)) => return true,
            Ok(Got::Frame(frame)) => f.take(frame.msg),
        }
    }
}

async fn deploy(addr: SocketAddr, env: &str, svc: &str) -> (u16, serde_json::Value) {
    let path = format!("/api/environments/{env}/services/{svc}/deploy");
    let (k, v) = common::write_auth();
    let (status, _, body) = http_at(addr, "POST", &path, &[(k, &v)]).await;
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

async fn log_txt(addr: SocketAddr, dep: &str) -> (u16, String) {
    let path = format!("/api/deployments/{dep}/log.txt");
    let (status, _, body) = http_at(addr, "GET", &path, &[]).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn a_restarted_server_keeps_history_and_its_clients_resume_exactly(at: Backend) {
    let (_pg, store) = store_on(at);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // No random events: what changes is the deployment the test starts, and the restart.
    let flags: Vec<&str> = ["--rate", "0", "--services", "6", "--log-lines", "400"]
        .into_iter()
        .chain(store.iter().map(String::as_str))
        .collect();
    let server = Server::start(&data, &flags).await;
    let addr = server.addr;
    let (status, body) = deploy(addr, "production", "api").await;
    assert_eq!(status, 202, "{body}");
    let dep = body["deployment"]["id"]
        .as_str()
        .expect("a deployment")
        .to_string();

    let mut c = Client::connect_to(addr).await;
    let prod = Topic::Environment {
        env: "production".into(),
    };
    let log = Topic::Logs {
        deployment: dep.clone(),
    };
    c.subscribe("env", prod.clone(), None).await;
    c.subscribe("log", log.clone(), None).await;
    let mut f = Follower::default();
    follow(&mut c, &mut f, 3).await;
    assert!(
        f.last_line > 3,
        "the deployment is writing its log ({} lines)",
        f.last_line
    );
    assert!(
        f.status.is_some_and(|s| s.in_progress()),
        "still in flight: {:?}",
        f.status
    );
    let before = log_txt(addr, "dep-1").await;
    assert_eq!(before.0, 200);

    server.stop();
    assert!(follow(&mut c, &mut f, 10).await, "the socket closes");
    let (env_seq, log_seq, last_line) = (f.env_seq, f.log_seq, f.last_line);

    let server = Server::start(&data, &flags).await;
    let addr = server.addr;
    let mut c = Client::connect_to(addr).await;
    c.subscribe("env", prod.clone(), Some(env_seq)).await;
    c.subscribe("log", log.clone(), Some(log_seq)).await;
    let mut resumed = Vec::new();
    while resumed.len() < 2 {
        match c.frame().await.msg {
            ServerMessage::Resumed { sub, seq } => {
                let expected = if sub == "env" { env_seq } else { log_seq };
                assert_eq!(seq, expected, "{sub} resumed where it stood");
                resumed.push(sub);
            }
            ServerMessage::Snapshot { sub, .. } => {
                panic!("{sub}: a snapshot instead of `resumed` after a clean restart")
            }
            other => f.take(other),
        }
    }
    follow(&mut c, &mut f, 2).await;
    // The deployment's steps were in the stopped run's memory: it ends, saying why, and its
    // log goes on from the next line number.
    assert_eq!(f.status, Some(DeploymentStatus::Cancelled));
    // (Lines written between the socket's close and the driver's stop come first: the
    // client missed them, and gets them now.)
    assert!(f.last_line > last_line, "numbered on from {last_line}");
    assert!(
        f.lines.last().unwrap().contains("interrupted"),
        "{:?}",
        f.lines.last()
    );
    let env = f.env.clone().expect("state");
    let api = env.services.iter().find(|s| s.id == "api").unwrap();
    assert_eq!(
        api.deployment.as_ref().map(|d| d.status),
        Some(DeploymentStatus::Cancelled)
    );

    // What the client built from before and after the restart is what a new client gets.
    c.subscribe("fresh", prod, None).await;
    loop {
        match c.frame().await.msg {
            ServerMessage::Snapshot { sub, seq, data } if sub == "fresh" => {
                assert_eq!(seq, f.env_seq, "nothing happened since");
                let Snapshot::Environment { environment } = data else {
                    panic!("an environment snapshot");
                };
                assert_eq!(environment, env);
                break;
            }
            other => f.take(other),
        }
    }

    // The logs of before the restart are there, whole.
    let after = log_txt(addr, "dep-1").await;
    assert_eq!(after, before, "an initial deployment's log, as it was");
    let (status, text) = log_txt(addr, &dep).await;
    assert_eq!(status, 200);
    assert_eq!(text.lines().count() as u64, f.last_line, "every line, once");
    server.stop();
}

async fn kill_9_in_a_storm_loses_no_acknowledged_action(at: Backend) {
    let (_pg, store) = store_on(at);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A storm: thousands of random status events a second over 600 services, and deployments
    // asked for through the action API as fast as they are answered.
    let flags: Vec<&str> = [
        "--rate",
        "2000",
        "--environments",
        "3",
        "--services",
        "200",
        "--log-lines",
        "300",
        "--speed",
        "5",
    ]
    .into_iter()
    .chain(store.iter().map(String::as_str))
    .collect();
    let server = Server::start(&data, &flags).await;
    let addr = server.addr;
    let until = Instant::now() + Duration::from_secs(5);
    let askers: Vec<_> = (0..8)
        .map(|k| {
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                let mut i = 0;
                while Instant::now() < until {
                    i += 1;
                    let svc = ["api", "web", "worker", "search", "billing"][(k + i) % 5];
                    let svc = match (k + i * 8) % 16 {
                        0 => svc.to_string(),
                        r => format!("{svc}-{}", 1 + r),
                    };
                    let (status, body) = deploy(addr, "staging", &svc).await;
                    match status {
                        202 => acknowledged
                            .push(body["deployment"]["id"].as_str().unwrap().to_string()),
                        409 | 404 => {} // busy with an earlier deployment; not in the catalog
                        other => panic!("deploy {svc}: {other} {body}"),
                    }
                }
                acknowledged
            })
        })
        .collect();
    let mut acknowledged: Vec<String> = Vec::new();
    for asker in askers {
        acknowledged.extend(asker.await.unwrap());
    }
    assert!(
        acknowledged.len() > 5,
        "{} deployments acknowledged",
        acknowledged.len()
    );
    let health: serde_json::Value =
        serde_json::from_slice(&http_at(addr, "GET", "/api/health", &[]).await.2).unwrap();
    assert!(
        health["store"]["events_written"].as_u64().unwrap() > 5_000,
        "a storm: {health}"
    );
    server.kill();

    // Restarted under load, as a real server is: it reads back what the killed one stored
    // while the simulator goes on, at 1,000 status events/s (`--rate 200` at `--speed 5`).
    // Not the storm's 10,000: a debug build's writer does not keep up with that on a loaded
    // 2-core machine (measured: its queue grew 12 MB/s at 5,000 events/s and log.txt went
    // unanswered for 20 s, while at 1,000 the queue stayed near 2 MB and log.txt answered
    // in about a second; the release build keeps up with 10,000, docs/benchmarks.md).
    let loaded: Vec<&str> = flags
        .iter()
        .map(|f| if *f == "2000" { "200" } else { f })
        .collect();
    let server = Server::start(&data, &loaded).await;
    let addr = server.addr;
    for dep in &acknowledged {
        let (status, text) = log_txt(addr, dep).await;
        assert_eq!(status, 200, "acknowledged {dep} is kept");
        assert!(
            text.contains(&format!("Deployment {dep} ")),
            "{dep}: {text:.200}"
        );
    }
    // The simulator went on from the stored platform: new deployments are numbered after the
    // acknowledged ones, not from dep-1 again.
    let (status, body) = deploy(addr, "production", "db-migrate").await;
    assert!(status == 202 || status == 409, "{status} {body}");
    if status == 202 {
        let id = body["deployment"]["id"].as_str().unwrap();
        let n: u64 = id.trim_start_matches("dep-").parse().unwrap();
        let last: u64 = acknowledged
            .iter()
            .map(|d| d.trim_start_matches("dep-").parse::<u64>().unwrap())
            .max()
            .unwrap();
        assert!(n > last, "{id} after {last}");
    }
    server.stop();
}

async fn a_kept_log_the_hub_no_longer_holds_is_served_from_the_store(at: Backend) {
    let (_pg, store) = store_on(at);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Two services, so the hub holds 4 logs; a fast random platform makes many deployments.
    let flags: Vec<&str> = [
        "--environments",
        "1",
        "--services",
        "2",
        "--max-logs",
        "1",
        "--rate",
        "200",
        "--speed",
        "50",
        "--log-lines",
        "50",
    ]
    .into_iter()
    .chain(store.iter().map(String::as_str))
    .collect();
    let server = Server::start(&data, &flags).await;
    let addr = server.addr;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let health: serde_json::Value =
            serde_json::from_slice(&http_at(addr, "GET", "/api/health", &[]).await.2).unwrap();
        let (status, _) = log_txt(addr, "dep-8").await;
        if status == 200 && health["logs"].as_u64().unwrap() <= 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "eight deployments within 30 s: {health}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // dep-1 left the hub long ago; the store keeps it.
    let (status, text) = log_txt(addr, "dep-1").await;
    assert_eq!(status, 200);
    let lines = text.lines().count() as u64;
    let mut c = Client::connect_to(addr).await;
    c.subscribe(
        "old",
        Topic::Logs {
            deployment: "dep-1".into(),
        },
        None,
    )
    .await;
    let ServerMessage::Snapshot { seq, data, .. } = c.frame().await.msg else {
        panic!("a snapshot of the kept log");
    };
    assert!(matches!(data, Snapshot::Logs { .. }));
    let mut next = seq + 1;
    let mut n = 0;
    while n < lines {
        match c.frame().await.msg {
            ServerMessage::Delta { seq, changes, .. } => {
                assert_eq!(seq, next, "no gap");
                next += changes.len() as u64;
                for change in changes {
                    if let Change::Line(line) = change {
                        n += 1;
                        assert_eq!(line.n, n, "every line once, in order");
                    }
                }
            }
            other => panic!("unexpected frame: {other:?}"),
        }
    }
    server.stop();
}

#[test]
fn a_corrupt_data_file_stops_the_binary_at_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let file = data.join("shipwatch.db");
    std::fs::write(
        &file,
        b"SQLite format 3\0 but then nothing of the sort".repeat(200),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shipwatch-server"))
        .args(["--addr", "127.0.0.1:0", "--dist", "/nonexistent-dist"])
        .arg("--data-dir")
        .arg(&data)
        .env("RUST_LOG", "warn")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot use the data file {}", file.display())),
        "{stderr}"
    );
}

on_both!(
    a_restarted_server_keeps_history_and_its_clients_resume_exactly,
    kill_9_in_a_storm_loses_no_acknowledged_action,
    a_kept_log_the_hub_no_longer_holds_is_served_from_the_store,
);
