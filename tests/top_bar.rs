//! Component tests in headless Chromium: the top bar's environment switcher and live region
//! change in place (a status change does not rebuild a link; an announcement does not re-say
//! the ones already shown); the switcher's marks and the environment tabs' dots say since when
//! their statuses hold, as every status mark does.
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use shipwatch::components::announcements::LiveRegion;
use shipwatch::components::env_header::{EnvDeployment, EnvRunning};
use shipwatch::components::env_switcher::EnvSwitcher;
use shipwatch::components::env_tabs::{EnvTab, EnvTabs};
use shipwatch::state::announcer::Announcer;
use shipwatch::state::environments::EnvironmentsState;
use shipwatch_model::entities::Millis;
use shipwatch_model::protocol::{Change, Snapshot};
use shipwatch_model::rules::{Rule, Verdict};
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

/// The text of the tooltip `mark` is described by, opened by focusing the mark.
async fn tooltip_of(mark: &web_sys::Element) -> String {
    fire(
        mark,
        "el.dispatchEvent(new FocusEvent('focusin', {bubbles: true}))",
    );
    settle().await;
    let id = mark
        .get_attribute("aria-describedby")
        .expect("linked to its tooltip");
    let tip = document().get_element_by_id(&id).expect("tooltip exists");
    assert!(!tip.has_attribute("hidden"), "focus opens it");
    let text = tip.text_content().unwrap_or_default();
    fire(
        mark,
        "el.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}))",
    );
    settle().await;
    text
}

/// `minutes` ago, by this page's clock (the server's, with no skew).
fn minutes_ago(minutes: u64) -> Millis {
    js_sys::Date::now() as Millis - minutes * 60_000 - 5_000
}

#[wasm_bindgen_test]
async fn the_switcher_s_marks_say_since_when_their_statuses_hold() {
    let state = EnvironmentsState::new();
    let current = RwSignal::new("staging".to_string());
    let host = mount(move || view! { <EnvSwitcher state current /> });
    let mut production = summary("production", RunningStatus::Warning, "1 of 3 in error");
    production.deployment = Some(DeploymentStatus::Deploying);
    production.running_since = Some(minutes_ago(14));
    production.deployment_since = Some(minutes_ago(3));
    state.apply_snapshot(Snapshot::Environments {
        environments: vec![production.clone()],
    });
    settle().await;
    let link = query(&host, "a[href$='/production']");
    let text = tooltip_of(&link).await;
    for part in ["WARNING for 14 min, since ", "DEPLOYING for 3 min, since "] {
        assert!(text.contains(part), "the tooltip says {part:?}: {text}");
    }
    // A status whose since the server does not know says none.
    production.running_since = None;
    production.deployment_since = None;
    state.apply_changes(vec![Change::EnvironmentUpsert(production)]);
    settle().await;
    let text = tooltip_of(&link).await;
    assert!(!text.contains(" for "), "no since: {text}");
}

#[wasm_bindgen_test]
async fn the_tabs_dots_say_since_when_the_environment_s_statuses_hold() {
    let since = RwSignal::new((Some(minutes_ago(14)), Some(minutes_ago(3))));
    let host = mount(move || {
        let running: Memo<EnvRunning> = Memo::new(|_| {
            (
                Verdict {
                    status: RunningStatus::Warning,
                    rule: Rule::SomeError,
                    explanation: "1 of 3 services in error: api".into(),
                },
                Vec::new(),
            )
        });
        let deployment: Memo<Option<EnvDeployment>> = Memo::new(|_| {
            Some(EnvDeployment {
                verdict: Verdict {
                    status: DeploymentStatus::Deploying,
                    rule: Rule::SomeError,
                    explanation: "api is DEPLOYING".into(),
                },
                href: "/env/production/service/api/deployments/dep-1/logs".into(),
                when: minutes_ago(3),
            })
        });
        view! {
            <EnvTabs
                env_id=Signal::derive(|| "production".to_string())
                current=EnvTab::Services
                name="Production".to_string()
                running
                deployment
                since
            />
        }
    });
    settle().await;
    let dots = host.query_selector_all(".env-tabs [role=img]").unwrap();
    assert_eq!(dots.length(), 2, "a dot beside each tab");
    let dot = |i: u32| -> web_sys::Element {
        wasm_bindgen::JsCast::unchecked_into(dots.item(i).unwrap())
    };
    let running = tooltip_of(&dot(0)).await;
    assert!(
        running.contains("WARNING for 14 min, since "),
        "the Services tab's dot: {running}"
    );
    let deploying = tooltip_of(&dot(1)).await;
    assert!(
        deploying.contains("DEPLOYING for 3 min, since "),
        "the Deployments tab's dot: {deploying}"
    );
    since.set((None, None));
    settle().await;
    assert!(!tooltip_of(&dot(0)).await.contains(" for "));
    assert!(!tooltip_of(&dot(1)).await.contains(" for "));
}
