//! The first live slice: server -> websocket -> page -> painted statuses.

use shipwatch_e2e::{wait_for, Browser, Server};
use std::time::Duration;

const WORDS: [&str; 7] = [
    "STOPPED",
    "STARTING",
    "STOPPING",
    "RUNNING",
    "ERROR",
    "WARNING",
    "COMPLETED",
];

#[tokio::test]
async fn service_row_shows_a_status_dot_named_by_its_status() {
    let server = Server::start(&["--seed", "7"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url("/")).await;
    // The home page opens the first environment; its table has one row per service.
    let dot = browser
        .find("table tbody tr [role=img][aria-label^='Running status:']")
        .await;
    let name = dot.attr("aria-label").await.unwrap().unwrap();
    let word = name.trim_start_matches("Running status: ");
    assert!(
        WORDS.contains(&word),
        "accessible name names a status: {name}"
    );
    let rows = browser
        .eval("return document.querySelectorAll('table tr.service-row').length")
        .await;
    assert!(
        rows.as_u64().unwrap() >= 3,
        "one row per service, got {rows}"
    );
    let header = browser
        .find("header.env-header [role=img][aria-label^='Running status:']")
        .await;
    assert!(header.attr("aria-label").await.unwrap().is_some());
    let label = browser.find("header.env-header a.label").await;
    let label_text = label.text().await.unwrap();
    assert!(
        !label_text.is_empty(),
        "the environment has a deployment label"
    );
    browser
        .screenshot(&screenshots().join("environment.png"))
        .await;
    browser.close().await;
}

#[tokio::test]
async fn statuses_change_live_within_ten_seconds() {
    let server = Server::start(&["--seed", "11"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url("/")).await;
    browser.find("table tr.service-row").await;
    let snapshot = "return Array.from(document.querySelectorAll('table tr.service-row')).map(r => \
        r.querySelector('[role=img]').getAttribute('aria-label') + '|' + \
        (r.querySelector('a.label') || {textContent: ''}).textContent + '|' + \
        r.querySelector('.service-row__instances').textContent).join('\\n')";
    let before = browser.eval(snapshot).await;
    let after = wait_for(
        "a status to change on the page",
        Duration::from_secs(10),
        || async {
            let now = browser.eval(snapshot).await;
            (now != before).then_some(now)
        },
    )
    .await;
    assert_ne!(before, after);
    browser.close().await;
}

fn screenshots() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}

#[tokio::test]
async fn a_server_with_a_token_serves_a_page_opened_with_that_token() {
    let server = Server::start(&["--seed", "5", "--token", "s3cret"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url("/?token=s3cret")).await;
    // Read in one script: a live update may replace the dot between a find and a read.
    let label = browser
        .wait_js(
            "a service's running-status dot",
            Duration::from_secs(20),
            "return document.querySelector(\"table tbody tr [role=img][aria-label^='Running status:']\")\
                ?.getAttribute('aria-label')",
        )
        .await;
    assert!(
        label
            .as_str()
            .is_some_and(|l| l.starts_with("Running status:")),
        "{label}"
    );
    browser.close().await;
}
