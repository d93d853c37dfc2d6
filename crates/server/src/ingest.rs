//! Where platform events enter: every source publishes through [`Ingest`], which queues them
//! for the store and applies them to the hub, in one order for both.

use crate::hub::since::StatusChange;
use crate::hub::Hub;
use crate::platform::{PlatformEvent, Sink};
use crate::store::timeline::Recorder;
use crate::store::{Ack, Store};
use shipwatch_model::protocol::cut_line_text;
use std::sync::{Arc, Mutex};

/// The core's input.
pub struct Ingest {
    hub: Arc<Hub>,
    store: Option<Store>,
    /// Where the hub's status changes go (the store's timeline), unless ephemeral.
    timeline: Option<Recorder>,
    /// Held while an event batch goes to the store's queue and the hub, so that both see the
    /// batches of all sources in the same order.
    order: Mutex<()>,
}

impl Ingest {
    /// Feeds `hub`, and `store` unless ephemeral.
    pub fn new(hub: Arc<Hub>, store: Option<Store>) -> Self {
        Self {
            hub,
            timeline: store.as_ref().map(Store::timeline_recorder),
            store,
            order: Mutex::new(()),
        }
    }

    /// The store, unless ephemeral.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Records status changes the hub did not see happen (a new world's first statuses).
    pub fn record_statuses(&self, statuses: Vec<StatusChange>) {
        if let (Some(t), false) = (&self.timeline, statuses.is_empty()) {
            t.record(statuses);
        }
    }
}

impl Sink for Ingest {
    fn publish(&self, mut events: Vec<PlatformEvent>) -> Ack {
        cut_long_lines(&mut events);
        let events: Arc<[PlatformEvent]> = events.into();
        let _order = self.order.lock().unwrap_or_else(|p| p.into_inner());
        // Queued before the hub publishes: the store's writer commits in the background, so
        // pages see events at once and the store never holds them up.
        let ack = match &self.store {
            Some(store) => store.write(events.clone()),
            None => Ack::none(),
        };
        let statuses = self.hub.apply(&events);
        if let Some(t) = &self.timeline {
            t.record(statuses);
        }
        ack
    }

    fn room(&self) -> Result<(), crate::store::StoreError> {
        self.store.as_ref().map_or(Ok(()), Store::room)
    }
}

/// Log lines longer than the protocol's `MAX_LINE_TEXT_BYTES` are cut here, where they enter,
/// so the store, the hub, every frame and `log.txt` hold the same line.
fn cut_long_lines(events: &mut [PlatformEvent]) {
    for event in events {
        if let PlatformEvent::LogAppended { lines, .. } = event {
            for line in lines {
                cut_line_text(&mut line.text);
            }
        }
    }
}
