//! Snapshots of any size arrive, and a lost one is asked for again: an environment of 10,000
//! services (a snapshot of several megabytes, over the 1 MiB frame limit) loads in the page;
//! one of 100 services comes in parts of at most 32 KiB, shows whole, and the page resumes
//! from it after a reconnect; a page whose snapshots the server drops says it is recovering,
//! then shows the environment.

use shipwatch_e2e::connection::{self, RECORD_STATES};
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

/// Counts, in `window.__frames`, what the page's sockets get: the environment's whole
/// snapshots and parts (and the largest part's size), every snapshot begun (whole or a first
/// part, of any topic), every `resumed`; `seen` lists them. Keeps the sockets in
/// `window.__sockets`.
const COUNT_PARTS: &str = r#"
(() => {
  const Native = window.WebSocket;
  const f = window.__frames =
    { whole: 0, parts: 0, firstParts: 0, largestPart: 0, begun: 0, resumed: 0, seen: [] };
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.__sockets.push(this);
      this.addEventListener("message", (e) => {
        const kind = /^\{"v":1,"type":"(snapshot|snapshot_part|resumed)"/.exec(e.data);
        if (!kind) return;
        const m = JSON.parse(e.data);
        f.seen.push(`${kind[1]} ${m.sub} ${m.seq} ${m.part === undefined ? "" : m.part}`);
        if (kind[1] === "snapshot" || m.part === 0) f.begun += 1;
        if (kind[1] === "resumed") f.resumed += 1;
        if (m.data && m.data.kind === "environment") {
          if (kind[1] === "snapshot") f.whole += 1;
          if (kind[1] === "snapshot_part") {
            f.parts += 1;
            if (m.part === 0) f.firstParts += 1;
            f.largestPart = Math.max(f.largestPart, e.data.length);
          }
        }
      });
    }
  };
})();
"#;

#[tokio::test]
async fn an_environment_sent_in_parts_shows_whole_and_resumes_after_a_reconnect() {
    let server = Server::start(&[
        "--environments",
        "1",
        "--services",
        "100",
        "--scenario",
        "calm",
        "--seed",
        "5",
    ])
    .await;
    let browser = Browser::start().await;
    browser.add_init_script(RECORD_STATES).await;
    browser.add_init_script(COUNT_PARTS).await;
    browser.open(&server.url("/env/production")).await;
    browser
        .wait_js(
            "the header to count 100 services",
            LONG,
            &format!("const n = (() => {{ {COUNTED} }})(); return n === 100 ? n : null"),
        )
        .await;
    browser.find("tr.service-row[data-service='api']").await;
    let frames = browser.eval("return window.__frames").await;
    assert_eq!(frames["whole"], 0, "not sent whole: {frames}");
    assert_eq!(frames["firstParts"], 1, "one snapshot: {frames}");
    assert!(frames["parts"].as_u64().unwrap() >= 2, "{frames}");
    assert!(
        frames["largestPart"].as_u64().unwrap() <= 32 * 1024,
        "each part within 32 KiB: {frames}"
    );

    // The socket drops: the page reconnects and resumes its two subscriptions (the
    // environment list and the environment) from the numbers it holds, the environment's
    // from its joined snapshot: the server answers `resumed`, no snapshot is begun again.
    let begun = frames["begun"].clone();
    connection::forget_states(&browser).await;
    browser
        .eval("window.__sockets.filter(s => s.readyState === 1).forEach(s => s.close())")
        .await;
    connection::reconnected(&browser, LONG).await;
    browser
        .wait_js(
            "both subscriptions to be resumed",
            LONG,
            "return window.__frames.resumed >= 2 || null",
        )
        .await;
    browser
        .stop_service_and_see_it("production", "api", LONG)
        .await;
    let frames = browser.eval("return window.__frames").await;
    assert_eq!(frames["begun"], begun, "no fresh snapshot: {frames}");
    assert_eq!(frames["resumed"], 2, "{frames}");
    let counted = browser
        .eval(&format!("return (() => {{ {COUNTED} }})()"))
        .await;
    assert_eq!(counted, 100, "still every service");
    let dropped = browser
        .eval("const d = document.querySelector('[data-testid=connection] .conn__dropped'); return d ? d.textContent : null")
        .await;
    assert!(dropped.is_null(), "no frame dropped: {dropped}");
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

/// A snapshot in many parts whose first part is lost: the page counts the loss, not each part
/// after it (the parts of the snapshot it gave up on are not its subscription's any more),
/// asks again and shows the environment whole.
#[tokio::test]
async fn a_snapshot_in_parts_whose_first_part_is_lost_counts_one_loss_not_one_per_part() {
    // The loader's socket subscribes to the environments and to the environment: both
    // snapshots' first frames are lost (the environment's is its first part).
    let server = Server::start(&[
        "--environments",
        "1",
        "--services",
        "300",
        "--scenario",
        "calm",
        "--seed",
        "3",
        "--drop-snapshots",
        "2",
    ])
    .await;
    let browser = Browser::start().await;
    browser.add_init_script(COUNT_PARTS).await;
    browser.open(&server.url("/env/production")).await;
    browser
        .wait_js(
            "the header to count 300 services",
            LONG,
            &format!("const n = (() => {{ {COUNTED} }})(); return n === 300 ? n : null"),
        )
        .await;
    browser
        .wait_js(
            "the indicator to say live",
            LONG,
            "return !!document.querySelector('[data-testid=connection][data-state=live]')",
        )
        .await;
    let frames = browser.eval("return window.__frames").await;
    // The lost snapshot's other parts, then the whole one asked for again.
    assert_eq!(frames["firstParts"], 1, "{frames}");
    let parts = frames["parts"].as_u64().unwrap();
    assert!(parts >= 9, "a snapshot of 5 parts or more: {frames}");
    let dropped = browser
        .eval(
            "return document.querySelector('[data-testid=connection] .conn__dropped').textContent",
        )
        .await;
    let count: u64 = dropped
        .as_str()
        .and_then(|t| t.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("a count of dropped frames: {dropped}"));
    eprintln!("{count} dropped for {parts} parts: {frames}");
    // The two lost frames, and the environment's second part, which came without its first.
    assert!(
        (2..=3).contains(&count),
        "{count} dropped for {parts} parts: {dropped}"
    );
    browser.close().await;
}
