//! Rebuilds the table's rows from time to time, to give back what row churn keeps.
//!
//! Leptos' `<For>` gives each row an owner registered as a (weak) child of the list's owner,
//! and that list of children is emptied only when the list's owner is cleaned up
//! (`reactive_graph` 0.2, `owner.rs`). The windowed table creates rows all the time (scrolling,
//! re-sorting under a storm of changes), so that list grows without end: most of the wasm
//! memory growth under the update benchmark. Rebuilding the `<For>` under a fresh owner after
//! enough rows drops it. Not while the user is in the table: a rebuild replaces the rows'
//! elements, which would drop keyboard focus or close the tooltip under the pointer.

use leptos::html;
use leptos::prelude::*;

/// Rows created between two rebuilds (about 40 rendered rows at a time: a rebuild costs one
/// screenful).
const ROWS_PER_REBUILD: usize = 2_000;

/// Counts created rows and rebuilds the list when it is safe.
#[derive(Clone, Copy)]
pub struct Rebuild {
    created: StoredValue<usize>,
    scheduled: StoredValue<bool>,
    epoch: Trigger,
    table: NodeRef<html::Table>,
}

impl Rebuild {
    /// For the rows of `table`.
    pub fn new(table: NodeRef<html::Table>) -> Self {
        Self {
            created: StoredValue::new(0),
            scheduled: StoredValue::new(false),
            epoch: Trigger::new(),
            table,
        }
    }

    /// Tracks the rebuild epoch: the list is rebuilt when it moves.
    pub fn track(&self) {
        self.epoch.track();
    }

    /// Notes a row created; schedules a rebuild once enough were.
    pub fn row_created(&self) {
        let n = self.created.try_update_value(|n| {
            *n += 1;
            *n
        });
        if n.unwrap_or(0) < ROWS_PER_REBUILD || self.scheduled.get_value() {
            return;
        }
        self.scheduled.set_value(true);
        let this = *self;
        // Outside the render that created the row.
        set_timeout(move || this.rebuild_if_idle(), std::time::Duration::ZERO);
    }

    fn rebuild_if_idle(self) {
        if self.scheduled.try_set_value(false).is_some() {
            return; // the table is gone
        }
        let Some(table) = self.table.get_untracked() else {
            return;
        };
        let focused = document()
            .active_element()
            .is_some_and(|e| table.contains(Some(&e)));
        let hovered = table.matches(":hover").unwrap_or(false);
        if focused || hovered {
            // Tried again at the next row created.
            return;
        }
        self.created.set_value(0);
        self.epoch.notify();
    }
}
