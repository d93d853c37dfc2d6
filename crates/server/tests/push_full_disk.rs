//! A store that cannot write (as on a full disk: `--max-store-bytes`): a push is answered 503,
//! not acknowledged, and a retry of it is not acknowledged either while the store still cannot
//! write; nothing is refused as a conflict, and the server keeps answering.

mod common;
mod push_support;

use common::start;
use push_support::Api;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_the_store_cannot_write_is_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(&[
        "--no-simulator",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--max-store-bytes",
        "1048576",
    ])
    .await;
    let api = Api::new(&h);
    api.environment("production").await;
    api.service("production", "api").await;
    let id = api.deploy("production", "api", "v1").await;
    let text = "x".repeat(4000);
    let batch = |from: u64| -> Value {
        (from..from + 50)
            .map(|n| json!({"n": n, "text": format!("{n} {text}")}))
            .collect()
    };
    let path = format!("/api/v1/deployments/{id}/logs");
    let mut from = 1;
    let refused = loop {
        let a = api.json("POST", &path, batch(from)).await;
        match a.status {
            200 => from += 50,
            _ => break a,
        }
        assert!(from < 2_000, "1 MiB is full before 2,000 lines of 4 KB");
    };
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(
        refused.error().contains("not acknowledged"),
        "{}",
        refused.error()
    );
    assert!(refused.field().is_none());
    // The retry is a resend (same numbers and texts): not a conflict, and not acknowledged
    // while the store still cannot write.
    let again = api.json("POST", &path, batch(from)).await;
    assert_eq!(again.status, 503, "{again:?}");
    // Nor is a new environment (whether its ownership mark or the environment itself is
    // what the store cannot write).
    let a = api
        .json("PUT", "/api/v1/environments/staging", json!({}))
        .await;
    assert_eq!(a.status, 503, "{a:?}");
    // The server answers reads, and says the store fails.
    let a = api.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(a.status, 200);
    let health: Value = reqwest::get(format!("{}/api/health", api.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "degraded", "{health}");
    h.shutdown();
}
