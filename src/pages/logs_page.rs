//! `/env/:env/.../deployments/:dep/logs`: a deployment's logs, streamed live.

use crate::feed::{Feed, SubEvent};
use crate::routes;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use send_wrapper::SendWrapper;
use shipwatch_model::protocol::{Change, Snapshot, Topic};
use shipwatch_model::{Deployment, LogLevel, LogLine};

/// The deployment log page.
#[component]
pub fn LogsPage() -> impl IntoView {
    let params = use_params_map();
    let env_id = Signal::derive(move || params.with(|p| p.get("env").unwrap_or_default()));
    let dep_id = Signal::derive(move || params.with(|p| p.get("dep").unwrap_or_default()));
    let feed = Feed::expect();
    let deployment = RwSignal::new(None::<Deployment>);
    let lines = RwSignal::new(Vec::<LogLine>::new());
    let guard = StoredValue::new(None::<SendWrapper<crate::feed::SubscriptionGuard>>);
    Effect::new(move |_| {
        let dep = dep_id.get();
        lines.set(Vec::new());
        let sub = feed.subscribe(Topic::Logs { deployment: dep }, move |event| match event {
            SubEvent::Snapshot(Snapshot::Logs { deployment: d, .. }) => {
                deployment.set(Some(d));
                lines.set(Vec::new());
            }
            SubEvent::Changes(changes) => lines.update(|l| {
                for c in changes {
                    match c {
                        Change::Line(line) => l.push(line),
                        Change::Deployment(d) => deployment.set(Some(d)),
                        _ => {}
                    }
                }
            }),
            _ => {}
        });
        guard.set_value(Some(SendWrapper::new(sub)));
    });
    on_cleanup(move || guard.set_value(None));
    view! {
        <section class="logs" role="region" aria-label="Deployment logs">
            <p><a href=move || routes::env(&env_id.get())>"← Back to environment"</a></p>
            <h1>"Deployment " {move || dep_id.get()} " "
                {move || deployment.get().map(|d| d.status.word())}
            </h1>
            <ol class="log-lines">
                <For
                    each=move || lines.get()
                    key=|l| l.n
                    children=|l| {
                        let error = l.level == LogLevel::Error;
                        view! {
                            <li class="log-line" class:log-line--error=error>
                                {error.then(|| view! { <span class="log-line__mark">"ERROR "</span> })}
                                {l.text}
                            </li>
                        }
                    }
                />
            </ol>
        </section>
    }
}
