//! The writer's queue while PostgreSQL is down: pushes are applied and queued (503, not
//! acknowledged) until the queue holds `--store-queue-bytes`, then refused (503, not applied);
//! once PostgreSQL is back everything queued is committed and the refused batch, sent again,
//! is accepted whole (it was never applied), so the log holds every line once.

mod common;
mod push_support;
mod queue_support;

use common::binary::Server;
use common::postgres::PgServer;
use push_support::{log, Api};
use queue_support::{batch, deployment, health, push_until_refused, BATCH_LINES};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_pushes_land_once_postgres_is_back_and_a_refused_one_was_not_applied() {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let dir = tempfile::tempdir().unwrap();
    let server = ["--no-simulator", "--data-dir", dir.path().to_str().unwrap()];
    let server = [&server[..], &["--store", &url]].concat();
    let h = common::start(&[&server[..], &["--store-queue-bytes", "524288"]].concat()).await;
    let api = Api::new(&h);
    let (path, id) = deployment(&api).await;
    assert_eq!(api.json("POST", &path, batch(1)).await.status, 200);

    pg.stop();
    let (answer, refused) =
        push_until_refused(&api, &path, 1 + BATCH_LINES, batch, BATCH_LINES).await;
    assert!(
        answer.error().contains("the store's queue is full"),
        "{answer:?}"
    );
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
    let h = common::start(&server).await;
    let (_, lines) = log(h.addr(), &id).await.expect("the log is kept");
    let numbers: Vec<u64> = lines.iter().map(|l| l.n).collect();
    let expected: Vec<u64> = (1..refused + BATCH_LINES).collect();
    assert_eq!(numbers, expected, "every line once, in order");
    h.shutdown();
    h.stopped().await;
}

/// SIGTERM of the real binary while PostgreSQL is stopped, with pushes queued that it
/// cannot commit: it exits on its own (not cut short by --stop-timeout-secs), with status 1
/// and a message saying the store could not write and what it dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_postgres_stopped_exits_saying_what_was_dropped() {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--no-simulator", "--store", &url]).await;
    let api = Api::at(server.addr);
    let (path, _) = deployment(&api).await;
    assert_eq!(api.json("POST", &path, batch(1)).await.status, 200);

    pg.stop();
    let a = api.json("POST", &path, batch(1 + BATCH_LINES)).await;
    assert_eq!(a.status, 503, "{a:?}");
    assert!(a.error().contains("not acknowledged"), "{a:?}");
    queue_support::stop_giving_up(server).await;
}
