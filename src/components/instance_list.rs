//! The instances of one service: name, status, version, restarts, reason and message, age;
//! grouped by version during a rolling deployment ("new version e4f5a6b", "old version
//! a1b2c3d still serving"), so an error during a deployment reads as what it is.

use super::status_dot::StatusDot;
use crate::state::clock::Clock;
use crate::time_format::{absolute, age};
use leptos::prelude::*;
use shipwatch_model::instances::{
    old_version_serving, short_version, version_groups, VersionGroup, VersionRole,
};
use shipwatch_model::{DeploymentStatus, Instance, Scope, Service};

/// The instances table of a service.
#[component]
pub fn InstanceList(service: ArcRwSignal<Service>) -> impl IntoView {
    let clock = Clock::use_clock();
    let s = service.clone();
    let name = Memo::new(move |_| s.with(|s| s.name.clone()));
    let s = service.clone();
    let is_job = Memo::new(move |_| s.with(|s| s.kind.is_job()));
    let s = service.clone();
    let serving = Memo::new(move |_| s.with(|s| old_version_serving(s).map(|o| o.headline())));
    let s = service.clone();
    // Re-rendered when this service changes: a handful of rows, only while expanded.
    let groups = move || {
        s.with(|svc| {
            let dep = svc.deployment.as_ref().map(|d| d.status);
            version_groups(svc)
                .into_iter()
                .map(|g| group_view(&g, dep, clock))
                .collect_view()
        })
    };
    let empty = {
        let s = service.clone();
        move || s.with(|s| s.instances.is_empty())
    };
    view! {
        <div class="instances-panel">
            {move || serving.get().map(|text| view! {
                <p class="serving-banner">
                    <span class="serving-banner__icon" aria-hidden="true">"⇆"</span>
                    {text}
                </p>
            })}
            <table class="instances" aria-label=move || {
                if is_job.get() { format!("Executions of {}", name.get()) } else { format!("Instances of {}", name.get()) }
            }>
                <thead>
                    <tr>
                        <th scope="col">{move || if is_job.get() { "Execution" } else { "Instance" }}</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Version"</th>
                        <th scope="col">"Restarts"</th>
                        <th scope="col">"Reason"</th>
                        <th scope="col">"Age"</th>
                    </tr>
                </thead>
                {groups}
                {move || empty().then(|| view! {
                    <tbody><tr><td colspan="6" class="instances__empty">"No instances."</td></tr></tbody>
                })}
            </table>
        </div>
    }
}

/// One version's instances, under a heading when versions run side by side.
fn group_view(g: &VersionGroup<'_>, dep: Option<DeploymentStatus>, clock: Clock) -> impl IntoView {
    let v = short_version(g.version).to_string();
    let heading = match g.role {
        VersionRole::Only => None,
        VersionRole::New => Some(match dep {
            Some(d) if d.is_failure() => format!("New version {v} · deployment failed"),
            Some(DeploymentStatus::Deploying) => format!("New version {v} · rolling out"),
            _ => format!("New version {v}"),
        }),
        VersionRole::Old if g.running > 0 => Some(format!("Old version {v} still serving")),
        VersionRole::Old => Some(format!("Old version {v}")),
    };
    let role = match g.role {
        VersionRole::Only => "only",
        VersionRole::New => "new",
        VersionRole::Old => "old",
    };
    let rows = g
        .instances
        .iter()
        .map(|i| instance_row(i, clock))
        .collect_view();
    view! {
        <tbody class=format!("instances__group instances__group--{role}") data-version=g.version.to_string()>
            {heading.map(|h| view! {
                <tr class="instances__heading">
                    <th colspan="6" scope="rowgroup">{h}</th>
                </tr>
            })}
            {rows}
        </tbody>
    }
}

fn instance_row(i: &Instance, clock: Clock) -> impl IntoView {
    let why = match (&i.reason, &i.message) {
        (Some(r), Some(m)) => format!("{r}: {m}"),
        (Some(r), None) => r.clone(),
        (None, Some(m)) => m.clone(),
        (None, None) => format!("{} runs {}", i.name, short_version(&i.version)),
    };
    let started = i.started_at;
    view! {
        <tr class="instance" data-instance=i.name.clone()>
            <th scope="row" class="instance__name"><code>{i.name.clone()}</code></th>
            <td>
                <StatusDot
                    status=i.status
                    explanation=why
                    subject=i.name.clone()
                    scope=Scope::Instance
                    with_word=true
                />
            </td>
            <td><code>{short_version(&i.version).to_string()}</code></td>
            <td class="instance__restarts" class:instance__restarts--many={i.restarts > 0}>{i.restarts}</td>
            <td class="instance__reason">
                {i.reason.clone().map(|r| view! { <strong>{r}</strong> })}
                {i.message.clone().map(|m| view! { <span class="instance__message">{m}</span> })}
            </td>
            <td class="instance__age">
                {started.map(|t| view! { <time title=absolute(t)>{move || age(t, clock.now())}</time> })}
            </td>
        </tr>
    }
}
