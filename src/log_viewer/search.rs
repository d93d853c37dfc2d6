//! Find in the log: the query, a [`StoreSearch`] over every kept line (not only the rows in
//! the DOM), match navigation, and the search bar.

use super::state::Viewer;
use leptos::ev::KeyboardEvent;
use leptos::html::Input;
use leptos::prelude::*;
use shipwatch_logview::search::step;
use shipwatch_logview::{Direction, LineFilter, LogStore, Query, StoreSearch};
use std::ops::Range;

/// Lines scanned per slice of a first search, so a million-line log stays responsive.
const SCAN_SLICE: usize = 200_000;

/// Typing pause before a search runs (ms).
const DEBOUNCE_MS: u64 = 120;

/// The search's state (copyable handles).
#[derive(Clone, Copy)]
pub struct SearchState {
    /// What the user typed.
    pub pattern: RwSignal<String>,
    /// Match case.
    pub case_sensitive: RwSignal<bool>,
    /// Read the pattern as a regular expression.
    pub regex: RwSignal<bool>,
    engine: StoredValue<Option<StoreSearch>, LocalStorage>,
    /// Bumped whenever the engine is replaced (rows re-highlight).
    pub generation: RwSignal<u64>,
    /// Matches so far.
    pub count: RwSignal<usize>,
    /// A first scan is still running.
    pub scanning: RwSignal<bool>,
    /// The current match (0-based, in log order).
    pub current: RwSignal<Option<usize>>,
    /// Why the query can't run (bad regex).
    pub error: RwSignal<Option<String>>,
    /// The search box.
    pub input: NodeRef<Input>,
}

impl SearchState {
    /// No search yet.
    pub fn new() -> Self {
        SearchState {
            pattern: RwSignal::new(String::new()),
            case_sensitive: RwSignal::new(false),
            regex: RwSignal::new(false),
            engine: StoredValue::new_local(None),
            generation: RwSignal::new(0),
            count: RwSignal::new(0),
            scanning: RwSignal::new(false),
            current: RwSignal::new(None),
            error: RwSignal::new(None),
            input: NodeRef::new(),
        }
    }

    /// Takes in lines that arrived (incremental: only the new ones are scanned).
    pub fn on_lines(&self, store: &LogStore) {
        if self.scanning.get_untracked() {
            return;
        }
        let counts = self.engine.try_update_value(|e| {
            e.as_mut().map(|e| {
                let before = e.evicted_matches();
                e.update(store);
                (e.count(), e.evicted_matches() - before)
            })
        });
        if let Some(Some((count, evicted))) = counts {
            if count != self.count.get_untracked() {
                self.count.set(count);
            }
            // Matches are numbered among the kept lines: when earlier ones are evicted, the
            // current match keeps its line (or is gone with it).
            if evicted > 0 {
                if let Some(k) = self.current.get_untracked() {
                    let evicted = usize::try_from(evicted).unwrap_or(usize::MAX);
                    self.current.set(k.checked_sub(evicted));
                }
            }
        }
    }

    /// The store position of the line holding match `k`.
    pub fn match_position(&self, k: usize) -> Option<u64> {
        self.engine.with_value(|e| e.as_ref()?.position_of(k))
    }

    /// True if the line at a store index has a match.
    pub fn line_has_matches(&self, store: &LogStore, index: usize) -> bool {
        self.engine
            .with_value(|e| e.as_ref().is_some_and(|e| e.has_matches(store, index)))
    }

    /// The matches on a store line: the index of its first match and the byte ranges.
    pub fn line_matches(
        &self,
        store: &LogStore,
        index: usize,
    ) -> Option<(usize, Vec<Range<usize>>)> {
        self.engine
            .with_value(|e| e.as_ref()?.line_matches(store, index))
    }

    /// Runs the query again over the lines of a new filter.
    pub fn refilter(&self, viewer: Viewer, _filter: LineFilter) {
        if !self.pattern.get_untracked().is_empty() {
            self.restart(viewer, false);
        }
    }

    /// Starts a search for the current query (after the typing pause, the caller's job).
    pub fn restart(&self, viewer: Viewer, reveal: bool) {
        let query = Query {
            pattern: self.pattern.get_untracked(),
            case_sensitive: self.case_sensitive.get_untracked(),
            regex: self.regex.get_untracked(),
        };
        let generation = self.generation.get_untracked() + 1;
        self.generation.set(generation);
        self.current.set(None);
        self.count.set(0);
        let matcher = match query.compile() {
            Ok(m) => m,
            Err(e) => {
                self.error.set(Some(e.to_string()));
                self.engine.set_value(None);
                self.scanning.set(false);
                return;
            }
        };
        self.error.set(None);
        if matcher.matches_nothing() {
            self.engine.set_value(None);
            self.scanning.set(false);
            return;
        }
        let filter = viewer.filter.get_untracked();
        self.engine
            .set_value(Some(StoreSearch::with_filter(matcher, filter)));
        self.scanning.set(true);
        let me = *self;
        leptos::task::spawn_local(async move {
            loop {
                // A newer query or filter replaced this one: stop.
                if me.generation.try_get_untracked() != Some(generation) {
                    return;
                }
                let done = viewer.model.with(|store| {
                    me.engine
                        .try_update_value(|e| {
                            e.as_mut().map(|e| {
                                let done = e.update_some(store, SCAN_SLICE);
                                (done, e.count())
                            })
                        })
                        .flatten()
                });
                let Some((done, count)) = done else { return };
                me.count.set(count);
                if done {
                    break;
                }
                gloo_timers::future::TimeoutFuture::new(0).await;
            }
            me.scanning.set(false);
            // Go to the first match at or after what the user reads.
            let top = viewer.line_number_at(viewer.layout_top_row()).unwrap_or(0);
            let first = viewer.model.with(|store| {
                let index = store.index_of_number(top).unwrap_or(0);
                me.engine
                    .with_value(|e| e.as_ref()?.first_at_or_after(store, index))
            });
            if let Some(k) = first {
                me.current.set(Some(k));
                if reveal {
                    me.reveal(viewer, k);
                }
            }
        });
    }

    /// Moves to the next or previous match and scrolls to it.
    pub fn go(&self, viewer: Viewer, direction: Direction) {
        let count = self.count.get_untracked();
        if let Some(k) = step(self.current.get_untracked(), count, direction) {
            self.current.set(Some(k));
            self.reveal(viewer, k);
        }
    }

    /// Scrolls to match `k`, wherever it is in the log.
    fn reveal(&self, viewer: Viewer, k: usize) {
        let n = viewer.model.with(|store| {
            let hit = self.engine.with_value(|e| e.as_ref()?.get(store, k))?;
            store.line(hit.line).map(|l| l.n)
        });
        if let Some(n) = n {
            viewer.reveal_line(n);
        }
    }

    /// Focuses the search box and selects its text.
    pub fn focus(&self) {
        if let Some(input) = self.input.get_untracked() {
            let _ = input.focus();
            input.select();
        }
    }
}

impl Default for SearchState {
    fn default() -> Self {
        SearchState::new()
    }
}

impl Viewer {
    /// The row at the top of the viewport (untracked).
    pub fn layout_top_row(&self) -> usize {
        if self.wrap.get_untracked() {
            return self
                .page_end
                .get_untracked()
                .saturating_sub(super::state::WRAP_PAGE);
        }
        self.list()
            .row_at(self.scroll_top.get_untracked())
            .unwrap_or(0)
    }
}

/// The search box with its count, navigation and toggles.
#[component]
pub fn SearchBar(viewer: Viewer) -> impl IntoView {
    let s = viewer.search;
    // Debounce typing: only the last keystroke's search runs.
    let pending = StoredValue::new(0u64);
    let schedule = move || {
        let token = pending.get_value() + 1;
        pending.set_value(token);
        set_timeout(
            move || {
                if pending.try_get_value() == Some(token) {
                    s.restart(viewer, true);
                }
            },
            std::time::Duration::from_millis(DEBOUNCE_MS),
        );
    };
    let on_key = move |ev: KeyboardEvent| match ev.key().as_str() {
        "Enter" => {
            ev.prevent_default();
            let dir = if ev.shift_key() {
                Direction::Previous
            } else {
                Direction::Next
            };
            s.go(viewer, dir);
        }
        "Escape" => {
            ev.prevent_default();
            if let Some(el) = viewer.scroller.get_untracked() {
                let _ = el.focus();
            }
        }
        _ => {}
    };
    let status = move || {
        if let Some(e) = s.error.get() {
            return e;
        }
        if s.pattern.with(String::is_empty) {
            return String::new();
        }
        let count = s.count.get();
        let more = if s.scanning.get() { "+" } else { "" };
        match (count, s.current.get()) {
            (0, _) if s.scanning.get() => "Searching…".into(),
            (0, _) => "No matches".into(),
            (c, Some(k)) => format!("{} of {c}{more}", k + 1),
            (c, None) => format!("{c}{more} matches"),
        }
    };
    view! {
        <div class="log-search" role="search">
            <label class="sr-only" for="log-search-input">"Search the log"</label>
            <input
                id="log-search-input"
                class="log-search__input"
                class:log-search__input--invalid=move || s.error.with(Option::is_some)
                type="search"
                placeholder=if super::browser::narrow_window() { "Search log" } else { "Search log (Ctrl+F or /)" }
                autocomplete="off"
                spellcheck="false"
                node_ref=s.input
                prop:value=move || s.pattern.get()
                aria-invalid=move || s.error.with(Option::is_some).then_some("true")
                aria-describedby="log-search-status"
                on:input=move |ev| {
                    s.pattern.set(event_target_value(&ev));
                    schedule();
                }
                on:keydown=on_key
            />
            <span id="log-search-status" class="log-search__status" aria-live="polite">{status}</span>
            <button
                type="button"
                class="log-btn log-btn--icon"
                aria-label="Previous match"
                title="Previous match (Shift+Enter)"
                disabled=move || s.count.get() == 0
                on:click=move |_| s.go(viewer, Direction::Previous)
            >"↑"</button>
            <button
                type="button"
                class="log-btn log-btn--icon"
                aria-label="Next match"
                title="Next match (Enter)"
                disabled=move || s.count.get() == 0
                on:click=move |_| s.go(viewer, Direction::Next)
            >"↓"</button>
            <button
                type="button"
                class="log-btn log-btn--toggle log-btn--icon"
                aria-label="Match case"
                title="Match case"
                aria-pressed=move || s.case_sensitive.get().to_string()
                on:click=move |_| {
                    s.case_sensitive.update(|c| *c = !*c);
                    s.restart(viewer, true);
                }
            >"Aa"</button>
            <button
                type="button"
                class="log-btn log-btn--toggle log-btn--icon"
                aria-label="Regular expression"
                title="Regular expression"
                aria-pressed=move || s.regex.get().to_string()
                on:click=move |_| {
                    s.regex.update(|c| *c = !*c);
                    s.restart(viewer, true);
                }
            >".*"</button>
        </div>
    }
}
