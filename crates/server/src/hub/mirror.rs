//! A follower's hub (see [`crate::replica`]): the leader's committed changes, read from the
//! store's change log, applied as they were sent. Each change is published with the JSON the
//! leader sent and at the sequence number it sent it at, so a socket on a follower gets the
//! same frames as one on the leader, and a page resumes on either.

use super::line_json::line_json;
use super::replay::{PublishedChange, ReplayBuffer};
use super::staged::ChangeKind;
use super::topic::{lock, TopicCell, TopicData, TopicState};
use super::Hub;
use shipwatch_model::protocol::{instance_update, Change, Snapshot, RESUME_HELD_BATCHES};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// One row of the change log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedChange {
    /// The topic's key (`environments`, `environment:<id>`, `logs:<deployment>`).
    pub topic: String,
    /// Its sequence number (`open`: the topic's base).
    pub seq: u64,
    /// What happened.
    pub kind: ChangeKind,
    /// The snapshot (`open`) or the change (`change`), as sent.
    pub json: Option<String>,
    /// The change's `instance_update` form, if it had one.
    pub compact: Option<String>,
}

/// What applying rows did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mirrored {
    /// Changes published.
    pub published: u64,
    /// Rows this hub already had (a topic loaded after the row was committed).
    pub skipped: u64,
    /// Rows past a gap in their topic's numbers (rows trimmed before this replica read
    /// them): the topic jumped there, and its subscribers resync with a snapshot.
    pub gaps: u64,
    /// Rows that could not be read, or of topics this hub does not hold.
    pub ignored: u64,
    /// Rows of a log being read from the store, kept for it ([`Hub::hold_log_rows`]).
    pub held: u64,
}

/// The change-log rows of logs a follower is reading from the store (a page opened a log this
/// replica did not hold), by deployment: rows that arrive while the read is under way would
/// otherwise find no topic and be dropped, and the log would miss them.
#[derive(Debug, Default)]
pub(super) struct HeldRows(Mutex<HashMap<String, Held>>);

#[derive(Debug, Default)]
struct Held {
    /// Loads of this log under way.
    loads: usize,
    rows: Vec<LoggedChange>,
    /// The leader ended the log's topic meanwhile (retention removed it): not opened.
    closed: bool,
}

impl HeldRows {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// While it lives, the change-log rows of one log that this hub does not hold are kept for
/// the load under way ([`Hub::restore_held_log`]).
pub struct LogHold<'a> {
    hub: &'a Hub,
    deployment: String,
}

impl Drop for LogHold<'_> {
    fn drop(&mut self) {
        let mut held = self.hub.held_rows.lock();
        if let Some(h) = held.get_mut(&self.deployment) {
            h.loads -= 1;
            if h.loads == 0 {
                held.remove(&self.deployment);
            }
        }
    }
}

/// Which topic a change-log key names.
enum Key<'a> {
    Environments,
    Environment(&'a str),
    Logs(&'a str),
}

fn key(topic: &str) -> Option<Key<'_>> {
    if topic == "environments" {
        return Some(Key::Environments);
    }
    if let Some(env) = topic.strip_prefix("environment:") {
        return Some(Key::Environment(env));
    }
    topic.strip_prefix("logs:").map(Key::Logs)
}

impl Hub {
    /// Applies change-log rows, in the order they were committed, then wakes the subscribers
    /// of every topic that changed, once.
    pub fn mirror(&self, rows: &[LoggedChange]) -> Mirrored {
        let mut done = Mirrored::default();
        let mut touched: Vec<Arc<TopicCell>> = Vec::new();
        for row in rows {
            let Some(key) = key(&row.topic) else {
                done.ignored += 1;
                continue;
            };
            match row.kind {
                ChangeKind::Open => match self.mirror_open(&key, row) {
                    Some(cell) => {
                        if !touched.iter().any(|c| Arc::ptr_eq(c, &cell)) {
                            touched.push(cell);
                        }
                    }
                    None => done.ignored += 1,
                },
                ChangeKind::Close => {
                    if let Key::Logs(dep) = key {
                        if let Some(h) = self.held_rows.lock().get_mut(dep) {
                            h.closed = true;
                        }
                    }
                    self.mirror_close(&key)
                }
                ChangeKind::Change => {
                    let cell = match self.cell(&key) {
                        Some(cell) => cell,
                        None => match self.hold_row(&key, row) {
                            Ok(cell) => cell,
                            Err(true) => {
                                done.held += 1;
                                continue;
                            }
                            Err(false) => {
                                // A log this replica does not hold: it is loaded from the
                                // store (with this change) if a page asks for it.
                                done.ignored += 1;
                                continue;
                            }
                        },
                    };
                    let mut st = lock(&cell.state);
                    if row.seq <= st.seq {
                        done.skipped += 1;
                        continue;
                    }
                    if row.seq > st.seq + 1 && st.seq > 0 {
                        done.gaps += 1;
                        tracing::warn!(
                            topic = %row.topic,
                            have = st.seq,
                            row = row.seq,
                            "changes missing from the change log (trimmed before this replica \
                             read them): the topic jumps, its pages get a snapshot"
                        );
                    }
                    if apply_change(&mut st, row) {
                        done.published += 1;
                        drop(st);
                        if let Key::Environments = key {
                            self.mirror_name(row);
                        }
                        if !touched.iter().any(|c| Arc::ptr_eq(c, &cell)) {
                            touched.push(cell);
                        }
                    } else {
                        done.ignored += 1;
                    }
                }
            }
        }
        for cell in touched {
            cell.announce();
        }
        done
    }

    /// Whether `rows` change an environment topic this hub does not hold: one the leader built
    /// at its start (no `open` row announces those), which the follower opens from the store
    /// ([`Hub::mirror_environments`]) before it applies the rows.
    pub fn lacks_topics_of(&self, rows: &[LoggedChange]) -> bool {
        let t = self.read();
        let mut opened: Vec<&str> = Vec::new();
        rows.iter().any(|r| match (r.kind, key(&r.topic)) {
            (ChangeKind::Open, Some(Key::Environment(env))) => {
                opened.push(env);
                false
            }
            (ChangeKind::Change, Some(Key::Environment(env))) => {
                !t.envs.contains_key(env) && !opened.contains(&env)
            }
            _ => false,
        })
    }

    /// Whether this hub holds no environment at all (a follower that started before the
    /// leader's first commit opens them from the store as soon as they are there).
    pub fn holds_no_environments(&self) -> bool {
        self.read().envs.is_empty()
    }

    /// Opens the environment topics this hub lacks from `environments` as stored, each at the
    /// last number the change log gave it (`numbers`, by topic key; rows up to it are in the
    /// stored state), and, while the list has no number of its own yet, the list too.
    pub fn mirror_environments(
        &self,
        environments: &[shipwatch_model::Environment],
        numbers: &std::collections::HashMap<String, u64>,
    ) {
        let number = |key: &str| numbers.get(key).copied().unwrap_or(0);
        let list = {
            let mut t = self.topics.write().unwrap_or_else(|p| p.into_inner());
            for env in environments {
                if !t.envs.contains_key(&env.id) {
                    let bounded = ReplayBuffer::Bounded(VecDeque::new(), self.cfg.replay.max(1));
                    let seq = number(&format!("environment:{}", env.id));
                    let cell = TopicCell::new(seq, bounded, TopicData::Environment(env.clone()));
                    t.envs.insert(env.id.clone(), cell);
                }
            }
            t.environments.clone()
        };
        let mut st = lock(&list.state);
        if st.seq == 0 {
            st.data = TopicData::Environments(environments.iter().map(super::summarize).collect());
            jump(&mut st, number("environments"));
        }
        drop(st);
        list.announce();
    }

    /// A follower's environment topics whose numbers the change log did not give (topics the
    /// leader made at its start and has not changed since): they stand at 0 until their
    /// first row, which sets their number. Numbered from this replica's own start, a page
    /// resuming from the leader's number could be told `resumed` wrongly. `numbered`: the
    /// topic keys the change log gave a number.
    pub fn unnumbered(&self, numbered: &std::collections::HashSet<String>) {
        let cells: Vec<(String, Arc<TopicCell>)> = {
            let t = self.read();
            std::iter::once(("environments".to_string(), t.environments.clone()))
                .chain(
                    t.envs
                        .iter()
                        .map(|(id, c)| (format!("environment:{id}"), c.clone())),
                )
                .collect()
        };
        for (key, cell) in cells {
            if !numbered.contains(&key) {
                jump(&mut lock(&cell.state), 0);
                cell.announce();
            }
        }
    }

    /// From the moment this is called until the hold is dropped, change-log rows of
    /// `deployment`'s log that find no topic here are kept: call it before the log is read
    /// from the store, and open the topic with [`Hub::restore_held_log`]. Its rows arriving
    /// in between are then applied past what the read held, and none is dropped.
    pub fn hold_log_rows(&self, deployment: &str) -> LogHold<'_> {
        self.held_rows
            .lock()
            .entry(deployment.to_string())
            .or_default()
            .loads += 1;
        LogHold {
            hub: self,
            deployment: deployment.to_string(),
        }
    }

    /// A row of a topic this hub does not hold: the topic if it was opened meanwhile, else
    /// Err(true) if the row is kept for a load under way, Err(false) if nobody wants it.
    fn hold_row(&self, key: &Key<'_>, row: &LoggedChange) -> Result<Arc<TopicCell>, bool> {
        let Key::Logs(dep) = key else {
            return Err(false);
        };
        let mut held = self.held_rows.lock();
        // Under the lock the load opens the topic with: opened now, the row goes to it.
        if let Some(cell) = self.cell(key) {
            return Ok(cell);
        }
        match held.get_mut(*dep) {
            Some(h) => {
                h.rows.push(row.clone());
                Err(true)
            }
            None => Err(false),
        }
    }

    /// Opens the topic of a log read from the store, as [`Hub::restore_log`] does, with the
    /// change-log rows held for it since [`Hub::hold_log_rows`] applied past what the read
    /// holds (the read is of one commit, numbered as the rows are: those it already has are
    /// skipped by number). Unless a topic of that log was opened meanwhile.
    pub fn restore_held_log(&self, kept: super::KeptLog) {
        let id = kept.header.id.clone();
        let end = super::held_logs::ReadEnd::of(&kept.changes);
        let cell = super::log_cell(&kept.env, kept.service, kept.header, kept.base);
        let mut st = lock(&cell.state);
        for change in &kept.changes {
            TopicCell::publish(&mut st, change, None);
        }
        drop(st);
        let mut held = self.held_rows.lock();
        if self.holds_log(&id) || held.get(&id).is_some_and(|h| h.closed) {
            return;
        }
        let mut st = lock(&cell.state);
        if let Some(h) = held.get_mut(&id) {
            for row in h.rows.drain(..) {
                if row.kind == ChangeKind::Change && row.seq > st.seq {
                    apply_change(&mut st, &row);
                }
            }
        }
        drop(st);
        // Announced and registered under the lock: a row after this finds the topic. On the
        // leader, with what was staged for it during the read.
        self.open_loaded_log(cell, &id, &end);
        drop(held);
    }

    /// An environment renamed: the leader gives its topic the new name without a change of
    /// its own (its pages read it in the list's change, and in their next snapshot of the
    /// environment), so a follower does the same from the list's row.
    fn mirror_name(&self, row: &LoggedChange) {
        let Some(Ok(Change::EnvironmentUpsert(summary))) =
            row.json.as_deref().map(serde_json::from_str::<Change>)
        else {
            return;
        };
        let Some(cell) = self.read().envs.get(&summary.id).cloned() else {
            return;
        };
        let mut st = lock(&cell.state);
        if let TopicData::Environment(e) = &mut st.data {
            if e.name != summary.name {
                e.name = summary.name;
                st.cached = None;
            }
        }
    }

    fn cell(&self, key: &Key<'_>) -> Option<Arc<TopicCell>> {
        let t = self.read();
        match key {
            Key::Environments => Some(t.environments.clone()),
            Key::Environment(env) => t.envs.get(*env).cloned(),
            Key::Logs(dep) => t.logs.get(*dep).cloned(),
        }
    }

    /// A topic created on the leader: created here at the same base with the same state.
    fn mirror_open(&self, key: &Key<'_>, row: &LoggedChange) -> Option<Arc<TopicCell>> {
        let snapshot: Snapshot = serde_json::from_str(row.json.as_deref()?).ok()?;
        match (key, snapshot) {
            (
                Key::Logs(_),
                Snapshot::Logs {
                    env,
                    service,
                    deployment,
                    ..
                },
            ) => {
                if let Some(cell) = self.cell(key) {
                    if lock(&cell.state).base == row.seq {
                        return None;
                    }
                }
                Some(self.created(&env, service, deployment, row.seq))
            }
            (Key::Environment(id), Snapshot::Environment { environment }) => {
                let bounded = ReplayBuffer::Bounded(VecDeque::new(), self.cfg.replay.max(1));
                let mut t = self.topics.write().unwrap_or_else(|p| p.into_inner());
                if t.envs.contains_key(*id) {
                    return None;
                }
                let cell = TopicCell::new(row.seq, bounded, TopicData::Environment(environment));
                t.envs.insert(id.to_string(), cell.clone());
                Some(cell)
            }
            (Key::Environments, Snapshot::Environments { environments }) => {
                let cell = self.read().environments.clone();
                let mut st = lock(&cell.state);
                if st.seq >= row.seq {
                    return None;
                }
                st.data = TopicData::Environments(environments);
                jump(&mut st, row.seq);
                drop(st);
                Some(cell)
            }
            _ => None,
        }
    }

    /// A topic the leader ended: its subscribers are told.
    fn mirror_close(&self, key: &Key<'_>) {
        match key {
            Key::Logs(dep) => self.forget_log(dep),
            Key::Environment(env) => {
                let cell = {
                    let mut t = self.topics.write().unwrap_or_else(|p| p.into_inner());
                    t.envs.remove(*env)
                };
                if let Some(cell) = cell {
                    cell.close();
                }
            }
            Key::Environments => {}
        }
    }
}

/// The topic stands at `seq` with nothing to replay before it (its state is as of `seq`).
fn jump(st: &mut TopicState, seq: u64) {
    match &mut st.replay {
        ReplayBuffer::Bounded(buf, _) => buf.clear(),
        ReplayBuffer::Full(all) => all.clear(),
    }
    st.base = seq;
    st.seq = seq;
    // Shown at `seq` too, even below what it showed: the numbers it stood at were this
    // replica's own (from its start), never the leader's.
    st.visible = seq;
    st.shown_from = [seq; RESUME_HELD_BATCHES];
    st.cached = None;
    st.snapshot_len = None;
}

/// Applies one logged change to the topic's state and publishes it as sent; false if it does
/// not read as a change.
fn apply_change(st: &mut TopicState, row: &LoggedChange) -> bool {
    let Some(json) = row.json.as_deref() else {
        return false;
    };
    let Ok(change) = serde_json::from_str::<Change>(json) else {
        return false;
    };
    if row.seq > st.seq + 1 {
        // A log's changes must all be there (its snapshot is only a header): numbered on
        // from here, a page that resumes before the gap gets the snapshot and what follows.
        jump(st, row.seq - 1);
    }
    let mut line = None;
    let mut text: Arc<str> = json.into();
    match (&mut st.data, &change) {
        (TopicData::Environments(all), Change::EnvironmentUpsert(summary)) => {
            match all.iter_mut().find(|s| s.id == summary.id) {
                Some(s) => *s = summary.clone(),
                None => all.push(summary.clone()),
            }
        }
        (TopicData::Environments(all), Change::EnvironmentRemoved { id }) => {
            all.retain(|s| s.id != *id);
        }
        (TopicData::Environment(e), Change::ServiceUpsert(service)) => {
            match e.services.iter_mut().find(|s| s.id == service.id) {
                Some(s) => *s = service.clone(),
                None => e.services.push(service.clone()),
            }
        }
        (TopicData::Environment(e), Change::ServiceRemoved { id }) => {
            e.services.retain(|s| s.id != *id);
        }
        (TopicData::Environment(e), Change::EnvironmentDeployment { deployment }) => {
            e.deployment = deployment.clone();
        }
        (
            TopicData::Environment(e),
            Change::InstanceUpdate {
                service,
                index,
                instance,
                running_since,
                events_added,
            },
        ) => {
            if let Some(s) = e.services.iter_mut().find(|s| s.id == *service) {
                if let Some(next) = instance_update::apply(
                    s,
                    *index,
                    instance.clone(),
                    *running_since,
                    events_added.as_deref(),
                ) {
                    *s = next;
                }
            }
        }
        (TopicData::Logs { .. }, Change::Line(l)) => {
            // Laid out again so a `lines` frame can be spliced from it: the leader's JSON
            // came from the same function, so it is the same text.
            let (again, parts) = line_json(l);
            if again == json {
                line = Some(parts);
                text = again.into();
            }
            st.lines += 1;
        }
        (TopicData::Logs { .. }, Change::Deployment(_)) => {}
        _ => return false,
    }
    st.seq = row.seq;
    let compact: Option<Arc<str>> = row.compact.as_deref().map(Into::into);
    st.sent_so_far = st.sent_so_far.plus(&text, compact.as_deref());
    let change = Arc::new(PublishedChange {
        seq: st.seq,
        json: text,
        as_instance_update: compact,
        sent_so_far: st.sent_so_far,
        line,
    });
    // Held as the leader holds its batches: a page still reading one of the two newest batches
    // mirrored (a leader's batch may be tens of thousands of changes) reads on, not a snapshot.
    st.keep(change);
    st.cached = None;
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::replay::ReplayRead;
    use crate::hub::{HubConfig, KeptLog};
    use shipwatch_model::protocol::{encode, Topic};
    use shipwatch_model::{Deployment, DeploymentStatus, EnvironmentSummary, LogLine};

    fn hub() -> Hub {
        let cfg = HubConfig {
            replay: 16,
            max_logs: 8,
            base_seq: 1_000,
        };
        Hub::new(cfg, &[])
    }

    fn line(n: u64) -> LogLine {
        serde_json::from_value(serde_json::json!({"n": n, "ts": n, "stage": "build", "level": "info", "text": format!("line {n}")}))
            .expect("a line")
    }

    /// The change-log row of line `n` of log `d` (its number: the base 500 plus `n`).
    fn row(d: &str, n: u64) -> LoggedChange {
        LoggedChange {
            topic: format!("logs:{d}"),
            seq: 500 + n,
            kind: ChangeKind::Change,
            json: Some(encode(&Change::Line(line(n)))),
            compact: None,
        }
    }

    /// Log `d` as read from the store with lines 1..=n.
    fn kept(d: &str, n: u64) -> KeptLog {
        KeptLog {
            env: "prod".into(),
            service: Some("api".into()),
            header: Deployment {
                id: d.into(),
                status: DeploymentStatus::Building,
                version: "v2".into(),
                previous_version: None,
                started_at: 1,
                finished_at: None,
                triggered_by: None,
                url: None,
            },
            base: 500,
            changes: (1..=n).map(|k| Change::Line(line(k))).collect(),
        }
    }

    fn lines_of(hub: &Hub, d: &str) -> Vec<u64> {
        hub.log_lines(d).expect("the log").map(|l| l.n).collect()
    }

    /// The row of a change to the environments list, numbered `seq`.
    fn listed(seq: u64) -> LoggedChange {
        let summary: EnvironmentSummary = serde_json::from_value(serde_json::json!({
            "id": "syn", "name": format!("v{seq}"), "running": "RUNNING", "services": 0,
        }))
        .expect("a summary");
        LoggedChange {
            topic: "environments".into(),
            seq,
            kind: ChangeKind::Change,
            json: Some(encode(&Change::EnvironmentUpsert(summary))),
            compact: None,
        }
    }

    /// A mirrored batch larger than the replay buffer's bound (one read of a leader's long
    /// batch) is held whole while it and the one after it are the two newest mirrored: a page
    /// still reading it when the next is mirrored reads on, not a snapshot.
    #[test]
    fn the_two_newest_mirrored_batches_are_held_whole_past_the_bound() {
        let hub = hub();
        let topic = hub.topic(&Topic::Environments).expect("the list");
        let s = topic.seq();
        let batch = |from: u64, n: u64| (from..from + n).map(listed).collect::<Vec<_>>();
        hub.mirror(&batch(s + 1, 1));
        hub.mirror(&batch(s + 2, 40));
        hub.mirror(&batch(s + 42, 1));
        match topic.read_from(s + 2, 100, 1 << 20, false) {
            ReplayRead::Items(items) => assert_eq!(items.len(), 41, "the long batch and the next"),
            other => panic!("the long batch is held whole: {other:?}"),
        }
        hub.mirror(&batch(s + 43, 1));
        assert!(
            matches!(
                topic.read_from(s + 2, 100, 1 << 20, false),
                ReplayRead::Resync
            ),
            "three batches later, the bound holds again"
        );
    }

    #[test]
    fn rows_that_arrive_during_a_read_are_applied_past_it_once() {
        let hub = hub();
        // Not loading: a row of a log this hub does not hold is dropped.
        assert_eq!(hub.mirror(&[row("d", 1)]).ignored, 1);
        let hold = hub.hold_log_rows("d");
        // During the read: rows the read has (3, 4) and rows it has not (5, 6).
        let done = hub.mirror(&[row("d", 3), row("d", 4), row("d", 5), row("d", 6)]);
        assert_eq!(done.held, 4);
        hub.restore_held_log(kept("d", 4));
        drop(hold);
        assert_eq!(lines_of(&hub, "d"), vec![1, 2, 3, 4, 5, 6]);
        // Once open, rows go to the topic, numbered on.
        hub.mirror(&[row("d", 6), row("d", 7)]);
        assert_eq!(lines_of(&hub, "d"), vec![1, 2, 3, 4, 5, 6, 7]);
        let cell = hub.topic(&Topic::Logs {
            deployment: "d".into(),
        });
        assert_eq!(cell.expect("the topic").seq(), 507);
    }

    #[test]
    fn a_log_the_leader_ended_during_the_read_is_not_opened() {
        let hub = hub();
        let hold = hub.hold_log_rows("d");
        let close = LoggedChange {
            kind: ChangeKind::Close,
            json: None,
            ..row("d", 2)
        };
        hub.mirror(&[close]);
        hub.restore_held_log(kept("d", 2));
        drop(hold);
        assert!(!hub.holds_log("d"));
        // The hold is gone with the load: later rows are dropped again.
        assert_eq!(hub.mirror(&[row("d", 3)]).ignored, 1);
    }
}
