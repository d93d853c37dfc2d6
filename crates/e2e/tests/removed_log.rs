//! A page opened on the URL of a log that retention removed says so in words, instead of
//! waiting for a log that will not come.

use shipwatch_e2e::actions::start_deployment;
use shipwatch_e2e::{Browser, Server};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_page_on_a_log_retention_removed_says_why() {
    let data = std::env::temp_dir().join(format!("shipwatch-e2e-retention-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let data_arg = data.display().to_string();
    let server = Server::start(&[
        "--data-dir",
        &data_arg,
        "--retain-deployments",
        "1",
        "--rate",
        "0",
        "--speed",
        "50",
        "--log-lines",
        "20",
    ])
    .await;
    let browser = Browser::start().await;
    browser.open(&server.url("/env/production")).await;
    let first = start_deployment(&browser, "production", "api").await;
    let second = start_deployment(&browser, "production", "api").await;
    assert_ne!(second, first);

    browser
        .open(&server.url(&format!(
            "/env/production/service/api/deployments/{first}/logs"
        )))
        .await;
    let notice = browser
        .wait_js(
            "the page to say the log was removed",
            LONG,
            "const n = document.querySelector('.notice--error'); \
             return n && n.textContent.includes('removed') ? n.textContent : null",
        )
        .await;
    assert_eq!(
        notice,
        "This deployment's log was removed: this log is older than the 1 kept deployments of api."
    );
    // It does not go on asking: the notice stays, with no "retrying".
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = browser
        .eval("return document.querySelector('.notice--error')?.textContent ?? null")
        .await;
    assert_eq!(later, notice);
    // Nothing else pretends the log may still come: no empty viewer "waiting for log lines",
    // no "NEVER DEPLOYED" label.
    let leftovers = browser
        .eval(
            "return [document.querySelector('[aria-label=\"Deployment logs\"]') !== null, \
             document.body.textContent.includes('NEVER DEPLOYED')]",
        )
        .await;
    assert_eq!(leftovers, serde_json::json!([false, false]));
    browser.close().await;
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}
