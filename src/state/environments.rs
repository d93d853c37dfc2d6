//! The environment list: summaries of every environment, kept live for the switcher.

use leptos::prelude::*;
use shipwatch_model::protocol::{Change, Snapshot};
use shipwatch_model::EnvironmentSummary;

/// All environments, in the server's order.
#[derive(Clone, Copy)]
pub struct EnvironmentsState {
    /// The summaries.
    pub list: RwSignal<Vec<EnvironmentSummary>>,
    /// Whether a snapshot arrived.
    pub loaded: RwSignal<bool>,
}

impl EnvironmentsState {
    /// Empty, before the snapshot.
    pub fn new() -> Self {
        Self {
            list: RwSignal::new(Vec::new()),
            loaded: RwSignal::new(false),
        }
    }

    /// Replaces the list.
    pub fn apply_snapshot(&self, snapshot: Snapshot) {
        if let Snapshot::Environments { environments } = snapshot {
            self.list.set(environments);
            self.loaded.set(true);
        }
    }

    /// Applies changes in order.
    pub fn apply_changes(&self, changes: Vec<Change>) {
        self.list.update(|list| {
            for change in changes {
                match change {
                    Change::EnvironmentUpsert(env) => {
                        match list.iter_mut().find(|e| e.id == env.id) {
                            Some(slot) => *slot = env,
                            None => list.push(env),
                        }
                    }
                    Change::EnvironmentRemoved { id } => list.retain(|e| e.id != id),
                    _ => {}
                }
            }
        });
    }
}

impl Default for EnvironmentsState {
    fn default() -> Self {
        Self::new()
    }
}
