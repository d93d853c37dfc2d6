//! The store's writer queue is bounded (`--store-queue-bytes`): while writes fail (here a
//! store capped by `--max-store-bytes`, as a full disk) log lines fill it and, once full, a
//! push is refused at once with a 503 saying so, before anything is applied; health says so
//! with the numbers; what was acknowledged before is there after a restart. Status reports of
//! one instance replace each other in the queue, so they never fill it.

mod common;
mod push_support;
mod queue_support;

use common::start;
use push_support::environments;
use queue_support::{
    capped, deployment, fill_disk, health, push_until_refused, short_lines, BATCH_LINES,
};
use serde_json::json;
use shipwatch_server::Stopped;
use std::time::Duration;

/// Lines in a batch of short ones.
const SHORT: u64 = 5_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_writes_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let h = start(&capped(data, &["--store-queue-bytes", "4194304"])).await;
    let api = push_support::Api::new(&h);
    let (path, id) = deployment(&api).await;
    // Lines before `unacked` are acknowledged; from it on the store cannot write.
    let unacked = fill_disk(&api, &path).await;
    // Short lines fill the queue: more than the writer takes in one transaction (50,000)
    // before it is full, so the stop below finds its close queued behind them.
    let lines = |from| short_lines(from, SHORT);
    let (refused, next) =
        push_until_refused(&api, &path, unacked + BATCH_LINES, lines, SHORT).await;
    assert!(next - unacked > 50_000, "{} lines queued", next - unacked);
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(
        refused.error().contains("the store's queue is full"),
        "{}",
        refused.error()
    );
    assert!(refused.field().is_none());
    // Nothing of the refused batch was applied: the deployment expects the same next line.
    let view = api.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(view.body["next_line"], json!(next), "{view:?}");
    // Nor of any other write while it is full.
    let a = api
        .json("PUT", "/api/v1/environments/staging", json!({}))
        .await;
    assert_eq!(a.status, 503, "{a:?}");
    assert!(a.error().contains("queue is full"), "{a:?}");
    let health = health(&api).await;
    let queue = &health["store"]["queue"];
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(queue["full"], true, "{health}");
    assert_eq!(queue["max_bytes"], 4194304, "{health}");
    // The bound holds: the refused batch did not fit, and nothing was queued past it.
    let bytes = queue["bytes"].as_u64().unwrap();
    assert!(bytes > 3_000_000 && bytes <= 4_194_304, "{health}");
    assert!(queue["refused"].as_u64().unwrap() >= 2, "{health}");
    // The stop does not wait for ever on a store that cannot write: the writer gives up what
    // was never acknowledged, and says so.
    h.shutdown();
    match h.stop_within(Duration::from_secs(60)).await {
        Stopped::StoreNotClosed(why) => assert!(
            why.contains("could not write at the stop")
                && why.contains("that were never acknowledged are dropped"),
            "{why}"
        ),
        other => panic!("the writer gives up at the stop: {other:?}"),
    }

    // Every acknowledged line is there after a restart on a store with room.
    // (Checked here: while the store cannot commit, a new page's snapshot waits for it.)
    let h = start(&["--no-simulator", "--data-dir", data]).await;
    assert!(
        environments(h.addr())
            .await
            .iter()
            .all(|e| e.id != "staging"),
        "a refused environment was not applied"
    );
    queue_support::acknowledged_lines_kept(h.addr(), &id, unacked).await;
    h.shutdown();
    h.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_of_one_instance_replace_each_other_in_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let h = start(&capped(data, &["--store-queue-bytes", "524288"])).await;
    let api = push_support::Api::new(&h);
    let (path, _) = deployment(&api).await;
    fill_disk(&api, &path).await;
    let path = "/api/v1/environments/production/services/api/instances/api-1";
    // Each report would take its own few hundred bytes: 3,000 of them more than the queue.
    let started = std::time::Instant::now();
    for restarts in 0..3_000 {
        let a = api
            .json(
                "PUT",
                path,
                json!({"status": "RUNNING", "restarts": restarts}),
            )
            .await;
        assert_eq!(a.status, 503, "{a:?}");
        assert!(
            a.error().contains("not acknowledged"),
            "report {restarts}: {a:?}"
        );
    }
    let health = health(&api).await;
    let queue = &health["store"]["queue"];
    assert_eq!(queue["full"], false, "{health}");
    assert_eq!(queue["refused"], 0, "{health}");
    // Replaced while queued: all but the first and the newest of each time the writer took
    // the queue to retry (once a second while writes fail).
    let takes = started.elapsed().as_secs() + 1;
    let kept = 3_000 - queue["replaced"].as_u64().unwrap();
    assert!(
        kept <= 2 * takes + 2,
        "{kept} reports kept in {takes} s: {health}"
    );
    // Pages are shown the reports once they are stored (commit before visible), not before.
    h.shutdown();
}

/// A batch of lines larger than the whole queue can never be taken: it is refused with a 413
/// naming the bound (not a 503 to retry for ever), before anything is applied; a smaller one
/// then goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_larger_than_the_whole_queue_is_refused_naming_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let h = start(&[
        "--no-simulator",
        "--data-dir",
        data,
        "--store-queue-bytes",
        "65536",
    ])
    .await;
    let api = push_support::Api::new(&h);
    let (path, id) = deployment(&api).await;
    // 50 lines of 4 KB: about 200 KB in the queue.
    let a = api.json("POST", &path, queue_support::batch(1)).await;
    assert_eq!(a.status, 413, "{a:?}");
    assert!(a.error().starts_with("the push was not applied"), "{a:?}");
    assert!(
        a.error().contains("--store-queue-bytes, at most 64 KiB"),
        "{a:?}"
    );
    assert!(a.field().is_none(), "{a:?}");
    let view = api.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(
        view.body["next_line"],
        json!(1),
        "nothing applied: {view:?}"
    );
    let lines: Vec<u64> = (1..=10).collect();
    assert_eq!(api.lines(&id, lines).await.status, 200);
    h.shutdown();
    h.stopped().await;
}
