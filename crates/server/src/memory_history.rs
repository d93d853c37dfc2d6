//! History without a store (`--ephemeral`): the deployment history and the status timelines
//! kept in memory since the server started, so the history API and the timeline endpoint
//! answer as they do from the store (the same pages, filters, cursors and errors), over what
//! this process saw.
//!
//! Bounded: per service (and per environment for its environment-wide deployments) the last
//! `--retain-deployments` deployments, as the store keeps, and at most [`MAX_DEPLOYMENTS`] in
//! all (the oldest go first); per service (and environment) the status changes of the last
//! day, at most [`MAX_CHANGES_PER_SUBJECT`] of them. A removed service or environment takes
//! its deployments and changes with it.

use crate::hub::since::StatusChange;
use crate::platform::PlatformEvent;
use crate::store::history::{stage_entries, HistoryEntry, HistoryPage, HistoryQuery, Neighbours};
use crate::store::timeline::{segments_of, KEEP_MS};
use shipwatch_model::entities::Millis;
use shipwatch_model::timeline::Segment;
use shipwatch_model::{Deployment, DeploymentStatus, RunningStatus};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Mutex;

/// The most deployments kept in all.
pub const MAX_DEPLOYMENTS: usize = 10_000;
/// The most status changes kept per service (or environment).
pub const MAX_CHANGES_PER_SUBJECT: usize = 512;

/// A subject: environment id and service id (`""` for the environment itself).
type Subject = (String, String);

/// A status change as kept: when, the running status, the deployment status.
type Kept = (Millis, RunningStatus, Option<DeploymentStatus>);

/// One deployment as kept.
struct Entry {
    env: String,
    service: Option<String>,
    deployment: Deployment,
    /// Stages entered, with when.
    stages: Vec<(String, Millis)>,
}

#[derive(Default)]
struct Book {
    /// The next creation number (the cursor's ordinal), from 1.
    next_ordinal: u64,
    /// Deployments by creation order.
    kept: BTreeMap<u64, Entry>,
    by_id: HashMap<String, u64>,
    /// Each subject's deployments, by creation order.
    by_subject: HashMap<Subject, BTreeSet<u64>>,
    changes: HashMap<Subject, VecDeque<Kept>>,
}

/// The history of a server without a store.
pub struct MemoryHistory {
    /// Deployments kept per subject (`--retain-deployments`).
    retain: usize,
    /// Since when (Unix ms): the server's start.
    since: Millis,
    book: Mutex<Book>,
}

impl MemoryHistory {
    /// Keeps the last `retain` deployments of each service (at least one).
    pub fn new(retain: usize) -> MemoryHistory {
        MemoryHistory {
            retain: retain.max(1),
            since: crate::app::wall_millis(),
            book: Mutex::new(Book {
                next_ordinal: 1,
                ..Book::default()
            }),
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a batch as the hub applied it, with the status changes it made.
    pub fn record(&self, events: &[PlatformEvent], statuses: Vec<StatusChange>) {
        let mut book = self.book();
        for event in events {
            match event {
                PlatformEvent::DeploymentQueued {
                    env,
                    service,
                    deployment,
                } => book.queued(env, service.as_deref(), deployment, self.retain),
                PlatformEvent::DeploymentStage {
                    deployment,
                    stage,
                    at,
                } => {
                    if let Some(e) = book.entry(deployment) {
                        e.stages.push((stage.clone(), *at));
                    }
                }
                PlatformEvent::DeploymentStatus { deployment } => {
                    if let Some(e) = book.entry(&deployment.id) {
                        e.deployment.status = deployment.status;
                        e.deployment.finished_at = deployment.finished_at;
                    }
                }
                PlatformEvent::ServiceRemoved { env, service } => {
                    book.forget(|(e, s)| e == env && s == service);
                }
                PlatformEvent::EnvironmentRemoved { id } => book.forget(|(e, _)| e == id),
                _ => {}
            }
        }
        book.statuses(statuses);
    }

    /// Takes status changes no batch made (a new world's first statuses).
    pub fn record_statuses(&self, statuses: Vec<StatusChange>) {
        self.book().statuses(statuses);
    }

    /// A page of `q`, as [`crate::store::Store::history`] gives it.
    pub fn page(&self, q: &HistoryQuery) -> HistoryPage {
        let book = self.book();
        let mut deployments = Vec::new();
        let mut more = false;
        let upto = q.before.unwrap_or(u64::MAX);
        for (ordinal, e) in book.kept.range(..upto).rev() {
            let wanted = e.env == q.env
                && q.service
                    .as_ref()
                    .is_none_or(|s| e.service.as_ref() == Some(s))
                && (q.statuses.is_empty() || q.statuses.contains(&e.deployment.status));
            if !wanted {
                continue;
            }
            if deployments.len() == q.limit as usize {
                more = true;
                break;
            }
            deployments.push(e.entry(*ordinal));
        }
        let next = more
            .then(|| deployments.last().map(|d: &HistoryEntry| d.cursor.clone()))
            .flatten();
        HistoryPage {
            deployments,
            next,
            in_memory_since: Some(self.since),
        }
    }

    /// A kept deployment with the ones of its service just before and after it.
    pub fn neighbours(&self, id: &str) -> Option<Neighbours> {
        let book = self.book();
        let ordinal = *book.by_id.get(id)?;
        let e = book.kept.get(&ordinal)?;
        let around = book.by_subject.get(&e.subject());
        let at = |o: Option<&u64>| o.and_then(|o| book.kept.get(o).map(|e| e.entry(*o)));
        Some(Neighbours {
            deployment: e.entry(ordinal),
            previous: at(around.and_then(|s| s.range(..ordinal).next_back())),
            next: at(around.and_then(|s| s.range(ordinal + 1..).next())),
        })
    }

    /// The statuses of a service (or, with `service` none, of the environment) between
    /// `from` and `to`, as [`crate::store::Store::timeline`] gives them.
    pub fn timeline(
        &self,
        env: &str,
        service: Option<&str>,
        from: Millis,
        to: Millis,
    ) -> Vec<Segment> {
        let book = self.book();
        let key = (env.to_string(), service.unwrap_or("").to_string());
        let Some(kept) = book.changes.get(&key) else {
            return Vec::new();
        };
        let mut all: Vec<Kept> = kept.iter().copied().collect();
        // In time order; changes of one instant in the order they were made.
        all.sort_by_key(|c| c.0);
        let before = all.iter().rposition(|c| c.0 < from);
        let start = before.unwrap_or(0);
        segments_of(all[start..].iter().copied().filter(|c| c.0 <= to), from)
    }
}

impl Book {
    fn entry(&mut self, id: &str) -> Option<&mut Entry> {
        let ordinal = self.by_id.get(id)?;
        self.kept.get_mut(ordinal)
    }

    /// A deployment queued, or reported again (it keeps its place).
    fn queued(&mut self, env: &str, service: Option<&str>, d: &Deployment, retain: usize) {
        if let Some(e) = self.entry(&d.id) {
            e.deployment = d.clone();
            return;
        }
        let ordinal = self.next_ordinal;
        self.next_ordinal += 1;
        let e = Entry {
            env: env.to_string(),
            service: service.map(str::to_string),
            deployment: d.clone(),
            stages: Vec::new(),
        };
        let subject = e.subject();
        self.by_id.insert(d.id.clone(), ordinal);
        self.kept.insert(ordinal, e);
        let mine = self.by_subject.entry(subject.clone()).or_default();
        mine.insert(ordinal);
        let over: Vec<u64> = mine
            .iter()
            .take(mine.len().saturating_sub(retain))
            .copied()
            .collect();
        for o in over {
            self.remove(o);
        }
        while self.kept.len() > MAX_DEPLOYMENTS {
            let Some(oldest) = self.kept.keys().next().copied() else {
                break;
            };
            self.remove(oldest);
        }
    }

    fn remove(&mut self, ordinal: u64) {
        let Some(e) = self.kept.remove(&ordinal) else {
            return;
        };
        self.by_id.remove(&e.deployment.id);
        let subject = e.subject();
        if let Some(set) = self.by_subject.get_mut(&subject) {
            set.remove(&ordinal);
            if set.is_empty() {
                self.by_subject.remove(&subject);
            }
        }
    }

    /// Forgets the deployments and changes of the subjects `gone` says are removed.
    fn forget(&mut self, gone: impl Fn(&Subject) -> bool) {
        let ordinals: Vec<u64> = self
            .by_subject
            .iter()
            .filter(|(s, _)| gone(s))
            .flat_map(|(_, set)| set.iter().copied())
            .collect();
        for o in ordinals {
            self.remove(o);
        }
        self.changes.retain(|s, _| !gone(s));
    }

    fn statuses(&mut self, statuses: Vec<StatusChange>) {
        for c in statuses {
            let kept = self
                .changes
                .entry((c.env, c.service.unwrap_or_default()))
                .or_default();
            kept.push_back((c.at, c.running, c.deployment));
            while kept.len() > MAX_CHANGES_PER_SUBJECT {
                kept.pop_front();
            }
            // The last one says what holds since, whatever its age.
            let old = c.at.saturating_sub(KEEP_MS);
            while kept.len() > 1 && kept.front().is_some_and(|k| k.0 < old) {
                kept.pop_front();
            }
        }
    }
}

impl Entry {
    fn subject(&self) -> Subject {
        (self.env.clone(), self.service.clone().unwrap_or_default())
    }

    fn entry(&self, ordinal: u64) -> HistoryEntry {
        HistoryEntry {
            environment: self.env.clone(),
            service: self.service.clone(),
            stages: stage_entries(&self.deployment, self.stages.clone()),
            deployment: self.deployment.clone(),
            log_removed: false,
            cursor: ordinal.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(id: &str, status: DeploymentStatus) -> Deployment {
        Deployment {
            id: id.into(),
            status,
            version: "v1".into(),
            previous_version: None,
            started_at: 10,
            finished_at: None,
            triggered_by: None,
            url: None,
        }
    }

    fn queued(svc: &str, id: &str) -> PlatformEvent {
        PlatformEvent::DeploymentQueued {
            env: "prod".into(),
            service: Some(svc.into()),
            deployment: dep(id, DeploymentStatus::Queued),
        }
    }

    fn query(limit: u32) -> HistoryQuery {
        HistoryQuery {
            env: "prod".into(),
            limit,
            ..HistoryQuery::default()
        }
    }

    /// Pages are cut by creation order, newest first; a deployment created while a client
    /// pages does not shift the next page; each service keeps its last `retain`.
    #[test]
    fn pages_follow_creation_order_and_each_service_keeps_its_last_ones() {
        let h = MemoryHistory::new(3);
        let events: Vec<PlatformEvent> = (1..=5).map(|i| queued("api", &format!("a{i}"))).collect();
        h.record(&events, Vec::new());
        h.record(&[queued("web", "w1")], Vec::new());
        let first = h.page(&query(2));
        let ids: Vec<&str> = first
            .deployments
            .iter()
            .map(|d| d.deployment.id.as_str())
            .collect();
        assert_eq!(ids, ["w1", "a5"]);
        h.record(&[queued("web", "w2")], Vec::new());
        let mut q = query(2);
        q.before = first.next.as_deref().map(|n| n.parse().unwrap());
        let second = h.page(&q);
        let ids: Vec<&str> = second
            .deployments
            .iter()
            .map(|d| d.deployment.id.as_str())
            .collect();
        assert_eq!(
            ids,
            ["a4", "a3"],
            "api keeps its last 3: a1 and a2 are gone"
        );
        assert_eq!(second.next, None, "the oldest kept");
        let n = h.neighbours("a4").unwrap();
        assert_eq!(n.previous.unwrap().deployment.id, "a3");
        assert_eq!(n.next.unwrap().deployment.id, "a5");
        assert!(h.neighbours("a1").is_none());
    }

    /// Stages and statuses apply to the kept deployment; a removed service takes its
    /// deployments with it.
    #[test]
    fn stages_statuses_and_removals_apply() {
        let h = MemoryHistory::new(50);
        let mut done = dep("a1", DeploymentStatus::DeploymentOk);
        done.finished_at = Some(30);
        h.record(
            &[
                queued("api", "a1"),
                PlatformEvent::DeploymentStage {
                    deployment: "a1".into(),
                    stage: "build".into(),
                    at: 12,
                },
                PlatformEvent::DeploymentStage {
                    deployment: "a1".into(),
                    stage: "deploy".into(),
                    at: 20,
                },
                PlatformEvent::DeploymentStatus { deployment: done },
            ],
            Vec::new(),
        );
        let mut q = query(10);
        q.statuses = vec![DeploymentStatus::DeploymentOk];
        let page = h.page(&q);
        let stages = &page.deployments[0].stages;
        assert_eq!(stages.len(), 2);
        assert_eq!(stages[0].finished_at, Some(20));
        assert_eq!(stages[1].finished_at, Some(30));
        h.record(
            &[PlatformEvent::ServiceRemoved {
                env: "prod".into(),
                service: "api".into(),
            }],
            Vec::new(),
        );
        assert!(h.page(&query(10)).deployments.is_empty());
    }

    /// At most [`MAX_DEPLOYMENTS`] in all (the oldest go first) and
    /// [`MAX_CHANGES_PER_SUBJECT`] status changes per subject (the newest stay).
    #[test]
    fn the_book_keeps_its_bounds() {
        let h = MemoryHistory::new(usize::MAX);
        let events: Vec<PlatformEvent> = (0..MAX_DEPLOYMENTS + 5)
            .map(|i| queued(&format!("s{}", i % 100), &format!("d{i}")))
            .collect();
        h.record(&events, Vec::new());
        assert_eq!(h.book().kept.len(), MAX_DEPLOYMENTS);
        assert!(h.neighbours("d4").is_none() && h.neighbours("d5").is_some());
        let changes = (0..MAX_CHANGES_PER_SUBJECT as u64 + 10).map(|i| StatusChange {
            env: "prod".into(),
            service: Some("api".into()),
            at: 1_000 + i,
            running: if i % 2 == 0 {
                RunningStatus::Running
            } else {
                RunningStatus::Error
            },
            deployment: None,
        });
        h.record_statuses(changes.collect());
        let kept = h.timeline("prod", Some("api"), 0, u64::MAX);
        assert_eq!(kept.len(), MAX_CHANGES_PER_SUBJECT);
        assert_eq!(kept[0].from, 1_010, "the oldest went first");
    }

    /// The timeline starts with the status that held at the window's start, and keeps the
    /// last change of a subject whatever its age.
    #[test]
    fn the_timeline_starts_with_what_held_at_the_window_s_start() {
        let h = MemoryHistory::new(50);
        let change = |at, running| StatusChange {
            env: "prod".into(),
            service: Some("api".into()),
            at,
            running,
            deployment: None,
        };
        h.record_statuses(vec![
            change(100, RunningStatus::Starting),
            change(200, RunningStatus::Running),
            change(300, RunningStatus::Error),
        ]);
        let t = h.timeline("prod", Some("api"), 250, 1_000);
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].from, t[0].running), (250, RunningStatus::Running));
        assert_eq!((t[1].from, t[1].running), (300, RunningStatus::Error));
        assert!(h.timeline("prod", None, 0, 1_000).is_empty());
    }
}
