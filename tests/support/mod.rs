//! Helpers shared by the component tests: mounting a view in a fresh container, letting the
//! page settle, finding elements, and services to show.
#![allow(dead_code)]

use leptos::prelude::*;
use shipwatch::components::service_table::ServiceTable;
use shipwatch::state::environment::EnvironmentState;
use shipwatch_model::protocol::Snapshot;
use shipwatch_model::{
    Deployment, DeploymentStatus, Environment, Instance, RunningStatus, Service, ServiceKind,
};
use wasm_bindgen::JsCast;

/// Mounts a view in a fresh container and returns the container.
pub fn mount<V: IntoView + 'static>(f: impl FnOnce() -> V + 'static) -> web_sys::HtmlElement {
    let doc = document();
    let host: web_sys::HtmlElement = doc.create_element("div").unwrap().unchecked_into();
    doc.body().unwrap().append_child(&host).unwrap();
    leptos::mount::mount_to(host.clone(), f).forget();
    host
}

/// Lets effects run and the DOM update.
pub async fn settle() {
    gloo_timers::future::TimeoutFuture::new(30).await;
}

/// The text of every element matching `css` under `host`, in order.
pub fn texts(host: &web_sys::Element, css: &str) -> Vec<String> {
    let list = host.query_selector_all(css).unwrap();
    (0..list.length())
        .filter_map(|i| list.item(i))
        .map(|n| n.text_content().unwrap_or_default())
        .collect()
}

/// The `attr` of every element matching `css` under `host`, in order.
pub fn attrs(host: &web_sys::Element, css: &str, attr: &str) -> Vec<String> {
    let list = host.query_selector_all(css).unwrap();
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.dyn_into::<web_sys::Element>().ok())
        .map(|e| e.get_attribute(attr).unwrap_or_default())
        .collect()
}

/// An instance; a `reason` makes it a crash-looping one.
pub fn inst(name: &str, status: RunningStatus, version: &str, reason: Option<&str>) -> Instance {
    Instance {
        name: name.into(),
        status,
        version: version.into(),
        restarts: if reason.is_some() { 4 } else { 0 },
        reason: reason.map(Into::into),
        message: reason.map(|_| "back-off restarting failed container".into()),
        started_at: Some(js_sys::Date::now() as u64 - 90_000),
        last_termination: None,
        last_restart_at: None,
        events: Vec::new(),
    }
}

/// A service of one version, with a deployment of status `dep` started a minute ago.
pub fn svc(
    id: &str,
    name: &str,
    kind: ServiceKind,
    instances: Vec<Instance>,
    dep: Option<DeploymentStatus>,
) -> Service {
    Service {
        id: id.into(),
        name: name.into(),
        kind,
        instances,
        version: "a1b2c3d4e5f6".into(),
        deployment: dep.map(|status| Deployment {
            id: format!("dep-{id}"),
            status,
            version: "e4f5a6b7c8d9".into(),
            previous_version: Some("a1b2c3d4e5f6".into()),
            started_at: js_sys::Date::now() as u64 - 60_000,
            finished_at: None,
            triggered_by: None,
            url: None,
        }),
        running_since: None,
        deployment_since: None,
    }
}

/// The one element matching `css` under `host`; panics with the selector when there is none.
pub fn query(host: &web_sys::Element, css: &str) -> web_sys::Element {
    host.query_selector(css)
        .unwrap()
        .unwrap_or_else(|| panic!("no element {css}"))
}

/// Waits for a condition checked every 20 ms, up to two seconds.
pub async fn until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..100 {
        if f() {
            return;
        }
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    panic!("timed out waiting for {what}");
}

/// One environment of 1,000 running services, `svc-0700` in error.
pub fn big_state() -> EnvironmentState {
    let st = EnvironmentState::new();
    let mut services: Vec<Service> = (0..1000)
        .map(|i| {
            let id = format!("svc-{i:04}");
            svc(
                &id,
                &id,
                ServiceKind::Application,
                vec![inst(
                    &format!("{id}-1"),
                    RunningStatus::Running,
                    "a1b2c3d4e5f6",
                    None,
                )],
                Some(DeploymentStatus::DeploymentOk),
            )
        })
        .collect();
    services[700].instances[0].status = RunningStatus::Error;
    st.apply_snapshot(Snapshot::Environment {
        environment: Environment {
            id: "big".into(),
            name: "big".into(),
            deployment: None,
            services,
        },
    });
    st
}

/// Mounts the service table of environment `env` (with the app's location, as in the app).
pub fn mount_table(
    env: &'static str,
    state: EnvironmentState,
    expanded: impl Into<Signal<Option<String>>>,
) -> web_sys::HtmlElement {
    let expanded = expanded.into();
    mount(move || {
        shipwatch::router::Location::start();
        view! { <ServiceTable env_id=Signal::derive(move || env.to_string()) state expanded /> }
    })
}

/// Scrolls the big table (see [`big_state`]) in `host` to its end, waits for its last row,
/// scrolls back to its top and waits until the rendered rows' ids satisfy `at_top`.
pub async fn scroll_to_end_and_back(host: &web_sys::Element, at_top: impl Fn(&[String]) -> bool) {
    let rows = || attrs(host, "tr.service-row", "data-service");
    let table = query(host, "table.services");
    let top = table.get_bounding_client_rect().top() + window().scroll_y().unwrap();
    let bottom = table.get_bounding_client_rect().bottom() + window().scroll_y().unwrap();
    window().scroll_to_with_x_and_y(0.0, bottom);
    until("the end of the table", || {
        rows().last().map(String::as_str) == Some("svc-0999")
    })
    .await;
    window().scroll_to_with_x_and_y(0.0, top);
    until("the top of the table", || at_top(&rows())).await;
}

/// The app's first-load stylesheets.
const STYLES: &str = concat!(
    include_str!("../../style/main.css"),
    include_str!("../../style/log_viewer.css")
);

/// The app's stylesheets, so rows have their real fixed height and the scroller its size.
pub fn install_styles() {
    let doc = document();
    if doc.get_element_by_id("test-styles").is_some() {
        return;
    }
    let style = doc.create_element("style").unwrap();
    style.set_id("test-styles");
    style.set_text_content(Some(STYLES));
    doc.head().unwrap().append_child(&style).unwrap();
}

/// Mounts a view in a frame `width` px wide with the app's stylesheets, and returns the
/// frame's document. The frame is a viewport of its own, so the stylesheets' width media
/// queries (the phone layout) apply inside it as on a phone of that width.
pub async fn mount_in_frame<V: IntoView + 'static>(
    width: u32,
    f: impl FnOnce() -> V + 'static,
) -> web_sys::Document {
    let frame = document().create_element("iframe").unwrap();
    frame
        .set_attribute(
            "style",
            &format!("width:{width}px;height:740px;border:0;display:block"),
        )
        .unwrap();
    // A document with a doctype, so the frame lays out in standards mode as the app does.
    frame
        .set_attribute(
            "srcdoc",
            "<!DOCTYPE html><html><head></head><body></body></html>",
        )
        .unwrap();
    document().body().unwrap().append_child(&frame).unwrap();
    let doc = || -> Option<web_sys::Document> {
        let doc = js_sys::Reflect::get(&frame, &"contentDocument".into()).ok()?;
        // The frame's objects are of its own realm: `instanceof` against ours would say no.
        let doc: web_sys::Document =
            (!doc.is_null() && !doc.is_undefined()).then(|| doc.unchecked_into())?;
        (doc.ready_state() == "complete" && doc.compat_mode() == "CSS1Compat").then_some(doc)
    };
    until("the frame's document", || doc().is_some()).await;
    let doc = doc().unwrap();
    let style = doc.create_element("style").unwrap();
    style.set_text_content(Some(STYLES));
    doc.head().unwrap().append_child(&style).unwrap();
    let host: web_sys::HtmlElement = doc.create_element("div").unwrap().unchecked_into();
    doc.body().unwrap().append_child(&host).unwrap();
    leptos::mount::mount_to(host, f).forget();
    doc
}

/// A server frame's text, as the server encodes it.
pub fn server_frame(msg: shipwatch_model::protocol::ServerMessage) -> String {
    use shipwatch_model::protocol::{encode, ServerFrame};
    encode(&ServerFrame::new(msg))
}

/// The snapshot, numbered 10, of an environment `env` with no service, for subscription `sub`.
pub fn empty_env_snapshot(sub: &str, env: &str) -> String {
    server_frame(shipwatch_model::protocol::ServerMessage::Snapshot {
        sub: sub.into(),
        seq: 10,
        data: Snapshot::Environment {
            environment: Environment {
                id: env.into(),
                name: env.into(),
                services: Vec::new(),
                deployment: None,
            },
        },
    })
}
