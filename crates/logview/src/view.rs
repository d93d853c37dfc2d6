//! The rows a viewer shows: every kept line, or those passing a [`LineFilter`], mapped to and
//! from store indices, and kept up to date as lines arrive and are evicted.
//!
//! Without a filter the rows are the store itself (no memory). With one, the view keeps the
//! *positions* of the passing lines (8 bytes each): positions survive evictions, indices don't.

use crate::store::{LineFilter, LogStore};
use std::collections::VecDeque;

/// A filtered view of one store.
#[derive(Clone, Debug, Default)]
pub struct FilteredView {
    filter: LineFilter,
    store_id: u64,
    positions: VecDeque<u64>,
    /// Position up to which lines have been looked at.
    scanned: u64,
}

impl FilteredView {
    /// A view with this filter (call [`Self::update`] before use).
    pub fn new(filter: LineFilter) -> Self {
        FilteredView {
            filter,
            ..FilteredView::default()
        }
    }

    /// The filter.
    pub fn filter(&self) -> LineFilter {
        self.filter
    }

    /// Takes in lines pushed since the last update and forgets evicted ones.
    pub fn update(&mut self, store: &LogStore) {
        if self.filter.is_all() {
            return;
        }
        if store.id() != self.store_id || self.scanned > store.end_position() {
            self.store_id = store.id();
            self.positions.clear();
            self.scanned = store.first_position();
        }
        let first = store.first_position();
        while self.positions.front().is_some_and(|&p| p < first) {
            self.positions.pop_front();
        }
        self.scanned = self.scanned.max(first);
        for position in self.scanned..store.end_position() {
            let passes = store
                .index_of_position(position)
                .and_then(|i| store.line(i))
                .is_some_and(|l| self.filter.accepts(&l));
            if passes {
                self.positions.push_back(position);
            }
        }
        self.scanned = store.end_position();
    }

    /// Number of rows.
    pub fn len(&self, store: &LogStore) -> usize {
        if self.filter.is_all() {
            store.len()
        } else {
            self.positions.len()
        }
    }

    /// True if there are no rows.
    pub fn is_empty(&self, store: &LogStore) -> bool {
        self.len(store) == 0
    }

    /// The store index shown at a row.
    pub fn index(&self, store: &LogStore, row: usize) -> Option<usize> {
        if self.filter.is_all() {
            return (row < store.len()).then_some(row);
        }
        store.index_of_position(*self.positions.get(row)?)
    }

    /// The row showing a store index, if it passes the filter.
    pub fn row_of_index(&self, store: &LogStore, index: usize) -> Option<usize> {
        if self.filter.is_all() {
            return (index < store.len()).then_some(index);
        }
        let position = store.first_position() + index as u64;
        self.positions.binary_search(&position).ok()
    }

    /// The row showing line number `n`, or the first row after it when `n` is filtered out
    /// or gone (so a jump lands as near as possible); `None` if no row follows.
    pub fn row_at_or_after_number(&self, store: &LogStore, n: u64) -> Option<usize> {
        let len = self.len(store);
        // Rows are in increasing line-number order: binary search over them.
        let (mut lo, mut hi) = (0, len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let mid_n = self
                .index(store, mid)
                .and_then(|i| store.line(i))
                .map_or(u64::MAX, |l| l.n);
            if mid_n < n {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (lo < len).then_some(lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StageId, StoreLimits};
    use shipwatch_model::{LogLevel, LogLine};

    fn push(store: &mut LogStore, n: u64, stage: &str, level: LogLevel) {
        store.push(LogLine {
            n,
            ts: n,
            stage: stage.into(),
            level,
            text: format!("line {n}"),
            hint: None,
        });
    }

    #[test]
    fn unfiltered_view_is_the_store() {
        let mut store = LogStore::new();
        for n in 1..=5 {
            push(&mut store, n, "build", LogLevel::Info);
        }
        let mut view = FilteredView::new(LineFilter::default());
        view.update(&store);
        assert_eq!(view.len(&store), 5);
        assert_eq!(view.index(&store, 4), Some(4));
        assert_eq!(view.index(&store, 5), None);
        assert_eq!(view.row_of_index(&store, 2), Some(2));
        assert_eq!(view.row_at_or_after_number(&store, 3), Some(2));
        assert_eq!(view.row_at_or_after_number(&store, 9), None);
    }

    #[test]
    fn filtered_view_follows_pushes_and_evictions() {
        let mut store = LogStore::with_limits(StoreLimits {
            max_lines: 6,
            ..StoreLimits::default()
        });
        for n in 1..=6 {
            let stage = if n % 2 == 0 { "test" } else { "build" };
            push(&mut store, n, stage, LogLevel::Info);
        }
        let filter = LineFilter {
            stage: Some(StageId(1)),
            problems_only: false,
        };
        let mut view = FilteredView::new(filter);
        view.update(&store);
        let numbers = |view: &FilteredView, store: &LogStore| -> Vec<u64> {
            (0..view.len(store))
                .map(|r| store.line(view.index(store, r).unwrap()).unwrap().n)
                .collect()
        };
        assert_eq!(numbers(&view, &store), vec![2, 4, 6]);
        assert_eq!(view.row_of_index(&store, 3), Some(1));
        assert_eq!(view.row_of_index(&store, 2), None);
        assert_eq!(view.row_at_or_after_number(&store, 3), Some(1));
        for n in 7..=10 {
            let stage = if n % 2 == 0 { "test" } else { "build" };
            push(&mut store, n, stage, LogLevel::Info);
        }
        view.update(&store);
        // Lines 1-4 were evicted: their rows are gone, the rest mapped to new indices.
        assert_eq!(numbers(&view, &store), vec![6, 8, 10]);
        assert_eq!(view.row_of_index(&store, 0), None);
        assert_eq!(view.row_of_index(&store, 1), Some(0));
    }
}
