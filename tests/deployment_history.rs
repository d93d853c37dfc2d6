//! The deployment history's merge (pages from the server with what the environment topic
//! shows live), its filters in the URL, and the table that shows it: rows change in place,
//! new ones come on top, running ones count up. In headless Chromium.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use shipwatch::components::deployment_list::DeploymentTable;
use shipwatch::state::deployment_history::{
    duration_text, safe_link, Filters, History, HistoryEntry, HistoryPage, Observed, Stage,
    StageOutcome, StatusFilter,
};
use shipwatch_model::{Deployment, DeploymentStatus};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn dep(id: &str, status: DeploymentStatus, started_at: u64) -> Deployment {
    Deployment {
        id: id.into(),
        status,
        version: format!("v-{id}"),
        previous_version: Some("v0".into()),
        started_at,
        finished_at: (!status.in_progress()).then_some(started_at + 65_000),
        triggered_by: Some("alice".into()),
        url: None,
    }
}

fn entry(id: &str, service: &str, status: DeploymentStatus, cursor: u64) -> HistoryEntry {
    HistoryEntry {
        environment: "production".into(),
        service: Some(service.into()),
        deployment: dep(id, status, 1_000 * cursor),
        stages: vec![Stage {
            name: "build".into(),
            started_at: 1_000 * cursor,
            finished_at: None,
            outcome: StageOutcome::of_last(status),
        }],
        log_removed: false,
        cursor: Some(cursor.to_string()),
    }
}

fn ids(h: &History) -> Vec<&str> {
    h.entries.iter().map(|e| e.deployment.id.as_str()).collect()
}

fn page(entries: Vec<HistoryEntry>, next: Option<&str>) -> HistoryPage {
    HistoryPage {
        deployments: entries,
        next: next.map(str::to_string),
        in_memory_since: None,
    }
}

#[wasm_bindgen_test]
fn pages_and_live_deployments_merge_newest_first_each_once() {
    let ok = DeploymentStatus::DeploymentOk;
    let mut h = History::default();
    h.merge_head(page(
        vec![entry("d5", "api", ok, 5), entry("d4", "web", ok, 4)],
        Some("4"),
    ));
    assert!(h.loaded);
    assert_eq!(ids(&h), ["d5", "d4"]);
    assert_eq!(h.next.as_deref(), Some("4"));

    // A new deployment seen live goes on top, before the server's page knows it.
    let f = Filters::default();
    let live = dep("d6", DeploymentStatus::Building, 6_000);
    assert_eq!(
        h.observe("production", Some("api"), &live, &f),
        Observed::New
    );
    assert_eq!(ids(&h), ["d6", "d5", "d4"]);
    assert_eq!(
        h.observe("production", Some("api"), &live, &f),
        Observed::Same
    );

    // Its status changes in place; its last stage follows.
    let mut failed = live.clone();
    failed.status = DeploymentStatus::BuildingError;
    failed.finished_at = Some(9_000);
    h.entries[0].stages = vec![Stage {
        name: "build".into(),
        started_at: 6_000,
        finished_at: None,
        outcome: StageOutcome::Running,
    }];
    assert_eq!(
        h.observe("production", Some("api"), &failed, &f),
        Observed::Changed
    );
    assert_eq!(ids(&h), ["d6", "d5", "d4"]);
    assert_eq!(
        h.entries[0].deployment.status,
        DeploymentStatus::BuildingError
    );
    assert_eq!(h.entries[0].stages[0].outcome, StageOutcome::Failed);

    // The newest page fetched again gives it its place and stages; nothing doubles, and the
    // older-page cursor of the first load stays.
    h.merge_head(page(
        vec![
            entry("d7", "web", ok, 7),
            entry("d6", "api", DeploymentStatus::BuildingError, 6),
        ],
        Some("6"),
    ));
    assert_eq!(ids(&h), ["d7", "d6", "d5", "d4"]);
    assert_eq!(h.entries[1].cursor.as_deref(), Some("6"));
    assert_eq!(h.next.as_deref(), Some("4"));

    // An older page goes below; overlapping entries count once.
    h.merge_older(page(
        vec![entry("d4", "web", ok, 4), entry("d3", "api", ok, 3)],
        None,
    ));
    assert_eq!(ids(&h), ["d7", "d6", "d5", "d4", "d3"]);
    assert_eq!(h.next, None);
}

#[wasm_bindgen_test]
fn live_deployments_the_filters_exclude_stay_out() {
    let mut h = History::default();
    h.merge_head(page(vec![], None));
    let f = Filters {
        service: Some("api".into()),
        status: StatusFilter::Failed,
    };
    let web_failed = dep("w1", DeploymentStatus::DeploymentError, 1);
    let api_running = dep("a1", DeploymentStatus::Deploying, 2);
    let api_failed = dep("a2", DeploymentStatus::BuildingError, 3);
    assert_eq!(
        h.observe("production", Some("web"), &web_failed, &f),
        Observed::Ignored
    );
    assert_eq!(
        h.observe("production", Some("api"), &api_running, &f),
        Observed::Ignored
    );
    assert_eq!(
        h.observe("production", Some("api"), &api_failed, &f),
        Observed::New
    );
    assert_eq!(ids(&h), ["a2"]);
    // An environment-wide deployment is no service's.
    assert_eq!(
        h.observe(
            "production",
            None,
            &dep("e1", DeploymentStatus::BuildingError, 4),
            &f
        ),
        Observed::Ignored
    );
}

#[wasm_bindgen_test]
fn filters_live_in_the_url_and_ask_the_server_in_its_words() {
    let f = Filters::from_query("?service=api&status=failed&token=x");
    assert_eq!(f.service.as_deref(), Some("api"));
    assert_eq!(f.status, StatusFilter::Failed);
    assert_eq!(f.to_query(false), "?service=api&status=failed");
    assert_eq!(f.to_query(true), "?status=failed", "a service's own list");
    assert_eq!(
        f.api_query(Some("42"), 30),
        "limit=30&service=api&status=BUILDING_ERROR,DEPLOYMENT_ERROR&before=42"
    );
    let odd = Filters::from_query("?service=a%26b%20c&status=bogus");
    assert_eq!(odd.service.as_deref(), Some("a&b c"));
    assert_eq!(odd.status, StatusFilter::Any);
    assert_eq!(odd.to_query(false), "?service=a%26b%20c");
    assert_eq!(Filters::default().to_query(false), "");
    assert_eq!(Filters::default().api_query(None, 5), "limit=5");
}

#[wasm_bindgen_test]
fn only_web_links_are_followed_and_durations_read_as_people_write_them() {
    assert_eq!(
        safe_link("https://ci.example/job/1"),
        Some("https://ci.example/job/1")
    );
    assert_eq!(safe_link("HTTP://ci.example"), Some("HTTP://ci.example"));
    assert_eq!(safe_link("javascript:alert(1)"), None);
    assert_eq!(safe_link(" data:text/html,x"), None);
    let mut d = dep("x", DeploymentStatus::Building, 10_000);
    assert_eq!(duration_text(&d, 52_000.0), "42s");
    assert_eq!(duration_text(&d, 195_000.0), "3m 05s");
    d.finished_at = Some(10_000 + 3_720_000);
    assert_eq!(duration_text(&d, 0.0), "1h 02m");
}

/// Mounts a view in a fresh container and returns the container.
fn mount<V: IntoView + 'static>(f: impl FnOnce() -> V + 'static) -> web_sys::HtmlElement {
    let doc = document();
    let host: web_sys::HtmlElement = doc.create_element("div").unwrap().unchecked_into();
    doc.body().unwrap().append_child(&host).unwrap();
    leptos::mount::mount_to(host.clone(), f).forget();
    host
}

async fn settle() {
    gloo_timers::future::TimeoutFuture::new(30).await;
}

fn rows(host: &web_sys::Element) -> Vec<web_sys::Element> {
    let list = host.query_selector_all("tr.deployment-row").unwrap();
    (0..list.length())
        .map(|i| list.item(i).unwrap().unchecked_into())
        .collect()
}

fn text(el: &web_sys::Element, css: &str) -> String {
    el.query_selector(css)
        .unwrap()
        .unwrap_or_else(|| panic!("no {css}"))
        .text_content()
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn the_table_changes_rows_in_place_and_counts_running_ones_up() {
    let history = RwSignal::new(History::default());
    let now = RwSignal::new(20_000.0);
    let no_service = Signal::derive(|| None::<String>);
    let caption = Signal::derive(|| "Deployments".to_string());
    let host = mount(move || {
        view! { <DeploymentTable history now fixed_service=no_service caption /> }
    });
    history.update(|h| {
        h.merge_head(page(
            vec![entry("d2", "api", DeploymentStatus::DeploymentOk, 2)],
            None,
        ))
    });
    settle().await;
    let first = rows(&host);
    assert_eq!(first.len(), 1);
    assert_eq!(
        first[0].get_attribute("data-status").as_deref(),
        Some("DEPLOYMENT OK")
    );
    // The label opens the deployment's log.
    let label = first[0]
        .query_selector("a.label")
        .unwrap()
        .expect("a label");
    assert_eq!(
        label.get_attribute("href").as_deref(),
        Some("/env/production/service/api/deployments/d2/logs")
    );

    // A deployment seen live comes on top; it counts up while it runs.
    let running = dep("d3", DeploymentStatus::Deploying, 10_000);
    history.update(|h| {
        h.observe("production", Some("api"), &running, &Filters::default());
    });
    settle().await;
    let two = rows(&host);
    assert_eq!(two.len(), 2);
    assert_eq!(
        two[0].get_attribute("data-deployment").as_deref(),
        Some("d3")
    );
    assert!(
        two[1].is_same_node(Some(&first[0])),
        "the older row keeps its DOM"
    );
    assert_eq!(text(&two[0], ".deployment-row__duration"), "10s so far");
    now.set(75_000.0);
    settle().await;
    assert_eq!(text(&two[0], ".deployment-row__duration"), "1m 05s so far");

    // It ends: the same row says so.
    let mut done = running.clone();
    done.status = DeploymentStatus::DeploymentOk;
    done.finished_at = Some(100_000);
    history.update(|h| {
        h.observe("production", Some("api"), &done, &Filters::default());
    });
    settle().await;
    let after = rows(&host);
    assert!(after[0].is_same_node(Some(&two[0])), "changed in place");
    assert_eq!(
        after[0].get_attribute("data-status").as_deref(),
        Some("DEPLOYMENT OK")
    );
    assert_eq!(text(&after[0], ".deployment-row__duration"), "1m 30s");
    assert!(text(&after[0], ".deployment-row__version").contains("v-d3"));
    assert!(text(&after[0], ".deployment-row__trigger").contains("alice"));
}
