//! Where platform events enter: every source publishes through [`Ingest`], which queues them
//! for the store in one order for all sources. The store's writer applies each batch to the
//! hub right before it writes it and has the hub show it once committed ([`ShowCommitted`]):
//! a page is shown only what is stored, so a restart goes on from the same numbers. Without a
//! store (`--ephemeral`) the hub applies and shows each batch at once, and the history is kept
//! in memory ([`MemoryHistory`]).

use crate::hub::since::StatusChange;
use crate::hub::{Hub, Staged};
use crate::memory_history::MemoryHistory;
use crate::platform::{PlatformEvent, Sink};
use crate::store::{Ack, Stage, Store};
use shipwatch_model::protocol::cut_line_text;
use std::sync::{Arc, Mutex};

/// The core's input.
pub struct Ingest {
    hub: Arc<Hub>,
    store: Option<Store>,
    /// The history kept in memory, without a store.
    memory: Option<MemoryHistory>,
    /// Held while an event batch goes to the store's queue (or, ephemeral, the hub), so that
    /// the batches of all sources keep one order.
    order: Mutex<()>,
}

impl Ingest {
    /// Feeds `hub`: through `store` (committed, then shown), or directly if ephemeral.
    pub fn new(hub: Arc<Hub>, store: Option<Store>) -> Self {
        if let Some(store) = &store {
            store.show_with(Arc::new(ShowCommitted { hub: hub.clone() }));
        }
        Self {
            hub,
            memory: store.is_none().then(|| MemoryHistory::new(DEFAULT_RETAIN)),
            store,
            order: Mutex::new(()),
        }
    }

    /// The store, unless ephemeral.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Without a store, keeps the last `retain` deployments of each service in memory
    /// (`--retain-deployments`).
    pub fn retaining(mut self, retain: usize) -> Self {
        if self.memory.is_some() {
            self.memory = Some(MemoryHistory::new(retain));
        }
        self
    }

    /// The history kept in memory, if ephemeral.
    pub fn memory(&self) -> Option<&MemoryHistory> {
        self.memory.as_ref()
    }

    /// Records status changes the hub did not see happen (a new world's first statuses).
    pub async fn record_statuses(&self, statuses: Vec<StatusChange>) {
        if let Some(memory) = &self.memory {
            memory.record_statuses(statuses);
        } else if let Some(store) = &self.store {
            if let Err(e) = store.record_statuses(&statuses).await {
                tracing::warn!(error = %e, "a new world's first statuses not recorded");
            }
        }
    }
}

impl Sink for Ingest {
    fn publish(&self, mut events: Vec<PlatformEvent>) -> Ack {
        cut_long_lines(&mut events);
        let _order = self.order.lock().unwrap_or_else(|p| p.into_inner());
        match &self.store {
            // The writer applies and shows them once committed (see `ShowCommitted`).
            Some(store) => store.write(events.into()),
            None => {
                let statuses = self.hub.apply(&events);
                if let Some(memory) = &self.memory {
                    memory.record(&events, statuses);
                }
                Ack::none()
            }
        }
    }

    fn room(&self) -> Result<(), crate::store::StoreError> {
        self.store.as_ref().map_or(Ok(()), Store::room)
    }

    fn try_publish(&self, mut events: Vec<PlatformEvent>) -> Result<Ack, crate::store::StoreError> {
        match &self.store {
            Some(store) => {
                cut_long_lines(&mut events);
                let _order = self.order.lock().unwrap_or_else(|p| p.into_inner());
                store.try_write(events.into())
            }
            None => Ok(self.publish(events)),
        }
    }
}

/// Deployments kept per service in memory unless told otherwise (the store's default).
const DEFAULT_RETAIN: usize = 50;

/// What the store's writer calls around each commit: the batch applied to the hub without
/// being shown (numbers assigned, the change log's rows and the status changes made, which
/// the writer stores in the batch's transaction), then shown once committed.
struct ShowCommitted {
    hub: Arc<Hub>,
}

impl Stage for ShowCommitted {
    fn stage(&self, events: &mut dyn Iterator<Item = &PlatformEvent>) -> Staged {
        self.hub.stage(events)
    }

    fn show(&self, staged: Staged) {
        staged.announce();
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
