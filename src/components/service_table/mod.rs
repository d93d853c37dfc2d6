//! The service table: sortable by status (trouble first) and by name, filterable by name and
//! to the services in trouble, with a disclosure per service that shows its instances.
//!
//! Built for thousands of services: the order comes from per-service triage facts computed
//! once per change (no rules run per frame), only the rows near the viewport are in the DOM
//! (window maths in `shipwatch_logview::TallRowList`, spacers above and below), and rows are
//! keyed by service id so a change repaints its own row only.

mod resort;
mod row;
mod row_slots;
mod viewport;

use crate::components::keyed_list::KeyedList;
use crate::lowercase::lowercase;
use crate::state::environment::EnvironmentState;
use crate::state::fresh_readers::forget_gone_readers;
use leptos::html;
use leptos::prelude::*;
use resort::Resort;
use row::ServiceRow;
use row_slots::RowSlots;
use shipwatch_logview::TallRowList;
use shipwatch_model::number_format::{css_px, grouped};
use shipwatch_model::triage::{table_rows_folded, trouble_count, SortKey, TableQuery, TableRows};

/// Rows rendered above and below the viewport, so that scrolling shows no blank rows.
const OVERSCAN: usize = 8;

/// How often the order may follow status changes.
const RESORT_EVERY: std::time::Duration = std::time::Duration::from_millis(1000);

/// The table of an environment's services. `expanded` is the service whose instances show
/// (from the URL).
#[component]
pub fn ServiceTable(
    env_id: Signal<String>,
    state: EnvironmentState,
    #[prop(into)] expanded: Signal<Option<String>>,
) -> impl IntoView {
    let sort = RwSignal::new((SortKey::Status, true));
    let only_trouble = RwSignal::new(false);
    let name_filter = RwSignal::new(String::new());
    let query = Memo::new(move |_| {
        let (key, ascending) = sort.get();
        TableQuery {
            key,
            ascending,
            only_trouble: only_trouble.get(),
            name: name_filter.get(),
        }
    });
    let sorted = move || {
        query.with_untracked(|q| {
            state
                .triage
                .with_untracked(|t| {
                    state
                        .order
                        .with_untracked(|o| table_rows_folded(o, t, q, lowercase))
                })
                .ids
        })
    };
    // Statuses change in place at once; the order follows at most once a second, a few rows
    // a frame (see `resort`).
    let rows = RwSignal::new(TableRows { ids: sorted() });
    // The toolbar's counts are live, whatever the order.
    let counts = Memo::new(move |_| {
        state
            .triage
            .with(|t| state.order.with(|o| trouble_count(o, t)))
    });
    let table = NodeRef::<html::Table>::new();
    let list_top = NodeRef::<html::Tbody>::new();
    let (viewport, remeasure) = viewport::track(list_top, table);
    let window = Memo::new(move |_| {
        let v = viewport.get();
        rows.with(|r| {
            let tall = expanded
                .with(|e| e.as_ref().and_then(|e| r.ids.iter().position(|id| id == e)))
                .map(|i| (i, v.expanded_extra));
            TallRowList {
                total_rows: r.ids.len(),
                row_height: v.row_height,
                tall,
                // The first render shows the screenful only; the rows around it come with
                // the first measure, after that screenful is painted.
                overscan: if v.measured { OVERSCAN } else { 0 },
            }
            .window(v.view_top, v.view_height)
        })
    });
    let resort = Resort::follow(
        rows,
        sorted,
        move || {
            query.track();
            state.order.track();
        },
        move || state.triage.track(),
        move || window.with_untracked(|w| w.end),
        RESORT_EVERY,
    );
    // The rendered rows and the place of the first in the table; keyed by id, so a row that
    // stays in the window keeps its DOM. Rows get their place through `row_slots`.
    let visible = Memo::new(move |_| {
        let w = window.get();
        let ids = rows
            .with(|r| {
                r.ids
                    .get(w.start..w.end.min(r.ids.len()))
                    .map(<[String]>::to_vec)
            })
            .unwrap_or_default();
        (w.start, ids)
    });
    let row_slots = RowSlots::follow(expanded, visible);
    // Measure again once the expanded row's details are laid out, and once the first rows
    // are (their real height). Not on every change of rows: measuring forces a layout.
    Effect::new(move |_| {
        expanded.track();
        remeasure();
    });
    Effect::new(move |measured: Option<bool>| {
        if measured == Some(true) {
            return true;
        }
        let any = visible.with(|v| !v.1.is_empty());
        if any {
            remeasure();
        }
        any
    });
    let header = move |key: SortKey, label: &'static str| {
        let aria_sort = move || {
            let (k, asc) = sort.get();
            if k != key {
                "none"
            } else if asc {
                "ascending"
            } else {
                "descending"
            }
        };
        let click = move |_| {
            sort.update(|(k, asc)| {
                if *k == key {
                    *asc = !*asc;
                } else {
                    *k = key;
                    *asc = true;
                }
            })
        };
        let hint = match key {
            SortKey::Status => "Sort by status, services in trouble first",
            SortKey::Name => "Sort by name",
        };
        view! {
            <th scope="col" aria-sort=aria_sort class="services__sortable">
                <button type="button" class="sort" on:click=click title=hint>
                    {label}
                    <span class="sort__arrow" aria-hidden="true">
                        {move || match sort.get() {
                            (k, true) if k == key => "▲",
                            (k, false) if k == key => "▼",
                            _ => "↕",
                        }}
                    </span>
                </button>
            </th>
        }
    };
    view! {
        <div class="services-toolbar">
            <h2 class="services-toolbar__title">"Services"</h2>
            <p class="services-toolbar__count">
                {move || {
                    let (n, total) = counts.get();
                    let shown = rows.with(|r| r.ids.len());
                    let shown = if shown == total {
                        String::new()
                    } else {
                        format!(" ({} shown)", grouped(shown))
                    };
                    let total = grouped(total);
                    match n {
                        0 => format!("{total} services, none in trouble{shown}"),
                        1 => format!("{total} services, 1 in trouble{shown}"),
                        _ => format!("{total} services, {} in trouble{shown}", grouped(n)),
                    }
                }}
            </p>
            <input
                type="search"
                class="services-toolbar__filter"
                placeholder="Filter by name"
                aria-label="Filter services by name"
                prop:value=move || name_filter.get()
                on:input=move |e| name_filter.set(event_target_value(&e))
            />
            <button
                type="button"
                class="chip"
                class:chip--trouble=move || counts.with(|c| c.0 > 0)
                aria-pressed=move || only_trouble.get().to_string()
                on:click=move |_| only_trouble.update(|v| *v = !*v)
            >
                "Only services in trouble"
            </button>
        </div>
        <table
            class="services"
            aria-label="Services"
            aria-rowcount=move || rows.with(|r| r.ids.len() + 1)
            node_ref=table
        >
            <colgroup>
                <col class="services__col-name" />
                <col class="services__col-status" />
                <col class="services__col-kind" />
                <col class="services__col-deployment" />
                <col class="services__col-instances" />
                <col class="services__col-version" />
                <col class="services__col-deployed" />
            </colgroup>
            <thead>
                <tr aria-rowindex="1">
                    {header(SortKey::Name, "Service")}
                    {header(SortKey::Status, "Status")}
                    <th scope="col">"Kind"</th>
                    <th scope="col">"Deployment"</th>
                    <th scope="col">"Instances"</th>
                    <th scope="col">"Version"</th>
                    <th scope="col">"Last deployed"</th>
                </tr>
            </thead>
            // Spacers stand for the rows that are not rendered.
            <tbody class="services__spacer" aria-hidden="true" node_ref=list_top>
                <tr><td colspan="7" style:height=move || window.with(|w| css_px(w.top_spacer))></td></tr>
            </tbody>
            // Rows come and go all the time here: see `keyed_list.rs`.
            <KeyedList
                each=move || visible.get().1
                key=move |id| resort.key(id)
                children=move |id| {
                    let slot = row_slots.register(&id);
                    let env_id = env_id.get_untracked();
                    state.service(&id).map(|s| {
                        // The service's signal outlives the row: see `fresh_readers`.
                        let signal = s.clone();
                        on_cleanup(move || forget_gone_readers(signal));
                        view! { <ServiceRow env_id service=s open=slot.open row_index=slot.index flashed_at=slot.flashed_at /> }
                    })
                }
            />
            <tbody class="services__spacer" aria-hidden="true">
                <tr><td colspan="7" style:height=move || window.with(|w| css_px(w.bottom_spacer))></td></tr>
            </tbody>
            {move || rows.with(|r| r.ids.is_empty()).then(|| view! {
                <tbody>
                    <tr><td colspan="7" class="services__empty">
                        {move || if only_trouble.get() || !name_filter.with(String::is_empty) {
                            "No service matches the filters."
                        } else {
                            "No services."
                        }}
                    </td></tr>
                </tbody>
            })}
        </table>
    }
}
