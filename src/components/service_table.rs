//! The service table: one keyed row per service; a change repaints its own row only.

use super::deployment_label::DeploymentLabel;
use super::status_dot::StatusDot;
use crate::routes;
use crate::state::environment::EnvironmentState;
use crate::time_format::{absolute, age, relative};
use leptos::prelude::*;
use shipwatch_model::rules::service_running;
use shipwatch_model::{RunningStatus, Service};

/// The table of an environment's services.
#[component]
pub fn ServiceTable(env_id: Signal<String>, state: EnvironmentState) -> impl IntoView {
    view! {
        <table class="services" aria-label="Services">
            <thead>
                <tr>
                    <th scope="col">"Service"</th>
                    <th scope="col">"Kind"</th>
                    <th scope="col">"Deployment"</th>
                    <th scope="col">"Instances"</th>
                    <th scope="col">"Version"</th>
                    <th scope="col">"Last deployed"</th>
                </tr>
            </thead>
            <tbody>
                <For
                    each=move || state.order.get()
                    key=|id| id.clone()
                    children=move |id| {
                        let service = state.service(&id);
                        service.map(|s| view! { <ServiceRow env_id service=s /> })
                    }
                />
            </tbody>
        </table>
    }
}

/// One service row.
#[component]
fn ServiceRow(env_id: Signal<String>, service: ArcRwSignal<Service>) -> impl IntoView {
    let s = service.clone();
    let verdict = Memo::new(move |_| s.with(service_running));
    let s = service.clone();
    let name = Signal::derive(move || s.with(|s| s.name.clone()));
    let s = service.clone();
    let deployment = Memo::new(move |_| s.with(|s| s.deployment.clone()));
    let s = service.clone();
    let id = Signal::derive(move || s.with(|s| s.id.clone()));
    let s = service.clone();
    let instances = Memo::new(move |_| {
        s.with(|s| {
            let running = s
                .instances
                .iter()
                .filter(|i| i.status == RunningStatus::Running)
                .count();
            format!("{running}/{} running", s.instances.len())
        })
    });
    let s = service.clone();
    let kind = move || s.with(|s| s.kind.label());
    let s = service.clone();
    let version = move || s.with(|s| short(&s.version));
    let logs_href = Signal::derive(move || {
        deployment
            .get()
            .map(|d| routes::service_logs(&env_id.get(), &id.get(), &d.id))
    });
    let label_why = Signal::derive(move || {
        deployment.get().map_or_else(String::new, |d| {
            let from = d.previous_version.as_deref().map(short).unwrap_or_default();
            let started = age(d.started_at);
            if from.is_empty() {
                format!("Deploying {} · started {started} ago", short(&d.version))
            } else {
                format!("{from} → {} · started {started} ago", short(&d.version))
            }
        })
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
    view! {
        <tr class="service-row" class:service-row--flash=move || flash.get() data-service=move || id.get()>
            <th scope="row" class="service-row__name">
                <StatusDot
                    status=Signal::derive(move || verdict.get().status)
                    explanation=Signal::derive(move || verdict.get().explanation)
                    subject=name
                />
                <span>{move || name.get()}</span>
            </th>
            <td class="service-row__kind">{kind}</td>
            <td>
                <DeploymentLabel
                    status=Signal::derive(move || deployment.get().map(|d| d.status))
                    explanation=label_why
                    href=logs_href
                />
            </td>
            <td class="service-row__instances">{move || instances.get()}</td>
            <td class="service-row__version"><code>{version}</code></td>
            <td class="service-row__deployed">
                {move || deployment.get().map(|d| {
                    let when = d.finished_at.unwrap_or(d.started_at);
                    view! { <time title=absolute(when)>{relative(when)}</time> }
                })}
            </td>
        </tr>
    }
}

/// First 7 characters of a commit.
fn short(version: &str) -> String {
    version.chars().take(7).collect()
}
