//! The log lines on screen: only the rows of the visible window (plus a margin) are in the
//! DOM, keyed by their store position (a row that stays in the window keeps its DOM); each
//! row's text is ANSI spans rendered as text nodes.

use super::browser::copy_text;
use super::state::{Layout, TimeMode, Viewer};
use crate::components::keyed_list::KeyedList;
use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use shipwatch_logview::timestamps::{format_relative, format_time_utc};
use shipwatch_logview::{mark_spans, LineSpan, Piece};
use shipwatch_model::number_format::grouped;
use shipwatch_model::LogLevel;
use std::hash::{Hash, Hasher};

/// What one row shows, built once when the row enters the window.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RowData {
    n: u64,
    time: Option<String>,
    level: LogLevel,
    stage: String,
    pieces: Vec<Piece>,
    current: Option<usize>,
    selected: bool,
    hint: Option<String>,
    truncated: bool,
}

/// The rows of a layout as (key, store position). The key is the line's store position
/// (stable while the line is kept, evictions included) hashed with what changes how the row
/// looks (time mode, search, selection, current match): a row that stays in the window keeps
/// its DOM from batch to batch, and only rows entering it (or whose look changed) are built.
fn row_keys(viewer: Viewer, layout: &Layout) -> Vec<(u64, u64)> {
    let time = viewer.time.get();
    let start = viewer.start.get();
    let selection = viewer.selection.get();
    let search = viewer.search;
    let generation = search.generation.get();
    // New matches in rows already shown (a first scan runs in slices) re-key those rows.
    search.count.track();
    let current = search.current.get();
    let current_at = current.and_then(|k| search.match_position(k));
    viewer.with_rows(|view, store| {
        (layout.start..layout.end)
            .filter_map(|row| {
                let index = view.index(store, row)?;
                let n = store.line(index)?.n;
                let position = store.first_position() + index as u64;
                let mut h = std::collections::hash_map::DefaultHasher::new();
                (position, time, start, generation).hash(&mut h);
                selection.is_some_and(|s| s.contains(n)).hash(&mut h);
                search.line_has_matches(store, index).hash(&mut h);
                (current_at == Some(position))
                    .then_some(current)
                    .hash(&mut h);
                Some((h.finish(), position))
            })
            .collect()
    })
}

/// What the row of the line at `position` shows now (called only when the row is built).
fn row_data(viewer: Viewer, position: u64) -> Option<RowData> {
    let time = viewer.time.get_untracked();
    let start = viewer.start.get_untracked();
    let selection = viewer.selection.get_untracked();
    let search = viewer.search;
    let current = search.current.get_untracked();
    viewer.model.with(|store| {
        let index = store.index_of_position(position)?;
        let line = store.line(index)?;
        let (ranges, current_mark) = match search.line_matches(store, index) {
            Some((first, ranges)) => {
                let mark = current
                    .and_then(|c| c.checked_sub(first))
                    .filter(|&m| m < ranges.len());
                (ranges, mark)
            }
            None => (Vec::new(), None),
        };
        Some(RowData {
            n: line.n,
            time: match time {
                TimeMode::Absolute => Some(format_time_utc(line.ts)),
                TimeMode::Relative => Some(format_relative(line.ts, start.unwrap_or(line.ts))),
                TimeMode::Hidden => None,
            },
            level: line.level,
            stage: line.stage_name.to_owned(),
            pieces: mark_spans(&line.spans(), &ranges),
            current: current_mark,
            selected: selection.is_some_and(|s| s.contains(line.n)),
            hint: line.hint.map(str::to_owned),
            truncated: line.truncated,
        })
    })
}

/// The scrollable list of lines.
#[component]
pub fn LogRows(viewer: Viewer) -> impl IntoView {
    let layout = Memo::new(move |_| viewer.layout());
    let on_key = move |ev: KeyboardEvent| {
        // Only when the list itself has focus: inside a row, Home/End belong to the row.
        let on_list = ev.target() == viewer.scroller.get_untracked().map(Into::into);
        match ev.key().as_str() {
            "Home" if on_list || ev.ctrl_key() => {
                ev.prevent_default();
                viewer.go_first();
            }
            "End" if on_list || ev.ctrl_key() => {
                ev.prevent_default();
                viewer.go_latest();
            }
            _ => {}
        }
    };
    let width = move || {
        let last = viewer.model.with_tracked(|s| s.last_number().unwrap_or(1));
        format!("{}ch", last.to_string().len().max(3))
    };
    view! {
        <div
            class="log-scroll"
            class:log-scroll--wrap=move || viewer.wrap.get()
            node_ref=viewer.scroller
            tabindex="0"
            role="list"
            aria-label="Log lines"
            aria-describedby="log-keys-help"
            style:--log-n-width=width
            on:scroll=move |_| viewer.on_scroll()
            on:keydown=on_key
        >
            <p id="log-keys-help" class="sr-only">
                "Arrow keys and Page Up/Down scroll; Home and End jump to the first and last line."
            </p>
            {move || {
                let l = layout.get();
                (l.wrap && l.start > 0).then(|| {
                    view! {
                        <button type="button" class="log-btn log-page-btn" on:click=move |_| {
                            viewer.set_following(false);
                            viewer.page_end.update(|e| *e = e.saturating_sub(super::state::WRAP_PAGE / 2).max(super::state::WRAP_PAGE));
                        }>{format!("Show earlier lines ({} above)", grouped(l.start))}</button>
                    }
                })
            }}
            <div
                class="log-content"
                node_ref=viewer.content
                style:height=move || {
                    let l = layout.get();
                    if l.wrap { String::new() } else { format!("{}px", l.content_height) }
                }
            >
                <div
                    class="log-rows"
                    style:transform=move || {
                        let l = layout.get();
                        if l.wrap { String::new() } else { format!("translateY({}px)", l.offset_top) }
                    }
                >
                    <KeyedList
                        each=move || row_keys(viewer, &layout.get())
                        key=|(key, _)| *key
                        children=move |(_, position)| row_data(viewer, position).map(|d| row_view(viewer, d))
                    />
                </div>
            </div>
            {move || {
                let l = layout.get();
                (l.wrap && l.end < l.total).then(|| {
                    view! {
                        <button type="button" class="log-btn log-page-btn" on:click=move |_| {
                            let total = viewer.total_rows();
                            viewer.page_end.update(|e| *e = (*e + super::state::WRAP_PAGE / 2).min(total));
                        }>{format!("Show later lines ({} below)", grouped(l.total - l.end))}</button>
                    }
                })
            }}
            {move || {
                (layout.with(|l| l.total == 0)).then(|| view! {
                    <p class="log-empty">{move || if viewer.model.with_tracked(|s| s.is_empty() && s.evicted() == 0) {
                        "Waiting for log lines…"
                    } else {
                        "No lines match this filter."
                    }}</p>
                })
            }}
        </div>
    }
}

/// One row: line number (permalink), time, level badge, text, copy button.
fn row_view(viewer: Viewer, d: RowData) -> impl IntoView {
    let n = d.n;
    let (level_class, badge) = match d.level {
        LogLevel::Error => (
            " log-row--error",
            Some(("log-badge log-badge--error", "ERROR")),
        ),
        LogLevel::Warning => (
            " log-row--warning",
            Some(("log-badge log-badge--warning", "WARN")),
        ),
        LogLevel::Info | LogLevel::Unknown => ("", None),
    };
    let class = format!(
        "log-row{level_class}{}",
        if d.selected { " log-row--selected" } else { "" }
    );
    let on_number = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        let span = match (ev.shift_key(), viewer.selection.get_untracked()) {
            (true, Some(s)) => LineSpan::between(s.first, n),
            _ => LineSpan::one(n),
        };
        viewer.selection.set(Some(span));
        super::browser::set_fragment(&span.fragment());
    };
    let copy = move |_| {
        let text = viewer
            .model
            .with(|s| s.line_by_number(n).map(|l| l.plain.to_owned()));
        if let Some(text) = text {
            copy_text(viewer, text, format!("Copied line {n}"));
        }
    };
    let current = d.current;
    let text = d
        .pieces
        .into_iter()
        .map(|p| {
            let classes = p.style.css_classes();
            let inline = p.style.css_inline();
            let styled = !classes.is_empty() || !inline.is_empty();
            let inner = if styled {
                view! { <span class=classes style=inline>{p.text}</span> }.into_any()
            } else {
                p.text.into_any()
            };
            match p.mark {
                Some(m) => view! {
                    <mark class="log-mark" class:log-mark--current=current == Some(m)>{inner}</mark>
                }
                .into_any(),
                None => inner,
            }
        })
        .collect_view();
    view! {
        <div
            class=class
            role="listitem"
            data-line=n
            data-stage=d.stage
            title=d.hint.map(|h| format!("Hint: {h}"))
        >
            <a class="log-row__n" href=format!("#L{n}") aria-label=format!("Line {n}") on:click=on_number>{n}</a>
            {d.time.map(|t| view! { <span class="log-row__ts">{t}</span> })}
            {badge.map(|(c, w)| view! { <span class=c>{w}</span> })}
            <span class="log-row__text">
                {text}
                {d.truncated.then(|| view! { <span class="log-row__cut">" [line cut at 64 KiB]"</span> })}
            </span>
            <button type="button" class="log-row__copy" aria-label=format!("Copy line {n}") on:click=copy>"Copy"</button>
        </div>
    }
}
