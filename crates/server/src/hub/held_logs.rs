//! A log read from the store on demand (older than the `--max-logs` the hub holds) while its
//! deployment keeps reporting, on the leader or a single server: the lines and statuses staged
//! during the read find no topic, so they are held here, with the batch that staged them, and
//! the topic opens with those the read does not have applied past it.
//!
//! The read is of one commit, and batches commit in the order they are staged, so it holds
//! what came before the hold and a run of the held changes from their start: its lines are
//! recognized by number, its statuses by where they fall (see [`cut`]). What follows is
//! published, and shown at once if its batch is committed, else at that batch's announce
//! (a page never sees a change before its commit).

use super::topic::{lock, TopicCell};
use super::Hub;
use shipwatch_model::protocol::Change;
use shipwatch_model::Deployment;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The changes of logs being loaded, by deployment, and which batches are shown.
#[derive(Default)]
pub(super) struct HeldLogs {
    /// The number of the next batch staged.
    next_batch: AtomicU64,
    /// Loads under way: while none is, a change for a log the hub does not hold is dropped
    /// without taking the lock (staged before a hold, it is committed before the read:
    /// the loader flushes the store after taking the hold).
    loads: AtomicUsize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    logs: HashMap<String, Held>,
    /// The last batch shown (committed and announced).
    shown: u64,
    /// Topics opened with changes of batches not shown yet: each announces up to its number
    /// when its batch is shown.
    late: BTreeMap<u64, Vec<(Arc<TopicCell>, u64)>>,
}

#[derive(Debug, Default)]
struct Held {
    /// Loads of this log under way.
    loads: usize,
    /// What was staged for it during the read, with the batch that staged it.
    changes: Vec<(u64, Change)>,
}

/// How a log read from the store ends: its last line's number, and the statuses after it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReadEnd {
    last_line: u64,
    tail: Vec<Deployment>,
}

impl ReadEnd {
    /// The end of a read log's changes.
    pub fn of(changes: &[Change]) -> ReadEnd {
        let mut end = ReadEnd::default();
        for change in changes {
            match change {
                Change::Line(l) => {
                    end.last_line = end.last_line.max(l.n);
                    end.tail.clear();
                }
                Change::Deployment(d) => end.tail.push(d.clone()),
                _ => {}
            }
        }
        end
    }
}

/// While it lives, what is staged for one log the hub does not hold is kept for the load
/// under way ([`Hub::hold_log_changes`]).
pub struct ChangesHold<'a> {
    hub: &'a Hub,
    deployment: String,
}

impl Drop for ChangesHold<'_> {
    fn drop(&mut self) {
        let mut inner = self.hub.held_logs.lock();
        self.hub.held_logs.loads.fetch_sub(1, Ordering::SeqCst);
        if let Some(h) = inner.logs.get_mut(&self.deployment) {
            h.loads -= 1;
            if h.loads == 0 {
                inner.logs.remove(&self.deployment);
            }
        }
    }
}

/// A staged batch's number, told to [`HeldLogs`] when the batch is shown.
pub(super) struct BatchMark {
    held: Arc<HeldLogs>,
    batch: u64,
}

impl BatchMark {
    /// The batch is committed and announced: topics opened with its changes show them.
    pub(super) fn shown(self) {
        let late = {
            let mut inner = self.held.lock();
            inner.shown = inner.shown.max(self.batch);
            let later = inner.late.split_off(&(self.batch + 1));
            std::mem::replace(&mut inner.late, later)
        };
        for (cell, upto) in late.into_values().flatten() {
            cell.announce_upto(upto);
        }
    }
}

impl HeldLogs {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Numbers a batch being staged (from 1).
    pub(super) fn next_batch(self: &Arc<Self>) -> BatchMark {
        BatchMark {
            held: self.clone(),
            batch: self.next_batch.fetch_add(1, Ordering::Relaxed) + 1,
        }
    }
}

impl Hub {
    /// From now until the hold is dropped, lines and statuses staged for `deployment`'s log
    /// while the hub holds no topic of it are kept: call it before the log is read from the
    /// store (and before the store is flushed for the read), and open the topic with
    /// [`Hub::open_loaded_log`].
    pub fn hold_log_changes(&self, deployment: &str) -> ChangesHold<'_> {
        let mut inner = self.held_logs.lock();
        self.held_logs.loads.fetch_add(1, Ordering::SeqCst);
        inner.logs.entry(deployment.to_string()).or_default().loads += 1;
        ChangesHold {
            hub: self,
            deployment: deployment.to_string(),
        }
    }

    /// A change staged by `batch` for a log the hub did not hold: its topic if it was opened
    /// meanwhile (publish to it), else None (kept for a load under way, or nobody wants it).
    pub(super) fn hold_log_change(
        &self,
        deployment: &str,
        batch: &BatchMark,
        changes: impl IntoIterator<Item = Change>,
    ) -> Option<Arc<TopicCell>> {
        if self.held_logs.loads.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let mut inner = self.held_logs.lock();
        // Under the lock the load opens the topic with: opened now, the change goes to it.
        if let Some(cell) = self.read().logs.get(deployment).cloned() {
            return Some(cell);
        }
        if let Some(h) = inner.logs.get_mut(deployment) {
            h.changes
                .extend(changes.into_iter().map(|c| (batch.batch, c)));
        }
        None
    }

    /// Registers the topic of a log read from the store (its read published, ending as `end`
    /// says), with what was staged for it during the read and is not in the read published
    /// after it, and announces what is committed of it. Unless a topic of that log was
    /// opened meanwhile.
    pub(super) fn open_loaded_log(&self, cell: Arc<TopicCell>, id: &str, end: &ReadEnd) {
        let mut inner = self.held_logs.lock();
        if self.holds_log(id) {
            return;
        }
        let shown = inner.shown;
        let held = inner
            .logs
            .get_mut(id)
            .map(|h| std::mem::take(&mut h.changes))
            .unwrap_or_default();
        let from = cut(&held, end);
        let mut st = lock(&cell.state);
        let mut committed = st.seq;
        let mut late: Vec<(u64, u64)> = Vec::new();
        for (batch, change) in &held[from..] {
            TopicCell::publish(&mut st, change, None);
            if *batch <= shown {
                committed = st.seq;
            } else {
                match late.last_mut() {
                    Some((b, upto)) if b == batch => *upto = st.seq,
                    _ => late.push((*batch, st.seq)),
                }
            }
        }
        drop(st);
        for (batch, upto) in late {
            inner
                .late
                .entry(batch)
                .or_default()
                .push((cell.clone(), upto));
        }
        cell.announce_upto(committed);
        // Registered under the lock: a change staged after this finds the topic.
        self.insert_log(cell);
    }
}

/// How many of the held changes (from their start) the read holds. The read holds a run of
/// them from the start: every line numbered up to its last line's, with the statuses before
/// the last of those; past it, none of the lines, and of the statuses before the first of
/// those, the ones the read's tail of statuses ends with. (A status reported twice alike in
/// a row is taken for one: showing it again would change nothing.)
fn cut(held: &[(u64, Change)], end: &ReadEnd) -> usize {
    let is_read_line = |c: &Change| matches!(c, Change::Line(l) if l.n <= end.last_line);
    let is_new_line = |c: &Change| matches!(c, Change::Line(l) if l.n > end.last_line);
    // The first line the read does not have: its batch and every later one are not read.
    let first_new = held
        .iter()
        .position(|(_, c)| is_new_line(c))
        .unwrap_or(held.len());
    let upper = match held.get(first_new) {
        Some((batch, _)) => held
            .iter()
            .position(|(b, _)| b == batch)
            .unwrap_or(first_new),
        None => held.len(),
    };
    // The last line it has: its batch and every earlier one are read.
    let lower = match held[..upper].iter().rposition(|(_, c)| is_read_line(c)) {
        Some(i) => {
            let batch = held[i].0;
            i + held[i..upper]
                .iter()
                .take_while(|(b, _)| *b == batch)
                .count()
        }
        None => 0,
    };
    // Between them, statuses only: those the read ends with.
    let between: Vec<&Deployment> = held[lower..upper]
        .iter()
        .filter_map(|(_, c)| match c {
            Change::Deployment(d) => Some(d),
            _ => None,
        })
        .collect();
    let read = (0..=between.len())
        .rev()
        .find(|&p| {
            p <= end.tail.len()
                && end.tail[end.tail.len() - p..]
                    .iter()
                    .zip(&between[..p])
                    .all(|(a, b)| a == *b)
        })
        .unwrap_or(0);
    lower + read
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::PlatformEvent;
    use shipwatch_model::{DeploymentStatus, LogLevel, LogLine};

    fn log_line(n: u64) -> LogLine {
        LogLine {
            n,
            ts: 0,
            stage: "build".into(),
            level: LogLevel::Info,
            text: format!("line {n}"),
            hint: None,
        }
    }

    fn line(n: u64) -> Change {
        Change::Line(log_line(n))
    }

    fn deployment(status: DeploymentStatus) -> Deployment {
        Deployment {
            id: "d".into(),
            status,
            version: "v1".into(),
            previous_version: None,
            started_at: 0,
            finished_at: None,
            triggered_by: None,
            url: None,
        }
    }

    fn status(s: DeploymentStatus) -> Change {
        Change::Deployment(deployment(s))
    }

    fn end_of(changes: &[Change]) -> ReadEnd {
        ReadEnd::of(changes)
    }

    #[test]
    fn the_read_is_cut_from_the_held_changes_by_line_number_and_status_tail() {
        let held = vec![
            (1, line(3)),
            (1, status(DeploymentStatus::Deploying)),
            (2, line(4)),
            (3, status(DeploymentStatus::DeploymentError)),
            (4, line(5)),
        ];
        // The read had everything up to line 3 and the running status.
        let read = [
            line(1),
            line(2),
            line(3),
            status(DeploymentStatus::Deploying),
        ];
        assert_eq!(cut(&held, &end_of(&read)), 2);
        // Up to line 4 (batch 2).
        let read = [line(1), line(2), line(3), line(4)];
        assert_eq!(cut(&held, &end_of(&read)), 3);
        // Batch 3 too: the status after line 4.
        let read = [line(4), status(DeploymentStatus::DeploymentError)];
        assert_eq!(cut(&held, &end_of(&read)), 4);
        // None of them.
        let read = [line(1), line(2)];
        assert_eq!(cut(&held, &end_of(&read)), 0);
        // All of them.
        assert_eq!(cut(&held, &end_of(&[line(5)])), 5);
    }

    fn hub() -> Arc<Hub> {
        let env = shipwatch_model::Environment {
            id: "prod".into(),
            name: "prod".into(),
            services: Vec::new(),
            deployment: None,
        };
        let cfg = super::super::HubConfig {
            replay: 64,
            max_logs: 1,
            base_seq: 100,
        };
        Arc::new(Hub::new(cfg, &[env]))
    }

    fn lines(ns: std::ops::RangeInclusive<u64>) -> PlatformEvent {
        PlatformEvent::LogAppended {
            deployment: "d".into(),
            lines: ns.map(log_line).collect(),
        }
    }

    fn kept(upto: u64) -> super::super::KeptLog {
        super::super::KeptLog {
            env: "prod".into(),
            service: None,
            header: deployment(DeploymentStatus::Building),
            base: 100,
            changes: (1..=upto).map(line).collect(),
        }
    }

    fn visible_lines(hub: &Hub) -> Vec<u64> {
        hub.log_lines("d")
            .map(|l| l.map(|l| l.n).collect())
            .unwrap_or_default()
    }

    /// Lines staged while the log is read: those the read has are skipped, committed ones
    /// are shown at once, and a batch staged but not committed is shown at its announce.
    #[test]
    fn lines_staged_during_a_read_are_shown_past_it_once_and_only_when_committed() {
        let hub = hub();
        let hold = hub.hold_log_changes("d");
        // Batch 1 (lines 1-3) is committed before the read, batch 2 (4-5) after it; batch 3
        // (6) is staged and not committed when the topic opens.
        let first = hub.stage(&[lines(1..=3)]);
        first.announce();
        let second = hub.stage(&[lines(4..=5)]);
        second.announce();
        let third = hub.stage(&[lines(6..=6)]);
        hub.restore_held_log(kept(3));
        drop(hold);
        assert_eq!(visible_lines(&hub), (1..=5).collect::<Vec<_>>());
        third.announce();
        assert_eq!(visible_lines(&hub), (1..=6).collect::<Vec<_>>());
        // And after: staged to the topic as usual.
        hub.stage(&[lines(7..=7)]).announce();
        assert_eq!(visible_lines(&hub), (1..=7).collect::<Vec<_>>());
    }

    /// Without a load under way, nothing is kept.
    #[test]
    fn nothing_is_kept_without_a_load() {
        let hub = hub();
        hub.stage(&[lines(1..=3)]).announce();
        assert!(hub.held_logs.lock().logs.is_empty());
        assert!(!hub.holds_log("d"));
    }
}
