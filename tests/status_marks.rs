//! Component tests in headless Chromium: dots, labels and their tooltips, by role and name.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use shipwatch::components::deployment_label::DeploymentLabel;
use shipwatch::components::status_dot::StatusDot;
use shipwatch_model::{DeploymentStatus, RunningStatus};
use std::collections::HashSet;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Mounts a view in a fresh container and returns the container.
fn mount<V: IntoView + 'static>(f: impl FnOnce() -> V + 'static) -> web_sys::HtmlElement {
    let doc = document();
    let host: web_sys::HtmlElement = doc.create_element("div").unwrap().unchecked_into();
    doc.body().unwrap().append_child(&host).unwrap();
    leptos::mount::mount_to(host.clone(), f).forget();
    host
}

async fn settle() {
    gloo_timers::future::TimeoutFuture::new(20).await;
}

fn fire(target: &web_sys::Element, script: &str) {
    let f = js_sys::Function::new_with_args("el", script);
    f.call1(&wasm_bindgen::JsValue::NULL, target).unwrap();
}

fn query(host: &web_sys::Element, css: &str) -> web_sys::Element {
    host.query_selector(css)
        .unwrap()
        .unwrap_or_else(|| panic!("no element {css}"))
}

#[wasm_bindgen_test]
async fn every_running_status_shows_its_word_and_a_distinct_shape() {
    let mut shapes = HashSet::new();
    for status in RunningStatus::ALL {
        let host = mount(
            move || view! { <StatusDot status explanation="why".to_string() subject="api".to_string() /> },
        );
        settle().await;
        let dot = query(&host, "[role=img]");
        assert_eq!(
            dot.get_attribute("aria-label").unwrap(),
            format!("Running status: {}", status.word())
        );
        assert_eq!(
            dot.get_attribute("tabindex").as_deref(),
            Some("0"),
            "focusable"
        );
        let shape = dot
            .class_name()
            .split(' ')
            .find(|c| c.starts_with("shape--"))
            .unwrap()
            .to_string();
        shapes.insert(shape);
    }
    assert_eq!(
        shapes.len(),
        RunningStatus::ALL.len(),
        "one shape per running status: {shapes:?}"
    );
}

#[wasm_bindgen_test]
async fn every_deployment_status_shows_its_word_and_a_distinct_shape() {
    let mut shapes = HashSet::new();
    for status in DeploymentStatus::ALL {
        let host = mount(move || {
            view! { <DeploymentLabel status=Some(status) explanation="why".to_string() href=Some("/logs".to_string()) /> }
        });
        settle().await;
        let label = query(&host, "a.label");
        let name = label.get_attribute("aria-label").unwrap();
        assert!(name.contains(status.word()), "{name}");
        assert_eq!(label.text_content().unwrap().trim(), status.word());
        let shape = label
            .class_name()
            .split(' ')
            .find(|c| c.starts_with("shape--"))
            .unwrap()
            .to_string();
        shapes.insert(shape);
    }
    assert_eq!(
        shapes.len(),
        DeploymentStatus::ALL.len(),
        "one shape per deployment status: {shapes:?}"
    );
}

#[wasm_bindgen_test]
async fn focusing_a_dot_opens_its_tooltip_and_escape_closes_it() {
    let why = "1 of 3 instances in error: api-2 (CrashLoopBackOff); 2 still running";
    let host = mount(move || {
        view! { <StatusDot status=RunningStatus::Warning explanation=why.to_string() subject="api".to_string() /> }
    });
    settle().await;
    let dot = query(&host, "[role=img]");
    let tip_id = dot
        .get_attribute("aria-describedby")
        .expect("linked to its tooltip");
    let tip = document()
        .get_element_by_id(&tip_id)
        .expect("tooltip exists");
    assert_eq!(tip.get_attribute("role").as_deref(), Some("tooltip"));
    assert!(tip.has_attribute("hidden"), "closed at first");

    fire(
        &dot,
        "el.dispatchEvent(new FocusEvent('focusin', {bubbles: true}))",
    );
    settle().await;
    assert!(!tip.has_attribute("hidden"), "focus opens it");
    let text = tip.text_content().unwrap();
    assert!(text.contains("WARNING") && text.contains(why), "{text}");

    fire(
        &dot,
        "el.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}))",
    );
    settle().await;
    assert!(tip.has_attribute("hidden"), "Escape closes it");
}

#[wasm_bindgen_test]
async fn hovering_a_label_opens_its_tooltip_and_leaving_closes_it() {
    let host = mount(|| {
        view! {
            <DeploymentLabel
                status=Some(DeploymentStatus::DeploymentError)
                explanation="a1b2c3d → e4f5a6b · started 3m ago".to_string()
                href=Some("/env/production/deployments/dep-1/logs".to_string())
            />
        }
    });
    settle().await;
    let anchor = query(&host, ".tooltip-anchor");
    let tip = query(&host, "[role=tooltip]");
    fire(&anchor, "el.dispatchEvent(new MouseEvent('mouseenter'))");
    settle().await;
    assert!(!tip.has_attribute("hidden"));
    assert!(tip
        .text_content()
        .unwrap()
        .contains("old instances may still be serving"));
    fire(&anchor, "el.dispatchEvent(new MouseEvent('mouseleave'))");
    settle().await;
    assert!(tip.has_attribute("hidden"));
}
