//! A server with nothing to show yet (`--no-simulator`, nothing pushed): the page says there
//! is no environment and how to report one (not "Loading environments…" beside a green
//! "Live" for ever); an environment pushed through the API appears without a reload.

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use shipwatch_e2e::screenshots::{self, DESKTOP, PHONE};
use shipwatch_e2e::server::WRITE_TOKEN;
use shipwatch_e2e::{Browser, Server};
use std::time::Duration;

/// `PUT url` with a JSON body and the write token, as a CI job would; the status.
async fn put_json(url: &str, body: &str) -> u16 {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let req = http::Request::put(url)
        .header("Authorization", format!("Bearer {WRITE_TOKEN}"))
        .header("Content-Type", "application/json")
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .expect("a request");
    let resp = client.request(req).await.expect("the server answers");
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    status
}

#[tokio::test]
async fn an_empty_server_says_so_until_an_environment_is_pushed() {
    let server = Server::start(&["--no-simulator"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url("/")).await;

    let said = browser
        .wait_js(
            "the page to say there is no environment",
            Duration::from_secs(20),
            "const h = document.querySelector('main h1'); \
             return h && h.textContent === 'No environments yet' ? document.querySelector('main').innerText : null;",
        )
        .await;
    let said = said.as_str().unwrap_or_default().to_string();
    assert!(!said.contains("Loading"), "{said}");
    assert!(said.contains("shipwatch deploy --server "), "{said}");
    assert!(said.contains("docs/push-api.md"), "{said}");
    let live = browser
        .eval(
            "return document.querySelector('[data-testid=connection]').getAttribute('data-state')",
        )
        .await;
    assert_eq!(
        live, "live",
        "the page is connected and knows the list is empty"
    );

    // With SHIPWATCH_SCREENSHOTS=DIR: the empty server's page for docs/.
    screenshots::take(
        &browser,
        "screenshot-no-environments",
        &[DESKTOP, PHONE],
        Duration::from_millis(500),
    )
    .await;

    // Marks this document: a reload would lose the mark.
    browser
        .eval("window.__same_document = true; return true")
        .await;
    let status = put_json(
        &server.url("/api/v1/environments/review"),
        r#"{"name": "Review"}"#,
    )
    .await;
    assert_eq!(status, 201);
    browser
        .wait_js(
            "the pushed environment to open",
            Duration::from_secs(20),
            "return location.pathname === '/env/review' && \
             document.querySelector('main h1')?.textContent === 'Review'",
        )
        .await;
    let same = browser.eval("return window.__same_document === true").await;
    assert_eq!(same, true, "the environment appeared without a reload");
    let gone = browser
        .eval("return !document.body.innerText.includes('No environments yet')")
        .await;
    assert_eq!(gone, true);
    browser.close().await;
}
