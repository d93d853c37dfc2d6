//! The environment switcher: every environment with its dot and label, trouble at a glance.

use super::keyed_list::KeyedList;
use super::status_dot::dot_classes;
use crate::routes;
use crate::state::environments::EnvironmentsState;
use leptos::prelude::*;
use shipwatch_model::entities::EnvironmentSummary;

/// Navigation between environments.
#[component]
pub fn EnvSwitcher(
    state: EnvironmentsState,
    #[prop(into)] current: Signal<String>,
) -> impl IntoView {
    // Keyed by id alone: a status change updates the link in place. (Keyed by status, every
    // change made a new row, and `<For>` keeps each row's owner as long as the list lives: the
    // whole app, so the switcher leaked under a storm of changes.)
    view! {
        <nav class="env-switcher" aria-label="Environments">
            <ul>
                <KeyedList
                    each=move || state.list.with(|l| l.iter().map(|e| e.id.clone()).collect::<Vec<_>>())
                    key=|id| id.clone()
                    children=move |id| view! { <EnvLink state current id /> }
                />
            </ul>
        </nav>
    }
}

/// One environment's link: its dot, name and deployment label, kept up to date in place.
#[component]
fn EnvLink(state: EnvironmentsState, current: Signal<String>, id: String) -> impl IntoView {
    let summary = {
        let id = id.clone();
        Memo::new(move |_| state.list.with(|l| l.iter().find(|e| e.id == id).cloned()))
    };
    let field = move |f: fn(&EnvironmentSummary) -> String| {
        move || summary.with(|s| s.as_ref().map(f).unwrap_or_default())
    };
    let running = move || summary.with(|s| s.as_ref().map(|e| e.running));
    let deployment = move || summary.with(|s| s.as_ref().and_then(|e| e.deployment));
    let status_text = field(|e| {
        format!(
            "{}: running status {}{}",
            e.name,
            e.running.word(),
            e.deployment
                .map(|d| format!(", deployment {}", d.word()))
                .unwrap_or_default()
        )
    });
    let href = routes::env(&id);
    let is_current = move || current.with(|c| *c == id);
    view! {
        <li>
            <a
                href=href
                class="env-switcher__link"
                aria-current=move || is_current().then_some("page")
                title=field(|e| e.running_reason.clone())
                aria-label=status_text
            >
                <span class=move || running().map(dot_classes).unwrap_or_default() aria-hidden="true">
                    <span class="dot__shape"></span>
                </span>
                <span class="env-switcher__name">{field(|e| e.name.clone())}</span>
                {move || deployment().map(|d| view! {
                    <span class="env-switcher__deploy" data-status=d.word()>{d.word()}</span>
                })}
            </a>
        </li>
    }
}
