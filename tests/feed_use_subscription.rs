//! Component test in headless Chromium of `use_subscription`: a component follows its topic
//! while it is on the page. The subscribe goes out on the socket, the snapshot and changes
//! reach the handler and the returned state says where the subscription stands; a changed
//! topic ends the old subscription and starts the new one; and when the component leaves the
//! page the server is sent the unsubscribe and the handler gets nothing more. The frames are
//! the server's text, through the feed's own decoder; what the feed sends is read from its
//! outbox.
#![cfg(target_arch = "wasm32")]

mod support;

use futures::channel::mpsc;
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use shipwatch::feed::{
    use_subscription, Feed, SubEvent, SubscriptionState, UseSubscriptionOptions,
};
use shipwatch_model::protocol::{Change, ErrorCode, Limits, ServerMessage, Topic};
use shipwatch_model::{RunningStatus, ServiceKind};
use std::cell::RefCell;
use std::rc::Rc;
use support::{empty_env_snapshot, inst, server_frame, settle, svc};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn hello() -> String {
    server_frame(ServerMessage::Hello {
        server: "shipwatch-server/test".into(),
        limits: Limits::default(),
        stuck_after: None,
        now: None,
    })
}

/// A change numbered `seq`: the service `api` upserted.
fn delta(sub: &str, seq: u64) -> String {
    let api = svc(
        "api",
        "api",
        ServiceKind::Application,
        vec![inst("api-1", RunningStatus::Running, "v1", None)],
        None,
    );
    server_frame(ServerMessage::Delta {
        sub: sub.into(),
        seq,
        changes: vec![Change::ServiceUpsert(api)],
    })
}

/// The frames the feed sent since the last call, as `type sub` (and the topic's env).
fn sent(outbox: &mut mpsc::UnboundedReceiver<String>) -> Vec<String> {
    let mut frames = Vec::new();
    while let Ok(text) = outbox.try_recv() {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let kind = v["type"].as_str().unwrap_or_default();
        let sub = v["sub"].as_str().unwrap_or_default();
        frames.push(match v["topic"]["env"].as_str() {
            Some(env) => format!("{kind} {sub} {env}"),
            None => format!("{kind} {sub}"),
        });
    }
    frames
}

/// What a handler is given, written down.
type Seen = Rc<RefCell<Vec<String>>>;

/// Writes down what the handler is given; a refusal is asked again once, as the log page
/// does after a while.
fn write_down(seen: &Seen) -> UseSubscriptionOptions {
    let (log, follows) = (seen.clone(), seen.clone());
    UseSubscriptionOptions::default()
        .on_subscribe(move |topic| {
            if let Topic::Environment { env } = topic {
                follows.borrow_mut().push(format!("subscribe {env}"));
            }
        })
        .on_event(move |event, sub| {
            let refused = matches!(event, SubEvent::Refused(..));
            log.borrow_mut().push(match event {
                SubEvent::Snapshot(_) => "snapshot".to_string(),
                SubEvent::Changes(c) => format!("{} changes", c.len()),
                SubEvent::Lines(_) => "lines".to_string(),
                SubEvent::Refused(code, ..) => format!("refused {}", code.as_str()),
            });
            if refused
                && log
                    .borrow()
                    .iter()
                    .filter(|e| e.starts_with("refused"))
                    .count()
                    == 1
            {
                sub.resubscribe();
            }
        })
}

fn state_word(state: &SubscriptionState) -> String {
    match state {
        SubscriptionState::Waiting => "waiting".into(),
        SubscriptionState::Live => "live".into(),
        SubscriptionState::Refused { message, .. } => format!("refused: {message}"),
    }
}

/// A feed that has said hello, and its outbox.
fn feed() -> (Feed, mpsc::UnboundedReceiver<String>) {
    let feed = Feed::unconnected();
    let (tx, rx) = mpsc::unbounded();
    feed.send_to(tx);
    feed.receive_text(&hello());
    (feed, rx)
}

/// Mounts a page that shows, while `shown`, a component following `topic` through the hook
/// (its state in `<p class="sub">`).
fn mount(
    feed: &Feed,
    topic: Signal<Topic>,
    shown: RwSignal<bool>,
    seen: &Seen,
) -> web_sys::HtmlElement {
    let feed = feed.clone();
    let seen = SendWrapper::new(seen.clone());
    support::mount(move || {
        provide_context(feed);
        view! {
            <Show when=move || shown.get()>
                {
                    let sub = use_subscription(move || topic.get(), write_down(&seen));
                    view! { <p class="sub">{move || state_word(&sub.state.get())}</p> }
                }
            </Show>
        }
    })
}

fn shown_state(host: &web_sys::HtmlElement) -> Vec<String> {
    support::texts(host, ".sub")
}

#[wasm_bindgen_test]
async fn a_subscription_lives_as_long_as_its_component() {
    let (feed, mut outbox) = feed();
    let seen = Seen::default();
    let shown = RwSignal::new(true);
    let topic = Signal::stored(Topic::Environment { env: "prod".into() });
    let host = mount(&feed, topic, shown, &seen);
    settle().await;
    assert_eq!(
        sent(&mut outbox),
        ["subscribe s1 prod"],
        "subscribed on mount"
    );
    assert_eq!(shown_state(&host), ["waiting"]);

    feed.receive_text(&empty_env_snapshot("s1", "prod"));
    feed.receive_text(&delta("s1", 11));
    settle().await;
    assert_eq!(
        *seen.borrow(),
        ["subscribe prod", "snapshot", "1 changes"],
        "delivered in order"
    );
    assert_eq!(shown_state(&host), ["live"]);

    shown.set(false);
    settle().await;
    assert_eq!(
        sent(&mut outbox),
        ["unsubscribe s1"],
        "the component left the page: the server is told"
    );
    feed.receive_text(&delta("s1", 12));
    settle().await;
    assert_eq!(
        *seen.borrow(),
        ["subscribe prod", "snapshot", "1 changes"],
        "nothing reaches the handler of a component that is gone"
    );
    assert_eq!(feed.dropped().get_untracked().count, 0);
}

#[wasm_bindgen_test]
async fn a_changed_topic_ends_the_old_subscription_and_a_refusal_is_its_state() {
    let (feed, mut outbox) = feed();
    let seen = Seen::default();
    let env = RwSignal::new("prod".to_string());
    let topic = Signal::derive(move || Topic::Environment { env: env.get() });
    let host = mount(&feed, topic, RwSignal::new(true), &seen);
    settle().await;
    feed.receive_text(&empty_env_snapshot("s1", "prod"));
    settle().await;
    assert_eq!(sent(&mut outbox), ["subscribe s1 prod"]);
    assert_eq!(shown_state(&host), ["live"]);

    env.set("stage".into());
    settle().await;
    assert_eq!(
        sent(&mut outbox),
        ["unsubscribe s1", "subscribe s2 stage"],
        "the old topic is left, the new one asked for"
    );
    assert_eq!(
        shown_state(&host),
        ["waiting"],
        "the new topic has no state yet"
    );
    feed.receive_text(&delta("s1", 11));
    feed.receive_text(&server_frame(ServerMessage::Error {
        code: ErrorCode::UnknownTopic,
        message: "no environment stage".into(),
        sub: Some("s2".into()),
        gone: None,
    }));
    settle().await;
    assert_eq!(
        *seen.borrow(),
        [
            "subscribe prod",
            "snapshot",
            "subscribe stage",
            "refused unknown_topic",
            "subscribe stage"
        ],
        "the old subscription's frames are not the new one's; the refused one is asked again"
    );
    assert_eq!(
        sent(&mut outbox),
        ["subscribe s3 stage"],
        "asked again; the refused one was never made, so it is not unsubscribed"
    );
    assert_eq!(shown_state(&host), ["waiting"]);
    feed.receive_text(&server_frame(ServerMessage::Error {
        code: ErrorCode::UnknownTopic,
        message: "no environment stage".into(),
        sub: Some("s3".into()),
        gone: None,
    }));
    settle().await;
    assert_eq!(shown_state(&host), ["refused: no environment stage"]);
    assert_eq!(
        feed.dropped().get_untracked().count,
        0,
        "no frame was dropped"
    );
}
