//! One row of the service table: name, status dot, kind, deployment label, instances,
//! version, last deployed; its details below it when expanded (`service_details.rs`, a
//! chunk of their own in a split build).

use crate::components::deployment_label::DeploymentLabel;
use crate::components::service_details::ServiceDetailsProps;
use crate::components::status_dot::StatusDot;
use crate::components::stuck_badge::{service_stuck, StuckBadge};
use crate::pages::service_details_route::service_details_view;
use crate::router::use_location;
use crate::routes;
use crate::state::clock::Clock;
use crate::time_format::{absolute, age, relative};
use leptos::prelude::*;
use shipwatch_model::instances::{instance_count, old_version_serving, short_version};
use shipwatch_model::rules::service_running;
use shipwatch_model::triage::in_trouble;
use shipwatch_model::{RunningStatus, Service};

/// Least time between two highlights of a row, in ms.
pub(super) const FLASH_EVERY_MS: f64 = 4_000.0;

/// How long a highlight lasts, in ms.
const FLASH_FOR_MS: f64 = 1_200.0;

/// One service: its row, and its instances when expanded.
#[component]
pub fn ServiceRow(
    /// The environment, fixed for the table's life (a route change rebuilds the table).
    env_id: String,
    service: ArcRwSignal<Service>,
    /// Whether its instances show; set by the table (see `row_slots`).
    open: ArcRwSignal<bool>,
    /// The row's place in the whole table (1 is the header row), for `aria-rowindex`: only
    /// the rows near the viewport are in the DOM. Set by the table (see `row_slots`).
    row_index: ArcRwSignal<Option<usize>>,
    /// When the row was last highlighted (ms since the epoch). Kept by the table across
    /// rebuilds of the row: a row that moves is built anew in its new place (see `resort`).
    flashed_at: ArcRwSignal<f64>,
) -> impl IntoView {
    let clock = Clock::use_clock();
    let location = use_location();
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
    let s = service.clone();
    let since = Memo::new(move |_| s.with(|s| (s.running_since, s.deployment_since)));
    let s = service.clone();
    let stuck = Signal::derive(move || s.with(|s| service_stuck(s, clock)));
    let is_open = Signal::derive(move || open.get());
    let env = env_id.clone();
    let logs_href = Signal::derive(move || {
        deployment
            .get()
            .map(|d| routes::service_logs(&env, &id.get(), &d.id))
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
    // Briefly tint a row whose status changed (a still tint, see `.service-row--flash`), at
    // most once per few seconds: under a storm of changes a row that never stops flashing
    // tells nothing. A row built while its highlight runs (it moved) shows the rest of it.
    let flash = RwSignal::new(false);
    let previous = StoredValue::new(None::<RunningStatus>);
    // The row may have scrolled out of the window (and been disposed) by then.
    let flash_for = move |ms: f64| {
        flash.set(true);
        set_timeout(
            move || {
                flash.try_set(false);
            },
            std::time::Duration::from_secs_f64(ms.max(0.0) / 1000.0),
        );
    };
    let left = flashed_at.get_untracked() + FLASH_FOR_MS - js_sys::Date::now();
    if left > 0.0 {
        flash_for(left);
    }
    Effect::new(move |_| {
        let now = verdict.get().status;
        let changed = previous.get_value().is_some_and(|p| p != now);
        let at = js_sys::Date::now();
        if changed && at - flashed_at.get_untracked() >= FLASH_EVERY_MS {
            flashed_at.set(at);
            flash_for(FLASH_FOR_MS);
        }
        previous.set_value(Some(now));
    });
    let env_for_details = env_id.clone();
    let toggle = move |_| {
        let target = if is_open.get_untracked() {
            routes::env(&env_id)
        } else {
            routes::service(&env_id, &id.get_untracked())
        };
        location.navigate(&target);
    };
    let panel_id = move || format!("instances-{}", id.get());
    let service_for_details = service.clone();
    view! {
        <tbody class="service" class:service--open=move || is_open.get()>
            <tr
                class="service-row"
                aria-rowindex=move || row_index.get()
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
                        // Names the service too: a long name is cut to the column's width.
                        title=move || {
                            let verb = if is_open.get() { "Hide" } else { "Show" };
                            format!("{verb} instances of {}", name.get())
                        }
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
                        since=Signal::derive(move || since.get().0)
                    />
                    <StuckBadge stuck=stuck />
                </td>
                <td class="service-row__kind">{kind}</td>
                <td class="service-row__deployment">
                    <DeploymentLabel
                        status=Signal::derive(move || deployment.get().map(|d| d.status))
                        explanation=label_why
                        href=logs_href
                        since=Signal::derive(move || since.get().1)
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
                        {service_details_view(ServiceDetailsProps {
                            env_id: env_for_details.clone(),
                            service: service_for_details.clone(),
                        })}
                    </td>
                </tr>
            </Show>
        </tbody>
    }
}
