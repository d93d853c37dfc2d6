//! `kill -9` of the real server binary while a reporter pushes a log: after the restart, the
//! deployment's `next_line` is right after the last line the store committed, every
//! acknowledged line is there, and the reporter resuming from `next_line` completes the log
//! with every number once.

mod common;
mod push_support;

use push_support::Api;
use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary on a free port with the data directory `data` and no simulator.
async fn start(data: &Path) -> (Child, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_shipwatch-server"))
        .args(["--addr", &addr.to_string(), "--dist", "/nonexistent-dist"])
        .arg("--data-dir")
        .arg(data)
        .args([
            "--no-simulator",
            "--write-token",
            &common::write_token_flag(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "the server listens within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, addr)
}

/// Lines `from..=to` as a JSON batch.
fn batch(from: u64, to: u64) -> serde_json::Value {
    (from..=to)
        .map(|n| json!({"n": n, "text": format!("line {n} of a deployment killed mid-way")}))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_line_and_next_line_resumes() {
    const BATCH: u64 = 200;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, addr) = start(&data).await;
    let api = Api::at(addr);
    api.environment("ci-prod").await;
    api.service("ci-prod", "api").await;
    let id = api.deploy("ci-prod", "api", "v7").await;
    assert_eq!(api.status(&id, "DEPLOYING").await.status, 200);

    // Batches as fast as they are acknowledged, until the server is killed under them.
    let pusher = {
        let (base, token, id) = (api.base.clone(), api.token.clone(), id.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut acked = 0u64;
            loop {
                let sent = http
                    .post(format!("{base}/api/v1/deployments/{id}/logs"))
                    .bearer_auth(&token)
                    .json(&batch(acked + 1, acked + BATCH))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == 200 => acked += BATCH,
                    _ => return acked,
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let acked = pusher.await.unwrap();
    assert!(
        acked >= BATCH,
        "some batches were acknowledged before the kill"
    );

    let (mut child, addr) = start(&data).await;
    let api = Api::at(addr);
    let a = api.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["deployment"]["status"], "DEPLOYING");
    let next = a.body["next_line"].as_u64().unwrap();
    // Every acknowledged line is stored; the batch in flight is whole or absent.
    assert!(
        next > acked,
        "next_line {next} after {acked} acknowledged lines"
    );
    assert!(
        next <= acked + BATCH + 1,
        "next_line {next}: at most the batch in flight more"
    );
    assert_eq!((next - 1) % BATCH, 0, "batches are stored whole");
    // The reporter resumes from next_line (and a resend of the last batch is skipped).
    let total = next - 1 + 3 * BATCH;
    for from in (next..=total).step_by(BATCH as usize) {
        let a = api
            .json(
                "POST",
                &format!("/api/v1/deployments/{id}/logs"),
                batch(from, from + BATCH - 1),
            )
            .await;
        assert_eq!(a.status, 200, "{a:?}");
    }
    let a = api
        .json(
            "POST",
            &format!("/api/v1/deployments/{id}/logs"),
            batch(total - BATCH + 1, total),
        )
        .await;
    assert_eq!(a.body["skipped"], BATCH, "{a:?}");
    assert_eq!(api.status(&id, "DEPLOYMENT_OK").await.status, 200);
    // The log as the download has it: every number once, in order.
    let text = reqwest::get(format!("{}/api/deployments/{id}/log.txt", api.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let numbers: Vec<u64> = text
        .lines()
        .filter_map(|l| l.split("line ").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(numbers, (1..=total).collect::<Vec<_>>());
    child.kill().unwrap();
    let _ = child.wait();
}
