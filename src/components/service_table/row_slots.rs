//! What the table tells each rendered row: whether it shows its instances, and its place in
//! the whole table (`aria-rowindex`). Each row gets its own signals, set by the table when
//! the URL's service or the window of rows changes, instead of every row reading the URL and
//! the window itself.
//!
//! Why: a `reactive_graph` 0.2 source (signal or memo) keeps an entry, and the memory block,
//! of every subscriber it ever had until that subscriber runs again, and a row's effects never
//! run again once the row is gone. Rows come and go all the time in the windowed table
//! (scrolling, re-sorting under a storm of changes), so a long-lived source read by rows
//! grows by one entry per row ever shown: the wasm memory grew without end under the update
//! benchmark. Here only the table's two effects read those sources; a row's signals die with
//! the row.

use super::row::FLASH_EVERY_MS;
use leptos::prelude::*;
use std::collections::HashMap;

/// The signals of one rendered row.
#[derive(Clone)]
struct Slot {
    /// The serial of the row that registered it (a rebuilt row registers before its
    /// predecessor is cleaned up).
    serial: u64,
    open: ArcRwSignal<bool>,
    index: ArcRwSignal<Option<usize>>,
}

/// The signals of the rendered rows, by service id.
#[derive(Clone, Copy)]
pub struct RowSlots {
    slots: StoredValue<HashMap<String, Slot>>,
    /// When each row was last highlighted, kept while its row lives or the highlight's
    /// least interval runs: a moved row is built anew and goes on with it.
    flashes: StoredValue<HashMap<String, ArcRwSignal<f64>>>,
    serial: StoredValue<u64>,
    expanded: Signal<Option<String>>,
    visible: Memo<(usize, Vec<String>)>,
}

/// A row's signals, from [`RowSlots::register`].
pub struct RowSignals {
    /// Whether its instances show.
    pub open: ArcRwSignal<bool>,
    /// Its `aria-rowindex` (1 is the header row).
    pub index: ArcRwSignal<Option<usize>>,
    /// When it was last highlighted (ms since the epoch).
    pub flashed_at: ArcRwSignal<f64>,
}

impl RowSlots {
    /// Keeps the rows' signals in step with `expanded` (the service in the URL) and `visible`
    /// (the first rendered row's place and the rendered ids).
    pub fn follow(expanded: Signal<Option<String>>, visible: Memo<(usize, Vec<String>)>) -> Self {
        let rows = Self {
            slots: StoredValue::new(HashMap::new()),
            flashes: StoredValue::new(HashMap::new()),
            serial: StoredValue::new(0),
            expanded,
            visible,
        };
        Effect::new(move |previous: Option<Option<String>>| {
            let now = expanded.get();
            rows.slots.with_value(|m| {
                for (id, value) in [(previous.flatten(), false), (now.clone(), true)] {
                    if let Some(slot) = id.and_then(|id| m.get(&id)) {
                        slot.open.set(value);
                    }
                }
            });
            now
        });
        Effect::new(move |_| {
            visible.with(|(start, ids)| {
                rows.slots.with_value(|m| {
                    for (i, id) in ids.iter().enumerate() {
                        if let Some(slot) = m.get(id) {
                            let index = Some(row_index(*start, i));
                            if slot.index.get_untracked() != index {
                                slot.index.set(index);
                            }
                        }
                    }
                })
            });
        });
        rows
    }

    /// The signals of a row being created; forgotten again when the row goes.
    pub fn register(&self, id: &str) -> RowSignals {
        let open = self.expanded.with_untracked(|e| e.as_deref() == Some(id));
        let index = self.visible.with_untracked(|(start, ids)| {
            ids.iter()
                .position(|x| x == id)
                .map(|i| row_index(*start, i))
        });
        let now = js_sys::Date::now();
        let flashed_at = self.slots.with_value(|live| {
            self.flashes.update_value(|f| {
                f.retain(|id, at| {
                    live.contains_key(id) || now - at.get_untracked() < FLASH_EVERY_MS
                });
            });
            self.flashes
                .try_update_value(|f| {
                    f.entry(id.to_string())
                        .or_insert_with(|| ArcRwSignal::new(f64::NEG_INFINITY))
                        .clone()
                })
                .unwrap_or_else(|| ArcRwSignal::new(f64::NEG_INFINITY))
        });
        let signals = RowSignals {
            open: ArcRwSignal::new(open),
            index: ArcRwSignal::new(index),
            flashed_at,
        };
        let serial = self.serial.get_value() + 1;
        self.serial.set_value(serial);
        let slot = Slot {
            serial,
            open: signals.open.clone(),
            index: signals.index.clone(),
        };
        self.slots.update_value(|m| {
            m.insert(id.to_string(), slot);
        });
        let (slots, id) = (self.slots, id.to_string());
        on_cleanup(move || {
            slots.try_update_value(|m| {
                if m.get(&id).is_some_and(|s| s.serial == serial) {
                    m.remove(&id);
                }
            });
        });
        signals
    }
}

/// `aria-rowindex` of the `i`th rendered row when the first is the `start`th of the table:
/// 1-based, and the header row is 1.
fn row_index(start: usize, i: usize) -> usize {
    start + i + 2
}
