//! The environment header: name, running-status dot, deployment label and a summary of
//! services by running status.

use super::deployment_label::DeploymentLabel;
use super::status_dot::StatusDot;
use crate::routes;
use crate::state::environment::EnvironmentState;
use crate::time_format::relative;
use leptos::prelude::*;
use shipwatch_model::rules::{aggregate, environment_deployment, service_running, Member};
use shipwatch_model::{Environment, RunningStatus, Verdict};

/// Header of the environment page.
#[component]
pub fn EnvHeader(env_id: Signal<String>, state: EnvironmentState) -> impl IntoView {
    let running = Memo::new(move |_| environment_running(&state));
    let deployment = Memo::new(move |_| {
        let env = Environment {
            id: env_id.get(),
            name: state.name.get(),
            services: state.services.with(|m| {
                state.order.with(|o| {
                    o.iter()
                        .filter_map(|id| m.get(id).map(|s| s.get()))
                        .collect()
                })
            }),
            deployment: state.deployment.get(),
        };
        environment_deployment(&env)
    });
    let summary = Memo::new(move |_| summary_text(&running.get().1));
    let logs_href = Signal::derive(move || {
        state
            .deployment
            .get()
            .map(|d| routes::env_logs(&env_id.get(), &d.id))
    });
    view! {
        <header class="env-header">
            <div class="env-header__title">
                <StatusDot
                    status=Signal::derive(move || running.get().0.status)
                    explanation=Signal::derive(move || running.get().0.explanation)
                    subject=Signal::derive(move || state.name.get())
                />
                <h1>{move || state.name.get()}</h1>
                <DeploymentLabel
                    status=Signal::derive(move || deployment.get().map(|v| v.status))
                    explanation=Signal::derive(move || deployment.get().map(|v| v.explanation).unwrap_or_default())
                    href=logs_href
                />
            </div>
            <p class="env-header__meta">
                <span class="env-header__summary">{move || summary.get()}</span>
                {move || state.deployment.get().map(|d| {
                    let when = d.finished_at.unwrap_or(d.started_at);
                    view! {
                        <span class="env-header__deployed">
                            " · last deployment "
                            <time title=crate::time_format::absolute(when)>{relative(when)}</time>
                        </span>
                    }
                })}
            </p>
        </header>
    }
}

/// The environment's verdict and the per-status counts of its services.
fn environment_running(
    state: &EnvironmentState,
) -> (Verdict<RunningStatus>, Vec<(RunningStatus, usize)>) {
    let rows: Vec<(String, RunningStatus)> = state.services.with(|m| {
        state.order.with(|o| {
            o.iter()
                .filter_map(|id| m.get(id))
                .map(|s| s.with(|s| (s.name.clone(), service_running(s).status)))
                .collect()
        })
    });
    let members: Vec<Member<'_>> = rows
        .iter()
        .map(|(name, status)| Member {
            name,
            status: *status,
            reason: None,
        })
        .collect();
    let verdict = aggregate(&members, ("service", "services"));
    let counts = RunningStatus::ALL
        .iter()
        .chain([RunningStatus::Unknown].iter())
        .map(|s| (*s, rows.iter().filter(|(_, r)| r == s).count()))
        .filter(|(_, n)| *n > 0)
        .collect();
    (verdict, counts)
}

/// "5 running, 1 warning, 1 error".
fn summary_text(counts: &[(RunningStatus, usize)]) -> String {
    if counts.is_empty() {
        return "No services".into();
    }
    counts
        .iter()
        .map(|(s, n)| format!("{n} {}", s.word().to_lowercase()))
        .collect::<Vec<_>>()
        .join(", ")
}
