//! A store that cannot write (as on a full disk: `--max-store-bytes`): a push is answered 503,
//! not acknowledged, and a retry of it is not acknowledged either while the store still cannot
//! write; nothing is refused as a conflict, and the server keeps answering.

mod common;
mod push_support;
mod queue_support;

use common::binary::Server;
use common::start;
use push_support::Api;
use queue_support::{batch, capped, deployment, fill_disk, health, short_lines};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_the_store_cannot_write_is_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(&capped(dir.path().to_str().unwrap(), &[])).await;
    let api = Api::new(&h);
    let (path, id) = deployment(&api).await;
    let from = fill_disk(&api, &path).await;
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
    let health = health(&api).await;
    assert_eq!(health["status"], "degraded", "{health}");
    h.shutdown();
}

/// SIGTERM of the real binary while its store cannot write (a full disk, with writes queued
/// that it cannot commit): the stop does not wait for ever on them. The writer gives up after
/// its last attempts, the server exits with status 1 saying what it dropped (writes never
/// acknowledged), and every acknowledged line is there at the next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_on_a_full_disk_stops_and_keeps_what_was_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cap = ["--max-store-bytes", queue_support::STORE_BYTES];
    let server = Server::start(&data, &[&["--no-simulator"][..], &cap].concat()).await;
    let api = Api::at(server.addr);
    let (path, id) = deployment(&api).await;
    let unacked = fill_disk(&api, &path).await;
    // More queued behind what the writer holds, more lines than it takes in one
    // transaction (50,000): lines no one was told are stored.
    let mut from = unacked + 50;
    for _ in 0..12 {
        let queued = api.json("POST", &path, short_lines(from, 5_000)).await;
        assert_eq!(queued.status, 503, "{queued:?}");
        assert!(queued.error().contains("not acknowledged"), "{queued:?}");
        from += 5_000;
    }

    queue_support::stop_giving_up(server).await;

    let server = Server::start(&data, &["--no-simulator"]).await;
    queue_support::acknowledged_lines_kept(server.addr, &id, unacked).await;
    server.stop();
}
