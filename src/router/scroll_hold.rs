//! Keeps the page at least as tall as it was while a navigation that keeps the scroll
//! (`scroll.rs`) builds its views: the new tab or filtered list is empty until its data
//! comes, and a shorter page makes the browser pull the window up, for good, to its new end.
//! The hold is a `min-height` on the root element, let go once the page is tall enough
//! again, once nothing on it is on its way (what [`ON_ITS_WAY`] finds), or after
//! [`HOLD_AT_MOST_MS`], whichever comes first.

use leptos::prelude::*;
use std::cell::Cell;
use wasm_bindgen::JsCast;

/// The longest a hold lasts (ms): a list that loads slower shows up shorter after it.
const HOLD_AT_MOST_MS: f64 = 3000.0;

/// What the pages show while their content is on its way: a list being fetched is
/// `aria-busy`, a page or a chunk of code being loaded says so in a `.loading` notice.
const ON_ITS_WAY: &str = "[aria-busy='true'], .loading";

thread_local! {
    /// Counts holds and releases: a frame of an older hold sees it moved on and stops.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

fn root() -> Option<web_sys::HtmlElement> {
    document().document_element()?.dyn_into().ok()
}

/// Holds the page's height so that the window can stay where it is (at its current scroll).
pub fn hold() {
    hold_at(window().scroll_y().unwrap_or(0.0));
}

/// Holds the page tall enough for the window to be scrolled to `y`.
pub fn hold_at(y: f64) {
    let view = window()
        .inner_height()
        .ok()
        .and_then(|h| h.as_f64())
        .unwrap_or(0.0);
    if y <= 0.0 {
        // At the top: the window has nowhere to be pulled up to.
        release();
        return;
    }
    let Some(root) = root() else {
        return;
    };
    let held = (y + view).ceil();
    let _ = root
        .style()
        .set_property("min-height", &format!("{}px", held as i64));
    let generation = GENERATION.with(|g| {
        g.set(g.get() + 1);
        g.get()
    });
    let start = js_sys::Date::now();
    watch(generation, held, start, 0);
}

/// Keeps the element the reader acted on (the focused one: a row's disclosure, a tab, a
/// filter) where it is in the window once the views change: expanding a row folds the one
/// open above it, which would pull the row up by the other's height, under the top bar.
pub fn keep_focused_in_place() {
    let doc = document();
    let Some(el) = doc.active_element() else {
        return;
    };
    if doc.body().is_some_and(|b| b.is_same_node(Some(&el))) {
        return;
    }
    let top = el.get_bounding_client_rect().top();
    request_animation_frame(move || {
        if !el.is_connected() {
            return;
        }
        let moved = el.get_bounding_client_rect().top() - top;
        if moved.abs() >= 1.0 {
            window().scroll_by_with_x_and_y(0.0, moved);
        }
    });
}

/// Lets the page take its own height again (another page, back or forward).
pub fn release() {
    GENERATION.with(|g| g.set(g.get() + 1));
    if let Some(root) = root() {
        let _ = root.style().remove_property("min-height");
    }
}

/// Checks once a frame whether the hold can go.
fn watch(generation: u64, held: f64, start: f64, frames: u32) {
    request_animation_frame(move || {
        if GENERATION.with(Cell::get) != generation {
            return;
        }
        let doc = document();
        let natural = doc
            .body()
            .map_or(0.0, |b| b.get_bounding_client_rect().height());
        let busy = doc.query_selector(ON_ITS_WAY).ok().flatten().is_some();
        // Two frames at least: the new views are built and laid out before "not busy" counts.
        let settled = !busy && frames >= 2;
        if natural >= held || settled || js_sys::Date::now() - start > HOLD_AT_MOST_MS {
            release();
        } else {
            watch(generation, held, start, frames + 1);
        }
    });
}
