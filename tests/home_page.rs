//! Component test in headless Chromium: the home page tells a server that has no environment
//! (an empty environments snapshot) from one whose list has not arrived yet, and says how to
//! report one.
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use shipwatch::pages::home_page::EnvironmentsPending;
use shipwatch::state::environments::EnvironmentsState;
use shipwatch_model::protocol::{Change, Snapshot};
use shipwatch_model::EnvironmentSummary;
use support::{mount, settle};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn said(host: &web_sys::Element) -> String {
    let text = host.text_content().unwrap_or_default();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[wasm_bindgen_test]
async fn an_empty_list_is_told_apart_from_one_still_loading() {
    let envs = EnvironmentsState::new();
    let host = mount(move || view! { <EnvironmentsPending envs /> });
    settle().await;
    assert_eq!(said(&host), "Loading environments…", "before the snapshot");

    envs.apply_snapshot(Snapshot::Environments {
        environments: Vec::new(),
    });
    settle().await;
    let text = said(&host);
    assert!(
        !text.contains("Loading"),
        "an empty snapshot is not loading: {text}"
    );
    let title = host
        .query_selector("h1")
        .unwrap()
        .expect("a title")
        .text_content()
        .unwrap_or_default();
    assert_eq!(title, "No environments yet");
    assert!(text.contains("shipwatch deploy --server "), "{text}");
    assert!(text.contains("SHIPWATCH_WRITE_TOKEN"), "{text}");
    assert!(text.contains("docs/push-api.md"), "{text}");

    // The first environment reported: the notice goes (the home page opens it).
    let summary: EnvironmentSummary = serde_json::from_value(serde_json::json!({
        "id": "production",
        "name": "production",
        "running": "RUNNING",
        "services": 1,
    }))
    .expect("a summary");
    envs.apply_changes(vec![Change::EnvironmentUpsert(summary)]);
    settle().await;
    assert!(
        host.query_selector("h1").unwrap().is_none(),
        "{}",
        said(&host)
    );
}
