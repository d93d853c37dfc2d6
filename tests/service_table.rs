//! Component tests in headless Chromium: the service table and its instances, sorting, the
//! trouble filter, and the tab's status icon.
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use shipwatch::components::tab_status::{favicon_svg, tab_title};
use shipwatch::state::environment::EnvironmentState;
use shipwatch_model::protocol::Snapshot;
use shipwatch_model::{DeploymentStatus, Environment, RunningStatus, ServiceKind};
use std::collections::HashSet;
use support::{
    attrs, big_state, inst, mount, mount_table, query, scroll_to_end_and_back, settle, svc, texts,
    until,
};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// production: "web" running, "api" mid-rollout with a crash-looping new instance, a job done.
fn state() -> EnvironmentState {
    let state = EnvironmentState::new();
    state.apply_snapshot(Snapshot::Environment {
        environment: Environment {
            id: "production".into(),
            name: "production".into(),
            deployment: None,
            services: vec![
                svc(
                    "web",
                    "Web front",
                    ServiceKind::Application,
                    vec![inst("web-1", RunningStatus::Running, "a1b2c3d4e5f6", None)],
                    Some(DeploymentStatus::DeploymentOk),
                ),
                svc(
                    "migrate",
                    "DB migrate",
                    ServiceKind::LifecycleJob,
                    vec![
                        inst("migrate-1", RunningStatus::Completed, "a1b2c3d4e5f6", None),
                        inst("migrate-2", RunningStatus::Completed, "a1b2c3d4e5f6", None),
                    ],
                    None,
                ),
                svc(
                    "api",
                    "API",
                    ServiceKind::Application,
                    vec![
                        inst("api-1", RunningStatus::Running, "a1b2c3d4e5f6", None),
                        inst("api-2", RunningStatus::Running, "a1b2c3d4e5f6", None),
                        inst(
                            "api-1",
                            RunningStatus::Error,
                            "e4f5a6b7c8d9",
                            Some("CrashLoopBackOff"),
                        ),
                    ],
                    Some(DeploymentStatus::DeploymentError),
                ),
            ],
        },
    });
    state
}

#[wasm_bindgen_test]
async fn mixed_instances_show_warning_with_the_failing_reason_and_trouble_first() {
    let st = state();
    let expanded = RwSignal::new(None::<String>);
    let host = mount_table("production", st, expanded);
    settle().await;
    let rows = attrs(&host, "tr.service-row", "data-service");
    assert_eq!(
        rows,
        ["api", "web", "migrate"],
        "sorted by status, trouble first"
    );
    let api_dot = host
        .query_selector("tr[data-service=api] [role=img]")
        .unwrap()
        .unwrap();
    assert_eq!(
        api_dot.get_attribute("aria-label").unwrap(),
        "Running status: WARNING"
    );
    // Focus opens the tooltip (its content is rendered only while open).
    let open = js_sys::Function::new_with_args(
        "el",
        "el.dispatchEvent(new FocusEvent('focusin', {bubbles: true}))",
    );
    open.call1(&wasm_bindgen::JsValue::NULL, &api_dot).unwrap();
    settle().await;
    let tip = document()
        .get_element_by_id(&api_dot.get_attribute("aria-describedby").unwrap())
        .unwrap()
        .text_content()
        .unwrap();
    assert!(
        tip.contains("1 of 3 instances in error: api-1 (CrashLoopBackOff)"),
        "{tip}"
    );
    assert!(
        tip.contains("old version a1b2c3d is still serving on 2 instances"),
        "{tip}"
    );
    assert_eq!(
        texts(&host, ".service-row__instances"),
        ["2/3 running", "1/1 running", "2/2 completed"],
        "jobs count completed executions"
    );
    assert_eq!(
        texts(&host, ".services-toolbar__count"),
        ["3 services, 1 in trouble"]
    );

    // Sorting by name: the header says so.
    let name_header = host
        .query_selector("thead th:nth-child(1)")
        .unwrap()
        .unwrap();
    assert_eq!(
        name_header.get_attribute("aria-sort").as_deref(),
        Some("none")
    );
    name_header
        .query_selector("button")
        .unwrap()
        .unwrap()
        .unchecked_into::<web_sys::HtmlElement>()
        .click();
    settle().await;
    assert_eq!(
        name_header.get_attribute("aria-sort").as_deref(),
        Some("ascending")
    );
    assert_eq!(
        attrs(&host, "tr.service-row", "data-service"),
        ["api", "migrate", "web"]
    );

    // Only the services in trouble.
    host.query_selector("button.chip")
        .unwrap()
        .unwrap()
        .unchecked_into::<web_sys::HtmlElement>()
        .click();
    settle().await;
    assert_eq!(attrs(&host, "tr.service-row", "data-service"), ["api"]);

    // Expanded: both versions, labelled, with the failing instance's reason.
    expanded.set(Some("api".into()));
    settle().await;
    let headings = texts(&host, ".instances__heading");
    assert_eq!(
        headings,
        [
            "New version e4f5a6b · deployment failed",
            "Old version a1b2c3d still serving"
        ]
    );
    let button = host
        .query_selector("tr[data-service=api] button.disclosure")
        .unwrap()
        .unwrap();
    assert_eq!(
        button.get_attribute("aria-expanded").as_deref(),
        Some("true")
    );
    let reason = texts(&host, ".instances__group--new .instance__reason");
    assert_eq!(
        reason,
        ["CrashLoopBackOffback-off restarting failed container"]
    );
}

#[wasm_bindgen_test]
async fn a_status_change_repaints_its_row_in_place() {
    let st = state();
    let host = mount_table("production", st, None::<String>);
    settle().await;
    let web_row = query(&host, "tr[data-service=web]");
    let mut web = st.service("web").unwrap().get_untracked();
    web.instances[0].status = RunningStatus::Error;
    web.instances[0].reason = Some("OOMKilled".into());
    let notices = st
        .apply_changes(vec![shipwatch_model::protocol::Change::ServiceUpsert(web)])
        .notices;
    assert_eq!(notices.len(), 1, "entering ERROR is announced");
    assert!(
        notices[0].text.starts_with("Web front: ERROR"),
        "{}",
        notices[0].text
    );
    settle().await;
    let same_row = query(&host, "tr[data-service=web]");
    assert!(
        web_row.is_same_node(Some(&same_row)),
        "the row is updated, not rebuilt"
    );
    assert_eq!(
        attrs(&host, "tr[data-service=web] [role=img]", "aria-label"),
        ["Running status: ERROR"]
    );
    // The order follows on an animation frame.
    until("ERROR to come first", || {
        attrs(&host, "tr.service-row", "data-service")[0] == "web"
    })
    .await;
}

/// Counts, per animation frame, the service rows put into the table (built, or moved to
/// another place), and every service whose row was put in; read with [`moves`].
fn watch_row_moves(host: &web_sys::Element) {
    let watch = js_sys::Function::new_with_args(
        "table",
        "const w = {rows: new Set(), frames: [], now: 0};         new MutationObserver(records => { for (const r of records) for (const n of r.addedNodes) {           const row = n.nodeType === 1 && n.querySelector && n.querySelector('tr.service-row');           if (row) { w.rows.add(row.dataset.service); w.now += 1; w.log = (w.log || '') + ' ' + w.frames.length + ':' + row.dataset.service + (r.removedNodes.length ? '-' + r.removedNodes.length : ''); } } })           .observe(table, {childList: true});         const frame = () => { w.frames.push(w.now); w.now = 0; w.raf = requestAnimationFrame(frame); };         w.raf = requestAnimationFrame(frame);         window.__rowMoves = w;",
    );
    watch
        .call1(&wasm_bindgen::JsValue::NULL, &query(host, "table.services"))
        .unwrap();
}

/// The services whose rows were put in since [`watch_row_moves`], sorted, and the most rows
/// put in during one frame.
fn moves() -> (Vec<String>, u32) {
    let read = js_sys::Function::new_no_args(
        "const w = window.__rowMoves; return [[...w.rows].sort(), Math.max(0, w.now, ...w.frames)];",
    );
    let v = read.call0(&wasm_bindgen::JsValue::NULL).unwrap();
    let pair: js_sys::Array = v.unchecked_into();
    let rows: js_sys::Array = pair.get(0).unchecked_into();
    let rows = rows.iter().filter_map(|r| r.as_string()).collect();
    (rows, pair.get(1).as_f64().unwrap_or(0.0) as u32)
}

fn set_status(st: EnvironmentState, ids: &[String], status: RunningStatus) {
    let changes = ids
        .iter()
        .map(|id| {
            let mut s = st.service(id).unwrap().get_untracked();
            s.instances[0].status = status;
            shipwatch_model::protocol::Change::ServiceUpsert(s)
        })
        .collect();
    st.apply_changes(changes);
}

#[wasm_bindgen_test]
async fn a_re_sort_moves_only_the_rows_whose_place_changed() {
    let st = big_state();
    let host = mount_table("big", st, None::<String>);
    let rows = || attrs(&host, "tr.service-row", "data-service");
    until("the rows", || rows().len() > 10).await;
    // The rows around the screen come with the first measure.
    for _ in 0..4 {
        settle().await;
    }
    watch_row_moves(&host);
    // svc-0005 enters ERROR: it goes first (before svc-0700, by name); the rows it passes
    // keep their places relative to each other and are not moved.
    set_status(st, &["svc-0005".into()], RunningStatus::Error);
    until("svc-0005 to come first", || {
        rows()[..2] == ["svc-0005", "svc-0700"]
    })
    .await;
    let log = js_sys::eval("window.__rowMoves.log").unwrap().as_string();
    assert_eq!(
        moves().0,
        ["svc-0005"],
        "only the row whose place changed moved: {log:?}"
    );
    assert_eq!(rows()[2..5], ["svc-0000", "svc-0001", "svc-0002"]);
    // Built anew in its place, the row goes on with the highlight its status change began.
    assert!(
        query(&host, "tr[data-service=svc-0005]")
            .class_list()
            .contains("service-row--flash"),
        "the moved row is still highlighted"
    );
}

#[wasm_bindgen_test]
async fn a_storm_of_changes_moves_a_few_rows_a_frame_and_settles_in_order() {
    let st = big_state();
    let host = mount_table("big", st, None::<String>);
    let rows = || attrs(&host, "tr.service-row", "data-service");
    until("the rows", || rows().len() > 10).await;
    for _ in 0..4 {
        settle().await;
    }
    watch_row_moves(&host);
    // 60 services below the screen enter ERROR at once: all of them belong on top.
    let storm: Vec<String> = (300..360).map(|i| format!("svc-{i:04}")).collect();
    set_status(st, &storm, RunningStatus::Error);
    until("the storm's services on top, in order", || {
        rows().get(..8) == storm.get(..8)
    })
    .await;
    let (moved, most_in_a_frame) = moves();
    // One row moves on screen a frame (the keyed list may move its neighbour too).
    assert!(
        most_in_a_frame <= 2,
        "at most 2 rows put in a frame, not {most_in_a_frame}"
    );
    assert!(moved.iter().all(|id| storm.contains(id)), "{moved:?}");
}

#[wasm_bindgen_test]
async fn an_instance_update_repaints_its_row_and_one_out_of_step_stops_the_batch() {
    use shipwatch_model::protocol::Change;
    let st = state();
    let host = mount_table("production", st, None::<String>);
    settle().await;
    let web_row = query(&host, "tr[data-service=web]");
    let before = st.service("web").unwrap().get_untracked();
    let mut crashed = before.instances[0].clone();
    crashed.status = RunningStatus::Error;
    crashed.reason = Some("OOMKilled".into());
    let applied = st.apply_changes(vec![Change::InstanceUpdate {
        service: "web".into(),
        index: 0,
        instance: crashed.clone(),
        running_since: None,
        events_added: None,
    }]);
    assert!(applied.out_of_step.is_none());
    assert_eq!(applied.notices.len(), 1, "entering ERROR is announced");
    let after = st.service("web").unwrap().get_untracked();
    let mut expected = before.clone();
    expected.instances[0] = crashed.clone();
    assert_eq!(after, expected, "that instance changed, nothing else");
    settle().await;
    let same_row = query(&host, "tr[data-service=web]");
    assert!(web_row.is_same_node(Some(&same_row)), "updated in place");
    assert_eq!(
        attrs(&host, "tr[data-service=web] [role=img]", "aria-label"),
        ["Running status: ERROR"]
    );

    // An instance this page does not have: the batch stops there, what came before stays
    // applied, what came after is left to the fresh snapshot.
    let mut back = crashed.clone();
    back.status = RunningStatus::Running;
    back.reason = None;
    let past_the_end = after.instances.len() as u32;
    let applied = st.apply_changes(vec![
        Change::ServiceRemoved {
            id: "migrate".into(),
        },
        Change::InstanceUpdate {
            service: "web".into(),
            index: past_the_end,
            instance: back.clone(),
            running_since: None,
            events_added: None,
        },
        Change::InstanceUpdate {
            service: "web".into(),
            index: 0,
            instance: back,
            running_since: None,
            events_added: None,
        },
    ]);
    let reason = applied.out_of_step.expect("out of step");
    assert!(reason.contains("`web`"), "{reason}");
    assert!(
        st.service("migrate").is_none(),
        "the change before it is applied"
    );
    assert_eq!(
        st.service("web").unwrap().get_untracked(),
        after,
        "the one after it is not"
    );
}

#[wasm_bindgen_test]
fn the_tab_shows_the_status_in_its_title_and_a_distinct_icon() {
    assert_eq!(
        tab_title("staging", RunningStatus::Warning, true),
        "⚠ staging · Shipwatch"
    );
    assert!(tab_title("staging", RunningStatus::Running, false).contains("(not live)"));
    let icons: HashSet<String> = RunningStatus::ALL.iter().map(|s| favicon_svg(*s)).collect();
    assert_eq!(icons.len(), RunningStatus::ALL.len(), "one icon per status");
}

#[wasm_bindgen_test]
async fn a_thousand_services_keep_only_the_rows_near_the_screen_in_the_page() {
    let st = big_state();
    let host = mount_table("big", st, None::<String>);
    settle().await;
    let rows = || attrs(&host, "tr.service-row", "data-service");
    let first = rows();
    assert!(
        !first.is_empty() && first.len() < 100,
        "{} rows in the DOM for 1,000 services",
        first.len()
    );
    assert_eq!(first[0], "svc-0700", "the service in error comes first");
    let table = host.query_selector("table.services").unwrap().unwrap();
    assert_eq!(
        table.get_attribute("aria-rowcount").as_deref(),
        Some("1001")
    );
    assert_eq!(
        attrs(&host, "tr.service-row", "aria-rowindex")[..2],
        ["2", "3"],
        "rows say where they are in the whole table"
    );
    assert_eq!(
        texts(&host, ".services-toolbar__count"),
        ["1,000 services, 1 in trouble"]
    );

    // Scrolling the page to the table's end brings its last rows in, and only them.
    let bottom = table.get_bounding_client_rect().bottom() + window().scroll_y().unwrap();
    window().scroll_to_with_x_and_y(0.0, bottom);
    until("the last service to be rendered", || {
        rows().last().map(String::as_str) == Some("svc-0999")
    })
    .await;
    let last = rows();
    assert!(last.len() < 100, "{} rows after scrolling", last.len());
    assert!(
        !last.contains(&"svc-0700".to_string()),
        "the top rows left the DOM"
    );
    let index = attrs(&host, "tr[data-service=svc-0999]", "aria-rowindex");
    assert_eq!(index, ["1001"]);

    // A change to a rendered row shows at once, in place.
    let mut s = st.service("svc-0999").unwrap().get_untracked();
    let mut second = s.instances[0].clone();
    second.name = "svc-0999-2".into();
    s.instances.push(second);
    st.apply_changes(vec![shipwatch_model::protocol::Change::ServiceUpsert(s)]);
    settle().await;
    assert_eq!(
        texts(&host, "tr[data-service=svc-0999] .service-row__instances"),
        ["2/2 running"]
    );

    // The name filter finds a service that is not in the DOM.
    window().scroll_to_with_x_and_y(0.0, 0.0);
    let filter: web_sys::HtmlInputElement = host
        .query_selector("input[aria-label='Filter services by name']")
        .unwrap()
        .unwrap()
        .unchecked_into();
    filter.set_value("SVC-0123");
    filter
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    until("the filter to apply", || rows() == ["svc-0123"]).await;
    assert_eq!(
        texts(&host, ".services-toolbar__count"),
        ["1,000 services, 1 in trouble (1 shown)"]
    );

    // Beyond ASCII, the filter ignores case as Unicode does (the browser lowercases).
    let mut s = st.service("svc-0456").unwrap().get_untracked();
    s.name = "ÅNGSTRÖM-Ξ".into();
    st.apply_changes(vec![shipwatch_model::protocol::Change::ServiceUpsert(s)]);
    filter.set_value("ångström-ξ");
    filter
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    until("the non-ASCII filter to apply", || rows() == ["svc-0456"]).await;
    window().scroll_to_with_x_and_y(0.0, 0.0);
}

#[wasm_bindgen_test]
async fn the_live_region_announces_a_few_changes_and_summarises_a_storm() {
    use shipwatch::components::announcements::LiveRegion;
    use shipwatch::state::announcer::Announcer;
    use shipwatch_model::triage::Notice;
    let announcer = Announcer::new();
    let host = mount(move || {
        provide_context(announcer);
        view! { <LiveRegion /> }
    });
    let notice = |text: &str, finished: bool| Notice {
        text: text.into(),
        deployment_finished: finished,
    };
    announcer.announce_batch(
        "production",
        &[notice("api: ERROR (1 of 1 instance in error)", false)],
    );
    settle().await;
    let region = host.query_selector("[role=status]").unwrap().unwrap();
    assert_eq!(
        texts(&region, ".announcements__item"),
        ["production · api: ERROR (1 of 1 instance in error)"]
    );
    let storm: Vec<Notice> = (0..40)
        .map(|i| notice(&format!("svc-{i}: ERROR"), i % 4 == 0))
        .collect();
    announcer.announce_batch("production", &storm);
    settle().await;
    let items = texts(&region, ".announcements__item");
    assert_eq!(items.len(), 2, "one summary, not forty lines: {items:?}");
    assert_eq!(
        items[1],
        "production · 10 deployments finished, 30 services entered ERROR"
    );
}

#[wasm_bindgen_test]
async fn a_long_session_of_scrolling_keeps_the_rows_and_the_expanded_service_right() {
    let st = big_state();
    let expanded = RwSignal::new(None::<String>);
    let host = mount_table("big", st, expanded);
    settle().await;
    let rows = || attrs(&host, "tr.service-row", "data-service");
    // Each trip to the end and back renders about two screenfuls of new rows: enough trips
    // for rows to be owned by several generations of owners (see keyed_list.rs).
    for _ in 0..40 {
        scroll_to_end_and_back(&host, |rows| {
            rows.first().map(String::as_str) == Some("svc-0700")
        })
        .await;
    }
    let shown = rows();
    assert!(shown.len() < 100, "{} rows", shown.len());
    let unique: HashSet<&String> = shown.iter().collect();
    assert_eq!(unique.len(), shown.len(), "no row twice: {shown:?}");
    // The open flags survived the rebuilds: expanding a shown service opens its row.
    expanded.set(Some("svc-0001".into()));
    until("svc-0001 to open", || {
        attrs(
            &host,
            "tr[data-service=svc-0001] button.disclosure",
            "aria-expanded",
        ) == ["true"]
    })
    .await;
    expanded.set(None);
    until("svc-0001 to close", || {
        attrs(
            &host,
            "tr[data-service=svc-0001] button.disclosure",
            "aria-expanded",
        ) == ["false"]
    })
    .await;
    window().scroll_to_with_x_and_y(0.0, 0.0);
}
