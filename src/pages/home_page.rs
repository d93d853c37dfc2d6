//! `/`: opens the first environment once the list is known; says so when the server has none.

use crate::router::use_location;
use crate::routes;
use crate::state::environments::EnvironmentsState;
use leptos::prelude::*;

/// Redirects to the first environment.
#[component]
pub fn HomePage() -> impl IntoView {
    let envs = expect_context::<EnvironmentsState>();
    let location = use_location();
    Effect::new(move |_| {
        if let Some(first) = envs.list.with(|l| l.first().map(|e| e.id.clone())) {
            location.replace(&routes::env(&first));
        }
    });
    view! { <EnvironmentsPending envs /> }
}

/// What the home page shows until it can open an environment: "Loading" until the server's
/// list arrived; once it arrived empty (a server run with `--no-simulator` that nothing has
/// reported to yet), that there is none and how to report one. The list is live: the first
/// environment pushed opens without a reload.
#[component]
pub fn EnvironmentsPending(envs: EnvironmentsState) -> impl IntoView {
    let empty = Memo::new(move |_| envs.loaded.get() && envs.list.with(Vec::is_empty));
    move || {
        if empty.get() {
            view! { <NoEnvironments /> }.into_any()
        } else {
            view! { <p class="loading">"Loading environments…"</p> }.into_any()
        }
    }
}

/// The server knows no environment yet.
#[component]
fn NoEnvironments() -> impl IntoView {
    let server = window().location().origin().unwrap_or_default();
    view! {
        <section class="no-environments" aria-labelledby="no-environments-title">
            <h1 id="no-environments-title">"No environments yet"</h1>
            <p class="notice">
                "Nothing has reported an environment to this server. Report a deployment from \
                 a CI job or a script by running it under the reporter, with a write token in \
                 SHIPWATCH_WRITE_TOKEN:"
            </p>
            <p>
                <code>
                    {format!(
                        "shipwatch deploy --server {server} --env production --service api -- ./deploy.sh",
                    )}
                </code>
            </p>
            <p class="notice">
                "Anything else can report through the push API, described in docs/push-api.md. \
                 Environments appear here as soon as they are reported."
            </p>
        </section>
    }
}
