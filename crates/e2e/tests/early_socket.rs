//! The page's loader opens the feed's socket while the app downloads; the app adopts it
//! (one socket per page load, not two), and falls back to its own when that socket failed.

use shipwatch_e2e::{Browser, Server};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(20);

/// The first status dot of the service table.
const TABLE_DOT: &str = "table tbody tr [role=img][aria-label^='Running status:']";

/// The server's `/api/health`, fetched by the page.
async fn health(browser: &Browser) -> serde_json::Value {
    browser
        .eval("return fetch('/api/health').then((r) => r.json())")
        .await
}

/// Waits until the server counts `open` open sockets, and returns its health then.
async fn health_when_open(browser: &Browser, open: u64) -> serde_json::Value {
    let script = format!(
        "return fetch('/api/health').then((r) => r.json()).then((h) => h.clients === {open} ? h : null)"
    );
    browser
        .wait_js(&format!("{open} open socket(s)"), LONG, &script)
        .await
}

/// Makes the first socket a page opens (the loader's) point at a port nobody listens on.
const BREAK_THE_LOADER_SOCKET: &str = r#"
(() => {
  const Native = window.WebSocket;
  let first = true;
  window.WebSocket = class extends Native {
    constructor(url, ...rest) {
      if (first) {
        first = false;
        window.__loaderSocketBroken = url;
        url = "ws://127.0.0.1:9/ws";
      }
      super(url, ...rest);
    }
  };
})();
"#;

/// Notes every socket the page opens, and whether the document was still being parsed then
/// (the loader's inline script runs during parsing; the app's module, after).
const NOTE_SOCKETS: &str = r#"
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      window.__sockets.push({ duringParsing: document.readyState === "loading" });
      super(...args);
    }
  };
})();
"#;

/// Keeps a hand on the loader's frame buffer as the loader publishes it (the app then takes
/// and deletes the global as usual).
const WATCH_THE_LOADER_BUFFER: &str = r#"
Object.defineProperty(window, "__shipwatchEarlySocket", {
  configurable: true,
  get() { return this.__early; },
  set(early) { this.__early = early; window.__loaderBuffer = early.frames; },
});
"#;

/// A server, and a fresh browser that runs `init_script` first in the page, on the
/// environment page once its table shows and its connection is live.
async fn open_environment(init_script: &str) -> (Server, Browser) {
    let server = Server::start(&["--scenario", "calm", "--seed", "5"]).await;
    let browser = Browser::start().await;
    browser.add_init_script(init_script).await;
    browser.open(&server.url("/env/production")).await;
    browser.find(TABLE_DOT).await;
    browser
        .find("[data-testid=connection][data-state=live]")
        .await;
    (server, browser)
}

#[tokio::test]
async fn one_socket_per_page_load_opened_before_the_app_carries_the_environment_and_the_list() {
    let (_server, browser) = open_environment(NOTE_SOCKETS).await;
    browser.find(".env-switcher__link").await;
    // Time for a second socket, if the app were to open one.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let h = health_when_open(&browser, 1).await;
    assert_eq!(
        h["connections"], 1,
        "the app adopted the loader's socket instead of opening another: {h}"
    );
    let sockets = browser.eval("return window.__sockets").await;
    assert_eq!(
        sockets,
        serde_json::json!([{ "duringParsing": true }]),
        "one socket, opened while the app was still loading"
    );

    // The adopted socket is the feed's: a change made now shows up on it.
    browser
        .stop_service_and_see_it("production", "api", LONG)
        .await;
    assert_eq!(health(&browser).await["connections"], 1);
    browser.close().await;
}

#[tokio::test]
async fn when_the_loader_socket_fails_the_app_opens_its_own_and_still_reconnects() {
    let (mut server, browser) = open_environment(BREAK_THE_LOADER_SOCKET).await;
    let broken = browser.eval("return window.__loaderSocketBroken").await;
    assert!(
        broken.as_str().is_some_and(|u| u.ends_with("/ws")),
        "the loader's socket was the one broken: {broken}"
    );
    let h = health_when_open(&browser, 1).await;
    assert_eq!(h["connections"], 1, "only the app's own socket: {h}");

    // And that socket reconnects like any other.
    browser.eval("window.__shipwatchMarker = 'same page'").await;
    server.stop().await;
    browser
        .find("[data-testid=connection][data-state=reconnecting]")
        .await;
    server.restart().await;
    browser.retry_until_live(LONG).await;
    assert_eq!(
        browser.eval("return window.__shipwatchMarker").await,
        "same page",
        "no page reload"
    );
    browser.find(TABLE_DOT).await;
    let h = health_when_open(&browser, 1).await;
    assert_eq!(h["connections"], 1, "one socket after the restart: {h}");
    browser.close().await;
}

#[tokio::test]
async fn the_adopted_socket_leaves_no_frames_in_the_loader_buffer() {
    let (_server, browser) = open_environment(WATCH_THE_LOADER_BUFFER).await;
    // The loader's socket handlers stay for the session: a buffer still holding the first
    // snapshot's text would keep it in the JS heap as long as the page is open.
    let left = browser
        .eval("const b = window.__loaderBuffer; return b ? b.length : null;")
        .await;
    assert_eq!(left, 0, "frames left in the loader's buffer after adoption");
    browser.close().await;
}
