//! The environment header: name, running-status dot, deployment label (opening the logs of
//! the deployment that decided it), when it last deployed, and a summary of services by
//! running status.

use super::deployment_label::DeploymentLabel;
use super::status_dot::StatusDot;
use super::stuck_badge::StuckBadge;
use crate::routes;
use crate::state::clock::Clock;
use crate::state::environment::EnvironmentState;
use crate::state::environments::EnvironmentsState;
use crate::time_format::{absolute, relative};
use leptos::prelude::*;
use shipwatch_model::entities::Millis;
use shipwatch_model::rules::{aggregate, deployment_from_services, environment_deployment, Member};
use shipwatch_model::triage::{DeploymentBrief, ServiceTriage};
use shipwatch_model::{DeploymentStatus, Environment, RunningStatus, Scope, Verdict};

/// The environment's deployment status, and the deployment it comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvDeployment {
    /// The status and why.
    pub verdict: Verdict<DeploymentStatus>,
    /// The logs of the deployment that decided it.
    pub href: String,
    /// When that deployment finished (or started, while it runs).
    pub when: Millis,
}

/// The environment's running verdict and its services counted by running status.
pub type EnvRunning = (Verdict<RunningStatus>, Vec<(RunningStatus, usize)>);

/// Header of the environment page. `running` is the environment's verdict (shared with the
/// tab title).
#[component]
pub fn EnvHeader(
    state: EnvironmentState,
    running: Memo<EnvRunning>,
    deployment: Memo<Option<EnvDeployment>>,
    /// Since when the running and the deployment status hold ([`env_since`]).
    #[prop(into)]
    since: Signal<(Option<Millis>, Option<Millis>)>,
) -> impl IntoView {
    let clock = Clock::use_clock();
    let summary = Memo::new(move |_| summary_text(&running.with(|r| r.1.clone())));
    // Time in state: what of the environment is stuck, and its stuck services.
    crate::state::time_in_state::follow_stuck(state, Signal::derive(move || state.name.get()));
    let env_stuck = Signal::derive(move || {
        let server = crate::state::time_in_state::server_time();
        let status = running.with(|r| r.0.status);
        let dep = deployment.with(|d| d.as_ref().map(|v| v.verdict.status));
        let (r, d) = since.get();
        server
            .limits
            .get()
            .stuck((status, r), dep.map(|s| (s, d)), server.now(clock))
    });
    let stuck_services = Memo::new(move |_| {
        state.order.with(|order| {
            state
                .triage
                .with(|t| shipwatch_model::triage::stuck_count(order, t))
        })
    });
    view! {
        <header class="env-header">
            <div class="env-header__title">
                <h1>{move || state.name.get()}</h1>
                <StatusDot
                    status=Signal::derive(move || running.with(|r| r.0.status))
                    explanation=Signal::derive(move || running.with(|r| r.0.explanation.clone()))
                    subject=Signal::derive(move || state.name.get())
                    scope=Scope::Environment
                    with_word=true
                    since=Signal::derive(move || since.get().0)
                />
                <DeploymentLabel
                    status=Signal::derive(move || deployment.with(|d| d.as_ref().map(|v| v.verdict.status)))
                    explanation=Signal::derive(move || deployment.with(|d| d.as_ref().map(|v| v.verdict.explanation.clone()).unwrap_or_default()))
                    href=Signal::derive(move || deployment.with(|d| d.as_ref().map(|v| v.href.clone())))
                    since=Signal::derive(move || since.get().1)
                />
                <StuckBadge stuck=env_stuck />
            </div>
            <p class="env-header__meta">
                <span class="env-header__summary">{move || summary.get()}</span>
                {move || (stuck_services.get() > 0).then(|| view! {
                    <span class="env-header__stuck">
                        <span class="stuck-badge__icon" aria-hidden="true"></span>
                        {format!("{} stuck", stuck_services.get())}
                    </span>
                })}
                {move || deployment.with(|d| d.as_ref().map(|d| d.when)).map(|when| {
                    view! {
                        <span class="env-header__deployed">
                            "Last deployment "
                            <time title=absolute(when)>{move || relative(when, clock.now())}</time>
                        </span>
                    }
                })}
            </p>
        </header>
    }
}

/// The environment's running verdict and the per-status counts of its services, from the
/// services' triage facts (no service rules run here). O(n) once per batch of changes.
pub fn environment_running(state: &EnvironmentState) -> EnvRunning {
    state.triage.with(|triage| {
        state.order.with(|order| {
            let members: Vec<Member<'_>> = order
                .iter()
                .filter_map(|id| triage.get(id))
                .map(|t| Member {
                    name: &t.name,
                    status: t.running,
                    reason: None,
                })
                .collect();
            let verdict = aggregate(&members, Scope::Environment.members());
            let counts = RunningStatus::ALL
                .iter()
                .chain([RunningStatus::Unknown].iter())
                .map(|s| (*s, members.iter().filter(|m| m.status == *s).count()))
                .filter(|(_, n)| *n > 0)
                .collect();
            (verdict, counts)
        })
    })
}

/// The environment's deployment status: its own last deployment's, else the services' by the
/// model's precedence, linked to the logs of the service deployment that decided it (the most
/// recent one with the deciding status).
pub fn env_deployment(env_id: &str, state: &EnvironmentState) -> Option<EnvDeployment> {
    if let Some(d) = state.deployment.get() {
        let env = Environment {
            id: env_id.to_string(),
            name: state.name.get(),
            services: Vec::new(),
            deployment: Some(d.clone()),
        };
        return environment_deployment(&env).map(|verdict| EnvDeployment {
            verdict,
            href: routes::env_logs(env_id, &d.id),
            when: d.finished_at.unwrap_or(d.started_at),
        });
    }
    state.triage.with(|triage| {
        state.order.with(|order| {
            let deployed: Vec<(&String, &ServiceTriage, &DeploymentBrief)> = order
                .iter()
                .filter_map(|id| triage.get(id).map(|t| (id, t)))
                .filter_map(|(id, t)| t.deployment.as_ref().map(|d| (id, t, d)))
                .collect();
            let pairs: Vec<(&str, DeploymentStatus)> = deployed
                .iter()
                .map(|(_, t, d)| (t.name.as_str(), d.status))
                .collect();
            let verdict = deployment_from_services(&pairs)?;
            let (service_id, _, dep) = deployed
                .iter()
                .filter(|(_, _, d)| d.status == verdict.status)
                .max_by_key(|(_, _, d)| d.started_at)?;
            Some(EnvDeployment {
                href: routes::service_logs(env_id, service_id, &dep.id),
                when: dep.finished_at.unwrap_or(dep.started_at),
                verdict,
            })
        })
    })
}

/// Since when the environment's running and deployment statuses hold, from the environment
/// list's summary of `env`, each only when the summary's status is the one given (the one
/// this page computes).
pub fn env_since(
    list: Option<EnvironmentsState>,
    env: &str,
    running: RunningStatus,
    deployment: Option<DeploymentStatus>,
) -> (Option<Millis>, Option<Millis>) {
    let Some(list) = list else {
        return (None, None);
    };
    list.list.with(|l| {
        l.iter().find(|s| s.id == env).map_or((None, None), |s| {
            (
                s.running_since.filter(|_| s.running == running),
                s.deployment_since
                    .filter(|_| s.deployment.is_some() && s.deployment == deployment),
            )
        })
    })
}

/// "5 running, 1 warning, 1 error".
fn summary_text(counts: &[(RunningStatus, usize)]) -> String {
    if counts.is_empty() {
        return "No services".into();
    }
    counts
        .iter()
        .map(|(s, n)| format!("{n} {}", s.word().to_ascii_lowercase()))
        .collect::<Vec<_>>()
        .join(", ")
}
