//! `--sqlite-synchronous normal|full`: what SQLite runs with, as it reads it back, is what
//! health shows (`store.synchronous`); `normal` unless told otherwise.

mod common;

use serde_json::Value;

async fn synchronous(extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let mut flags = vec!["--no-simulator", "--data-dir", dir.path().to_str().unwrap()];
    flags.extend_from_slice(extra);
    let h = common::start(&flags).await;
    let health: Value = reqwest::get(format!("http://{}/api/health", h.addr()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    h.shutdown();
    h.stopped().await;
    health["store"]["synchronous"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_shows_what_sqlite_runs_with() {
    assert_eq!(synchronous(&[]).await, "normal");
    assert_eq!(synchronous(&["--sqlite-synchronous", "full"]).await, "full");
    assert_eq!(
        synchronous(&["--sqlite-synchronous", "normal"]).await,
        "normal"
    );
}

#[test]
fn other_words_are_refused() {
    let args = ["shipwatch-server", "--sqlite-synchronous", "off"];
    let err = <shipwatch_server::Config as clap::Parser>::try_parse_from(args).unwrap_err();
    assert!(err.to_string().contains("normal, full"), "{err}");
}
