//! A deployment retention removed: its log's download answers 410 and a subscription to it an
//! `unknown_topic` error that says why (`gone: retention`), not that it never existed. On
//! SQLite (the data directory) and on a real PostgreSQL (`--store`).

#[macro_use]
mod common;

use common::postgres::{store_on, Backend};
use common::{http, Client};
use shipwatch_model::protocol::{ErrorCode, Gone, ServerMessage, Topic};
use std::time::Duration;

/// Deploys production/api through the action API (again while it is busy); its id.
async fn deploy(h: &shipwatch_server::ServerHandle) -> String {
    let path = "/api/environments/production/services/api/deploy";
    for _ in 0..600 {
        let (status, _, body) = common::http_write(h, "POST", path).await;
        if status == 409 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        return v["deployment"]["id"].as_str().expect("an id").to_string();
    }
    panic!("api stayed busy for 30 s");
}

async fn a_log_retention_removed_says_so(at: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_pg, store) = store_on(at);
    let flags: Vec<&str> = [
        "--data-dir",
        data.to_str().unwrap(),
        "--retain-deployments",
        "1",
        "--rate",
        "0",
        "--log-lines",
        "20",
        "--speed",
        "50",
    ]
    .into_iter()
    .chain(store.iter().map(String::as_str))
    .collect();
    let h = common::start(&flags).await;
    let first = deploy(&h).await;
    let second = deploy(&h).await;
    assert_ne!(first, second);

    // The second deployment's 202 means its write, which removed the first, is committed;
    // the hub forgets the first's log just after.
    let path = format!("/api/deployments/{first}/log.txt");
    let mut answer = (0, String::new());
    for _ in 0..100 {
        let (status, _, body) = http(&h, "GET", &path, &[]).await;
        answer = (status, String::from_utf8_lossy(&body).into_owned());
        if status == 410 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answer.0, 410, "{}", answer.1);
    assert!(
        answer
            .1
            .contains("older than the 1 kept deployments of api"),
        "{}",
        answer.1
    );

    let mut c = Client::connect(&h).await;
    c.subscribe(
        "old",
        Topic::Logs {
            deployment: first.clone(),
        },
        None,
    )
    .await;
    match c.frame().await.msg {
        ServerMessage::Error {
            code,
            message,
            sub,
            gone,
        } => {
            assert_eq!(code, ErrorCode::UnknownTopic);
            assert_eq!(sub.as_deref(), Some("old"));
            assert_eq!(gone, Some(Gone::Retention));
            assert_eq!(
                message,
                "this log is older than the 1 kept deployments of api"
            );
        }
        other => panic!("expected an error, got {other:?}"),
    }

    // The kept one streams; one that never existed gets no reason.
    c.subscribe("kept", Topic::Logs { deployment: second }, None)
        .await;
    assert!(matches!(
        c.frame().await.msg,
        ServerMessage::Snapshot { .. }
    ));
    c.subscribe(
        "never",
        Topic::Logs {
            deployment: "dep-999999".into(),
        },
        None,
    )
    .await;
    loop {
        match c.frame().await.msg {
            ServerMessage::Error { sub, gone, .. } if sub.as_deref() == Some("never") => {
                assert_eq!(gone, None);
                break;
            }
            _ => continue,
        }
    }
}

async fn a_log_the_byte_cap_removed_says_so(at: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_pg, store) = store_on(at);
    let flags: Vec<&str> = [
        "--data-dir",
        data.to_str().unwrap(),
        "--max-log-bytes",
        "1024",
        "--rate",
        "0",
        "--log-lines",
        "200",
        "--speed",
        "50",
    ]
    .into_iter()
    .chain(store.iter().map(String::as_str))
    .collect();
    let h = common::start(&flags).await;
    let dep = deploy(&h).await;
    // Its lines are over the cap on their own: once they are committed they are removed.
    let path = format!("/api/deployments/{dep}/log.txt");
    let mut answer = (0, String::new());
    for _ in 0..200 {
        let (status, _, body) = http(&h, "GET", &path, &[]).await;
        answer = (status, String::from_utf8_lossy(&body).into_owned());
        if status == 410 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answer.0, 410, "{}", answer.1);
    assert!(answer.1.contains("under 1 KiB"), "{}", answer.1);

    let mut c = Client::connect(&h).await;
    c.subscribe("old", Topic::Logs { deployment: dep }, None)
        .await;
    match c.frame().await.msg {
        ServerMessage::Error {
            code,
            message,
            gone,
            ..
        } => {
            assert_eq!(code, ErrorCode::UnknownTopic);
            assert_eq!(gone, Some(Gone::LogBytes));
            assert_eq!(
                message,
                "this log was removed to keep log storage under 1 KiB"
            );
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

on_both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_log_retention_removed_says_so,
    a_log_the_byte_cap_removed_says_so
);
