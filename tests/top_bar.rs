//! Component tests in headless Chromium: the top bar's environment switcher and live region
//! change in place (a status change does not rebuild a link; an announcement does not re-say
//! the ones already shown).
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use shipwatch::components::announcements::LiveRegion;
use shipwatch::components::env_switcher::EnvSwitcher;
use shipwatch::state::announcer::Announcer;
use shipwatch::state::environments::EnvironmentsState;
use shipwatch_model::protocol::{Change, Snapshot};
use shipwatch_model::triage::Notice;
use shipwatch_model::{DeploymentStatus, EnvironmentSummary, RunningStatus};
use support::{mount, query, settle, texts};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn summary(id: &str, running: RunningStatus, reason: &str) -> EnvironmentSummary {
    EnvironmentSummary {
        id: id.into(),
        name: id.into(),
        running,
        running_reason: reason.into(),
        deployment: None,
        services: 3,
    }
}

/// Marks a DOM node so that a later look can tell whether it is still the same node.
fn tag(node: &web_sys::Element) {
    js_sys::Reflect::set(node, &"__tagged".into(), &JsValue::TRUE).unwrap();
}

fn is_tagged(node: &web_sys::Element) -> bool {
    js_sys::Reflect::get(node, &"__tagged".into()).unwrap() == JsValue::TRUE
}

#[wasm_bindgen_test]
async fn the_switcher_updates_an_environments_link_in_place() {
    let state = EnvironmentsState::new();
    let current = RwSignal::new("staging".to_string());
    let host = mount(move || view! { <EnvSwitcher state current /> });
    state.apply_snapshot(Snapshot::Environments {
        environments: vec![
            summary("production", RunningStatus::Running, "all 3 running"),
            summary("staging", RunningStatus::Running, "all 3 running"),
        ],
    });
    settle().await;
    let link = query(&host, "a[href$='/production']");
    assert_eq!(
        link.get_attribute("aria-label").as_deref(),
        Some("production: running status RUNNING")
    );
    assert_eq!(link.get_attribute("aria-current"), None);
    assert_eq!(
        query(&host, "a[href$='/staging']")
            .get_attribute("aria-current")
            .as_deref(),
        Some("page")
    );
    tag(&link);

    let mut broken = summary(
        "production",
        RunningStatus::Error,
        "1 of 3 services in error",
    );
    broken.deployment = Some(DeploymentStatus::DeploymentError);
    state.apply_changes(vec![Change::EnvironmentUpsert(broken)]);
    settle().await;
    let link = query(&host, "a[href$='/production']");
    assert!(is_tagged(&link), "the same link, updated in place");
    assert_eq!(
        link.get_attribute("aria-label").as_deref(),
        Some("production: running status ERROR, deployment DEPLOYMENT ERROR")
    );
    assert_eq!(
        link.get_attribute("title").as_deref(),
        Some("1 of 3 services in error")
    );
    assert!(query(&link, "[aria-hidden=true]")
        .class_name()
        .contains("dot--error"));
    assert_eq!(texts(&link, ".env-switcher__deploy"), ["DEPLOYMENT ERROR"]);

    current.set("production".into());
    settle().await;
    assert_eq!(link.get_attribute("aria-current").as_deref(), Some("page"));
    state.apply_changes(vec![Change::EnvironmentRemoved {
        id: "staging".into(),
    }]);
    settle().await;
    assert_eq!(texts(&host, ".env-switcher__name"), ["production"]);
}

#[wasm_bindgen_test]
async fn the_live_region_adds_new_announcements_and_leaves_the_shown_ones_alone() {
    let announcer = Announcer::new();
    let host = mount(move || {
        provide_context(announcer);
        view! { <LiveRegion /> }
    });
    let notice = |text: &str| Notice {
        text: text.into(),
        deployment_finished: false,
    };
    announcer.announce("production", &notice("api: ERROR"));
    settle().await;
    let region = query(&host, "[role=status]");
    let first = query(&region, ".announcements__item");
    tag(&first);
    announcer.announce("production", &notice("web: DEPLOYED"));
    settle().await;
    assert_eq!(
        texts(&region, ".announcements__item"),
        ["production · api: ERROR", "production · web: DEPLOYED"]
    );
    assert!(
        is_tagged(&query(&region, ".announcements__item")),
        "the first announcement is the same node (not said again)"
    );
    // Only the last few are kept; text that looks like markup stays text.
    for i in 0..6 {
        announcer.announce("production", &notice(&format!("<b>svc-{i}</b>: ERROR")));
    }
    settle().await;
    let items = texts(&region, ".announcements__item");
    assert_eq!(items.len(), 4, "{items:?}");
    assert_eq!(items[3], "production · <b>svc-5</b>: ERROR");
    assert!(region.query_selector("b").unwrap().is_none());
}
