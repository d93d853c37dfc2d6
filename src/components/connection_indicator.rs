//! The connection indicator: live, database unavailable (the server cannot commit: what is
//! shown stays, changes wait for the database), recovering (a view asks again for data a
//! dropped frame lost), reconnecting (attempt and next try), offline since when, frames
//! dropped, and a "reconnect now" control.

use crate::feed::{ConnState, Feed, StoreStatus};
use crate::time_format::clock_time;
use leptos::prelude::*;

/// Shows the state of the feed.
#[component]
pub fn ConnectionIndicator() -> impl IntoView {
    let feed = Feed::expect();
    let state = feed.state();
    let dropped = feed.dropped();
    let recovering = feed.recovering();
    let store = feed.store();
    // Re-render once a second so "next try in 3 s" counts down.
    let now = RwSignal::new(js_sys::Date::now());
    if let Ok(tick) = set_interval_with_handle(
        move || now.set(js_sys::Date::now()),
        std::time::Duration::from_secs(1),
    ) {
        on_cleanup(move || tick.clear());
    }
    let store_down = move || state.get().is_live() && !store.with(StoreStatus::is_ok);
    let text = move || match state.get() {
        ConnState::Connecting => "Connecting…".to_string(),
        ConnState::Live { .. } if store_down() => DATABASE_UNAVAILABLE.to_string(),
        ConnState::Live { .. } => match recovering.get() {
            0 => "Live".to_string(),
            1 => "Recovering · asking again for data a dropped frame lost".to_string(),
            n => format!("Recovering · asking again for {n} views' data"),
        },
        ConnState::Reconnecting {
            attempt,
            next_try_at,
            ..
        } => {
            let secs = ((next_try_at - now.get()) / 1000.0).ceil().max(0.0);
            if secs > 0.0 {
                format!(
                    "Reconnecting · attempt {attempt} · next try in {} s",
                    secs as u64
                )
            } else {
                format!("Reconnecting · attempt {attempt} · trying now")
            }
        }
        ConnState::Offline { since } => format!("Offline since {}", clock_time(since)),
    };
    let detail = move || match state.get() {
        ConnState::Live { .. } if store_down() => store.with(database_detail),
        ConnState::Live { since } => format!("Connected since {}", clock_time(since)),
        ConnState::Reconnecting { since, .. } => format!(
            "Connection lost at {}; the data shown is from then",
            clock_time(since)
        ),
        ConnState::Offline { .. } => "The browser reports no network".to_string(),
        ConnState::Connecting => "Opening the live feed".to_string(),
    };
    let kind = move || match state.get() {
        ConnState::Live { .. } if store_down() => "database-unavailable",
        ConnState::Live { .. } if recovering.get() > 0 => "recovering",
        ConnState::Live { .. } => "live",
        ConnState::Connecting => "connecting",
        ConnState::Reconnecting { .. } => "reconnecting",
        ConnState::Offline { .. } => "offline",
    };
    let feed_btn = feed.clone();
    view! {
        <div class=move || format!("conn conn--{}", kind()) data-testid="connection" data-state=kind title=detail>
            <span class="conn__dot" aria-hidden="true"></span>
            <span class="conn__text">{text}</span>
            // The tooltip's explanation, for screen readers too (a title is not reliably read).
            {move || store_down().then(|| view! { <span class="sr-only">{detail}</span> })}
            {move || {
                let d = dropped.get();
                (d.count > 0).then(|| view! {
                    <span class="conn__dropped" title=format!("Last: {}", d.last_reason.unwrap_or_default())>
                        {format!("{} frame{} dropped", d.count, if d.count == 1 { "" } else { "s" })}
                    </span>
                })
            }}
            {move || (!state.get().is_live() && !matches!(state.get(), ConnState::Connecting)).then(|| {
                let f = feed_btn.clone();
                view! { <button type="button" class="conn__retry" on:click=move |_| f.reconnect_now()>"Reconnect now"</button> }
            })}
        </div>
    }
}

/// What the indicator says while the server cannot commit to its database.
pub const DATABASE_UNAVAILABLE: &str = "Database unavailable, retrying";

/// The indicator's explanation while the database is unavailable, with the server's reason.
pub fn database_detail(status: &StoreStatus) -> String {
    let why = status
        .message
        .as_deref()
        .map(|m| format!(" ({m})"))
        .unwrap_or_default();
    format!(
        "The server cannot write to its database{why}. What is shown stays as it was; changes \
         are held and arrive once the database is back."
    )
}

/// When the data on screen was last known live: `None` while live.
pub fn stale_since(state: &ConnState) -> Option<f64> {
    match state {
        ConnState::Live { .. } => None,
        ConnState::Reconnecting { since, .. } | ConnState::Offline { since } => Some(*since),
        ConnState::Connecting => Some(js_sys::Date::now()),
    }
}
