//! Snapshots of any size arrive, and a lost one is asked for again: an environment of 10,000
//! services (a snapshot of several megabytes, over the 1 MiB frame limit) loads in the page;
//! a page whose snapshots the server drops says it is recovering, then shows the environment.

use shipwatch_e2e::{Browser, Server};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

/// The number of services the environment header counts ("9990 running, 10 error").
const COUNTED: &str = "const s = document.querySelector('.env-header__summary'); \
    if (!s) return 0; \
    return (s.textContent.match(/\\d+/g) || []).reduce((a, n) => a + parseInt(n), 0);";

#[tokio::test]
async fn an_environment_of_10000_services_loads() {
    let server =
        Server::start(&["--environments", "1", "--services", "10000", "--seed", "5"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url("/env/production")).await;
    let counted = browser
        .wait_js(
            "the header to count 10,000 services",
            LONG,
            &format!("const n = (() => {{ {COUNTED} }})(); return n === 10000 ? n : null"),
        )
        .await;
    assert_eq!(counted, 10000);
    browser.find("table tbody tr.service-row").await;
    let dropped = browser
        .eval("const d = document.querySelector('[data-testid=connection] .conn__dropped'); return d ? d.textContent : null")
        .await;
    assert!(dropped.is_null(), "no frame dropped: {dropped}");
    let state = browser
        .eval(
            "return document.querySelector('[data-testid=connection]').getAttribute('data-state')",
        )
        .await;
    assert_eq!(state, "live");
    browser.close().await;
}

#[tokio::test]
async fn a_page_whose_snapshots_are_lost_says_it_is_recovering_and_recovers() {
    // The loader's socket subscribes to the environments and to the environment: both
    // snapshots are lost.
    let server =
        Server::start(&["--scenario", "calm", "--seed", "3", "--drop-snapshots", "2"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url("/env/production")).await;
    let text = browser
        .wait_js(
            "the indicator to say it is recovering",
            LONG,
            "const c = document.querySelector('[data-testid=connection][data-state=recovering]'); \
             return c ? c.textContent : null",
        )
        .await;
    assert!(text.as_str().unwrap().contains("Recovering"), "{text}");
    assert!(
        text.as_str().unwrap().contains("dropped"),
        "the lost frames are counted: {text}"
    );
    browser.find("table tbody tr.service-row").await;
    browser
        .wait_js(
            "the indicator to say live again",
            LONG,
            "return !!document.querySelector('[data-testid=connection][data-state=live]')",
        )
        .await;
    let loading = browser
        .eval("return !!document.querySelector('p.loading')")
        .await;
    assert_eq!(loading, false, "nothing is left loading");
    browser.close().await;
}
