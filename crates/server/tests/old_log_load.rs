//! A log the hub does not hold (a finished deployment's, after a restart) is read from the
//! store when a page subscribes to it, without holding anything up: while a large one loads,
//! the same socket's environment subscription keeps receiving changes. With the store on
//! disk (SQLite), the real server and a real websocket client.

#[macro_use]
mod common;
mod push_support;

use common::postgres::{store_on, Backend};
use common::Client;
use push_support::Api;
use serde_json::json;
use shipwatch_model::protocol::{ServerMessage, Snapshot, Topic};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Lines of the old log: enough that reading and rebuilding it takes a while.
const LINES: u64 = 200_000;

async fn changes_flow_while_a_large_old_log_loads(at: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_pg, store) = store_on(at);
    let flags: Vec<&str> = ["--no-simulator", "--data-dir", data.to_str().unwrap()]
        .into_iter()
        .chain(store.iter().map(String::as_str))
        .collect();
    let h = common::start(&flags).await;
    let api = Api::new(&h);
    api.environment("production").await;
    api.service("production", "api").await;
    let old = api.deploy("production", "api", "v1").await;
    let text = "a line of a long build, long enough to count ".repeat(2);
    for from in (1..=LINES).step_by(5_000) {
        let batch: Vec<_> = (from..from + 5_000)
            .map(|n| json!({"n": n, "text": format!("{n} {text}")}))
            .collect();
        let a = api
            .json(
                "POST",
                &format!("/api/v1/deployments/{old}/logs"),
                json!(batch),
            )
            .await;
        assert_eq!(a.status, 200, "{a:?}");
    }
    assert_eq!(api.status(&old, "DEPLOYMENT_OK").await.status, 200);
    h.shutdown();
    h.stopped().await;

    // After a restart the hub holds no finished deployment's log.
    let h = common::start(&flags).await;
    let api = Arc::new(Api::new(&h));
    assert!(!h.app().hub.holds_log(&old), "loaded at start");
    let mut c = Client::connect(&h).await;
    let env = Topic::Environment {
        env: "production".into(),
    };
    c.subscribe("env", env, None).await;
    loop {
        if let ServerMessage::Snapshot { .. } = c.frame().await.msg {
            break;
        }
    }
    // An instance reported every few milliseconds: a change of the environment each time.
    let stop = Arc::new(AtomicBool::new(false));
    let reporter = tokio::spawn({
        let (api, stop) = (api.clone(), stop.clone());
        async move {
            let path = "/api/v1/environments/production/services/api/instances/api-1";
            let mut restarts = 0;
            while !stop.load(Ordering::Relaxed) {
                restarts += 1;
                let body = json!({"status": "RUNNING", "restarts": restarts});
                assert_eq!(api.json("PUT", path, body).await.status / 100, 2);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    });
    // The environment's changes flow before the log is asked for...
    let mut before = 0;
    while before < 3 {
        if let ServerMessage::Delta { .. } = c.frame().await.msg {
            before += 1;
        }
    }
    c.subscribe("old", Topic::Logs { deployment: old }, None)
        .await;
    // ...and while it loads: they arrive before the log's snapshot does.
    let mut during = 0;
    let line_count = loop {
        match c.frame().await.msg {
            ServerMessage::Delta { sub, .. } if sub == "env" => during += 1,
            ServerMessage::Snapshot {
                sub,
                data: Snapshot::Logs { line_count, .. },
                ..
            } if sub == "old" => break line_count,
            _ => {}
        }
    };
    stop.store(true, Ordering::Relaxed);
    reporter.await.unwrap();
    assert_eq!(line_count, Some(LINES), "the whole log, as kept");
    assert!(
        during >= 2,
        "the environment's subscription stalled while the log loaded ({during} changes)"
    );
    h.shutdown();
    h.stopped().await;
}

/// A server that keeps one log in memory (`--max-logs 1`) reads a long log from the store
/// when a page opens it, while a reporter streams that log's lines: the lines taken during
/// the read (staged by the writer, committed before or after the read's snapshot, or not
/// yet) are shown past what the read holds, each once, and only once committed. Without the
/// hub keeping them for the load (`hub/held_logs.rs`) they found no topic and the page
/// missed them.
async fn lines_that_arrive_while_an_old_log_loads_are_all_shown(at: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_pg, store) = store_on(at);
    let flags: Vec<&str> = ["--no-simulator", "--max-logs", "1"]
        .into_iter()
        .chain(["--data-dir", data.to_str().unwrap()])
        .chain(store.iter().map(String::as_str))
        .collect();
    let h = common::start(&flags).await;
    let api = Api::new(&h);
    api.environment("prod").await;
    api.service("prod", "api").await;
    api.service("prod", "other").await;
    let dep = api.deploy("prod", "api", "v2").await;
    // A long log already, so that reading it from the store takes a while; then the reporter.
    const BEFORE: u64 = 20_000;
    common::log_lines::write_long_log(h.addr(), &dep, BEFORE).await;
    let reporter = common::log_lines::Reporter::start(h.addr(), &dep, BEFORE);
    for round in 0..6 {
        // Another deployment's log opens: the hub forgets `dep`'s.
        api.deploy("prod", "other", &format!("v{round}")).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!h.app().hub.holds_log(&dep), "round {round}: still held");
        let mut page = Client::connect(&h).await;
        common::log_lines::subscribe_log(&mut page, "log", &dep).await;
        let numbers = common::log_lines::read_log(&mut page, round).await;
        common::log_lines::assert_each_line_once(&numbers, BEFORE, round);
    }
    reporter.stop().await;
    h.shutdown();
    h.stopped().await;
}

on_both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    changes_flow_while_a_large_old_log_loads,
    lines_that_arrive_while_an_old_log_loads_are_all_shown
);
