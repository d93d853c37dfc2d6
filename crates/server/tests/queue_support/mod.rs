//! What the tests of a store that cannot write share (`store_queue*.rs`, `push_full_disk.rs`):
//! a server whose store is capped as a full disk would cap it, a deployment to push lines
//! to, batches of large lines, and the pushes that fill the disk and then the queue.
//! Test files that use it also declare `mod common;` and `mod push_support;`.
#![allow(dead_code)]

use crate::push_support::{Answer, Api};
use serde_json::{json, Value};

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
