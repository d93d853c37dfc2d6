//! The writer's queue while PostgreSQL is down: pushes are applied and queued (503, not
//! acknowledged) until the queue holds `--store-queue-bytes`, then refused (503, not applied);
//! once PostgreSQL is back everything queued is committed and the refused batch, sent again,
//! is accepted whole (it was never applied), so the log holds every line once.

mod common;
mod push_support;

use common::postgres::PgServer;
use push_support::{log, Api};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// 50 lines of about 4 KB, numbered from `from`.
fn batch(from: u64) -> Value {
    let text = "x".repeat(4000);
    (from..from + 50)
        .map(|n| json!({"n": n, "text": format!("{n} {text}")}))
        .collect()
}

async fn health(api: &Api) -> Value {
    reqwest::get(format!("{}/api/health", api.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_pushes_land_once_postgres_is_back_and_a_refused_one_was_not_applied() {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let dir = tempfile::tempdir().unwrap();
    let h = common::start(&[
        "--no-simulator",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--store",
        &url,
        "--store-queue-bytes",
        "524288",
    ])
    .await;
    let api = Api::new(&h);
    api.environment("production").await;
    api.service("production", "api").await;
    let id = api.deploy("production", "api", "v1").await;
    let path = format!("/api/v1/deployments/{id}/logs");
    assert_eq!(api.json("POST", &path, batch(1)).await.status, 200);

    pg.stop();
    let mut from = 51;
    let refused = loop {
        let a = api.json("POST", &path, batch(from)).await;
        assert_eq!(a.status, 503, "{a:?}");
        if a.error().contains("the store's queue is full") {
            break from;
        }
        assert!(a.error().contains("not acknowledged"), "{a:?}");
        from += 50;
        assert!(
            from < 5_000,
            "100 batches of 200 KB, none refused by a queue of 512 KiB"
        );
    };
    let view = api.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(
        view.body["next_line"],
        json!(refused),
        "nothing of it applied: {view:?}"
    );
    let health_down = health(&api).await;
    assert_eq!(health_down["store"]["queue"]["full"], true, "{health_down}");

    pg.start_again();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h = health(&api).await;
        if h["status"] == "ok" && h["store"]["queue"]["bytes"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the queue drains once PostgreSQL is back: {h}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The refused batch was never applied: sent again, all of it is new.
    let a = api.json("POST", &path, batch(refused)).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["accepted"], 50, "{a:?}");
    assert_eq!(a.body["skipped"], 0, "{a:?}");
    h.shutdown();
    h.stopped().await;
    // What the store holds, read back after a restart: every line once, in order.
    let h = common::start(&[
        "--no-simulator",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--store",
        &url,
    ])
    .await;
    let (_, lines) = log(h.addr(), &id).await.expect("the log is kept");
    let numbers: Vec<u64> = lines.iter().map(|l| l.n).collect();
    let expected: Vec<u64> = (1..refused + 50).collect();
    assert_eq!(numbers, expected, "every line once, in order");
    h.shutdown();
    h.stopped().await;
}
