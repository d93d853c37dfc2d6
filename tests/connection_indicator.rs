//! Component test in headless Chromium: the connection indicator says when the server's
//! database is unavailable ("Database unavailable, retrying", with why and what it means in
//! its tooltip and for screen readers), goes back to "Live" when the server says it is back
//! or when the page is on a new socket, and a `status` frame is never a dropped frame. The
//! frames are the server's text, through the feed's own decoder.
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use shipwatch::components::connection_indicator::{ConnectionIndicator, DATABASE_UNAVAILABLE};
use shipwatch::feed::Feed;
use shipwatch_model::protocol::{encode, Limits, ServerFrame, ServerMessage, StoreState};
use support::{mount, query, settle};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn hello() -> String {
    encode(&ServerFrame::new(ServerMessage::Hello {
        server: "shipwatch-server/test".into(),
        limits: Limits::default(),
        stuck_after: None,
        now: None,
    }))
}

fn status(store: StoreState, message: Option<&str>) -> String {
    encode(&ServerFrame::new(ServerMessage::Status {
        store,
        message: message.map(str::to_string),
    }))
}

/// The indicator's state, visible text, tooltip and screen-reader text.
fn shown(host: &web_sys::Element) -> (String, String, String, String) {
    let el = query(host, "[data-testid=connection]");
    let text = query(host, ".conn__text")
        .text_content()
        .unwrap_or_default();
    let spoken = el
        .query_selector(".sr-only")
        .unwrap()
        .and_then(|n| n.text_content())
        .unwrap_or_default();
    (
        el.get_attribute("data-state").unwrap_or_default(),
        text,
        el.get_attribute("title").unwrap_or_default(),
        spoken,
    )
}

#[wasm_bindgen_test]
async fn the_indicator_says_when_the_database_is_unavailable_and_when_it_is_back() {
    let feed = Feed::unconnected();
    let provided = feed.clone();
    let host = mount(move || {
        provide_context(provided);
        view! { <ConnectionIndicator /> }
    });
    feed.receive_text(&hello());
    settle().await;
    let (state, text, _, spoken) = shown(&host);
    assert_eq!((state.as_str(), text.as_str()), ("live", "Live"));
    assert_eq!(spoken, "", "nothing extra to say while live");

    feed.receive_text(&status(
        StoreState::Unavailable,
        Some("PostgreSQL: connection refused"),
    ));
    settle().await;
    let (state, text, title, spoken) = shown(&host);
    assert_eq!(state, "database-unavailable");
    assert_eq!(text, DATABASE_UNAVAILABLE);
    assert_eq!(text, "Database unavailable, retrying");
    assert!(title.contains("connection refused"), "{title}");
    assert!(
        title.contains("changes are held") && title.contains("database is back"),
        "{title}"
    );
    assert_eq!(
        spoken, title,
        "screen readers get the tooltip's explanation"
    );
    assert_eq!(
        feed.dropped().get_untracked().count,
        0,
        "not a dropped frame"
    );
    assert!(host.query_selector(".conn__dropped").unwrap().is_none());
    assert!(
        host.query_selector(".conn__retry").unwrap().is_none(),
        "the socket is fine: nothing to reconnect"
    );

    feed.receive_text(&status(StoreState::Ok, None));
    settle().await;
    let (state, text, title, spoken) = shown(&host);
    assert_eq!((state.as_str(), text.as_str()), ("live", "Live"));
    assert!(title.starts_with("Connected since"), "{title}");
    assert_eq!(spoken, "");

    // Unavailable again, then a new socket (perhaps to another replica): its hello starts it
    // as fine until its server says otherwise.
    feed.receive_text(&status(StoreState::Unavailable, None));
    settle().await;
    assert_eq!(shown(&host).0, "database-unavailable");
    let (_, _, title, _) = shown(&host);
    assert!(
        title.starts_with("The server cannot write to its database. "),
        "no reason given, none shown: {title}"
    );
    feed.receive_text(&hello());
    settle().await;
    assert_eq!(shown(&host).0, "live");

    // A state this page does not know is not taken for `ok`.
    feed.receive_text(r#"{"v":1,"type":"status","store":"read_only"}"#);
    settle().await;
    assert_eq!(shown(&host).0, "database-unavailable");
    assert_eq!(feed.dropped().get_untracked().count, 0);
}
