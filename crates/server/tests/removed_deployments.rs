//! The store remembers the deployments retention removed (to say why a log is gone) for the
//! newest `--keep-removed-deployments` of them only: an older one's log is answered as an
//! unknown one (404), a remembered one's as removed (410, saying why). On SQLite and on a
//! real PostgreSQL.

#[macro_use]
mod common;
mod push_support;

use common::postgres::{store_on, Backend};
use common::{http, Client};
use push_support::Api;
use serde_json::json;
use shipwatch_model::protocol::{ErrorCode, Gone, ServerMessage, Topic};

/// What a page is told of the log of `dep`: `Some(gone)` if it is said to be removed, None if
/// unknown.
async fn told(h: &shipwatch_server::ServerHandle, dep: &str) -> Option<Gone> {
    let mut c = Client::connect(h).await;
    c.subscribe(
        "l",
        Topic::Logs {
            deployment: dep.into(),
        },
        None,
    )
    .await;
    loop {
        match c.frame().await.msg {
            ServerMessage::Error { code, gone, .. } => {
                assert_eq!(code, ErrorCode::UnknownTopic);
                return gone;
            }
            ServerMessage::Snapshot { .. } => panic!("the log of {dep} is kept"),
            _ => {}
        }
    }
}

async fn only_the_newest_removals_are_remembered(at: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_pg, store) = store_on(at);
    let flags: Vec<&str> = [
        "--no-simulator",
        "--data-dir",
        data.to_str().unwrap(),
        "--retain-deployments",
        "1",
        "--keep-removed-deployments",
        "2",
    ]
    .into_iter()
    .chain(store.iter().map(String::as_str))
    .collect();
    let h = common::start(&flags).await;
    let api = Api::new(&h);
    api.environment("production").await;
    api.service("production", "api").await;
    // Each creation removes the one before (one kept per service): d1 to d5 removed.
    for k in 1..=6 {
        let a = api
            .json(
                "POST",
                "/api/v1/deployments",
                json!({"id": format!("d{k}"), "environment": "production", "service": "api", "version": format!("v{k}")}),
            )
            .await;
        assert_eq!(a.status, 201, "{a:?}");
    }
    for (dep, remembered) in [("d5", true), ("d4", true), ("d3", false), ("d1", false)] {
        let (status, _, body) =
            http(&h, "GET", &format!("/api/deployments/{dep}/log.txt"), &[]).await;
        let body = String::from_utf8_lossy(&body);
        let gone = told(&h, dep).await;
        if remembered {
            assert_eq!(status, 410, "{dep}: {body}");
            assert!(
                body.contains("older than the 1 kept deployments of api"),
                "{dep}: {body}"
            );
            assert_eq!(gone, Some(Gone::Retention), "{dep}");
        } else {
            assert_eq!(status, 404, "{dep}: {body}");
            assert_eq!(gone, None, "{dep}");
        }
    }
    h.shutdown();
    h.stopped().await;
}

on_both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    only_the_newest_removals_are_remembered
);
