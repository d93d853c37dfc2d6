//! What the tests of a store that cannot write share (`store_queue*.rs`, `push_full_disk.rs`):
//! a server whose store is capped as a full disk would cap it, a deployment to push lines
//! to, batches of large lines, and the pushes that fill the disk and then the queue.
//! Test files that use it also declare `mod common;` and `mod push_support;`.
#![allow(dead_code)]

use crate::common::binary::Server;
use crate::push_support::{log, Answer, Api};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The cap on the store's file of these tests (`--max-store-bytes`): past it writes fail as
/// on a full disk.
pub const STORE_BYTES: &str = "1048576";

/// Lines in a [`batch`].
pub const BATCH_LINES: u64 = 50;

/// [`BATCH_LINES`] lines of about 4 KB, numbered from `from`, each starting with its number.
pub fn batch(from: u64) -> Value {
    let text = "x".repeat(4000);
    (from..from + BATCH_LINES)
        .map(|n| json!({"n": n, "text": format!("{n} {text}")}))
        .collect()
}

/// `count` short lines numbered from `from`: many lines for few bytes.
pub fn short_lines(from: u64, count: u64) -> Value {
    (from..from + count)
        .map(|n| json!({"n": n, "text": format!("line {n}")}))
        .collect()
}

/// The flags of a server on data directory `data` whose store holds [`STORE_BYTES`], without
/// the simulator, followed by `extra`.
pub fn capped<'a>(data: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--no-simulator",
        "--data-dir",
        data,
        "--max-store-bytes",
        STORE_BYTES,
    ];
    args.extend_from_slice(extra);
    args
}

/// `/api/health`.
pub async fn health(api: &Api) -> Value {
    reqwest::get(format!("{}/api/health", api.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Environment `production`, its service `api` and a deployment of it: the path its lines
/// are pushed to, and its id.
pub async fn deployment(api: &Api) -> (String, String) {
    api.environment("production").await;
    api.service("production", "api").await;
    let id = api.deploy("production", "api", "v1").await;
    (format!("/api/v1/deployments/{id}/logs"), id)
}

/// Pushes batches from line 1 until one is not acknowledged (the store cannot write it):
/// the first line of that batch; every line before it is acknowledged.
pub async fn fill_disk(api: &Api, path: &str) -> u64 {
    let mut from = 1;
    loop {
        let a = api.json("POST", path, batch(from)).await;
        if a.status != 200 {
            assert_eq!(a.status, 503, "{a:?}");
            assert!(a.error().contains("not acknowledged"), "{a:?}");
            assert!(a.field().is_none(), "{a:?}");
            return from;
        }
        from += BATCH_LINES;
        assert!(from < 2_000, "1 MiB is full before 2,000 lines of 4 KB");
    }
}

/// Pushes batches from line `from` on (each queued, not acknowledged: 503) until one is
/// refused because the queue is full: that answer and the first line of the refused batch.
/// `lines(n)` is a batch from line `n`, of `per` lines.
pub async fn push_until_refused(
    api: &Api,
    path: &str,
    mut from: u64,
    lines: impl Fn(u64) -> Value,
    per: u64,
) -> (Answer, u64) {
    for _ in 0..100 {
        let a = api.json("POST", path, lines(from)).await;
        assert_eq!(a.status, 503, "{a:?}");
        if a.error().contains("queue is full") {
            return (a, from);
        }
        assert!(a.error().contains("not acknowledged"), "{a:?}");
        from += per;
    }
    panic!("100 batches, none refused by the queue");
}

/// SIGTERM of `server`, whose store cannot write what is queued: it exits on its own (not cut
/// short by `--stop-timeout-secs`), with status 1, saying on stderr that the store could not
/// write and what was dropped.
pub async fn stop_giving_up(server: Server) {
    let asked = Instant::now();
    let (status, printed) = server.terminate(Duration::from_secs(60)).await;
    let status = status.unwrap_or_else(|| panic!("still running 60 s after SIGTERM:\n{printed}"));
    eprintln!("stopped in {:?}", asked.elapsed());
    assert!(
        printed.contains("stopped without a clean close")
            && printed.contains("could not write at the stop")
            && printed.contains("that were never acknowledged are dropped"),
        "the writer gave up, saying what it dropped:\n{printed}"
    );
    assert!(
        !printed.contains("did not stop within"),
        "the stop ended on its own, not cut short after --stop-timeout-secs:\n{printed}"
    );
    assert_eq!(status.code(), Some(1), "{status:?}\n{printed}");
}

/// The log of deployment `id` on the server at `addr` starts with lines 1 to `unacked` - 1
/// (those acknowledged, pushed by [`fill_disk`]), once each and with their text.
pub async fn acknowledged_lines_kept(addr: std::net::SocketAddr, id: &str, unacked: u64) {
    let (_, lines) = log(addr, id).await.expect("the log is kept");
    let numbers: Vec<u64> = lines.iter().map(|l| l.n).collect();
    let acked: Vec<u64> = (1..unacked).collect();
    assert_eq!(
        &numbers[..acked.len()],
        &acked[..],
        "acknowledged lines, once each"
    );
    for l in &lines[..acked.len()] {
        assert!(l.text.starts_with(&format!("{} x", l.n)), "{}", l.n);
    }
}
