//! `/env/:env` and `/env/:env/service/:service`: the environment header, its tabs and its
//! service table, live; the service in the URL shows its instances. `/env/:env/deployments`
//! and `/env/:env/service/:service/deployments`: the same page on its Deployments tab (the
//! history, `deployments_route.rs`). The page stays mounted when only the service or the tab
//! changes, so neither resubscribes.

use crate::components::connection_indicator::stale_since;
use crate::components::env_header::{env_deployment, env_since, environment_running, EnvHeader};
use crate::components::env_tabs::{EnvTab, EnvTabs};
use crate::components::service_table::ServiceTable;
use crate::components::tab_status;
use crate::feed::{use_subscription, Feed, SubEvent, UseSubscriptionOptions};
use crate::pages::deployments_page::DeploymentsProps;
use crate::pages::deployments_route::deployments_view;
use crate::router::use_location;
use crate::routes::Route;
use crate::state::announcer::Announcer;
use crate::state::environment::EnvironmentState;
use crate::state::environments::EnvironmentsState;
use crate::time_format::clock_time;
use leptos::prelude::*;
use shipwatch_model::protocol::Topic;

/// The environment id and the expanded service of a path, e.g. `/env/production/service/api`.
pub fn parse_path(path: &str) -> (String, Option<String>) {
    match Route::parse(path) {
        Some(Route::Environment {
            env,
            tab: EnvTab::Services,
            service,
        }) => (env, service),
        route => (
            route
                .as_ref()
                .and_then(Route::env)
                .unwrap_or_default()
                .to_owned(),
            None,
        ),
    }
}

/// The environment, tab and service of an environment route.
type Place = (String, EnvTab, Option<String>);

/// The environment page.
#[component]
pub fn EnvironmentPage() -> impl IntoView {
    let location = use_location();
    // The route's environment, tab and service, kept while the route leaves this page (it
    // is going away).
    let place = Memo::new(move |kept: Option<&Place>| match location.route.get() {
        Some(Route::Environment { env, tab, service }) => (env, tab, service),
        _ => kept
            .cloned()
            .unwrap_or((String::new(), EnvTab::Services, None)),
    });
    let env_id = Memo::new(move |_| place.with(|p| p.0.clone()));
    let expanded = Memo::new(move |_| {
        place.with(|p| (p.1 == EnvTab::Services).then(|| p.2.clone()).flatten())
    });
    let tab = Memo::new(move |_| place.with(|p| (p.1, p.2.clone())));
    let tab_kind = Memo::new(move |_| place.with(|p| p.1));
    let feed = Feed::expect();
    let conn = feed.state();
    let state = EnvironmentState::new();
    let announcer = Announcer::use_announcer();
    // Follows the route's environment: the hook subscribes again when it changes, and the
    // page shows nothing until the new environment's snapshot.
    let options = UseSubscriptionOptions::default()
        .on_subscribe(move |_| state.loaded.set(false))
        .on_event(move |event, sub| match event {
            SubEvent::Snapshot(s) => state.apply_snapshot(s),
            SubEvent::Changes(c) => {
                let applied = state.apply_changes(c);
                if let Some(a) = announcer {
                    a.announce_batch(&state.name.get_untracked(), &applied.notices);
                }
                if let Some(reason) = applied.out_of_step {
                    sub.resync(&reason);
                }
            }
            SubEvent::Refused(_, message, _) => state.refused.set(Some(message)),
            SubEvent::Lines(_) => {}
        });
    use_subscription(move || Topic::Environment { env: env_id.get() }, options);
    let running = Memo::new(move |_| environment_running(&state));
    let deployment = Memo::new(move |_| env_deployment(&env_id.get(), &state));
    // Since when the environment's statuses hold: the list's summary, when it agrees with
    // what this page computes (the header's marks and the tabs' dots say the same).
    let list = use_context::<EnvironmentsState>();
    let since = Memo::new(move |_| {
        let status = running.with(|r| r.0.status);
        let dep = deployment.with(|d| d.as_ref().map(|v| v.verdict.status));
        env_since(list, &env_id.get(), status, dep)
    });
    tab_status::follow(
        Signal::derive(move || state.name.get()),
        Signal::derive(move || state.loaded.get().then(|| running.with(|r| r.0.status))),
        Signal::derive(move || conn.get().is_live()),
    );
    let stale = Memo::new(move |_| conn.with(stale_since));
    view! {
        <section
            class="environment"
            class:stale=move || stale.get().is_some() && state.loaded.get()
            aria-busy=move || (!state.loaded.get()).to_string()
        >
            {move || state.refused.get().map(|m| view! { <p class="notice notice--error" role="alert">{m}</p> })}
            {move || stale.get().filter(|_| state.loaded.get()).map(|since| view! {
                <p class="stale-banner">
                    <strong>"Not live."</strong>
                    {format!(" Showing the last known state, from {}. It updates as soon as the connection is back.", clock_time(since))}
                </p>
            })}
            <Show when=move || state.loaded.get() fallback=|| view! { <p class="loading">"Loading environment…"</p> }>
                <div class="environment__data">
                    <EnvHeader state running deployment since />
                    <EnvTabs
                        env_id=env_id.into()
                        current=tab_kind
                        name=Signal::derive(move || state.name.get())
                        running
                        deployment
                        since
                    />
                    {move || match tab_kind.get() {
                        EnvTab::Services => view! { <ServiceTable env_id=env_id.into() state expanded /> }.into_any(),
                        EnvTab::Deployments => deployments_view(DeploymentsProps {
                            env_id: env_id.into(),
                            service: Signal::derive(move || tab.with(|t| t.1.clone())),
                            state,
                        }),
                    }}
                </div>
            </Show>
        </section>
    }
}
