//! The environment switcher: every environment with its dot and label, trouble at a glance.

use super::status_dot::dot_classes;
use crate::routes;
use crate::state::environments::EnvironmentsState;
use leptos::prelude::*;

/// Navigation between environments.
#[component]
pub fn EnvSwitcher(
    state: EnvironmentsState,
    #[prop(into)] current: Signal<String>,
) -> impl IntoView {
    view! {
        <nav class="env-switcher" aria-label="Environments">
            <ul>
                <For
                    each=move || state.list.get()
                    key=|e| (e.id.clone(), e.running, e.deployment, e.running_reason.clone())
                    children=move |e| {
                        let id = e.id.clone();
                        let is_current = move || current.get() == id;
                        let status_text = format!(
                            "{}: running status {}{}",
                            e.name,
                            e.running.word(),
                            e.deployment.map(|d| format!(", deployment {}", d.word())).unwrap_or_default()
                        );
                        view! {
                            <li>
                                <a
                                    href=routes::env(&e.id)
                                    class="env-switcher__link"
                                    aria-current=move || is_current().then_some("page")
                                    title=e.running_reason.clone()
                                    aria-label=status_text
                                >
                                    <span class=dot_classes(e.running) aria-hidden="true">
                                        <span class="dot__shape"></span>
                                    </span>
                                    <span class="env-switcher__name">{e.name.clone()}</span>
                                    {e.deployment.map(|d| view! {
                                        <span class="env-switcher__deploy" data-status=d.word()>{d.word()}</span>
                                    })}
                                </a>
                            </li>
                        }
                    }
                />
            </ul>
        </nav>
    }
}
