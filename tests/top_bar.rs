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

/// An environment's summary; through serde, so optional fields the model gains later keep
/// their defaults here.
fn summary(id: &str, running: RunningStatus, reason: &str) -> EnvironmentSummary {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "name": id,
        "running": running,
        "running_reason": reason,
        "services": 3,
    }))
    .expect("a summary")
}

/// Marks a DOM node so that a later look can tell whether it is still the same node.
fn tag(node: &web_sys::Element) {
    js_sys::Reflect::set(node, &"__tagged".into(), &JsValue::TRUE).unwrap();
}

fn is_tagged(node: &web_sys::Element) -> bool {
    js_sys::Reflect::get(node, &"__tagged".into()).unwrap() == JsValue::TRUE
}

/// The accessible name a link gets from its content (it has no `aria-label`): its text,
/// spaces collapsed.
fn spoken(link: &web_sys::Element) -> String {
    assert_eq!(
        link.get_attribute("aria-label"),
        None,
        "no label over the content"
    );
    let text = link.text_content().unwrap_or_default();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text a user sees in a link: its content less what only screen readers get.
fn visible(link: &web_sys::Element) -> String {
    let copy = link.clone_node_with_deep(true).unwrap();
    let copy: web_sys::Element = wasm_bindgen::JsCast::unchecked_into(copy);
    let hidden = copy.query_selector_all(".sr-only").unwrap();
    for i in 0..hidden.length() {
        let node = hidden.item(i).unwrap();
        node.parent_node().unwrap().remove_child(&node).unwrap();
    }
    let text = copy.text_content().unwrap_or_default();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn fire(target: &web_sys::Element, script: &str) {
    let f = js_sys::Function::new_with_args("el", script);
    f.call1(&JsValue::NULL, target).unwrap();
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
        spoken(&link),
        "production: running status RUNNING",
        "named by its content"
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
        spoken(&link),
        "production: running status ERROR, deployment DEPLOYMENT ERROR"
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
async fn a_switcher_link_is_named_by_its_visible_text_and_its_marks_have_a_tooltip() {
    let state = EnvironmentsState::new();
    let current = RwSignal::new("staging".to_string());
    let host = mount(move || view! { <EnvSwitcher state current /> });
    let mut production = summary(
        "production",
        RunningStatus::Warning,
        "1 of 3 services in error: api",
    );
    production.name = "Production".into();
    production.deployment = Some(DeploymentStatus::Deploying);
    state.apply_snapshot(Snapshot::Environments {
        environments: vec![production],
    });
    settle().await;
    let link = query(&host, "a[href$='/production']");
    // WCAG 2.5.3: what a speech user reads off the screen is part of the name, in order.
    assert_eq!(visible(&link), "Production DEPLOYING");
    assert_eq!(
        spoken(&link),
        "Production: running status WARNING, deployment DEPLOYING"
    );
    assert_eq!(link.get_attribute("title"), None, "no title tooltip");

    let tip_id = link
        .get_attribute("aria-describedby")
        .expect("linked to its tooltip");
    let tip = document()
        .get_element_by_id(&tip_id)
        .expect("tooltip exists");
    assert_eq!(tip.get_attribute("role").as_deref(), Some("tooltip"));
    assert!(tip.has_attribute("hidden"), "closed at first");

    fire(
        &link,
        "el.dispatchEvent(new FocusEvent('focusin', {bubbles: true}))",
    );
    settle().await;
    assert!(!tip.has_attribute("hidden"), "focus opens it");
    let text = tip.text_content().unwrap();
    for part in [
        "WARNING",
        "Production",
        "1 of 3 services in error: api",
        "DEPLOYING",
    ] {
        assert!(text.contains(part), "the tooltip says {part}: {text}");
    }
    fire(
        &link,
        "el.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}))",
    );
    settle().await;
    assert!(tip.has_attribute("hidden"), "Escape closes it");

    let anchor = query(&host, ".tooltip-anchor");
    fire(&anchor, "el.dispatchEvent(new MouseEvent('mouseenter'))");
    settle().await;
    assert!(!tip.has_attribute("hidden"), "hover opens it");
    fire(&anchor, "el.dispatchEvent(new MouseEvent('mouseleave'))");
    settle().await;
    assert!(tip.has_attribute("hidden"), "leaving closes it");
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
