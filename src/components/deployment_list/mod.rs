//! The deployment history of an environment or of one service: a page at a time from the
//! server, newest first, kept live from the environment topic the page already follows (a
//! service's last deployment changing id or status), with filters in the URL's query. The
//! merging is `state::deployment_history`'s; this module fetches and shows.

mod row;
mod service_filter;
pub mod service_match;

use crate::components::keyed_list::KeyedList;
use crate::read_api::{get_json, ReadError};
use crate::router::use_location;
use crate::routes;
use crate::state::deployment_history::{
    Filters, History, HistoryPage, Observed, StatusFilter, PAGE_SIZE,
};
use crate::state::environment::EnvironmentState;
use crate::state::time_in_state::server_time;
use crate::time_format::clock_time;
use leptos::prelude::*;
use row::DeploymentRow;
use service_filter::ServiceFilter;
use service_match::ServiceChoice;
use shipwatch_model::entities::Millis;
use shipwatch_model::{Deployment, DeploymentStatus};
use std::collections::HashMap;

/// How long after a live change the newest page is fetched again (for stages and order):
/// changes arriving meanwhile share one fetch.
const REFRESH_DELAY_MS: u64 = 300;

/// What a service's (or the environment's, key `None`) last deployment looked like.
type Seen = HashMap<Option<String>, (String, DeploymentStatus, Option<Millis>)>;

/// The list with its filters. `fixed_service` makes it one service's list.
#[component]
pub fn DeploymentList(
    env_id: Signal<String>,
    #[prop(into)] fixed_service: Signal<Option<String>>,
    state: EnvironmentState,
) -> impl IntoView {
    let location = use_location();
    let filters = Memo::new(move |_| {
        let mut f = location.search.with(|q| Filters::from_query(q));
        if let Some(s) = fixed_service.get() {
            f.service = Some(s);
        }
        f
    });
    let history = RwSignal::new(History::default());
    let notice = RwSignal::new(None::<String>);
    let older_loading = RwSignal::new(false);
    let head = Head {
        env_id,
        filters,
        history,
        notice,
        generation: StoredValue::new(0),
        in_flight: StoredValue::new(false),
        again: StoredValue::new(false),
    };
    let generation = head.generation;
    let fetch_head = move || head.fetch();

    // Start over when the environment or the filters change.
    Effect::new(move |_| {
        env_id.track();
        filters.track();
        generation.update_value(|g| *g += 1);
        head.in_flight.set_value(false);
        head.again.set_value(false);
        history.set(History::default());
        notice.set(None);
        fetch_head();
    });

    // Live: a service's last deployment that changes id or status is merged in place (or on
    // top), then the newest page is fetched again for its stages and place.
    let refresh_pending = StoredValue::new(false);
    let seen = StoredValue::new(None::<Seen>);
    Effect::new(move |_| {
        let now = last_deployments(&state);
        let before = seen.get_value();
        seen.set_value(Some(now.clone()));
        // The first look is the baseline: those deployments come with the pages.
        let Some(before) = before else { return };
        let env = env_id.get_untracked();
        let f = filters.get_untracked();
        let mut touched = false;
        for (service, facts) in &now {
            if before.get(service) == Some(facts) {
                continue;
            }
            let Some(d) = full_deployment(&state, service.as_deref()) else {
                continue;
            };
            let observed = history
                .try_update(|h| h.observe(&env, service.as_deref(), &d, &f))
                .unwrap_or(Observed::Ignored);
            touched |= matches!(observed, Observed::New | Observed::Changed);
        }
        if touched && !refresh_pending.get_value() {
            refresh_pending.set_value(true);
            set_timeout(
                move || {
                    if refresh_pending.try_set_value(false).is_some() {
                        return;
                    }
                    fetch_head();
                },
                std::time::Duration::from_millis(REFRESH_DELAY_MS),
            );
        }
    });

    let load_older = move |_| {
        let Some(cursor) = history.with_untracked(|h| h.next.clone()) else {
            return;
        };
        older_loading.set(true);
        let gen = generation.get_value();
        let url = routes::deployments_api(
            &env_id.get_untracked(),
            &filters.with_untracked(|f| f.api_query(Some(&cursor), PAGE_SIZE)),
        );
        leptos::task::spawn_local(async move {
            let answer = get_json::<HistoryPage>(&url).await;
            if older_loading.try_set(false).is_some() || generation.try_get_value() != Some(gen) {
                return;
            }
            match answer {
                Ok(page) => {
                    history.try_update(|h| h.merge_older(page));
                }
                Err(e) => {
                    notice.try_set(Some(read_error_sentence(&e)));
                }
            }
        });
    };

    // Running deployments count up every second, by the server's clock (a page whose clock
    // is behind would show 0s for as long); one timer for the whole list.
    let server_now = || js_sys::Date::now() + server_time().skew.get_untracked();
    let now = RwSignal::new(server_now());
    if let Ok(tick) = set_interval_with_handle(
        move || {
            now.try_set(server_now());
        },
        std::time::Duration::from_secs(1),
    ) {
        on_cleanup(move || tick.clear());
    }

    let empty = move || history.with(|h| h.loaded && h.entries.is_empty());
    view! {
        <div class="deployments">
            <FilterBar fixed_service filters state />
            {move || notice.get().map(|m| view! { <p class="notice deployments__notice" role="status">{m}</p> })}
            <DeploymentTable
                history
                now
                fixed_service
                caption=Signal::derive(move || caption(&env_id.get(), fixed_service.get().as_deref()))
            />
            {move || (!history.with(|h| h.loaded)).then(|| view! { <p class="loading">"Loading deployments…"</p> })}
            {move || empty().then(|| view! {
                <p class="deployments__empty">
                    {move || if filters.with(|f| f.status != StatusFilter::Any || (f.service.is_some() && fixed_service.get().is_none())) {
                        "No deployment matches these filters."
                    } else {
                        "No deployments kept yet."
                    }}
                </p>
            })}
            {move || history.with(|h| h.next.is_some()).then(|| view! {
                <button type="button" class="deployments__more" on:click=load_older disabled=move || older_loading.get()>
                    {move || if older_loading.get() { "Loading older deployments…" } else { "Show older deployments" }}
                </button>
            })}
        </div>
    }
}

/// The table of a history's deployments, newest first; rows keep their DOM while their
/// deployment changes (keyed by id).
#[component]
pub fn DeploymentTable(
    history: RwSignal<History>,
    /// The time running durations count to.
    now: RwSignal<f64>,
    #[prop(into)] fixed_service: Signal<Option<String>>,
    #[prop(into)] caption: Signal<String>,
) -> impl IntoView {
    let ids = move || {
        history.with(|h| {
            h.entries
                .iter()
                .map(|e| e.deployment.id.clone())
                .collect::<Vec<_>>()
        })
    };
    view! {
        <table class="deployments__table" aria-busy=move || (!history.with(|h| h.loaded)).to_string()>
            <caption class="sr-only">{caption}</caption>
            <thead>
                <tr>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Deployed"</th>
                    <th scope="col">"Version"</th>
                    <th scope="col">"Trigger"</th>
                    <th scope="col">"Started"</th>
                    <th scope="col">"Duration"</th>
                    <th scope="col">"Stages"</th>
                </tr>
            </thead>
            <tbody>
                <KeyedList
                    each=ids
                    key=|id| id.clone()
                    children=move |id| view! { <DeploymentRow id history now fixed_service /> }
                />
            </tbody>
        </table>
    }
}

/// Fetches the newest page and merges it; one fetch at a time, and one more after it when
/// asked meanwhile.
#[derive(Clone, Copy)]
struct Head {
    env_id: Signal<String>,
    filters: Memo<Filters>,
    history: RwSignal<History>,
    notice: RwSignal<Option<String>>,
    /// Bumped whenever the list starts over: answers to an earlier list are dropped.
    generation: StoredValue<u64>,
    in_flight: StoredValue<bool>,
    again: StoredValue<bool>,
}

impl Head {
    fn fetch(self) {
        if self.in_flight.get_value() {
            self.again.set_value(true);
            return;
        }
        self.in_flight.set_value(true);
        let gen = self.generation.get_value();
        let url = routes::deployments_api(
            &self.env_id.get_untracked(),
            &self
                .filters
                .with_untracked(|f| f.api_query(None, PAGE_SIZE)),
        );
        leptos::task::spawn_local(async move {
            let answer = get_json::<HistoryPage>(&url).await;
            // The list may be gone, or have started over, by now.
            if self.generation.try_get_value() != Some(gen) {
                return;
            }
            self.in_flight.set_value(false);
            match answer {
                Ok(page) => {
                    let since = page.in_memory_since;
                    self.history.try_update(|h| h.merge_head(page));
                    self.notice.try_set(since.map(in_memory_sentence));
                }
                Err(e) => {
                    self.history.try_update(|h| h.loaded = true);
                    self.notice.try_set(Some(read_error_sentence(&e)));
                }
            }
            if self.again.try_get_value() == Some(true) {
                self.again.set_value(false);
                self.fetch();
            }
        });
    }
}

/// The filters: service (unless the list is one service's) and status, kept in the URL.
#[component]
fn FilterBar(
    fixed_service: Signal<Option<String>>,
    filters: Memo<Filters>,
    state: EnvironmentState,
) -> impl IntoView {
    let location = use_location();
    let go = move |f: Filters| {
        let path = location.pathname.get_untracked();
        let query = f.to_query(fixed_service.get_untracked().is_some());
        location.navigate(&format!("{path}{query}"));
    };
    // Read when the service list opens: the statuses change many times a second, the names
    // seldom, and thousands of them are not worth keeping live in a closed list.
    let services = Callback::new(move |()| {
        state.triage.with_untracked(|t| {
            t.iter()
                .map(|(id, s)| ServiceChoice::new(id.clone(), s.name.clone()))
                .collect::<Vec<_>>()
        })
    });
    let picked = Signal::derive(move || filters.with(|f| f.service.clone()));
    let picked_name = Memo::new(move |_| {
        picked.get().map_or_else(String::new, |id| {
            state
                .triage
                .with(|t| t.get(&id).map(|s| s.name.clone()))
                .unwrap_or(id)
        })
    });
    view! {
        <form class="deployments__filters" role="search" aria-label="Filter deployments" on:submit=|e| e.prevent_default()>
            {move || fixed_service.get().is_none().then(|| {
                let pick = Callback::new(move |service: Option<String>| {
                    let mut f = filters.get_untracked();
                    f.service = service;
                    go(f);
                });
                view! { <ServiceFilter picked picked_name services pick /> }
            })}
            <label class="deployments__filter">
                <span>"Status"</span>
                <select
                    name="status"
                    prop:value=move || filters.with(|f| f.status.slug())
                    on:change=move |e| {
                        let mut f = filters.get_untracked();
                        f.status = StatusFilter::from_slug(&event_target_value(&e));
                        go(f);
                    }
                >
                    {StatusFilter::ALL.into_iter().map(|s| view! {
                        <option value=s.slug() selected=move || filters.with(|f| f.status == s)>{s.label()}</option>
                    }).collect_view()}
                </select>
            </label>
        </form>
    }
}

/// The table's caption, for screen readers.
fn caption(env: &str, service: Option<&str>) -> String {
    match service {
        Some(s) => format!("Deployments of {s} in {env}, newest first"),
        None => format!("Deployments of {env}, newest first"),
    }
}

/// What a read failure says on the page.
fn read_error_sentence(e: &ReadError) -> String {
    match e {
        ReadError::NoStore(_) => "This server keeps no deployment history (it runs without a \
                                  store): only the deployments seen since this page opened are \
                                  listed."
            .into(),
        ReadError::Failed(why) => format!("The deployment history could not be loaded: {why}."),
    }
}

/// What a server without a store says of its history.
fn in_memory_sentence(since: u64) -> String {
    format!(
        "This server runs without a store: its deployment history is kept in memory since \
         it started, at {}, and is lost when it stops.",
        clock_time(since as f64)
    )
}

/// The last deployment of every service, and the environment's own (key `None`).
fn last_deployments(state: &EnvironmentState) -> Seen {
    let mut seen: Seen = state.triage.with(|t| {
        t.iter()
            .filter_map(|(id, s)| {
                s.deployment
                    .as_ref()
                    .map(|d| (Some(id.clone()), (d.id.clone(), d.status, d.finished_at)))
            })
            .collect()
    });
    if let Some(d) = state.deployment.get() {
        seen.insert(None, (d.id, d.status, d.finished_at));
    }
    seen
}

/// The whole last deployment of a service (or the environment's own).
fn full_deployment(state: &EnvironmentState, service: Option<&str>) -> Option<Deployment> {
    match service {
        Some(id) => state
            .service(id)
            .and_then(|s| s.with_untracked(|s| s.deployment.clone())),
        None => state.deployment.get_untracked(),
    }
}
