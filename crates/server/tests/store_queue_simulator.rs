//! The simulator while the store's queue is full (writes failing on a capped store): it holds
//! still rather than grow the queue past its bound, and an action on it is refused with a 503
//! saying the queue is full, before anything is applied.

mod common;
mod push_support;
mod queue_support;

use serde_json::Value;
use std::time::{Duration, Instant};

const QUEUE_BYTES: u64 = 256 * 1024;

/// `store.queue` of health.
async fn queue(h: &shipwatch_server::ServerHandle) -> Value {
    queue_support::health(&push_support::Api::new(h)).await["store"]["queue"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_holds_while_the_queue_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let queue_bytes = QUEUE_BYTES.to_string();
    let h = common::start(&[
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--max-store-bytes",
        queue_support::STORE_BYTES,
        "--store-queue-bytes",
        &queue_bytes,
        "--rate",
        "500",
        "--speed",
        "50",
        "--log-lines",
        "2000",
    ])
    .await;
    // Deployments and their lines fill the file, then the queue.
    let deadline = Instant::now() + Duration::from_secs(60);
    while queue(&h).await["full"] != true {
        assert!(
            Instant::now() < deadline,
            "full within 60 s: {}",
            queue(&h).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Held: what a new world's first write brought (admitted whole) stays, and nothing is
    // added for seconds (at most the tick that was under way).
    let before = queue(&h).await["bytes"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let q = queue(&h).await;
    let after = q["bytes"].as_u64().unwrap();
    assert!(
        after <= before + 64 * 1024,
        "the simulator went on: {before} bytes, then {q}"
    );
    // An action is refused before anything is applied.
    let path = "/api/environments/production/services/api/deploy";
    let (status, _, body) = common::http_write(&h, "POST", path).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("the action was not applied"), "{body}");
    assert!(body.contains("the store's queue is full"), "{body}");
    h.shutdown();
}
