//! The instances of one service: name, status, version, restarts (and when the last one
//! was), reason and message, age; under each, when the source reports them, its last
//! termination (reason, exit code and what that code means), when it started and its recent
//! events. Grouped by version during a rolling deployment ("new version e4f5a6b", "old
//! version a1b2c3d still serving"), so an error during a deployment reads as what it is.
//! Below them, the service's status timeline of the last hour.

use super::status_dot::StatusDot;
use super::status_timeline::StatusTimeline;
use crate::pages::environment_page::parse_path;
use crate::state::clock::Clock;
use crate::time_format::{absolute, age, relative};
use leptos::prelude::*;
use shipwatch_model::exit_code::ExitMeaning;
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
    // The environment from the URL (the row's route), so the list needs no more props.
    let env = window()
        .location()
        .pathname()
        .map(|p| parse_path(&p).0)
        .unwrap_or_default();
    let service_id = service.with_untracked(|s| s.id.clone());
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
            <StatusTimeline env service=service_id name=name />
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
    let restarted = i.last_restart_at;
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
            <td class="instance__restarts" class:instance__restarts--many={i.restarts > 0}>
                {i.restarts}
                {restarted.map(|t| view! {
                    <span class="instance__restarted">
                        "last "<time title=absolute(t)>{move || relative(t, clock.now())}</time>
                    </span>
                })}
            </td>
            <td class="instance__reason">
                {i.reason.clone().map(|r| view! { <strong>{r}</strong> })}
                {i.message.clone().map(|m| view! { <span class="instance__message">{m}</span> })}
            </td>
            <td class="instance__age" class:instance__age--none=started.is_none()>
                {started.map(|t| view! { <time title=absolute(t)>{move || age(t, clock.now())}</time> })}
            </td>
        </tr>
        {details_row(i, clock)}
    }
}

/// The instance's last termination, start and recent events, under its row; nothing when
/// the source reports none of them.
fn details_row(i: &Instance, clock: Clock) -> Option<impl IntoView> {
    if i.last_termination.is_none() && i.events.is_empty() {
        return None;
    }
    let termination = i.last_termination.clone().map(|t| {
        let code = t.exit_code.map(|c| {
            let meaning = ExitMeaning::of(c);
            view! {
                <span class="termination__code" class:termination__code--failure=meaning.is_failure()>
                    {format!("exit code {c}")}
                </span>
                <span class="termination__meaning">{meaning.text()}</span>
            }
        });
        view! {
            <div class="instance-details__item">
                <dt>"Last termination"</dt>
                <dd class="termination">
                    {t.reason.clone().map(|r| view! { <strong class="termination__reason">{r}</strong> })}
                    {code}
                    {t.at.map(|at| view! {
                        <time title=absolute(at)>{move || relative(at, clock.now())}</time>
                    })}
                </dd>
            </div>
        }
    });
    let started = i.started_at.map(|t| {
        view! {
            <div class="instance-details__item">
                <dt>"Started"</dt>
                <dd><time>{absolute(t)}</time></dd>
            </div>
        }
    });
    let events = (!i.events.is_empty()).then(|| {
        let items = i
            .events
            .iter()
            .rev()
            .map(|e| {
                let at = e.at;
                view! {
                    <li class="instance-event">
                        <time title=absolute(at)>{move || relative(at, clock.now())}</time>
                        " "<strong>{e.reason.clone()}</strong>
                        {e.message.clone().map(|m| view! { <span>{format!(": {m}")}</span> })}
                    </li>
                }
            })
            .collect_view();
        view! {
            <div class="instance-details__item instance-details__item--events">
                <dt>"Recent events"</dt>
                <dd><ul class="instance-events">{items}</ul></dd>
            </div>
        }
    });
    Some(view! {
        <tr class="instance-details" data-instance-details=i.name.clone()>
            <td colspan="6">
                <dl class="instance-details__list">{termination}{started}{events}</dl>
            </td>
        </tr>
    })
}
