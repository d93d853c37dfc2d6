//! The log viewer is a wasm chunk of its own (`cargo xtask build` splits it off; see
//! src/pages/logs_route.rs): the environment page's first load does not carry it, the page
//! fetches it in the background, and a chunk that cannot be fetched is said on the page and
//! fetched again on request, without the app dying.

use shipwatch_e2e::{env_path, wait_for, Browser, Server};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The log viewer's chunk in a built app.
fn chunk_of(dist: &Path) -> PathBuf {
    std::fs::read_dir(dist)
        .expect("the built app")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("split_log_viewer") && name.ends_with(".wasm")
        })
        .expect("the build has a log viewer chunk (cargo xtask build splits it)")
}

/// Resources the page fetched whose URL contains `part`.
async fn fetched(browser: &Browser, part: &str) -> u64 {
    browser
        .eval(&format!(
            "return performance.getEntriesByType('resource').filter(e => e.name.includes('{part}')).length;"
        ))
        .await
        .as_u64()
        .unwrap_or(0)
}

/// Waits for log rows on the page.
async fn log_rows(browser: &Browser, what: &str) {
    wait_for(what, Duration::from_secs(15), || async {
        let rows = browser
            .eval("return document.querySelectorAll('.log-row').length")
            .await;
        (rows.as_u64().unwrap_or(0) > 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_environment_page_loads_without_the_log_viewer_and_fetches_it_in_the_background() {
    let dist = env_path("SHIPWATCH_DIST");
    let chunk = chunk_of(&dist);
    let chunk_name = chunk.file_name().unwrap().to_string_lossy().into_owned();
    let page = std::fs::read_to_string(dist.join("index.html")).unwrap();
    assert!(
        !page.contains("split_log_viewer"),
        "the page itself must not load the log viewer's chunk"
    );

    let server = Server::start(&["--seed", "3"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url("/env/production")).await;
    browser.find("table.services [role=img]").await;
    wait_for(
        "the log viewer's chunk to be fetched in the background",
        Duration::from_secs(15),
        || async { (fetched(&browser, &chunk_name).await == 1).then_some(()) },
    )
    .await;

    // A deployment label opens its log, with the chunk already there.
    browser
        .click_css("table a.label[href*='/deployments/']")
        .await;
    log_rows(&browser, "log lines on the logs page").await;
    assert_eq!(
        fetched(&browser, &chunk_name).await,
        1,
        "the chunk is fetched once"
    );
    browser.close().await;
}

#[tokio::test]
async fn a_log_viewer_that_cannot_be_fetched_is_said_and_fetched_again_on_request() {
    // A copy of the app whose log viewer chunk is missing (as after a deploy of a new
    // build while the page was open, or a network failure).
    let dist = env_path("SHIPWATCH_DIST");
    let copy = std::env::temp_dir().join(format!("shipwatch-e2e-dist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    copy_dir(&dist, &copy);
    let chunk = chunk_of(&copy);
    let hidden = chunk.with_extension("hidden");
    std::fs::rename(&chunk, &hidden).unwrap();

    let server = Server::start_serving(&copy, &["--seed", "3"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url("/env/production")).await;
    browser
        .click_css("table a.label[href*='/deployments/']")
        .await;
    let alert = wait_for("the page to say the viewer could not be loaded", Duration::from_secs(15), || async {
        let text = browser
            .eval("const a = document.querySelector('main [role=alert]'); return a ? a.textContent : null;")
            .await;
        text.as_str().map(str::to_owned)
    })
    .await;
    assert!(
        alert.contains("could not be downloaded"),
        "the alert says what happened: {alert}"
    );
    // The rest of the console still works: the top bar lists the environments.
    let envs = browser
        .eval("return document.querySelectorAll('header.topbar nav a').length")
        .await;
    assert!(envs.as_u64().unwrap_or(0) >= 1, "the top bar still works");

    std::fs::rename(&hidden, &chunk).unwrap();
    browser
        .eval("document.querySelector('main [role=alert] button').click(); return null;")
        .await;
    log_rows(&browser, "log lines after trying again").await;
    browser.close().await;
    let _ = std::fs::remove_dir_all(&copy);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
