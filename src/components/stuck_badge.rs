//! The **stuck** mark: a service or environment held in a transitional status past its
//! threshold. A word and a shape of its own (an hourglass), never colour alone; what it
//! means is read out in full.

use crate::lowercase::lowercase;
use crate::state::clock::Clock;
use crate::state::time_in_state::{offset_min, server_time};
use leptos::prelude::*;
use shipwatch_model::stuck::Stuck;
use shipwatch_model::time_in_state::stuck_text;
use shipwatch_model::triage::ServiceTriage;
use shipwatch_model::Service;

/// "STUCK" with an hourglass when `stuck` is something; nothing otherwise.
#[component]
pub fn StuckBadge(#[prop(into)] stuck: Signal<Option<Stuck>>) -> impl IntoView {
    let clock = Clock::use_clock();
    move || {
        stuck.get().map(|s| {
            let text = stuck_text(
                s.word,
                s.since,
                s.after_ms,
                server_time().now(clock),
                offset_min(),
            );
            let title = text.clone();
            view! {
                <span class="stuck-badge" data-stuck=s.word title=title>
                    <span class="stuck-badge__icon" aria-hidden="true"></span>
                    <span class="stuck-badge__word" aria-hidden="true">"STUCK"</span>
                    <span class="sr-only">{text}</span>
                </span>
            }
        })
    }
}

/// What is stuck of `service` now (by the server's thresholds and clock), tracking both.
pub fn service_stuck(service: &Service, clock: Clock) -> Option<Stuck> {
    let server = server_time();
    ServiceTriage::of_folded(service, lowercase).stuck_now(&server.limits.get(), server.now(clock))
}
