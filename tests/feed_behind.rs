//! Component test in headless Chromium: a replica behind the page (`behind`, docs/protocol.md
//! "Resume") is not a refusal: the subscription keeps its state, shows as recovering and is
//! asked again; `unknown_topic` stays a refusal the page shows. The frames are the server's
//! text, through the feed's own decoder.
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::GetUntracked;
use shipwatch::feed::{Feed, SubEvent};
use shipwatch_model::protocol::{ErrorCode, Limits, ServerMessage, Topic};
use std::cell::RefCell;
use std::rc::Rc;
use support::{empty_env_snapshot, server_frame, settle};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn error(code: ErrorCode, sub: &str) -> String {
    server_frame(ServerMessage::Error {
        code,
        message: "this server has not caught up with the state the page showed".into(),
        sub: Some(sub.into()),
        gone: None,
    })
}

/// Follows `env`, writing down what its handler is given.
fn follow(
    feed: &Feed,
    env: &str,
) -> (shipwatch::feed::SubscriptionGuard, Rc<RefCell<Vec<String>>>) {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    let guard = feed.subscribe(Topic::Environment { env: env.into() }, move |e| {
        log.borrow_mut().push(match e {
            SubEvent::Snapshot(_) => "snapshot".to_string(),
            SubEvent::Refused(code, ..) => format!("refused {}", code.as_str()),
            _ => "other".to_string(),
        })
    });
    (guard, seen)
}

#[wasm_bindgen_test]
async fn a_replica_behind_the_page_is_asked_again_not_shown_as_a_refusal() {
    let feed = Feed::unconnected();
    feed.receive_text(&server_frame(ServerMessage::Hello {
        server: "shipwatch-server/test".into(),
        limits: Limits::default(),
        stuck_after: None,
        now: None,
    }));
    let (_prod, prod) = follow(&feed, "prod");
    let (_stage, stage) = follow(&feed, "stage");
    feed.receive_text(&empty_env_snapshot("s1", "prod"));
    feed.receive_text(&empty_env_snapshot("s2", "stage"));
    settle().await;
    assert_eq!(
        feed.recovering().get_untracked(),
        0,
        "both have their state"
    );

    feed.receive_text(&error(ErrorCode::Behind, "s1"));
    feed.receive_text(&error(ErrorCode::UnknownTopic, "s2"));
    settle().await;
    assert_eq!(
        *prod.borrow(),
        ["snapshot"],
        "behind: the page keeps what it shows, nothing refused"
    );
    assert_eq!(
        feed.recovering().get_untracked(),
        1,
        "behind: the subscription shows as recovering until it is answered again"
    );
    assert_eq!(
        *stage.borrow(),
        ["snapshot", "refused unknown_topic"],
        "unknown_topic is still a refusal the page shows"
    );
    assert_eq!(
        feed.dropped().get_untracked().count,
        0,
        "neither is a dropped frame"
    );
}
