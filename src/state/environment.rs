//! One environment's live state: a signal per service, so a change repaints one row.

use super::fresh_readers::set_forgetting_readers;
use crate::lowercase::lowercase;
use leptos::prelude::*;
use shipwatch_model::protocol::{instance_update, Change, Snapshot};
use shipwatch_model::triage::{notable_change, Notice, ServiceTriage};
use shipwatch_model::{Deployment, Service};
use std::collections::HashMap;

/// The environment page's state.
#[derive(Clone, Copy)]
pub struct EnvironmentState {
    /// Display name.
    pub name: RwSignal<String>,
    /// The environment's own last deployment.
    pub deployment: RwSignal<Option<Deployment>>,
    /// Service ids in the server's order.
    pub order: RwSignal<Vec<String>>,
    /// One signal per service; the map changes only when services come or go.
    pub services: RwSignal<HashMap<String, ArcRwSignal<Service>>>,
    /// What sorting and counting need of each service, updated once per batch of changes
    /// (whole-environment views read this, not the services).
    pub triage: RwSignal<HashMap<String, ServiceTriage>>,
    /// Whether a snapshot arrived.
    pub loaded: RwSignal<bool>,
    /// Why the server refused the subscription, if it did.
    pub refused: RwSignal<Option<String>>,
}

impl EnvironmentState {
    /// An empty state, before the snapshot.
    pub fn new() -> Self {
        Self {
            name: RwSignal::new(String::new()),
            deployment: RwSignal::new(None),
            order: RwSignal::new(Vec::new()),
            services: RwSignal::new(HashMap::new()),
            triage: RwSignal::new(HashMap::new()),
            loaded: RwSignal::new(false),
            refused: RwSignal::new(None),
        }
    }

    /// The signal of one service.
    pub fn service(&self, id: &str) -> Option<ArcRwSignal<Service>> {
        self.services.with_untracked(|m| m.get(id).cloned())
    }

    /// Replaces the state with a snapshot, keeping the signals of services that remain.
    pub fn apply_snapshot(&self, snapshot: Snapshot) {
        let Snapshot::Environment { environment } = snapshot else {
            return;
        };
        self.name.set(environment.name);
        self.deployment.set(environment.deployment);
        let order: Vec<String> = environment.services.iter().map(|s| s.id.clone()).collect();
        let triage: HashMap<String, ServiceTriage> = environment
            .services
            .iter()
            .map(|s| (s.id.clone(), ServiceTriage::of_folded(s, lowercase)))
            .collect();
        if self.triage.with_untracked(|t| *t != triage) {
            self.triage.set(triage);
        }
        let mut fresh = false;
        let mut map = self.services.get_untracked();
        // A set, not `order.contains`: a re-snapshot of 1,000 services is not 1,000,000 compares.
        let keep: std::collections::HashSet<&String> = order.iter().collect();
        map.retain(|id, _| keep.contains(id));
        for service in environment.services {
            match map.get(&service.id) {
                Some(sig) => set_if_changed(sig, service),
                None => {
                    fresh = true;
                    map.insert(service.id.clone(), ArcRwSignal::new(service));
                }
            }
        }
        if fresh || map.len() != self.services.with_untracked(HashMap::len) {
            self.services.set(map);
        }
        if self.order.with_untracked(|o| *o != order) {
            self.order.set(order);
        }
        self.loaded.set(true);
        self.refused.set(None);
    }

    /// Applies changes in order, up to one that does not fit this state (an instance the
    /// server has and this state has not: the state is out of step and needs a snapshot).
    pub fn apply_changes(&self, changes: Vec<Change>) -> Applied {
        let (mut notices, mut out_of_step) = (Vec::new(), None);
        // Triage facts of the batch, applied in one update (one re-sort per batch).
        let mut triaged: Vec<(String, Option<ServiceTriage>)> = Vec::new();
        for change in changes {
            match change {
                Change::InstanceUpdate {
                    service,
                    index,
                    instance,
                    running_since,
                    events_added,
                } => {
                    let sig = self.service(&service);
                    let whole = sig.as_ref().and_then(|sig| {
                        sig.with_untracked(|old| {
                            let added = events_added.as_deref();
                            instance_update::apply(old, index, instance, running_since, added)
                        })
                    });
                    let (Some(sig), Some(whole)) = (sig, whole) else {
                        out_of_step = Some(format!(
                            "an update of instance {index} of service `{service}`, which this \
                             page does not have"
                        ));
                        break;
                    };
                    replace(&sig, whole, &mut notices, &mut triaged);
                }
                Change::ServiceUpsert(service) => match self.service(&service.id) {
                    Some(sig) => replace(&sig, service, &mut notices, &mut triaged),
                    None => {
                        let id = service.id.clone();
                        triaged.push((
                            id.clone(),
                            Some(ServiceTriage::of_folded(&service, lowercase)),
                        ));
                        self.services.update(|m| {
                            m.insert(id.clone(), ArcRwSignal::new(service));
                        });
                        self.order.update(|o| o.push(id));
                    }
                },
                Change::ServiceRemoved { id } => {
                    self.services.update(|m| {
                        m.remove(&id);
                    });
                    self.order.update(|o| o.retain(|x| *x != id));
                    triaged.push((id, None));
                }
                Change::EnvironmentDeployment { deployment } => self.deployment.set(deployment),
                // Not for this topic: ignored rather than trusted.
                _ => {}
            }
        }
        self.apply_triage(triaged);
        Applied {
            notices,
            out_of_step,
        }
    }

    /// Updates the triage facts of the services that changed, notifying only if one did.
    fn apply_triage(&self, triaged: Vec<(String, Option<ServiceTriage>)>) {
        let changed = self
            .triage
            .with_untracked(|t| triaged.iter().any(|(id, new)| t.get(id) != new.as_ref()));
        if !changed {
            return;
        }
        self.triage.update(|t| {
            for (id, new) in triaged {
                match new {
                    Some(new) => t.insert(id, new),
                    None => t.remove(&id),
                };
            }
        });
    }
}

/// Sets a known service's new state, noting what is worth announcing and its triage facts;
/// nothing if it did not change.
fn replace(
    sig: &ArcRwSignal<Service>,
    service: Service,
    notices: &mut Vec<Notice>,
    triaged: &mut Vec<(String, Option<ServiceTriage>)>,
) {
    if sig.with_untracked(|old| *old == service) {
        return;
    }
    if let Some(n) = sig.with_untracked(|old| notable_change(old, &service)) {
        notices.push(n);
    }
    triaged.push((
        service.id.clone(),
        Some(ServiceTriage::of_folded(&service, lowercase)),
    ));
    set_forgetting_readers(sig, service);
}

/// What [`EnvironmentState::apply_changes`] did.
#[derive(Debug, Default)]
pub struct Applied {
    /// What is worth announcing (a service entering ERROR, a deployment finishing).
    pub notices: Vec<Notice>,
    /// Why the batch stopped short: a change this state cannot take. The changes before it
    /// are applied; the subscription needs a fresh snapshot.
    pub out_of_step: Option<String>,
}

impl Default for EnvironmentState {
    fn default() -> Self {
        Self::new()
    }
}

fn set_if_changed(sig: &ArcRwSignal<Service>, service: Service) {
    if sig.with_untracked(|s| *s != service) {
        set_forgetting_readers(sig, service);
    }
}
