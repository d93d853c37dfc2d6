//! What a page waits for a change: from a push API call to the change on a websocket client,
//! and from the simulator queuing a deployment to the page seeing it, on a real data
//! directory: `cargo run -p shipwatch-server --profile native --example push_latency [--ephemeral]`.
//!
//! 1. `push`: 300 calls `PUT .../instances/api-1` (one at a time, 20 ms apart) alternating the
//!    instance's status; each is timed from the call's start to the delta that carries it on a
//!    socket subscribed to the environment (the call's answer comes at commit, the delta when
//!    the change is visible);
//! 2. `simulator`: the simulator at its default pace for 20 s; each deployment it queues is
//!    timed from its `started_at` (the simulator's clock, the wall clock at speed 1) to the
//!    delta that first shows it QUEUED (millisecond resolution).
//!
//! Prints `name: value unit` lines (median and p99 of each).

use futures_util::{SinkExt, StreamExt};
use shipwatch_model::protocol::{
    decode_server, encode, Change, ClientFrame, ClientMessage, ServerMessage, Topic,
};
use shipwatch_model::DeploymentStatus;
use shipwatch_server::{serve, Config};
use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "latency-bench-token-8c1f0e";

fn config(dir: Option<&str>, simulator: bool) -> Config {
    let token = format!("bench={TOKEN}");
    let mut args = vec![
        "shipwatch-server",
        "--addr",
        "127.0.0.1:0",
        "--dist",
        "/nonexistent-dist",
        "--write-token",
        &token,
    ];
    match dir {
        Some(d) => args.extend(["--data-dir", d]),
        None => args.push("--ephemeral"),
    }
    if !simulator {
        args.push("--no-simulator");
    }
    <Config as clap::Parser>::parse_from(args)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn subscribe(addr: std::net::SocketAddr, env: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("connects");
    let msg = ClientMessage::Subscribe {
        sub: "env".into(),
        topic: Topic::Environment { env: env.into() },
        resume_from: None,
        instance_updates: false,
        line_batches: false,
    };
    ws.send(Message::Text(encode(&ClientFrame::new(msg)).into()))
        .await
        .expect("subscribes");
    ws
}

/// The changes of the next delta (answering pings), skipping other frames.
async fn next_changes(ws: &mut Ws) -> Vec<Change> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("a frame within 30 s")
            .expect("open")
            .expect("reads");
        let Message::Text(t) = msg else { continue };
        let f = decode_server(t.as_str(), 64 << 20).expect("decodes");
        match f.msg {
            ServerMessage::Delta { changes, .. } => return changes,
            ServerMessage::Ping { nonce } => {
                let pong = encode(&ClientFrame::new(ClientMessage::Pong { nonce }));
                let _ = ws.send(Message::Text(pong.into())).await;
            }
            _ => {}
        }
    }
}

fn percentiles(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    println!("{name}_median: {:.1} ms", at(0.5));
    println!("{name}_p99: {:.1} ms", at(0.99));
    println!("{name}_samples: {} count", ms.len());
}

async fn push(dir: Option<&str>) {
    let (addr, h) = serve(config(dir, false)).await.expect("starts");
    let http = reqwest::Client::new();
    let base = format!("http://{addr}/api/v1/environments/latency");
    let put = |path: String, body: serde_json::Value| {
        http.put(path)
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    put(base.clone(), serde_json::json!({"name": "latency"}))
        .await
        .expect("env");
    put(
        format!("{base}/services/api"),
        serde_json::json!({"name": "api", "kind": "container", "version": "v1"}),
    )
    .await
    .expect("service");
    let mut ws = subscribe(addr, "latency").await;
    let mut samples = Vec::new();
    for k in 0..300u32 {
        let status = if k % 2 == 0 { "ERROR" } else { "RUNNING" };
        let t0 = Instant::now();
        let call = put(
            format!("{base}/services/api/instances/api-1"),
            serde_json::json!({"status": status, "restarts": k}),
        );
        let seen = async {
            loop {
                let changes = next_changes(&mut ws).await;
                let carries = changes.iter().any(|c| {
                    matches!(c, Change::ServiceUpsert(s)
                        if s.instances.iter().any(|i| i.restarts == k))
                });
                if carries {
                    return t0.elapsed();
                }
            }
        };
        let (answer, seen) = tokio::join!(call, seen);
        assert!(answer.expect("answers").status().is_success());
        samples.push(seen.as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    percentiles("push_to_socket", samples);
    h.shutdown();
    h.stopped().await;
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

async fn simulator(dir: Option<&str>) {
    let (addr, h) = serve(config(dir, true)).await.expect("starts");
    let env = h.app().hub.topic(&Topic::Environments).map(|_| ());
    assert!(env.is_some());
    // The simulator's first environment.
    let mut list = subscribe(addr, "production").await;
    let mut seen: HashSet<String> = HashSet::new();
    let mut samples = Vec::new();
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        let changes = next_changes(&mut list).await;
        let now = wall_ms();
        for c in changes {
            if let Change::ServiceUpsert(s) = c {
                if let Some(d) = s.deployment {
                    if d.status == DeploymentStatus::Queued && seen.insert(d.id.clone()) {
                        samples.push(now.saturating_sub(d.started_at) as f64);
                    }
                }
            }
        }
    }
    percentiles("simulator_to_socket", samples);
    h.shutdown();
    h.stopped().await;
}

#[tokio::main]
async fn main() {
    let ephemeral = std::env::args().any(|a| a == "--ephemeral");
    let tmp = tempfile::tempdir().expect("temp dir");
    let push_dir = tmp.path().join("push");
    let sim_dir = tmp.path().join("sim");
    let (push_dir, sim_dir) = if ephemeral {
        (None, None)
    } else {
        (push_dir.to_str(), sim_dir.to_str())
    };
    println!("store: {}", if ephemeral { "ephemeral" } else { "sqlite" });
    push(push_dir).await;
    simulator(sim_dir).await;
}
