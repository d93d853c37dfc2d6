//! Back and forward: each history entry's scroll, restored by the router. The browser's own
//! restoration (`history.scrollRestoration = "auto"`) comes at `popstate`, before the page of
//! the entry has its data (the environment page subscribes again and is one line tall until
//! its snapshot), so the window landed at the top most times. Instead the router numbers its
//! entries (the number is the entry's `history.state`), notes the scroll of the entry it
//! leaves, and on back or forward scrolls to the noted place with the page held at least
//! that tall (`scroll_hold.rs`) until its content is there. The noted places outlive a
//! reload (`sessionStorage`, written when the page goes away), which the browser's own
//! restoration did too.

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

/// Where the noted places are kept across a reload of the tab's page.
const SESSION_KEY: &str = "shipwatch-scrolls";

/// The most places kept (the newest entries'): a tab's history is seldom longer.
const KEEP_AT_MOST: usize = 200;

fn session() -> Option<web_sys::Storage> {
    window().session_storage().ok().flatten()
}

/// The noted places as `number:y` pairs, comma-separated (the newest [`KEEP_AT_MOST`]), `y` in
/// whole pixels: printing or reading a float would bring `core`'s float code into the first
/// chunk.
fn write_places(places: &HashMap<u64, f64>) -> String {
    let mut numbers: Vec<u64> = places.keys().copied().collect();
    numbers.sort_unstable();
    let from = numbers.len().saturating_sub(KEEP_AT_MOST);
    numbers[from..]
        .iter()
        .map(|n| format!("{n}:{}", places[n].round() as i64))
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads [`write_places`]'s text; what does not read is left out.
fn read_places(text: &str) -> HashMap<u64, f64> {
    text.split(',')
        .filter_map(|pair| {
            let (n, y) = pair.split_once(':')?;
            Some((n.parse().ok()?, y.parse::<i64>().ok()? as f64))
        })
        .collect()
}

/// Notes the scroll of the entry shown and keeps the places for a reload.
pub fn save() {
    note_scroll();
    if let Some(storage) = session() {
        let text = SCROLLS.with(|s| write_places(&s.borrow()));
        let _ = storage.set_item(SESSION_KEY, &text);
    }
}

/// Takes the scroll over from the browser and numbers the entry the app starts in; where
/// that entry was left before a reload, if it was.
pub fn start() -> Option<f64> {
    let history = window().history().ok()?;
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
    let places = session()
        .and_then(|s| s.get_item(SESSION_KEY).ok().flatten())
        .map(|text| read_places(&text))
        .unwrap_or_default();
    let y = places.get(&number).copied();
    SCROLLS.with(|s| s.replace(places));
    if let Some(y) = y {
        scroll_hold::hold_at(y);
    }
    y
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

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_places_read_back_as_written_the_newest_kept() {
        let places: HashMap<u64, f64> = [(17, 309.0), (3, 0.0), (25, 1234.0)].into();
        assert_eq!(read_places(&write_places(&places)), places);
        let many: HashMap<u64, f64> = (0..KEEP_AT_MOST as u64 + 5).map(|n| (n, 1.0)).collect();
        let kept = read_places(&write_places(&many));
        assert_eq!(kept.len(), KEEP_AT_MOST);
        assert!(kept.contains_key(&(KEEP_AT_MOST as u64 + 4)) && !kept.contains_key(&4));
    }

    #[test]
    fn what_does_not_read_is_left_out() {
        let read = read_places("1:2,x:3,4:y,,5,6:7.5,8:9");
        assert_eq!(read, [(1, 2.0), (8, 9.0)].into());
    }
}
