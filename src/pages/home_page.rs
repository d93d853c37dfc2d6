//! `/`: opens the first environment once the list is known.

use crate::routes;
use crate::state::environments::EnvironmentsState;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

/// Redirects to the first environment.
#[component]
pub fn HomePage() -> impl IntoView {
    let envs = expect_context::<EnvironmentsState>();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(first) = envs.list.with(|l| l.first().map(|e| e.id.clone())) {
            navigate(
                &routes::env(&first),
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });
    view! { <p class="loading">"Loading environments…"</p> }
}
