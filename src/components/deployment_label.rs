//! The deployment-status label: a link to that deployment's logs, with an explaining tooltip.

use super::tooltip::{Tooltip, TooltipState};
use crate::state::clock::Clock;
use crate::state::time_in_state::since_words;
use leptos::prelude::*;
use shipwatch_model::entities::Millis;
use shipwatch_model::DeploymentStatus;

/// A deployment label. `href` is the logs URL; none when there is no deployment.
#[component]
pub fn DeploymentLabel(
    #[prop(into)] status: Signal<Option<DeploymentStatus>>,
    #[prop(into)] explanation: Signal<String>,
    #[prop(into)] href: Signal<Option<String>>,
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
                    <a
                        class=move || label_classes(status.get())
                        href=move || href.get().unwrap_or_default()
                        aria-label=move || format!("Deployment status: {} (open logs)", word())
                        aria-describedby=described_by.clone()
                        aria-disabled=move || href.get().is_none().then_some("true")
                        data-status=word
                    >
                        <span class="label__icon" aria-hidden="true"></span>
                        <span class="label__word">{word}</span>
                    </a>
                }
                .into_any()
            })
            bubble=std::sync::Arc::new(move || {
                view! {
                    <p class="tooltip__title"><strong>{word}</strong></p>
                    <p class="tooltip__meaning">
                        {move || status_meaning(status.get())}
                    </p>
                    <p class="tooltip__why">{move || explanation.get()}</p>
                    {move || since.get().zip(status.get()).map(|(t, s)| view! {
                        <p class="tooltip__since">{since_words(s.word(), t, clock)}</p>
                    })}
                    <p class="tooltip__hint">"Click to open the deployment logs."</p>
                }
                .into_any()
            })
        />
    }
}

/// A deployment status's word, "NEVER DEPLOYED" without one (labels and dots say the same).
pub fn status_word(status: Option<DeploymentStatus>) -> &'static str {
    status.map_or("NEVER DEPLOYED", DeploymentStatus::word)
}

/// What a deployment status means, for its tooltip.
pub fn status_meaning(status: Option<DeploymentStatus>) -> &'static str {
    status.map_or("This has never been deployed.", DeploymentStatus::meaning)
}

/// CSS classes of a label, from the model's colour and shape roles.
pub fn label_classes(status: Option<DeploymentStatus>) -> String {
    match status {
        None => "label label--none colour--neutral shape--ring".into(),
        Some(s) => {
            let motion = if s.in_progress() { " label--busy" } else { "" };
            format!(
                "label label--{} colour--{} shape--{}{motion}",
                s.slug(),
                s.colour().slug(),
                s.shape().slug()
            )
        }
    }
}
