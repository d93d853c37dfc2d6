//! Back and forward: each history entry's scroll, restored by the router. The browser's own
//! restoration (`history.scrollRestoration = "auto"`) comes at `popstate`, before the page of
//! the entry has its data (the environment page subscribes again and is one line tall until
//! its snapshot), so the window landed at the top most times. Instead the router numbers its
//! entries (the number is the entry's `history.state`), notes the scroll of the entry it
//! leaves, and on back or forward scrolls to the noted place with the page held at least
//! that tall (`scroll_hold.rs`) until its content is there.

use super::scroll_hold;
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use wasm_bindgen::JsValue;

thread_local! {
    /// The scroll of each entry left, by entry number.
    static SCROLLS: RefCell<HashMap<u64, f64>> = RefCell::new(HashMap::new());
    /// The number of the entry shown.
    static CURRENT: Cell<u64> = const { Cell::new(0) };
}

/// A number no entry of this document has: the time (ms) the app made it, later than the
/// numbers of entries of earlier loads of the app in this tab.
fn new_number() -> u64 {
    let now = js_sys::Date::now() as u64;
    CURRENT.with(|c| now.max(c.get() + 1))
}

fn number_of(state: &JsValue) -> Option<u64> {
    state.as_f64().filter(|n| *n >= 1.0).map(|n| n as u64)
}

/// Takes the scroll over from the browser and numbers the entry the app starts in.
pub fn start() {
    let Ok(history) = window().history() else {
        return;
    };
    let _ = js_sys::Reflect::set(
        &history,
        &JsValue::from_str("scrollRestoration"),
        &JsValue::from_str("manual"),
    );
    let number = history
        .state()
        .ok()
        .as_ref()
        .and_then(number_of)
        .unwrap_or_else(new_number);
    CURRENT.with(|c| c.set(number));
    let _ = history.replace_state(&JsValue::from_f64(number as f64), "");
}

/// Before a navigation leaves the entry shown: notes its scroll; the state for the new entry.
pub fn leave_for_new_entry() -> JsValue {
    note_scroll();
    let number = new_number();
    CURRENT.with(|c| c.set(number));
    JsValue::from_f64(number as f64)
}

/// The state of the entry shown, for a navigation that replaces it.
pub fn current_state() -> JsValue {
    JsValue::from_f64(CURRENT.with(Cell::get) as f64)
}

fn note_scroll() {
    let y = window().scroll_y().unwrap_or(0.0);
    let current = CURRENT.with(Cell::get);
    SCROLLS.with(|s| s.borrow_mut().insert(current, y));
}

/// At `popstate`, before the page changes: notes the scroll of the entry left and holds the
/// page for the entry arrived at. Call [`scroll_back`] once the location is set.
pub fn arrive(state: &JsValue) -> Option<f64> {
    note_scroll();
    let number = match number_of(state) {
        Some(n) => n,
        // An entry the browser made (a fragment of the page): numbered now.
        None => {
            let n = new_number();
            if let Ok(history) = window().history() {
                let _ = history.replace_state(&JsValue::from_f64(n as f64), "");
            }
            n
        }
    };
    CURRENT.with(|c| c.set(number));
    let y = SCROLLS.with(|s| s.borrow().get(&number).copied());
    match y {
        Some(y) => scroll_hold::hold_at(y),
        None => scroll_hold::release(),
    }
    y
}

/// Scrolls to where the entry arrived at was left.
pub fn scroll_back(y: f64) {
    window().scroll_to_with_x_and_y(0.0, y);
}
