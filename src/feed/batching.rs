//! Events on their way to their handlers: queued, and applied together on the next animation
//! frame (one reactive batch for everything that came meanwhile), a snapshot at once.

use super::handle::Feed;
use super::sub_event::{Handler, SubEvent};
use leptos::prelude::*;
use std::cell::{Cell, RefCell};

#[derive(Default)]
pub(super) struct Batch {
    /// Events not applied yet, oldest first, with their subscription's id.
    pub(super) pending: RefCell<Vec<(u64, SubEvent)>>,
    scheduled: Cell<bool>,
}

impl Feed {
    /// Queues an event; all queued events are applied together on the next animation frame
    /// (or after 100 ms when the tab is hidden and frames do not come).
    ///
    /// Lines go to their subscriber at once unless something of that subscription is still
    /// queued (order is kept): a log's store is outside the reactive graph and tells the
    /// screen once per frame itself, and taking each frame's lines as it comes spreads a
    /// fast history over the frames instead of piling tens of thousands of lines onto one.
    pub(super) fn enqueue(&self, id: u64, event: SubEvent) {
        let event = match event {
            SubEvent::Lines(lines) => match self.handler_if_nothing_queued(id) {
                Some(handler) => return handler(SubEvent::Lines(lines)),
                None => SubEvent::Lines(lines),
            },
            other => other,
        };
        let snapshot = matches!(event, SubEvent::Snapshot(_));
        self.0.batch.pending.borrow_mut().push((id, event));
        if snapshot {
            self.flush_soon();
        } else {
            self.schedule_flush();
        }
    }

    fn handler_if_nothing_queued(&self, id: u64) -> Option<Handler> {
        if self
            .0
            .batch
            .pending
            .borrow()
            .iter()
            .any(|(queued, _)| *queued == id)
        {
            return None;
        }
        self.handler(id)
    }

    /// Applies what is queued in a microtask: a snapshot is what a page waits for to show
    /// anything, and the next animation frame can be 20 ms away on a busy main thread.
    pub(super) fn flush_soon(&self) {
        self.0.batch.scheduled.set(true);
        let feed = self.clone();
        queue_microtask(move || feed.flush());
    }

    fn schedule_flush(&self) {
        if self.0.batch.scheduled.replace(true) {
            return;
        }
        let (a, b) = (self.clone(), self.clone());
        request_animation_frame(move || a.flush());
        set_timeout(move || b.flush(), std::time::Duration::from_millis(100));
    }

    fn flush(&self) {
        if !self.0.batch.scheduled.replace(false) {
            return;
        }
        let events = std::mem::take(&mut *self.0.batch.pending.borrow_mut());
        for (id, event) in events {
            if let Some(h) = self.handler(id) {
                h(event);
            }
        }
    }
}
