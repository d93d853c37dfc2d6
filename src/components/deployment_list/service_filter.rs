//! The Deployments tab's service filter: a text box to type part of a service's name or id
//! into, with a list of the matching services below it (the WAI-ARIA combobox pattern, list
//! autocomplete with manual selection). Arrows move through the list, Enter picks, Escape
//! closes the list (and a second Escape puts back the service picked); a click picks too.
//! What is picked goes into the URL, as the status filter does. Built for thousands of
//! services: the list shows the best [`SHOWN`] matches and says how many there are.

use super::service_match::{matching, ServiceChoice};
use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use shipwatch_model::number_format::grouped;
use std::rc::Rc;

/// Matches shown at most: more than that is typed away.
pub const SHOWN: usize = 50;

/// The input's id; the list's and its options' ids derive from it.
const INPUT_ID: &str = "deployments-service";
const LIST_ID: &str = "deployments-service-list";

/// One entry of the list: every service, or one.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    id: Option<String>,
    name: String,
}

/// The filter. `picked` is the service in the URL (None: every service), `picked_name` its
/// name; `services` lists the services when the list opens (read then, not kept live);
/// `pick` is called with the user's choice.
#[component]
pub fn ServiceFilter(
    #[prop(into)] picked: Signal<Option<String>>,
    #[prop(into)] picked_name: Signal<String>,
    services: Callback<(), Vec<ServiceChoice>>,
    pick: Callback<Option<String>>,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    // True once the user typed since the last pick: the box then shows what they typed.
    let editing = RwSignal::new(false);
    let open = RwSignal::new(false);
    let active = RwSignal::new(None::<usize>);
    let known = StoredValue::new_local(Rc::new(Vec::<ServiceChoice>::new()));

    let show = move || {
        if !open.get_untracked() {
            known.set_value(Rc::new(services.run(())));
            open.set(true);
        }
    };
    let close = move || {
        open.set(false);
        active.set(None);
    };
    // What the list offers: "All services" while nothing is typed, then the best matches.
    let offered = Memo::new(move |_| {
        if !open.get() {
            return (Vec::new(), 0);
        }
        let query = if editing.get() {
            text.get()
        } else {
            String::new()
        };
        let all = known.get_value();
        let (found, total) = matching(&all, &query, SHOWN);
        let mut entries = Vec::with_capacity(found.len() + 1);
        if query.trim().is_empty() {
            entries.push(Entry {
                id: None,
                name: "All services".into(),
            });
        }
        entries.extend(found.into_iter().map(|s| Entry {
            id: Some(s.id.clone()),
            name: s.name.clone(),
        }));
        (entries, total)
    });
    let choose = move |entry: Option<Entry>| {
        close();
        editing.set(false);
        text.set(String::new());
        if let Some(e) = entry {
            if e.id != picked.get_untracked() {
                pick.run(e.id);
            }
        }
    };
    let on_key = move |ev: KeyboardEvent| {
        let count = offered.with_untracked(|o| o.0.len());
        match ev.key().as_str() {
            "ArrowDown" | "ArrowUp" => {
                ev.prevent_default();
                let down = ev.key() == "ArrowDown";
                if !open.get_untracked() {
                    show();
                    let count = offered.with_untracked(|o| o.0.len());
                    if count > 0 {
                        active.set(Some(if down { 0 } else { count - 1 }));
                    }
                    return;
                }
                if count == 0 {
                    return;
                }
                active.set(Some(match (active.get_untracked(), down) {
                    (None, true) => 0,
                    (None, false) => count - 1,
                    (Some(i), true) => (i + 1) % count,
                    (Some(i), false) => (i + count - 1) % count,
                }));
            }
            "Enter" => {
                ev.prevent_default();
                let query = if editing.get_untracked() {
                    text.get_untracked()
                } else {
                    String::new()
                };
                let entry = match active.get_untracked() {
                    Some(i) if open.get_untracked() => {
                        offered.with_untracked(|o| o.0.get(i).cloned())
                    }
                    // Nothing typed: every service.
                    _ if query.trim().is_empty() => Some(Entry {
                        id: None,
                        name: String::new(),
                    }),
                    // Typed: the best match, if any.
                    _ => {
                        let all = if open.get_untracked() {
                            known.get_value()
                        } else {
                            Rc::new(services.run(()))
                        };
                        matching(&all, &query, 1).0.first().map(|s| Entry {
                            id: Some(s.id.clone()),
                            name: s.name.clone(),
                        })
                    }
                };
                if entry.is_some() {
                    choose(entry);
                }
            }
            "Escape" => {
                if open.get_untracked() {
                    ev.prevent_default();
                    close();
                } else if editing.get_untracked() {
                    ev.prevent_default();
                    editing.set(false);
                    text.set(String::new());
                }
            }
            _ => {}
        }
    };
    let option_id = |i: usize| format!("{LIST_ID}-{i}");
    // The active option stays in the list's view as the arrows move it.
    Effect::new(move |_| {
        if let Some(el) = active
            .get()
            .and_then(|i| document().get_element_by_id(&option_id(i)))
        {
            let nearest = web_sys::ScrollIntoViewOptions::new();
            nearest.set_block(web_sys::ScrollLogicalPosition::Nearest);
            el.scroll_into_view_with_scroll_into_view_options(&nearest);
        }
    });
    let status = move || {
        let (shown, total) = offered.with(|o| (o.0.iter().filter(|e| e.id.is_some()).count(), o.1));
        match total {
            0 => "No service matches".to_string(),
            t if t > shown => format!(
                "{} of {} services: type more of the name",
                grouped(shown as u64),
                grouped(t as u64)
            ),
            1 => "1 service".to_string(),
            t => format!("{} services", grouped(t as u64)),
        }
    };
    view! {
        <div class="deployments__filter service-filter">
            <label for=INPUT_ID>"Service"</label>
            <div class="service-filter__box">
                <input
                    id=INPUT_ID
                    class="service-filter__input"
                    type="text"
                    role="combobox"
                    autocomplete="off"
                    spellcheck="false"
                    placeholder="All services"
                    aria-autocomplete="list"
                    aria-controls=LIST_ID
                    aria-expanded=move || open.get().to_string()
                    aria-activedescendant=move || active.get().filter(|_| open.get()).map(option_id)
                    prop:value=move || if editing.get() { text.get() } else { picked_name.get() }
                    on:input=move |ev| {
                        text.set(event_target_value(&ev));
                        editing.set(true);
                        active.set(None);
                        show();
                    }
                    on:click=move |_| {
                        if open.get_untracked() {
                            close();
                        } else {
                            show();
                        }
                    }
                    on:keydown=on_key
                    on:blur=move |_| {
                        close();
                        editing.set(false);
                        text.set(String::new());
                    }
                />
                <div class="service-filter__popup" hidden=move || !open.get()>
                    <ul id=LIST_ID class="service-filter__list" role="listbox" aria-label="Services">
                        {move || offered.with(|o| o.0.iter().enumerate().map(|(i, e)| {
                            let entry = e.clone();
                            let current = e.id == picked.get_untracked();
                            view! {
                                <li
                                    id=option_id(i)
                                    role="option"
                                    class="service-filter__option"
                                    class:service-filter__option--active=move || active.get() == Some(i)
                                    class:service-filter__option--all=e.id.is_none()
                                    aria-selected=move || (active.get() == Some(i)).to_string()
                                    data-service=e.id.clone().unwrap_or_default()
                                    // Keeps the focus in the box: a click picks without a blur first.
                                    on:mousedown=|ev| ev.prevent_default()
                                    on:click=move |_| choose(Some(entry.clone()))
                                >
                                    {e.name.clone()}
                                    {current.then(|| view! { <span class="service-filter__current">" (current)"</span> })}
                                </li>
                            }
                        }).collect_view())}
                    </ul>
                    <p class="service-filter__status" role="status">{move || open.get().then(status)}</p>
                </div>
            </div>
        </div>
    }
}
