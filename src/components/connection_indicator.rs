//! The connection indicator: live, reconnecting (attempt and next try), offline since when,
//! frames dropped, and a "reconnect now" control.

use crate::feed::{ConnState, Feed};
use leptos::prelude::*;

/// Shows the state of the feed.
#[component]
pub fn ConnectionIndicator() -> impl IntoView {
    let feed = Feed::expect();
    let state = feed.state();
    let dropped = feed.dropped();
    // Re-render once a second so "next try in 3 s" counts down.
    let now = RwSignal::new(js_sys::Date::now());
    let tick = set_interval_with_handle(
        move || now.set(js_sys::Date::now()),
        std::time::Duration::from_secs(1),
    )
    .ok();
    on_cleanup(move || {
        if let Some(t) = tick {
            t.clear();
        }
    });
    let text = move || match state.get() {
        ConnState::Connecting => "Connecting…".to_string(),
        ConnState::Live { .. } => "Live".to_string(),
        ConnState::Reconnecting {
            attempt,
            next_try_at,
            ..
        } => {
            let secs = ((next_try_at - now.get()) / 1000.0).ceil().max(0.0);
            format!("Reconnecting (attempt {attempt}, next try in {secs} s)")
        }
        ConnState::Offline { since } => {
            let secs = ((now.get() - since) / 1000.0).floor().max(0.0);
            format!("Offline for {secs} s")
        }
    };
    let class = move || match state.get() {
        ConnState::Live { .. } => "conn conn--live",
        ConnState::Connecting => "conn conn--connecting",
        ConnState::Reconnecting { .. } => "conn conn--reconnecting",
        ConnState::Offline { .. } => "conn conn--offline",
    };
    let feed_btn = feed.clone();
    view! {
        <div class=class data-testid="connection">
            <span class="conn__dot" aria-hidden="true"></span>
            <span class="conn__text">{text}</span>
            {move || {
                let d = dropped.get();
                (d.count > 0).then(|| view! {
                    <span class="conn__dropped" title=d.last_reason.unwrap_or_default()>
                        {format!(" · {} frame{} dropped", d.count, if d.count == 1 { "" } else { "s" })}
                    </span>
                })
            }}
            {move || (!state.get().is_live()).then(|| {
                let f = feed_btn.clone();
                view! { <button class="conn__retry" on:click=move |_| f.reconnect_now()>"Reconnect now"</button> }
            })}
        </div>
    }
}
