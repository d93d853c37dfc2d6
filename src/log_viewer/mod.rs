//! The deployment log viewer (issue 6): a region named "Deployment logs" that streams a
//! deployment's lines, renders only the visible ones, follows the tail, finds errors and
//! search matches anywhere in the log, and never renders log text as HTML.
//!
//! Parts: [`model`] (the lines, outside the reactive graph), `state` (settings, rows,
//! scrolling), `rows` (the virtual list), `search`, `stages`, `summary` (first error,
//! eviction notice), `progress` (the count while a history arrives), `toolbar`, `browser`
//! (download, clipboard, URL fragment), [`bench`].
//! The pure logic lives in `crates/logview`.

pub mod bench;
mod browser;
pub mod model;
mod progress;
mod rows;
mod search;
mod stages;
mod state;
mod summary;
mod toolbar;

pub use model::{LogModel, VIEWER_LIMITS};
pub use state::{TimeMode, ROW_HEIGHT};

use leptos::prelude::*;
use progress::LoadProgress;
use rows::LogRows;
use search::SearchBar;
use send_wrapper::SendWrapper;
use shipwatch_logview::{LineFilter, LineSpan, LogStore};
use shipwatch_model::entities::Millis;
use stages::StageList;
use state::Viewer;
use summary::{FirstErrorSummary, KeptNotice};
use toolbar::{FollowControl, OptionsToggle, Toolbar};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// The log viewer for one deployment's lines.
///
/// `start` is the deployment's start (relative timestamps), `live` says whether it is still
/// running (its last stage shows as running), `file_name` names the download, and
/// `whole_log` is where the server serves the whole log as text: once the page lets old lines
/// go, the download fetches that instead of the lines kept (without it, only those).
#[component]
pub fn LogViewer(
    model: LogModel,
    #[prop(into)] start: Signal<Option<Millis>>,
    #[prop(into)] live: Signal<bool>,
    #[prop(into)] file_name: Signal<String>,
    #[prop(optional, into)] whole_log: MaybeProp<String>,
) -> impl IntoView {
    let viewer = Viewer::new(model, start, live);
    let pending_link = StoredValue::new(LineSpan::parse(&browser::fragment()));
    if let Some(link) = pending_link.get_value() {
        // The user asked for that line: don't swap the view for the failing stage.
        viewer.selection.set(Some(link));
        viewer.filter_chosen.set(true);
    }

    // Once per batch of lines: search the new lines, pick the failing stage, open a
    // permalink once its line is here, and keep the scroll where it belongs.
    Effect::new(move |_| {
        model.version();
        model.with(|s| viewer.search.on_lines(s));
        auto_select_failing_stage(viewer);
        if let Some(link) = pending_link.get_value() {
            if model.with(|s| s.last_number().is_some_and(|last| last >= link.first)) {
                pending_link.set_value(None);
                if !viewer.reveal_line(link.first) {
                    viewer.sync_scroll();
                }
                return;
            }
        }
        viewer.sync_scroll();
    });
    // A new size or wrap mode: re-place the scroll.
    Effect::new(move |prev: Option<()>| {
        viewer.wrap.track();
        if prev.is_some() {
            viewer.sync_scroll();
        }
    });

    // The scroller's size on mount, at once (the observer below reports it a frame later).
    Effect::new(move |_| {
        if let Some(el) = viewer.scroller.get() {
            viewer.viewport.set(f64::from(el.client_height()));
            viewer.sync_scroll();
        }
    });
    // And whenever the scroller changes size, with the window or not: the first-error
    // summary above it appears mid-stream and takes ~5 rows of its height, which hid the
    // newest lines while following.
    let resize = SendWrapper::new(Closure::<dyn Fn()>::new(move || {
        if let Some(el) = viewer.scroller.get_untracked() {
            let height = f64::from(el.client_height());
            if (height - viewer.viewport.get_untracked()).abs() >= 1.0 {
                viewer.viewport.set(height);
                viewer.sync_scroll();
            }
        }
    }));
    let observer =
        SendWrapper::new(web_sys::ResizeObserver::new(resize.as_ref().unchecked_ref()).ok());
    Effect::new({
        let observer = observer.clone();
        move |_| {
            if let (Some(el), Some(o)) = (viewer.scroller.get(), observer.as_ref()) {
                o.observe(&el);
            }
        }
    });
    // Ctrl/Cmd+F and `/` focus the search box while the viewer is on screen.
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        let key = ev.key();
        let find = (ev.ctrl_key() || ev.meta_key()) && key.eq_ignore_ascii_case("f");
        let slash = key == "/" && !ev.ctrl_key() && !ev.meta_key() && !typing_in_a_field(&ev);
        if find || slash {
            ev.prevent_default();
            viewer.search.focus();
        }
    });
    // Someone edited the fragment by hand (or followed a link to another line).
    let hash = window_event_listener(leptos::ev::hashchange, move |_| {
        if let Some(span) = LineSpan::parse(&browser::fragment()) {
            viewer.selection.set(Some(span));
            viewer.reveal_line(span.first);
        }
    });
    on_cleanup(move || {
        if let Some(o) = observer.as_ref() {
            o.disconnect();
        }
        drop(resize);
        keys.remove();
        hash.remove();
    });

    let stats = Memo::new(move |_| {
        model.with_tracked(|s: &LogStore| {
            (
                s.end_position(),
                s.len(),
                s.evicted(),
                s.duplicates(),
                s.gap_count(),
                s.iter().next().map_or(0, |l| l.n),
                s.last_number().unwrap_or(0),
            )
        })
    });
    // The toolbar's controls besides search, unfolded on a phone.
    let options_open = RwSignal::new(false);
    view! {
        <section
            class="log-viewer"
            role="region"
            aria-label="Deployment logs"
            data-lines-total=move || stats.get().0
            data-lines-kept=move || stats.get().1
            data-evicted=move || stats.get().2
            data-duplicates=move || stats.get().3
            data-gaps=move || stats.get().4
            data-first-line=move || stats.get().5
            data-last-line=move || stats.get().6
            data-following=move || viewer.following.get().to_string()
        >
            <FirstErrorSummary viewer />
            <div class="log-viewer__body">
                <StageList viewer />
                <div class="log-viewer__main">
                    <div class="log-toolbar">
                        <SearchBar viewer />
                        <OptionsToggle open=options_open />
                        <LoadProgress viewer />
                        <div
                            id=toolbar::OPTIONS_ID
                            class="log-toolbar__options"
                            class:log-toolbar__options--open=move || options_open.get()
                        >
                            <Toolbar viewer file_name whole_log />
                        </div>
                    </div>
                    <KeptNotice viewer file_name whole_log />
                    <div class="log-viewer__frame">
                        <LogRows viewer />
                        <div class="log-viewer__follow" class:log-viewer__follow--on=move || viewer.following.get()>
                            <FollowControl viewer />
                        </div>
                    </div>
                    <p class="sr-only" role="status" aria-live="polite">{move || viewer.announce.get()}</p>
                </div>
            </div>
        </section>
    }
}

/// The failing stage is shown by itself, unless the user already picked a filter.
fn auto_select_failing_stage(viewer: Viewer) {
    if viewer.filter_chosen.get_untracked() {
        return;
    }
    let failing = viewer.model.with(|s| s.failing_stage().map(|(id, _)| id));
    if let Some(id) = failing {
        let filter = viewer.filter.get_untracked();
        if filter.stage != Some(id) {
            viewer.filter_chosen.set(true);
            viewer.set_filter(LineFilter {
                stage: Some(id),
                ..filter
            });
        }
    }
}

/// True when a key press is text input for a field (so `/` types a slash there).
fn typing_in_a_field(ev: &web_sys::KeyboardEvent) -> bool {
    use wasm_bindgen::JsCast;
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| {
            matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                || el.get_attribute("contenteditable").is_some()
        })
}
