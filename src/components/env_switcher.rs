//! The environment switcher: every environment with its dot and label, trouble at a glance.
//! On phones the list is folded behind one button that names the environment shown (its dot
//! and name), and opens over the page (style/main.css): a row for every environment at the
//! top of each page would push the page down, and on the log page it took the lines' room.

use super::keyed_list::KeyedList;
use super::status_dot::dot_classes;
use super::tooltip::{Tooltip, TooltipState};
use crate::routes;
use crate::state::clock::Clock;
use crate::state::environments::EnvironmentsState;
use crate::state::time_in_state::since_words;
use leptos::prelude::*;
use shipwatch_model::entities::EnvironmentSummary;
use shipwatch_model::Scope;

/// Navigation between environments.
#[component]
pub fn EnvSwitcher(
    state: EnvironmentsState,
    #[prop(into)] current: Signal<String>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    // Another environment shown (a link followed, or the back button): the list folds.
    Effect::new(move |_| {
        current.track();
        open.set(false);
    });
    let toggle = NodeRef::<leptos::html::Button>::new();
    let shown = Memo::new(move |_| {
        current.with(|c| {
            state.list.with(|l| {
                l.iter()
                    .find(|e| e.id == *c)
                    .map(|e| (e.name.clone(), e.running))
            })
        })
    });
    let current_name = move || {
        shown.with(|s| {
            s.as_ref()
                .map(|(name, _)| name.clone())
                .unwrap_or_else(|| "Environments".into())
        })
    };
    let keydown = move |ev: web_sys::KeyboardEvent| {
        if ev.key() == "Escape" && open.get_untracked() {
            open.set(false);
            if let Some(b) = toggle.get_untracked() {
                let _ = b.focus();
            }
        }
    };
    view! {
        <nav
            class="env-switcher"
            class:env-switcher--open=open
            class:env-switcher--empty=move || state.list.with(Vec::is_empty)
            aria-label="Environments"
            on:keydown=keydown
        >
            <button
                type="button"
                class="env-switcher__toggle"
                node_ref=toggle
                aria-expanded=move || open.get().to_string()
                aria-controls=LIST_ID
                on:click=move |_| open.update(|o| *o = !*o)
            >
                {move || shown.get().map(|(_, running)| view! {
                    <span class=dot_classes(running) aria-hidden="true"><span class="dot__shape"></span></span>
                })}
                <span class="sr-only">"Environment: "</span>
                // A long name is cut on a narrow screen: the title shows it whole.
                <span class="env-switcher__current" title=current_name>{current_name}</span>
                <span class="env-switcher__chevron" aria-hidden="true"></span>
            </button>
            <ul id=LIST_ID on:click=move |_| open.set(false)>
                // Keyed by id alone: a status change updates the link in place. (Keyed by
                // status, every change made a new row, and `<For>` keeps each row's owner as
                // long as the list lives: the whole app, so the switcher leaked under a storm
                // of changes.)
                <KeyedList
                    each=move || state.list.with(|l| l.iter().map(|e| e.id.clone()).collect::<Vec<_>>())
                    key=|id| id.clone()
                    children=move |id| view! { <EnvLink state current id /> }
                />
            </ul>
        </nav>
    }
}

/// The id of the switcher's list, which the phone's button unfolds (one switcher a page).
const LIST_ID: &str = "env-switcher-list";

/// One environment's link: its dot, name and deployment label, kept up to date in place.
///
/// The link's accessible name is its content, so it contains the visible text (WCAG 2.5.3):
/// the name, the running status as words for screen readers (the dot shows it by shape and
/// colour), then the visible deployment word. Its marks explain themselves in a tooltip like
/// every other status mark, since when each status holds included; the link is the tooltip's
/// trigger (a focusable mark inside a link would nest one control in another).
#[component]
fn EnvLink(state: EnvironmentsState, current: Signal<String>, id: String) -> impl IntoView {
    let summary = {
        let id = id.clone();
        Memo::new(move |_| state.list.with(|l| l.iter().find(|e| e.id == id).cloned()))
    };
    let field = move |f: fn(&EnvironmentSummary) -> String| {
        move || summary.with(|s| s.as_ref().map(f).unwrap_or_default())
    };
    let clock = Clock::use_clock();
    let running = move || summary.with(|s| s.as_ref().map(|e| e.running));
    let deployment = move || summary.with(|s| s.as_ref().and_then(|e| e.deployment));
    let running_since = move || summary.with(|s| s.as_ref().and_then(|e| e.running_since));
    let deployment_since = move || summary.with(|s| s.as_ref().and_then(|e| e.deployment_since));
    let spoken_status = field(|e| {
        format!(
            ": running status {}{}",
            e.running.word(),
            if e.deployment.is_some() {
                ", deployment"
            } else {
                ""
            }
        )
    });
    let href = routes::env(&id);
    let is_current = move || current.with(|c| *c == id);
    let tip = TooltipState::new();
    let described_by = tip.id.clone();
    view! {
        <li>
            <Tooltip
                state=tip
                trigger=Box::new(move || {
                    view! {
                        <a
                            href=href.clone()
                            class="env-switcher__link"
                            aria-current=move || is_current().then_some("page")
                            aria-describedby=described_by.clone()
                        >
                            <span class=move || running().map(dot_classes).unwrap_or_default() aria-hidden="true">
                                <span class="dot__shape"></span>
                            </span>
                            <span class="env-switcher__name">{field(|e| e.name.clone())}</span>
                            <span class="sr-only">{spoken_status}</span>
                            {move || deployment().map(|d| view! {
                                " "
                                <span class="env-switcher__deploy" data-status=d.word()>{d.word()}</span>
                            })}
                        </a>
                    }
                    .into_any()
                })
                bubble=std::sync::Arc::new(move || {
                    view! {
                        <p class="tooltip__title">
                            <strong>{move || running().map(|r| r.word()).unwrap_or_default()}</strong>
                            " · " {field(|e| e.name.clone())}
                        </p>
                        <p class="tooltip__meaning">
                            {move || running().map(|r| r.meaning_in(Scope::Environment)).unwrap_or_default()}
                        </p>
                        <p class="tooltip__why">{field(|e| e.running_reason.clone())}</p>
                        {move || running().zip(running_since()).map(|(r, t)| view! {
                            <p class="tooltip__since">{since_words(r.word(), t, clock)}</p>
                        })}
                        {move || deployment().map(|d| view! {
                            <p class="tooltip__note">
                                "Deployment " <strong>{d.word()}</strong> ": " {d.meaning()}
                            </p>
                        })}
                        {move || deployment().zip(deployment_since()).map(|(d, t)| view! {
                            <p class="tooltip__since">{since_words(d.word(), t, clock)}</p>
                        })}
                    }
                    .into_any()
                })
            />
        </li>
    }
}
