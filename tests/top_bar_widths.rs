//! Component test in headless Chromium: the whole top bar (brand, environment switcher with
//! long environment names, the notification toggle, the connection indicator) fits phones of
//! 320, 360 and 390 px, narrow windows and a 1280 px desktop, in every state the indicator
//! has, with and without frames dropped: nothing widens the page and no part of the bar is
//! cut or clipped by it. Each width is a frame of its own (a viewport, so the phone styles
//! apply) with the app's stylesheets.
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use shipwatch::components::top_bar::TopBar;
use shipwatch::feed::{ConnState, Dropped, Feed, StoreStatus};
use shipwatch::state::announcer::Announcer;
use shipwatch::state::environments::EnvironmentsState;
use shipwatch_model::protocol::{encode, Limits, ServerFrame, ServerMessage, Snapshot, StoreState};
use shipwatch_model::EnvironmentSummary;
use support::{mount_in_frame, settle};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Environments as a large organisation names them: a preview named after a long branch
/// (one word, no place to break), names with spaces, a failed deployment's label.
fn environments() -> Vec<EnvironmentSummary> {
    [
        ("production", "Production", Some("DEPLOYMENT_ERROR")),
        ("staging", "Staging", Some("DEPLOYING")),
        (
            "preview",
            "preview-pr-14231-feature-customer-billing-export-v2",
            Some("BUILDING"),
        ),
        (
            "eu",
            "Customer-facing EU West (Frankfurt) canary environment",
            None,
        ),
    ]
    .into_iter()
    .map(|(id, name, deployment)| {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "name": name,
            "running": "WARNING",
            "running_reason": "1 of 3 services in error",
            "services": 3,
            "deployment": deployment,
        }))
        .expect("a summary")
    })
    .collect()
}

fn hello() -> String {
    encode(&ServerFrame::new(ServerMessage::Hello {
        server: "shipwatch-server/test".into(),
        limits: Limits::default(),
        stuck_after: None,
        now: None,
    }))
}

fn database_down() -> String {
    encode(&ServerFrame::new(ServerMessage::Status {
        store: StoreState::Unavailable,
        message: Some("PostgreSQL: connection refused".into()),
    }))
}

/// Puts the feed in one of the indicator's states: its `data-state`, and whether frames were
/// dropped beside it.
fn set_state(feed: &Feed, state: &str, dropped: bool) {
    let now = js_sys::Date::now();
    feed.dropped().set(Dropped::default());
    feed.recovering().set(0);
    feed.store().set(StoreStatus::default());
    match state {
        "connecting" => feed.state().set(ConnState::Connecting),
        "live" => feed.receive_text(&hello()),
        "recovering" => {
            feed.receive_text(&hello());
            feed.recovering().set(1);
        }
        "recovering-many" => {
            feed.receive_text(&hello());
            feed.recovering().set(12);
        }
        "database-unavailable" => {
            feed.receive_text(&hello());
            feed.receive_text(&database_down());
        }
        "reconnecting" => feed.state().set(ConnState::Reconnecting {
            attempt: 12,
            next_try_at: now + 28_500.0,
            since: now - 60_000.0,
        }),
        "reconnecting-now" => feed.state().set(ConnState::Reconnecting {
            attempt: 123,
            next_try_at: now - 5_000.0,
            since: now - 600_000.0,
        }),
        "offline" => feed.state().set(ConnState::Offline { since: now }),
        other => panic!("no state {other}"),
    }
    if dropped {
        feed.dropped().set(Dropped {
            count: 12_345,
            last_reason: Some("a frame this page cannot read".into()),
        });
    }
}

/// What overflows in the frame's document: the page's width against the frame's, and every
/// part of the top bar that is wider than its box, outside the frame, or outside the bar
/// (a bar of fixed height clips what wraps).
fn overflow(doc: &web_sys::Document, width: u32) -> Vec<String> {
    let mut out = Vec::new();
    let root = doc.document_element().unwrap();
    if root.scroll_width() > root.client_width() {
        out.push(format!(
            "page {} px wide in {} px",
            root.scroll_width(),
            root.client_width()
        ));
    }
    let bar = doc
        .query_selector(".topbar")
        .unwrap()
        .expect("a top bar")
        .get_bounding_client_rect();
    let parts = doc
        .query_selector_all(".topbar, .topbar *:not(.sr-only):not(.sr-only *)")
        .unwrap();
    for i in 0..parts.length() {
        let el: web_sys::Element = wasm_bindgen::JsCast::unchecked_into(parts.item(i).unwrap());
        if el.closest("[hidden], .tooltip").unwrap().is_some() {
            continue;
        }
        let r = el.get_bounding_client_rect();
        // A name cut on purpose (an ellipsis) says itself whole in its title.
        let text = el.text_content().unwrap_or_default();
        let whole_in_title = el.get_attribute("title").as_deref() == Some(text.trim());
        let cut = el.scroll_width() > el.client_width() && el.client_width() > 0 && !whole_in_title;
        let outside_bar = r.top() < bar.top() - 0.5 || r.bottom() > bar.bottom() + 0.5;
        if r.left() < 0.0 || r.right() > f64::from(width) || cut || outside_bar {
            out.push(format!(
                "{} `{}`: x {:.0}..{:.0}, y {:.0}..{:.0} in the bar's {:.0}..{:.0}, scroll {} in {}",
                el.class_name(),
                el.text_content().unwrap_or_default(),
                r.left(),
                r.right(),
                r.top(),
                r.bottom(),
                bar.top(),
                bar.bottom(),
                el.scroll_width(),
                el.client_width()
            ));
        }
    }
    out
}

#[wasm_bindgen_test]
async fn the_top_bar_fits_phones_in_every_connection_state() {
    let states = [
        "connecting",
        "live",
        "recovering",
        "recovering-many",
        "database-unavailable",
        "reconnecting",
        "reconnecting-now",
        "offline",
    ];
    let mut failures = Vec::new();
    for width in [320_u32, 360, 390, 641, 768, 1024, 1280] {
        let feed = Feed::unconnected();
        let envs = EnvironmentsState::new();
        let provided = feed.clone();
        let doc = mount_in_frame(width, move || {
            provide_context(provided);
            provide_context(Announcer::new());
            let current = Signal::derive(|| "preview".to_string());
            view! { <TopBar envs current /> }
        })
        .await;
        envs.apply_snapshot(Snapshot::Environments {
            environments: environments(),
        });
        for state in states {
            for dropped in [false, true] {
                set_state(&feed, state, dropped);
                settle().await;
                let shown = doc
                    .query_selector("[data-testid=connection]")
                    .unwrap()
                    .and_then(|e| e.get_attribute("data-state"))
                    .unwrap_or_default();
                let expected = state.split('-').next().unwrap_or_default();
                let expected = if state == "database-unavailable" {
                    state
                } else {
                    expected
                };
                assert_eq!(shown, expected, "the indicator is in the state under test");
                for o in overflow(&doc, width) {
                    failures.push(format!("{width} px, {state}, dropped {dropped}: {o}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The table's sticky header sits under the bar at the bar's height (`--topbar-height`),
/// which follows the bar when it grows.
#[wasm_bindgen_test]
async fn the_bar_s_height_is_kept_for_the_sticky_header() {
    support::install_styles();
    let feed = Feed::unconnected();
    let envs = EnvironmentsState::new();
    let provided = feed.clone();
    let host = support::mount(move || {
        provide_context(provided);
        provide_context(Announcer::new());
        let current = Signal::derive(String::new);
        view! { <TopBar envs current /> }
    });
    let root: web_sys::HtmlElement =
        wasm_bindgen::JsCast::unchecked_into(document().document_element().unwrap());
    let bar: web_sys::HtmlElement =
        wasm_bindgen::JsCast::unchecked_into(support::query(&host, ".topbar"));
    let kept = || {
        root.style()
            .get_property_value("--topbar-height")
            .unwrap_or_default()
    };
    support::until("the bar's height kept", || {
        kept() == format!("{}px", bar.offset_height())
    })
    .await;
    let before = bar.offset_height();
    // Forty environments do not fit one row at any window size here: the bar grows.
    envs.apply_snapshot(Snapshot::Environments {
        environments: (0..40)
            .flat_map(|i| {
                environments().into_iter().map(move |mut e| {
                    e.id = format!("{}-{i}", e.id);
                    e
                })
            })
            .take(40)
            .collect(),
    });
    support::until("the bar to grow", || bar.offset_height() > before).await;
    support::until("its new height kept", || {
        kept() == format!("{}px", bar.offset_height())
    })
    .await;
}
