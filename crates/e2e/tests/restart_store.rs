//! A page open while the server restarts on its data directory: it resumes where it was (the
//! server answers `resumed`, no new snapshot, no page reload) and stays current.

use shipwatch_e2e::actions::start_deployment;
use shipwatch_e2e::{Browser, Server};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(40);

/// Counts, in `window.__frames`, the snapshot and resumed frames the page's sockets get.
const COUNT_FRAMES: &str = r#"
(() => {
  const Native = window.WebSocket;
  window.__frames = { snapshots: 0, resumed: 0 };
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        const kind = /^\{"v":1,"type":"(snapshot|resumed)"/.exec(e.data);
        if (kind && kind[1] === "snapshot") window.__frames.snapshots += 1;
        if (kind && kind[1] === "resumed") window.__frames.resumed += 1;
      });
    }
  };
})();
"#;

#[tokio::test]
async fn a_page_resumes_across_a_restart_on_a_data_directory() {
    let data = std::env::temp_dir().join(format!("shipwatch-e2e-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let data_arg = data.display().to_string();
    let mut server = Server::start(&["--data-dir", &data_arg, "--seed", "5", "--rate", "10"]).await;
    let browser = Browser::start().await;
    browser.add_init_script(COUNT_FRAMES).await;
    browser.open(&server.url("/env/production")).await;
    browser
        .find("[data-testid=connection][data-state=live]")
        .await;
    // Statuses change for a while: the page follows deltas.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = browser.eval("return window.__frames").await;
    assert!(before["snapshots"].as_u64().unwrap() >= 1, "{before}");
    browser.eval("window.__shipwatchMarker = 'same page'").await;

    server.terminate().await;
    server.restart().await;
    browser.retry_until_live(LONG).await;
    let after = browser
        .wait_js(
            "the page's subscriptions to resume",
            LONG,
            &format!(
                "const f = window.__frames; return f.resumed >= {} + 2 ? f : null",
                before["resumed"].as_u64().unwrap()
            ),
        )
        .await;
    assert_eq!(
        after["snapshots"], before["snapshots"],
        "resumed, not sent a fresh snapshot: {after}"
    );
    let marker = browser.eval("return window.__shipwatchMarker").await;
    assert_eq!(marker, "same page", "no page reload");

    // Current after the restart: a change made on the new server shows up, applied on top of
    // the state the page kept (a gap would have made it ask for a snapshot).
    browser
        .stop_service_and_see_it("production", "api", LONG)
        .await;
    let end = browser.eval("return window.__frames").await;
    assert_eq!(end["snapshots"], before["snapshots"], "{end}");

    // A deployment's log open while the server restarts: the page resumes it and shows the
    // line the restarted server adds (the deployment's steps were in the stopped process).
    let dep = start_deployment(&browser, "staging", "web").await;
    browser
        .open(&server.url(&format!("/env/staging/service/web/deployments/{dep}/logs")))
        .await;
    browser
        .wait_js(
            "the log to show its first lines",
            LONG,
            "return document.body.innerText.includes('Waiting for an available deployer')",
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = browser.eval("return window.__frames").await;
    server.terminate().await;
    server.restart().await;
    browser.retry_until_live(LONG).await;
    browser
        .wait_js(
            "the resumed log to show the restart's line",
            LONG,
            "return document.body.innerText.includes('Deployment interrupted')",
        )
        .await;
    let after = browser.eval("return window.__frames").await;
    assert!(
        after["resumed"].as_u64() > before["resumed"].as_u64(),
        "resumed: {before} -> {after}"
    );
    assert_eq!(
        after["snapshots"], before["snapshots"],
        "no fresh snapshot: {after}"
    );
    browser.close().await;
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}
