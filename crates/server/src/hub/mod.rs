//! The hub: every topic (the environments list, each environment, each deployment's log),
//! found by name, fed platform events ([`events`]), and fanned out to subscriptions.
//!
//! Every topic ([`topic`]) has a sequence number, a replay buffer of changes serialized once
//! ([`replay`]) and a watch channel that announces its newest sequence number once per
//! published batch. A change is serialized once, however many clients follow the topic;
//! sockets pull what they miss from the replay buffer when they can take it (see
//! [`crate::subscription`]).

mod events;
#[cfg(test)]
pub(crate) mod fixtures;
mod held_logs;
mod line_json;
mod log_limit;
mod mirror;
mod replay;
pub mod since;
mod staged;
mod topic;

pub use line_json::{line_json, LineParts, LineView};
pub use mirror::{LogHold, LoggedChange, Mirrored};
pub use replay::{PublishedChange, ReplayRead, SentBytes};
pub use staged::{ChangeKind, ChangeRow, Staged};
pub use topic::{Head, Resync, Start, TopicCell, CONFLATE_AFTER_SNAPSHOTS};

use replay::ReplayBuffer;
use shipwatch_model::protocol::{Change, Gone, Topic, RESUME_HELD_BATCHES};
use shipwatch_model::{rules, Deployment, Environment, EnvironmentSummary, LogLine};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use topic::{lock, TopicData};

/// A change of an environment topic as it was sent, kept across a restart.
#[derive(Clone, Debug, PartialEq)]
pub struct RecentChange {
    /// Its sequence number.
    pub seq: u64,
    /// The change's JSON.
    pub json: Arc<str>,
    /// The same change as an `instance_update`, if it had that form.
    pub compact: Option<Arc<str>>,
}

/// Sizes of the hub's buffers.
#[derive(Clone, Copy, Debug)]
pub struct HubConfig {
    /// Changes kept per environment topic for resumes and laggards.
    pub replay: usize,
    /// Deployment logs kept; older ones are forgotten.
    pub max_logs: usize,
    /// Sequence number the environment topics start from. Starting from the clock keeps a
    /// client that resumes with a sequence number of a previous server run from being told
    /// "resumed" about a history it never saw: its number is too old, so it gets a snapshot.
    pub base_seq: u64,
}

/// The lines of one log as of when it was asked for (see [`Hub::log_lines`]): each change is
/// decoded from the JSON it was published as; status changes are skipped.
pub struct LogLines {
    items: std::vec::IntoIter<Arc<PublishedChange>>,
}

impl Iterator for LogLines {
    type Item = LogLine;

    fn next(&mut self) -> Option<LogLine> {
        for item in self.items.by_ref() {
            // The hub encoded it from a `Change`, so it decodes; status changes are skipped.
            if let Ok(Change::Line(line)) = serde_json::from_str::<Change>(&item.json) {
                return Some(line);
            }
        }
        None
    }
}

/// The summary the environments list shows, computed with the model's rules.
pub fn summarize(env: &Environment) -> EnvironmentSummary {
    let running = rules::environment_running(env);
    EnvironmentSummary {
        id: env.id.clone(),
        name: env.name.clone(),
        running: running.status,
        running_reason: running.explanation,
        deployment: rules::environment_deployment(env).map(|v| v.status),
        services: env.services.len() as u32,
        running_since: None,
        deployment_since: None,
    }
}

struct Topics {
    environments: Arc<TopicCell>,
    envs: HashMap<String, Arc<TopicCell>>,
    logs: HashMap<String, Arc<TopicCell>>,
    log_order: VecDeque<String>,
}

/// All topics.
pub struct Hub {
    cfg: HubConfig,
    topics: std::sync::RwLock<Topics>,
    /// Where a log the hub no longer holds (or never loaded) can be had again: the store.
    log_loader: std::sync::OnceLock<LogLoader>,
    /// Topics the change log has no `open` row of yet: the next staged batch writes them.
    unopened: std::sync::Mutex<Vec<Arc<TopicCell>>>,
    /// A follower's change-log rows of logs being loaded (hub/mirror.rs).
    held_rows: mirror::HeldRows,
    /// A leader's staged changes of logs being loaded (hub/held_logs.rs).
    held_logs: Arc<held_logs::HeldLogs>,
}

/// A deployment's log as kept outside the hub, to open its topic again.
#[derive(Debug)]
pub struct KeptLog {
    /// Environment id.
    pub env: String,
    /// Service id; none for an environment-wide deployment.
    pub service: Option<String>,
    /// The deployment as queued (the snapshot's header).
    pub header: Deployment,
    /// Sequence number of the snapshot.
    pub base: u64,
    /// Its lines and status changes, in order.
    pub changes: Vec<Change>,
}

/// A deployment's log that retention removed: why, for the page that asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoneLog {
    /// For machines.
    pub gone: Gone,
    /// For people.
    pub message: String,
}

/// Finds a kept log by deployment id (a read of the store, awaited: no thread waits for
/// it); if it is not kept, says why when it was removed.
pub type LogLoader = Box<dyn Fn(String) -> LogLoad + Send + Sync>;

/// What a [`LogLoader`] returns: the log, once read.
pub type LogLoad =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<KeptLog, Option<GoneLog>>> + Send>>;

impl Hub {
    /// A hub holding these environments.
    pub fn new(cfg: HubConfig, environments: &[Environment]) -> Self {
        let bounded = || ReplayBuffer::Bounded(VecDeque::new(), cfg.replay.max(1));
        let summaries = environments.iter().map(summarize).collect();
        let envs = environments
            .iter()
            .map(|e| {
                (
                    e.id.clone(),
                    TopicCell::new(cfg.base_seq, bounded(), TopicData::Environment(e.clone())),
                )
            })
            .collect();
        let topics = Topics {
            environments: TopicCell::new(
                cfg.base_seq,
                bounded(),
                TopicData::Environments(summaries),
            ),
            envs,
            logs: HashMap::new(),
            log_order: VecDeque::new(),
        };
        Self {
            cfg,
            topics: std::sync::RwLock::new(topics),
            log_loader: std::sync::OnceLock::new(),
            unopened: std::sync::Mutex::new(Vec::new()),
            held_rows: Default::default(),
            held_logs: Default::default(),
        }
    }

    /// Has the next staged batch write an `open` row (their snapshot as they stand) for these
    /// topics: at start, those the change log does not hold.
    pub fn log_as_opened(&self, topics: &[Topic]) {
        let cells: Vec<Arc<TopicCell>> = topics.iter().filter_map(|t| self.topic(t)).collect();
        self.unopened
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(cells);
    }

    fn take_unopened(&self) -> Vec<Arc<TopicCell>> {
        std::mem::take(&mut *self.unopened.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Topics> {
        self.topics.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The topic's cell, if it exists.
    pub fn topic(&self, topic: &Topic) -> Option<Arc<TopicCell>> {
        self.open_topic(topic).ok()
    }

    /// The topic's cell, if the hub holds it. A log it does not hold may be kept by the
    /// store: [`Hub::load_log`] opens it first.
    pub fn open_topic(&self, topic: &Topic) -> Result<Arc<TopicCell>, Option<GoneLog>> {
        let t = self.read();
        match topic {
            Topic::Environments => Ok(t.environments.clone()),
            Topic::Environment { env } => t.envs.get(env).cloned().ok_or(None),
            Topic::Logs { deployment } => t.logs.get(deployment).cloned().ok_or(None),
        }
    }

    /// Whether the hub holds this deployment's log topic.
    pub fn holds_log(&self, deployment: &str) -> bool {
        self.read().logs.contains_key(deployment)
    }

    /// Forgets a deployment's log (the store removed it): its subscribers are told the topic
    /// ended, and a page that subscribes again learns why from the loader.
    pub fn forget_log(&self, deployment: &str) {
        let mut t = self.topics.write().unwrap_or_else(|p| p.into_inner());
        if let Some(cell) = t.logs.remove(deployment) {
            t.log_order.retain(|id| id != deployment);
            cell.close();
        }
    }

    /// Sets where logs the hub does not hold are looked for (once).
    pub fn set_log_loader(&self, loader: LogLoader) {
        let _ = self.log_loader.set(loader);
    }

    /// Opens the topic of a log kept outside the hub (older than the logs it holds, or from
    /// before a restart), numbered as it was published. The read is awaited and the topic
    /// is rebuilt on a blocking thread, so a large log holds up no runtime thread: every
    /// other socket, and this one's other subscriptions, go on meanwhile.
    pub async fn load_log(self: &Arc<Self>, deployment: &str) -> Result<(), Option<GoneLog>> {
        if self.holds_log(deployment) {
            return Ok(());
        }
        let loader = self.log_loader.get().ok_or(None)?;
        // On a follower, rows of this log that arrive during the read are kept for it.
        let _held = self.hold_log_rows(deployment);
        // On the leader, changes staged for it during the read (hub/held_logs.rs).
        let _staged = self.hold_log_changes(deployment);
        let kept = loader(deployment.to_string()).await?;
        let hub = self.clone();
        let id = deployment.to_string();
        tokio::task::spawn_blocking(move || {
            // Another subscriber may have opened it meanwhile: one topic per log.
            if !hub.holds_log(&id) {
                hub.restore_held_log(kept);
            }
        })
        .await
        .map_err(|_| None)
    }

    /// Every line of a deployment's log so far, in order, or None if the hub holds no such
    /// log. Takes the topic's lock only to copy the list of pointers to its changes (a
    /// million-line log: 8 MB); the lines are decoded one by one as the caller iterates.
    pub fn log_lines(&self, deployment: &str) -> Option<LogLines> {
        let cell = self.read().logs.get(deployment).cloned()?;
        let mut items = {
            let st = lock(&cell.state);
            if !st.shown {
                return None;
            }
            (st.replay.all(), st.visible)
        };
        // Not what the store is committing yet.
        let visible = items.1;
        items.0.retain(|c| c.seq <= visible);
        let items = items.0;
        Some(LogLines {
            items: items.into_iter(),
        })
    }

    /// Number of deployment logs held.
    pub fn log_count(&self) -> usize {
        self.read().logs.len()
    }
    /// Opens a deployment's log topic with its snapshot at `base`, shown at its announce.
    fn created(
        &self,
        env: &str,
        service: Option<String>,
        deployment: Deployment,
        base: u64,
    ) -> Arc<TopicCell> {
        let cell = log_cell(env, service, deployment, base);
        self.insert_log(cell.clone());
        cell
    }

    /// Puts a log's topic in the registry (replacing one of the same deployment), and
    /// forgets the oldest logs past `max_logs`.
    fn insert_log(&self, cell: Arc<TopicCell>) {
        let id = match &lock(&cell.state).data {
            TopicData::Logs { header, .. } => header.id.clone(),
            _ => return,
        };
        let mut t = self.topics.write().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = t.logs.insert(id.clone(), cell.clone()) {
            old.close();
        } else {
            t.log_order.push_back(id);
        }
        while t.log_order.len() > self.cfg.max_logs.max(1) {
            if let Some(oldest) = t.log_order.pop_front() {
                if let Some(cell) = t.logs.remove(&oldest) {
                    cell.close();
                }
            }
        }
    }

    /// Puts a deployment's log topic back as a previous run published it: its snapshot's
    /// header at `base`, then `changes` (lines and status changes) numbered on from there.
    pub fn restore_log(
        &self,
        env: &str,
        service: Option<String>,
        header: Deployment,
        base: u64,
        changes: impl IntoIterator<Item = Change>,
    ) {
        // Built whole before it is registered: the writer's next batch finds it complete.
        let cell = log_cell(env, service, header, base);
        let mut st = lock(&cell.state);
        for change in changes {
            TopicCell::publish(&mut st, &change, None);
        }
        drop(st);
        cell.announce();
        self.insert_log(cell);
    }

    /// Puts the environments topic or an environment's topic back where a previous run left
    /// it: at `seq`, with its most recent changes as they were sent (oldest first, ending at
    /// `seq`), so that a client resumes across the restart with exactly what it missed. The
    /// topic's state must be the state at `seq`. False if there is no such topic.
    pub fn resume_topic(&self, topic: &Topic, seq: u64, changes: Vec<RecentChange>) -> bool {
        let Some(cell) = self.topic(topic) else {
            return false;
        };
        let consecutive = changes
            .iter()
            .enumerate()
            .all(|(k, c)| c.seq + (changes.len() - k) as u64 == seq + 1);
        let changes = if consecutive { changes } else { Vec::new() };
        let mut st = lock(&cell.state);
        let ReplayBuffer::Bounded(buf, cap) = &mut st.replay else {
            return false;
        };
        buf.clear();
        let skip = changes.len().saturating_sub(*cap);
        let mut total = SentBytes::default();
        for c in changes.into_iter().skip(skip) {
            total = total.plus(&c.json, c.compact.as_deref());
            buf.push_back(Arc::new(PublishedChange {
                seq: c.seq,
                json: c.json,
                as_instance_update: c.compact,
                sent_so_far: total,
                line: None,
            }));
        }
        st.base = seq - buf.len() as u64;
        st.seq = seq;
        st.visible = seq;
        st.shown_from = [seq; RESUME_HELD_BATCHES];
        st.unlogged.clear();
        st.sent_so_far = total;
        st.cached = None;
        st.snapshot_len = None;
        if let Some(tx) = &st.tx {
            tx.send_replace(seq);
        }
        true
    }

    /// Where the environments topic and every environment topic stand, with their recent
    /// changes as sent: what [`Hub::resume_topic`] takes back after a restart.
    pub fn recent_changes(&self) -> Vec<(Topic, u64, Vec<RecentChange>)> {
        let t = self.read();
        let mut out = Vec::with_capacity(t.envs.len() + 1);
        let topics = std::iter::once((Topic::Environments, t.environments.clone())).chain(
            t.envs
                .iter()
                .map(|(id, c)| (Topic::Environment { env: id.clone() }, c.clone())),
        );
        for (topic, cell) in topics {
            let st = lock(&cell.state);
            let changes = match &st.replay {
                ReplayBuffer::Bounded(buf, _) => buf
                    .iter()
                    .map(|i| RecentChange {
                        seq: i.seq,
                        json: i.json.clone(),
                        compact: i.as_instance_update.clone(),
                    })
                    .collect(),
                ReplayBuffer::Full(_) => Vec::new(),
            };
            out.push((topic, st.seq, changes));
        }
        out
    }

    /// Ends every topic: subscribers' streams finish (used at shutdown).
    pub fn close_all(&self) {
        let t = self.read();
        t.environments.close();
        t.envs.values().for_each(|c| c.close());
        t.logs.values().for_each(|c| c.close());
    }
}

/// A deployment's log topic with its snapshot at `base`, not shown yet. Logs of a run start
/// at its boot-time base, so a resume aimed at another run (which may have given this
/// deployment id to another deployment) gets a snapshot, not other lines.
fn log_cell(
    env: &str,
    service: Option<String>,
    deployment: Deployment,
    base: u64,
) -> Arc<TopicCell> {
    TopicCell::hidden(
        base,
        ReplayBuffer::Full(Vec::new()),
        TopicData::Logs {
            env: env.to_string(),
            service,
            header: deployment,
        },
    )
}
