//! The running-status dot: a shape, a colour and a word, focusable, with an explaining tooltip.

use super::tooltip::{Tooltip, TooltipState};
use crate::state::clock::Clock;
use crate::state::time_in_state::since_words;
use leptos::prelude::*;
use shipwatch_model::entities::Millis;
use shipwatch_model::{RunningStatus, Scope};

/// A running-status dot. `explanation` says why this status was computed.
#[component]
pub fn StatusDot(
    #[prop(into)] status: Signal<RunningStatus>,
    #[prop(into)] explanation: Signal<String>,
    /// What the dot is about, e.g. "production" or "api" (for the tooltip heading).
    #[prop(into)]
    subject: Signal<String>,
    /// The level the status is about, for the seed's wording of its meaning.
    #[prop(default = Scope::Service)]
    scope: Scope,
    /// One more line for the tooltip, e.g. "old version a1b2c3d still serving".
    #[prop(optional, into)]
    note: MaybeProp<String>,
    /// Show the status word next to the dot.
    #[prop(optional)]
    with_word: bool,
    /// Since when the status holds, if known: the tooltip says for how long.
    #[prop(optional, into)]
    since: MaybeProp<Millis>,
) -> impl IntoView {
    let clock = Clock::use_clock();
    let tip = TooltipState::new();
    let described_by = tip.id.clone();
    view! {
        <Tooltip
            state=tip
            trigger=Box::new(move || {
                view! {
                    <span
                        class=move || dot_classes(status.get())
                        role="img"
                        tabindex="0"
                        aria-label=move || format!("Running status: {}", status.get().word())
                        aria-describedby=described_by.clone()
                        data-status=move || status.get().word()
                    >
                        <span class="dot__shape" aria-hidden="true"></span>
                        {with_word.then(|| view! { <span class="dot__word" aria-hidden="true">{move || status.get().word()}</span> })}
                    </span>
                }
                .into_any()
            })
            bubble=std::sync::Arc::new(move || {
                view! {
                    <p class="tooltip__title">
                        <strong>{move || status.get().word()}</strong>
                        " · " {move || subject.get()}
                    </p>
                    <p class="tooltip__meaning">{move || status.get().meaning_in(scope)}</p>
                    <p class="tooltip__why">{move || explanation.get()}</p>
                    {move || since.get().map(|t| view! {
                        <p class="tooltip__since">{since_words(status.get().word(), t, clock)}</p>
                    })}
                    {move || note.get().map(|n| view! { <p class="tooltip__note">{n}</p> })}
                }
                .into_any()
            })
        />
    }
}

/// CSS classes of a dot: colour family, shape and motion, from the model.
pub fn dot_classes(status: RunningStatus) -> String {
    let motion = if status.in_progress() {
        " dot--busy"
    } else {
        ""
    };
    format!(
        "dot dot--{} colour--{} shape--{}{motion}",
        status.slug(),
        status.colour().slug(),
        status.shape().slug()
    )
}
