//! The service table: one keyed row group per service (a change repaints its own row only),
//! sortable by status (trouble first) and by name, with a filter for the services in trouble
//! and a disclosure per service that shows its instances.

use super::deployment_label::DeploymentLabel;
use super::instance_list::InstanceList;
use super::status_dot::StatusDot;
use crate::routes;
use crate::state::clock::Clock;
use crate::state::environment::EnvironmentState;
use crate::time_format::{absolute, age, relative};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use shipwatch_model::instances::{instance_count, old_version_serving, short_version};
use shipwatch_model::rules::service_running;
use shipwatch_model::triage::{in_trouble, trouble_rank};
use shipwatch_model::{RunningStatus, Service};

/// What the table is sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// Trouble first: ERROR, WARNING, failed deployments, transitions, then the calm ones.
    Status,
    /// Alphabetical.
    Name,
}

/// The rows in display order and how many services are in trouble.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rows {
    ids: Vec<String>,
    trouble: usize,
    total: usize,
}

/// The table of an environment's services. `expanded` is the service whose instances show
/// (from the URL).
#[component]
pub fn ServiceTable(
    env_id: Signal<String>,
    state: EnvironmentState,
    #[prop(into)] expanded: Signal<Option<String>>,
) -> impl IntoView {
    let sort = RwSignal::new((SortKey::Status, true));
    let only_trouble = RwSignal::new(false);
    // O(n log n) per animation frame with changes; the keyed <For> then moves only the rows
    // whose place changed.
    let rows = Memo::new(move |_| {
        let (key, ascending) = sort.get();
        let filter = only_trouble.get();
        state.services.with(|m| {
            state.order.with(|order| {
                let mut keyed: Vec<(u8, bool, String, &String)> = order
                    .iter()
                    .filter_map(|id| m.get(id).map(|s| (id, s)))
                    .map(|(id, s)| {
                        s.with(|s| {
                            let running = service_running(s).status;
                            let dep = s.deployment.as_ref().map(|d| d.status);
                            (
                                trouble_rank(running, dep),
                                in_trouble(running, dep),
                                s.name.to_lowercase(),
                                id,
                            )
                        })
                    })
                    .collect();
                let total = keyed.len();
                let trouble = keyed.iter().filter(|k| k.1).count();
                match key {
                    SortKey::Status => keyed.sort_by(|a, b| (a.0, &a.2).cmp(&(b.0, &b.2))),
                    SortKey::Name => keyed.sort_by(|a, b| a.2.cmp(&b.2)),
                }
                if !ascending {
                    keyed.reverse();
                }
                let ids = keyed
                    .into_iter()
                    .filter(|k| !filter || k.1)
                    .map(|k| k.3.clone())
                    .collect();
                Rows {
                    ids,
                    trouble,
                    total,
                }
            })
        })
    });
    let header = move |key: SortKey, label: &'static str| {
        let aria_sort = move || {
            let (k, asc) = sort.get();
            if k != key {
                "none"
            } else if asc {
                "ascending"
            } else {
                "descending"
            }
        };
        let click = move |_| {
            sort.update(|(k, asc)| {
                if *k == key {
                    *asc = !*asc;
                } else {
                    *k = key;
                    *asc = true;
                }
            })
        };
        let hint = match key {
            SortKey::Status => "Sort by status, services in trouble first",
            SortKey::Name => "Sort by name",
        };
        view! {
            <th scope="col" aria-sort=aria_sort class="services__sortable">
                <button type="button" class="sort" on:click=click title=hint>
                    {label}
                    <span class="sort__arrow" aria-hidden="true">
                        {move || match sort.get() {
                            (k, true) if k == key => "▲",
                            (k, false) if k == key => "▼",
                            _ => "↕",
                        }}
                    </span>
                </button>
            </th>
        }
    };
    view! {
        <div class="services-toolbar">
            <h2 class="services-toolbar__title">"Services"</h2>
            <p class="services-toolbar__count">
                {move || rows.with(|r| {
                    let n = r.trouble;
                    match n {
                        0 => format!("{} services, none in trouble", r.total),
                        1 => format!("{} services, 1 in trouble", r.total),
                        _ => format!("{} services, {n} in trouble", r.total),
                    }
                })}
            </p>
            <button
                type="button"
                class="chip"
                class:chip--trouble=move || rows.with(|r| r.trouble > 0)
                aria-pressed=move || only_trouble.get().to_string()
                on:click=move |_| only_trouble.update(|v| *v = !*v)
            >
                "Only services in trouble"
            </button>
        </div>
        <table class="services" aria-label="Services" aria-rowcount=move || rows.with(|r| r.ids.len() + 1)>
            <thead>
                <tr>
                    {header(SortKey::Name, "Service")}
                    {header(SortKey::Status, "Status")}
                    <th scope="col">"Kind"</th>
                    <th scope="col">"Deployment"</th>
                    <th scope="col">"Instances"</th>
                    <th scope="col">"Version"</th>
                    <th scope="col">"Last deployed"</th>
                </tr>
            </thead>
            <For
                each=move || rows.with(|r| r.ids.clone())
                key=|id| id.clone()
                children=move |id| {
                    let service = state.service(&id);
                    service.map(|s| view! { <ServiceRow env_id service=s expanded /> })
                }
            />
            {move || rows.with(|r| r.ids.is_empty()).then(|| view! {
                <tbody>
                    <tr><td colspan="7" class="services__empty">
                        {move || if only_trouble.get() { "No service is in trouble." } else { "No services." }}
                    </td></tr>
                </tbody>
            })}
        </table>
    }
}

/// One service: its row, and its instances when expanded.
#[component]
fn ServiceRow(
    env_id: Signal<String>,
    service: ArcRwSignal<Service>,
    expanded: Signal<Option<String>>,
) -> impl IntoView {
    let clock = Clock::use_clock();
    let navigate = use_navigate();
    let s = service.clone();
    let verdict = Memo::new(move |_| s.with(service_running));
    let s = service.clone();
    let name = Memo::new(move |_| s.with(|s| s.name.clone()));
    let s = service.clone();
    let deployment = Memo::new(move |_| s.with(|s| s.deployment.clone()));
    let s = service.clone();
    let id = Memo::new(move |_| s.with(|s| s.id.clone()));
    let s = service.clone();
    let instances = Memo::new(move |_| s.with(|s| instance_count(s).to_string()));
    let s = service.clone();
    let serving = Memo::new(move |_| s.with(|s| old_version_serving(s).map(|o| o.headline())));
    let s = service.clone();
    let kind = move || s.with(|s| s.kind.label());
    let s = service.clone();
    let version = Memo::new(move |_| s.with(|s| short_version(&s.version).to_string()));
    let is_open = Memo::new(move |_| expanded.with(|e| e.as_deref() == Some(id.get().as_str())));
    let logs_href = Signal::derive(move || {
        deployment
            .get()
            .map(|d| routes::service_logs(&env_id.get(), &id.get(), &d.id))
    });
    let label_why = Signal::derive(move || {
        let Some(d) = deployment.get() else {
            return String::new();
        };
        let to = short_version(&d.version);
        let started = age(d.started_at, clock.now());
        let mut why = match d.previous_version.as_deref().map(short_version) {
            Some(from) if from != to => format!("{from} → {to} · started {started} ago"),
            _ => format!("Deploying {to} · started {started} ago"),
        };
        if let Some(note) = serving.get() {
            why.push_str(". ");
            why.push_str(&note);
        }
        why
    });
    // Briefly highlight a row whose status changed (CSS skips it under reduced motion).
    let flash = RwSignal::new(false);
    let previous = StoredValue::new(None::<RunningStatus>);
    Effect::new(move |_| {
        let now = verdict.get().status;
        if previous.get_value().is_some_and(|p| p != now) {
            flash.set(true);
            set_timeout(
                move || flash.set(false),
                std::time::Duration::from_millis(1200),
            );
        }
        previous.set_value(Some(now));
    });
    let toggle = move |_| {
        let env = env_id.get_untracked();
        let target = if is_open.get_untracked() {
            routes::env(&env)
        } else {
            routes::service(&env, &id.get_untracked())
        };
        navigate(&target, Default::default());
    };
    let panel_id = move || format!("instances-{}", id.get());
    let service_for_list = service.clone();
    view! {
        <tbody class="service" class:service--open=move || is_open.get()>
            <tr
                class="service-row"
                class:service-row--flash=move || flash.get()
                class:service-row--trouble=move || {
                    in_trouble(verdict.get().status, deployment.with(|d| d.as_ref().map(|d| d.status)))
                }
                data-service=move || id.get()
            >
                <th scope="row" class="service-row__name">
                    <button
                        type="button"
                        class="disclosure"
                        aria-expanded=move || is_open.get().to_string()
                        aria-controls=panel_id
                        title=move || if is_open.get() { "Hide instances" } else { "Show instances" }
                        on:click=toggle
                    >
                        <span class="disclosure__chevron" aria-hidden="true"></span>
                        <span class="disclosure__name">{move || name.get()}</span>
                    </button>
                </th>
                <td class="service-row__status">
                    <StatusDot
                        status=Signal::derive(move || verdict.get().status)
                        explanation=Signal::derive(move || verdict.get().explanation)
                        subject=name
                        note=Signal::derive(move || serving.get())
                        with_word=true
                    />
                </td>
                <td class="service-row__kind">{kind}</td>
                <td class="service-row__deployment">
                    <DeploymentLabel
                        status=Signal::derive(move || deployment.get().map(|d| d.status))
                        explanation=label_why
                        href=logs_href
                    />
                </td>
                <td class="service-row__instances">{move || instances.get()}</td>
                <td class="service-row__version">
                    <code>{move || version.get()}</code>
                    {move || serving.get().is_some().then(|| view! {
                        <span class="serving-note">"old version still serving"</span>
                    })}
                </td>
                <td class="service-row__deployed">
                    {move || deployment.get().map(|d| {
                        let when = d.finished_at.unwrap_or(d.started_at);
                        view! { <time title=absolute(when)>{move || relative(when, clock.now())}</time> }
                    })}
                </td>
            </tr>
            <Show when=move || is_open.get()>
                <tr class="instances-row" id=panel_id>
                    <td colspan="7">
                        <InstanceList service=service_for_list.clone() />
                    </td>
                </tr>
            </Show>
        </tbody>
    }
}
