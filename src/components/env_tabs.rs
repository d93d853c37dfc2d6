//! The environment page's tabs: "Services" with the environment's running-status dot and
//! "Deployments" with its deployment-status dot. Tabs are links with their own URLs (the
//! current one has `aria-current="page"`), so they work with the keyboard, the back button
//! and a new tab; each dot sits beside its link as its own focusable mark with the tooltip
//! every status mark has, since when its status holds included (a focusable mark inside a
//! link would nest interactive content).

use super::deployment_label::{status_meaning, status_word};
use super::env_header::{EnvDeployment, EnvRunning};
use super::status_dot::StatusDot;
use super::tooltip::{Tooltip, TooltipState};
use crate::routes;
use crate::state::clock::Clock;
use crate::state::time_in_state::since_words;
use leptos::prelude::*;
use shipwatch_model::entities::Millis;
use shipwatch_model::{DeploymentStatus, Scope};

/// Which tab shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvTab {
    /// The service table.
    Services,
    /// The deployment history.
    Deployments,
}

/// The tab bar.
#[component]
pub fn EnvTabs(
    env_id: Signal<String>,
    #[prop(into)] current: Signal<EnvTab>,
    /// The environment's display name (the tooltips' subject).
    #[prop(into)]
    name: Signal<String>,
    running: Memo<EnvRunning>,
    deployment: Memo<Option<EnvDeployment>>,
    /// Since when the running and the deployment status hold, if known.
    #[prop(into)]
    since: Signal<(Option<Millis>, Option<Millis>)>,
) -> impl IntoView {
    let aria = move |tab: EnvTab| move || (current.get() == tab).then_some("page");
    view! {
        <nav class="env-tabs" aria-label="Environment views">
            <ul>
                <li class="env-tabs__tab" class:env-tabs__tab--current=move || current.get() == EnvTab::Services>
                    <a class="env-tabs__link" href=move || routes::env(&env_id.get()) aria-current=aria(EnvTab::Services)>
                        "Services"
                    </a>
                    <StatusDot
                        status=Signal::derive(move || running.with(|r| r.0.status))
                        explanation=Signal::derive(move || running.with(|r| r.0.explanation.clone()))
                        subject=name
                        scope=Scope::Environment
                        since=Signal::derive(move || since.get().0)
                    />
                </li>
                <li class="env-tabs__tab" class:env-tabs__tab--current=move || current.get() == EnvTab::Deployments>
                    <a class="env-tabs__link" href=move || routes::env_deployments(&env_id.get()) aria-current=aria(EnvTab::Deployments)>
                        "Deployments"
                    </a>
                    <DeploymentDot
                        status=Signal::derive(move || deployment.with(|d| d.as_ref().map(|v| v.verdict.status)))
                        explanation=Signal::derive(move || deployment.with(|d| d.as_ref().map(|v| v.verdict.explanation.clone()).unwrap_or_default()))
                        subject=name
                        since=Signal::derive(move || since.get().1)
                    />
                </li>
            </ul>
        </nav>
    }
}

/// A deployment-status dot: the label's shape and colour without its word, focusable, with
/// the label's tooltip.
#[component]
pub fn DeploymentDot(
    #[prop(into)] status: Signal<Option<DeploymentStatus>>,
    #[prop(into)] explanation: Signal<String>,
    #[prop(into)] subject: Signal<String>,
    /// Since when the status holds, if known: the tooltip says for how long.
    #[prop(optional, into)]
    since: MaybeProp<Millis>,
) -> impl IntoView {
    let clock = Clock::use_clock();
    let tip = TooltipState::new();
    let described_by = tip.id.clone();
    let word = move || status_word(status.get());
    view! {
        <Tooltip
            state=tip
            trigger=Box::new(move || {
                view! {
                    <span
                        class=move || deployment_dot_classes(status.get())
                        role="img"
                        tabindex="0"
                        aria-label=move || format!("Deployment status: {}", word())
                        aria-describedby=described_by.clone()
                        data-status=word
                    >
                        <span class="dot__shape" aria-hidden="true"></span>
                    </span>
                }
                .into_any()
            })
            bubble=std::sync::Arc::new(move || {
                view! {
                    <p class="tooltip__title"><strong>{word}</strong>" · "{move || subject.get()}</p>
                    <p class="tooltip__meaning">
                        {move || status_meaning(status.get())}
                    </p>
                    <p class="tooltip__why">{move || explanation.get()}</p>
                    {move || since.get().zip(status.get()).map(|(t, s)| view! {
                        <p class="tooltip__since">{since_words(s.word(), t, clock)}</p>
                    })}
                }
                .into_any()
            })
        />
    }
}

/// CSS classes of a deployment dot, from the model's colour and shape roles.
pub fn deployment_dot_classes(status: Option<DeploymentStatus>) -> String {
    match status {
        None => "dot dot--deployment colour--neutral shape--ring".into(),
        Some(s) => {
            let motion = if s.in_progress() { " dot--busy" } else { "" };
            format!(
                "dot dot--deployment dot--{} colour--{} shape--{}{motion}",
                s.slug(),
                s.colour().slug(),
                s.shape().slug()
            )
        }
    }
}
