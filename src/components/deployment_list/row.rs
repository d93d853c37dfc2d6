//! One deployment of the list: its label (opening its log), what was deployed, versions,
//! trigger and link, start, duration (counting up while it runs) and stages.

use crate::components::deployment_label::DeploymentLabel;
use crate::routes;
use crate::state::clock::Clock;
use crate::state::deployment_history::{
    duration_text, safe_link, subject, History, HistoryEntry, StageOutcome,
};
use crate::time_format::{absolute, relative};
use leptos::prelude::*;

/// A row, by deployment id; it follows its entry in `history`.
#[component]
pub fn DeploymentRow(
    id: String,
    history: RwSignal<History>,
    now: RwSignal<f64>,
    fixed_service: Signal<Option<String>>,
) -> impl IntoView {
    let clock = Clock::use_clock();
    let entry = Memo::new(move |_| {
        history.with(|h| h.entries.iter().find(|e| e.deployment.id == id).cloned())
    });
    let get = move |f: fn(&HistoryEntry) -> String| {
        move || entry.with(|e| e.as_ref().map(f).unwrap_or_default())
    };
    let status = Signal::derive(move || entry.with(|e| e.as_ref().map(|e| e.deployment.status)));
    let log_href = Signal::derive(move || {
        entry.with(|e| {
            e.as_ref().map(|e| {
                routes::deployment_logs(&e.environment, e.service.as_deref(), &e.deployment.id)
            })
        })
    });
    let explanation = Signal::derive(get(|e| {
        format!(
            "Deployment {} of version {}.",
            e.deployment.id, e.deployment.version
        )
    }));
    let running = move || {
        entry.with(|e| {
            e.as_ref()
                .is_some_and(|e| e.deployment.finished_at.is_none())
        })
    };
    let duration = move || {
        entry.with(|e| {
            e.as_ref().map(|e| {
                let d = duration_text(&e.deployment, now.get());
                if e.deployment.finished_at.is_none() {
                    format!("{d} so far")
                } else {
                    d
                }
            })
        })
    };
    view! {
        <tr class="deployment-row" data-deployment=get(|e| e.deployment.id.clone()) data-status=move || status.get().map(|s| s.word())>
            <td class="deployment-row__status" data-label="Status">
                <DeploymentLabel status explanation href=log_href />
            </td>
            <td class="deployment-row__what" data-label="Deployed">
                {move || entry.with(|e| e.as_ref().map(|e| match (&e.service, fixed_service.get()) {
                    (Some(s), None) => view! {
                        <a href=routes::service_deployments(&e.environment, s) title=format!("Deployments of {s}")>{s.clone()}</a>
                    }.into_any(),
                    _ => view! { <span>{subject(e)}</span> }.into_any(),
                }))}
            </td>
            <td class="deployment-row__version" data-label="Version">
                <code>{get(|e| e.deployment.version.clone())}</code>
                {move || entry.with(|e| e.as_ref().and_then(|e| e.deployment.previous_version.clone())).map(|p| view! {
                    <span class="deployment-row__previous">" (was "<code>{p}</code>")"</span>
                })}
            </td>
            <td class="deployment-row__trigger" data-label="Trigger">
                {move || entry.with(|e| e.as_ref().map(|e| {
                    let who = e.deployment.triggered_by.clone().unwrap_or_else(|| "—".into());
                    let link = e.deployment.url.as_deref().and_then(safe_link).map(str::to_string);
                    view! {
                        <span class="deployment-row__who">{who}</span>
                        {link.map(|href| view! {
                            " " <a class="deployment-row__link" href=href target="_blank" rel="noopener noreferrer">"link"<span class="sr-only">" to where it runs"</span></a>
                        })}
                    }
                }))}
            </td>
            <td class="deployment-row__started" data-label="Started">
                {move || entry.with(|e| e.as_ref().map(|e| e.deployment.started_at)).map(|t| view! {
                    <time title=absolute(t)>{move || relative(t, clock.now())}</time>
                })}
            </td>
            <td class="deployment-row__duration" class:deployment-row__duration--running=running data-label="Duration">
                {duration}
            </td>
            <td class="deployment-row__stages" data-label="Stages">
                <ol class="stages">
                    {move || entry.with(|e| e.as_ref().map(|e| e.stages.clone()).unwrap_or_default()).into_iter().map(|s| {
                        let outcome = s.outcome;
                        view! {
                            <li class=format!("stage stage--{}", outcome.word()) title=format!("{}: {}", s.name, outcome.word())>
                                <span class="stage__mark" aria-hidden="true">{mark(outcome)}</span>
                                <span class="stage__name">{s.name.clone()}</span>
                                <span class="stage__outcome">{outcome.word()}</span>
                            </li>
                        }
                    }).collect_view()}
                </ol>
            </td>
        </tr>
    }
}

/// A stage's mark beside its word (the word carries the meaning; the mark is for scanning).
fn mark(outcome: StageOutcome) -> &'static str {
    match outcome {
        StageOutcome::Running => "…",
        StageOutcome::Passed => "✓",
        StageOutcome::Failed => "✗",
        StageOutcome::Cancelled => "⊘",
        StageOutcome::Unknown => "?",
    }
}
