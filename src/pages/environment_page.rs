//! `/env/:env`: the environment header and its service table, live.

use crate::components::env_header::EnvHeader;
use crate::components::service_table::ServiceTable;
use crate::feed::{Feed, SubEvent};
use crate::state::environment::EnvironmentState;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use send_wrapper::SendWrapper;
use shipwatch_model::protocol::Topic;

/// The environment page.
#[component]
pub fn EnvironmentPage() -> impl IntoView {
    let params = use_params_map();
    let env_id = Signal::derive(move || params.with(|p| p.get("env").unwrap_or_default()));
    let feed = Feed::expect();
    let state = EnvironmentState::new();
    // Re-subscribe when the route's environment changes; the guard unsubscribes the old one.
    let guard = StoredValue::new(None::<SendWrapper<crate::feed::SubscriptionGuard>>);
    Effect::new(move |_| {
        let env = env_id.get();
        state.loaded.set(false);
        let sub = feed.subscribe(Topic::Environment { env }, move |event| match event {
            SubEvent::Snapshot(s) => state.apply_snapshot(s),
            SubEvent::Changes(c) => state.apply_changes(c),
            SubEvent::Refused(_, message) => state.refused.set(Some(message)),
        });
        guard.set_value(Some(SendWrapper::new(sub)));
    });
    on_cleanup(move || guard.set_value(None));
    let stale = {
        let st = Feed::expect().state();
        move || !st.get().is_live()
    };
    view! {
        <section class="environment" class:stale=stale aria-busy=move || (!state.loaded.get()).to_string()>
            {move || state.refused.get().map(|m| view! { <p class="notice notice--error" role="alert">{m}</p> })}
            <Show when=move || state.loaded.get() fallback=|| view! { <p class="loading">"Loading environment…"</p> }>
                <EnvHeader env_id state />
                <ServiceTable env_id state />
            </Show>
        </section>
    }
}
