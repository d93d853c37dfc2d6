//! Topics and their state: the environments list, each environment, each deployment's log.
//!
//! Every topic has a sequence number, a replay buffer of pre-serialized changes and a watch
//! channel that announces its newest sequence number once per published batch. A change is
//! serialized once, however many clients follow the topic; sockets pull what they miss from
//! the replay buffer when they can take it (see [`crate::subscription`]). Subscribing reads
//! the snapshot (or replay point) under the same per-topic lock publishing takes, so a new
//! subscriber's head and the changes after it meet with no gap and no duplicate.

use crate::frames::FrameCache;
use crate::platform::PlatformEvent;
use shipwatch_model::protocol::{
    encode, instance_update, Change, Snapshot, Topic, MAX_LINES_PER_BATCH,
};
use shipwatch_model::{rules, Deployment, Environment, EnvironmentSummary, LogLevel, LogLine};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// One published change, serialized once and shared by every subscriber.
#[derive(Debug)]
pub struct Item {
    /// Its sequence number in its topic.
    pub seq: u64,
    /// The change as JSON.
    pub json: Arc<str>,
    /// The same change as an `instance_update`, when one instance is all that changed: for
    /// subscriptions that asked for those.
    pub compact: Option<Arc<str>>,
    /// Bytes of JSON of the topic's changes up to and including this one, as sent to
    /// subscriptions without and with `instance_updates`: the size of any backlog is a
    /// subtraction.
    pub total_bytes: [u64; 2],
    /// For a `line` change: what a `lines` frame needs of it, pointing into `json`.
    pub line: Option<LineParts>,
}

/// Where a `line` change's JSON (laid out by [`line_json`]) ends its stage and its text, and
/// its level: with the JSON, all a `lines` frame needs of the line, spliced from the same
/// text ([`LineParts::view`]). Twelve bytes a line: a million-line log is held once more
/// only in these.
#[derive(Debug, Clone, Copy)]
pub struct LineParts {
    level: LogLevel,
    stage_end: u32,
    text_end: u32,
}

/// A line's columns, read from its `line` change's JSON; strings as JSON strings (escaped).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineView<'a> {
    /// Line number.
    pub n: u64,
    /// Timestamp.
    pub ts: u64,
    /// Severity.
    pub level: LogLevel,
    /// The stage as a JSON string.
    pub stage: &'a str,
    /// The text as a JSON string.
    pub text: &'a str,
    /// The hint as a JSON string, if any.
    pub hint: Option<&'a str>,
}

/// How [`line_json`] starts every line.
const LINE_PREFIX: &str = r#"{"op":"line","n":"#;

impl LineParts {
    /// The line's columns in `json`, its change's JSON (None only for JSON that
    /// [`line_json`] did not write).
    pub fn view<'a>(&self, json: &'a str) -> Option<LineView<'a>> {
        let digits = |from: usize| -> Option<(u64, usize)> {
            let len = json
                .get(from..)?
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            Some((json.get(from..from + len)?.parse().ok()?, from + len))
        };
        let (n, after_n) = digits(LINE_PREFIX.len())?;
        let (ts, after_ts) = digits(after_n + r#","ts":"#.len())?;
        let stage_start = after_ts + r#","stage":"#.len();
        let (stage_end, text_end) = (self.stage_end as usize, self.text_end as usize);
        let text_start =
            stage_end + r#","level":"#.len() + level_json(self.level).len() + r#","text":"#.len();
        let hint = json
            .get(text_end..json.len().checked_sub(1)?)?
            .strip_prefix(r#","hint":"#);
        Some(LineView {
            n,
            ts,
            level: self.level,
            stage: json.get(stage_start..stage_end)?,
            text: json.get(text_start..text_end)?,
            hint: hint.filter(|h| !h.is_empty()),
        })
    }
}

impl LineView<'_> {
    /// Bytes this line adds to a `lines` frame, about (its text, a timestamp difference, a
    /// level letter and separators).
    pub fn cost(&self) -> usize {
        self.text.len() + 8
    }
}

/// A level as `encode` writes it.
fn level_json(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Info => r#""info""#,
        LogLevel::Warning => r#""warning""#,
        LogLevel::Error => r#""error""#,
        LogLevel::Unknown => r#""unknown""#,
    }
}

/// A `line` change as JSON, exactly as `encode` writes it, and where its parts end in it.
pub fn line_json(line: &LogLine) -> (String, LineParts) {
    fn string(out: &mut String, s: &str) -> u32 {
        out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
        out.len() as u32
    }
    let mut out = String::with_capacity(line.text.len() + 96);
    out.push_str(&format!(
        r#"{LINE_PREFIX}{},"ts":{},"stage":"#,
        line.n, line.ts
    ));
    let stage_end = string(&mut out, &line.stage);
    out.push_str(&format!(r#","level":{},"text":"#, level_json(line.level)));
    let text_end = string(&mut out, &line.text);
    if let Some(h) = &line.hint {
        out.push_str(r#","hint":"#);
        string(&mut out, h);
    }
    out.push('}');
    let parts = LineParts {
        level: line.level,
        stage_end,
        text_end,
    };
    (out, parts)
}

impl Item {
    /// The change as sent to a subscription with (`compact`) or without `instance_updates`.
    pub fn text(&self, compact: bool) -> &Arc<str> {
        match &self.compact {
            Some(short) if compact => short,
            _ => &self.json,
        }
    }
}

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

/// How a subscription starts.
#[derive(Debug)]
pub enum Head {
    /// A fresh snapshot as of `seq` (JSON of a [`Snapshot`]).
    Snapshot {
        /// Last change included.
        seq: u64,
        /// The snapshot data.
        data: Arc<str>,
    },
    /// Resumed after `seq`; the changes after it follow.
    Resumed {
        /// The client's `resume_from`.
        seq: u64,
    },
}

/// A subscription's starting point and its wake-ups, taken under one lock.
#[derive(Debug)]
pub struct Start {
    /// What to send first.
    pub head: Head,
    /// Sequence number of the first change to send after the head.
    pub next_seq: u64,
    /// Announces the topic's newest sequence number; closed when the topic ends.
    pub rx: watch::Receiver<u64>,
}

/// A subscriber whose missed changes weigh more than this many snapshots of the topic's state
/// gets a snapshot instead of them (not on log topics, whose snapshot is only a header). Above
/// 1, so that a client that keeps up is not sent snapshots when one batch happens to weigh
/// about as much as the state (every service changed once).
pub const CONFLATE_AFTER_SNAPSHOTS: u64 = 3;

/// What the replay buffer holds from a sequence number on.
#[derive(Debug)]
pub enum Read {
    /// Changes from the asked number on (at most the asked count and, past the first, bytes).
    Items(Vec<Arc<Item>>),
    /// Nothing newer.
    UpToDate,
    /// Take a fresh snapshot: the asked number is no longer in the buffer, or the changes
    /// from it on weigh more than the state.
    Resync,
}

enum Replay {
    /// The last `cap` changes.
    Bounded(VecDeque<Arc<Item>>, usize),
    /// Every change since seq 1 (logs: a resume always works).
    Full(Vec<Arc<Item>>),
}

enum Data {
    Environments(Vec<EnvironmentSummary>),
    Environment(Environment),
    Logs {
        env: String,
        service: Option<String>,
        header: Deployment,
    },
}

struct State {
    /// The sequence number the topic started at (its first change is `base + 1`).
    base: u64,
    seq: u64,
    /// Bytes of JSON of every change published so far, in either form (see [`Item`]).
    total_bytes: [u64; 2],
    /// Lines published so far (logs).
    lines: u64,
    replay: Replay,
    data: Data,
    /// The last snapshot built, valid while `seq` has not moved: many subscribers, one encode.
    cached: Option<(u64, Arc<str>)>,
    /// Length of the last snapshot built: what a laggard's backlog is weighed against.
    snapshot_len: Option<usize>,
    /// None once the topic is gone: dropping the sender ends every subscriber's stream.
    tx: Option<watch::Sender<u64>>,
}

/// One topic.
pub struct TopicCell {
    state: Mutex<State>,
    /// Frames built for one subscriber, reused by the next one that needs the same.
    pub frames: FrameCache,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves consistent data (every mutation is one step).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TopicCell {
    fn new(seq: u64, replay: Replay, data: Data) -> Arc<Self> {
        let (tx, _) = watch::channel(seq);
        Arc::new(Self {
            state: Mutex::new(State {
                base: seq,
                seq,
                total_bytes: [0; 2],
                lines: 0,
                replay,
                data,
                cached: None,
                snapshot_len: None,
                tx: Some(tx),
            }),
            frames: FrameCache::default(),
        })
    }

    /// Current sequence number.
    pub fn seq(&self) -> u64 {
        lock(&self.state).seq
    }

    /// Whether the topic ended (its subscribers get an error frame).
    pub fn is_closed(&self) -> bool {
        lock(&self.state).tx.is_none()
    }

    /// Starts a subscription: replay from `resume_from` if the buffer still has what follows
    /// it, else a fresh snapshot. None if the topic is gone. `compact`: the subscription reads
    /// `instance_update` changes (it weighs its backlog in those).
    pub fn subscribe(&self, resume_from: Option<u64>, compact: bool) -> Option<Start> {
        let mut st = lock(&self.state);
        let rx = st.tx.as_ref()?.subscribe();
        if let Some(r) = resume_from {
            if r <= st.seq && st.has_from(r + 1) && !st.outweighs_state(r + 1, compact) {
                return Some(Start {
                    head: Head::Resumed { seq: r },
                    next_seq: r + 1,
                    rx,
                });
            }
        }
        let (seq, data) = st.snapshot();
        Some(Start {
            head: Head::Snapshot { seq, data },
            next_seq: seq + 1,
            rx,
        })
    }

    /// A fresh snapshot and the seq it stands at, for a subscriber that is too far behind.
    pub fn snapshot(&self) -> (u64, Arc<str>) {
        lock(&self.state).snapshot()
    }

    /// Up to `max` changes from `from` on, and past the first at most about `max_bytes` (in
    /// the form `compact` says, see [`Item::text`]).
    pub fn read_from(&self, from: u64, max: usize, max_bytes: usize, compact: bool) -> Read {
        self.read_while(from, compact, |items, item, bytes| {
            let len = item.text(compact).len();
            (len + 1, items < max && bytes + len <= max_bytes)
        })
    }

    /// From `from` on, what one frame to a `line_batches` subscription carries: a run of
    /// lines with consecutive numbers (at most [`MAX_LINES_PER_BATCH`] and, past the first,
    /// about `lines_bytes`) for a `lines` frame, or else the changes up to the
    /// next line (at most `max` and about `max_bytes`, in the form `compact` says) for a
    /// delta.
    pub fn read_run(
        &self,
        from: u64,
        lines_bytes: usize,
        max: usize,
        max_bytes: usize,
        compact: bool,
    ) -> Read {
        let mut first: Option<(bool, u64)> = None;
        self.read_while(from, compact, |items, item, bytes| {
            let (lines, last_n) = *first.get_or_insert((item.line.is_some(), 0));
            match item.line.and_then(|l| l.view(&item.json)) {
                Some(line) if lines => {
                    let follows = items == 0 || last_n.checked_add(1) == Some(line.n);
                    let fits = items < MAX_LINES_PER_BATCH && bytes + line.cost() <= lines_bytes;
                    first = Some((true, line.n));
                    (line.cost(), follows && fits)
                }
                None if !lines => {
                    let len = item.text(compact).len();
                    (len + 1, items < max && bytes + len <= max_bytes)
                }
                _ => (0, false),
            }
        })
    }

    /// The changes from `from` on while `take` (told how many were taken and their bytes so
    /// far) says the next one fits, with its bytes; the first is always taken. `compact`: how
    /// the backlog is weighed against the state.
    fn read_while(
        &self,
        from: u64,
        compact: bool,
        mut take: impl FnMut(usize, &Item, usize) -> (usize, bool),
    ) -> Read {
        let mut st = lock(&self.state);
        if from > st.seq {
            return Read::UpToDate;
        }
        if !st.has_from(from) || st.outweighs_state(from, compact) {
            return Read::Resync;
        }
        let start = st.index_of(from);
        let tail: Box<dyn Iterator<Item = &Arc<Item>>> = match &st.replay {
            Replay::Full(all) => Box::new(all.iter().skip(start)),
            Replay::Bounded(buf, _) => Box::new(buf.iter().skip(start)),
        };
        let mut items: Vec<Arc<Item>> = Vec::new();
        let mut bytes = 0;
        for item in tail {
            let (len, fits) = take(items.len(), item, bytes);
            if !fits && !items.is_empty() {
                break;
            }
            bytes += len;
            items.push(item.clone());
        }
        match items.first() {
            Some(first) if first.seq == from => Read::Items(items),
            _ => Read::Resync,
        }
    }

    /// Publishes `change`, and `compact`, the same change as an `instance_update`, if any.
    fn publish(st: &mut State, change: &Change, compact: Option<&Change>) {
        let (json, line) = match change {
            Change::Line(l) => {
                let (json, parts) = line_json(l);
                (json.into(), Some(parts))
            }
            _ => (encode(change).into(), None),
        };
        Self::publish_json(st, json, compact, line);
    }

    fn publish_json(
        st: &mut State,
        json: Arc<str>,
        compact: Option<&Change>,
        line: Option<LineParts>,
    ) {
        st.seq += 1;
        st.lines += u64::from(line.is_some());
        let compact: Option<Arc<str>> = compact.map(|c| encode(c).into());
        st.total_bytes[0] += json.len() as u64;
        st.total_bytes[1] += compact.as_ref().unwrap_or(&json).len() as u64;
        let item = Arc::new(Item {
            seq: st.seq,
            json,
            compact,
            total_bytes: st.total_bytes,
            line,
        });
        match &mut st.replay {
            Replay::Full(all) => all.push(item),
            Replay::Bounded(buf, cap) => {
                if buf.len() >= *cap {
                    buf.pop_front();
                }
                buf.push_back(item);
            }
        }
        st.cached = None;
    }

    /// Wakes the topic's subscribers: once per batch, so that a batch goes out as one frame.
    fn announce(&self) {
        let st = lock(&self.state);
        if let Some(tx) = &st.tx {
            tx.send_replace(st.seq);
        }
    }

    fn close(&self) {
        lock(&self.state).tx = None;
    }
}

impl State {
    /// Position of change `from` in the replay buffer (which holds it: see `has_from`).
    fn index_of(&self, from: u64) -> usize {
        match &self.replay {
            Replay::Full(_) => from.saturating_sub(self.base + 1) as usize,
            Replay::Bounded(buf, _) => buf
                .front()
                .map_or(0, |f| from.saturating_sub(f.seq) as usize),
        }
    }

    /// Whether the changes from `from` (held in the buffer) to the newest weigh more than
    /// [`CONFLATE_AFTER_SNAPSHOTS`] snapshots: then a snapshot is the cheaper catch-up.
    /// `compact`: weighed as sent with `instance_updates`.
    fn outweighs_state(&mut self, from: u64, compact: bool) -> bool {
        if matches!(self.data, Data::Logs { .. }) || from > self.seq {
            return false;
        }
        let k = self.index_of(from);
        let item = match &self.replay {
            Replay::Full(all) => all.get(k),
            Replay::Bounded(buf, _) => buf.get(k),
        };
        let Some(item) = item else {
            return false;
        };
        let form = usize::from(compact);
        let backlog =
            self.total_bytes[form] - (item.total_bytes[form] - item.text(compact).len() as u64);
        let state = match self.snapshot_len {
            Some(n) => n,
            None => self.snapshot().1.len(),
        };
        backlog > CONFLATE_AFTER_SNAPSHOTS * state as u64
    }

    fn has_from(&self, from: u64) -> bool {
        if from > self.seq {
            return true;
        }
        match &self.replay {
            Replay::Full(_) => from > self.base,
            Replay::Bounded(buf, _) => buf.front().is_some_and(|f| f.seq <= from),
        }
    }

    /// The snapshot and the seq it stands at. A log's snapshot is its header as created, at
    /// its base seq: every line, and every later status, follows as a change.
    fn snapshot(&mut self) -> (u64, Arc<str>) {
        let seq = match self.data {
            Data::Logs { .. } => self.base,
            _ => self.seq,
        };
        if let Some((s, data)) = &self.cached {
            if *s == self.seq {
                return (seq, data.clone());
            }
        }
        let snap = match &self.data {
            Data::Environments(list) => Snapshot::Environments {
                environments: list.clone(),
            },
            Data::Environment(env) => Snapshot::Environment {
                environment: env.clone(),
            },
            Data::Logs {
                env,
                service,
                header,
            } => Snapshot::Logs {
                env: env.clone(),
                service: service.clone(),
                deployment: header.clone(),
                line_count: Some(self.lines),
            },
        };
        let data: Arc<str> = encode(&snap).into();
        self.snapshot_len = Some(data.len());
        self.cached = Some((self.seq, data.clone()));
        (seq, data)
    }
}

/// The lines of one log as of when it was asked for (see [`Hub::log_lines`]): each change is
/// decoded from the JSON it was published as; status changes are skipped.
pub struct LogLines {
    items: std::vec::IntoIter<Arc<Item>>,
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

/// Finds a kept log by deployment id.
pub type LogLoader = Box<dyn Fn(&str) -> Option<KeptLog> + Send + Sync>;

impl Hub {
    /// A hub holding these environments.
    pub fn new(cfg: HubConfig, environments: &[Environment]) -> Self {
        let bounded = || Replay::Bounded(VecDeque::new(), cfg.replay.max(1));
        let summaries = environments.iter().map(summarize).collect();
        let envs = environments
            .iter()
            .map(|e| {
                (
                    e.id.clone(),
                    TopicCell::new(cfg.base_seq, bounded(), Data::Environment(e.clone())),
                )
            })
            .collect();
        let topics = Topics {
            environments: TopicCell::new(cfg.base_seq, bounded(), Data::Environments(summaries)),
            envs,
            logs: HashMap::new(),
            log_order: VecDeque::new(),
        };
        Self {
            cfg,
            topics: std::sync::RwLock::new(topics),
            log_loader: std::sync::OnceLock::new(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Topics> {
        self.topics.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The topic's cell, if it exists.
    pub fn topic(&self, topic: &Topic) -> Option<Arc<TopicCell>> {
        let t = self.read();
        match topic {
            Topic::Environments => Some(t.environments.clone()),
            Topic::Environment { env } => t.envs.get(env).cloned(),
            Topic::Logs { deployment } => match t.logs.get(deployment) {
                Some(cell) => Some(cell.clone()),
                None => {
                    drop(t);
                    self.load_log(deployment)
                }
            },
        }
    }

    /// Sets where logs the hub does not hold are looked for (once).
    pub fn set_log_loader(&self, loader: LogLoader) {
        let _ = self.log_loader.set(loader);
    }

    /// Opens the topic of a log kept outside the hub (older than the logs it holds, or from
    /// before a restart), numbered as it was published.
    fn load_log(&self, deployment: &str) -> Option<Arc<TopicCell>> {
        let kept = (self.log_loader.get()?)(deployment)?;
        // Another subscriber may have opened it meanwhile: one topic per log.
        if let Some(cell) = self.read().logs.get(deployment) {
            return Some(cell.clone());
        }
        self.restore_log(
            &kept.env,
            kept.service,
            kept.header,
            kept.base,
            kept.changes,
        );
        self.read().logs.get(deployment).cloned()
    }

    /// Every line of a deployment's log so far, in order, or None if the hub holds no such
    /// log. Takes the topic's lock only to copy the list of pointers to its changes (a
    /// million-line log: 8 MB); the lines are decoded one by one as the caller iterates.
    pub fn log_lines(&self, deployment: &str) -> Option<LogLines> {
        let cell = self.read().logs.get(deployment).cloned()?;
        let st = lock(&cell.state);
        let items = match &st.replay {
            Replay::Full(all) => all.clone(),
            Replay::Bounded(buf, _) => buf.iter().cloned().collect(),
        };
        Some(LogLines {
            items: items.into_iter(),
        })
    }

    /// Number of deployment logs held.
    pub fn log_count(&self) -> usize {
        self.read().logs.len()
    }

    /// Applies platform events, in order, to the topics, then wakes the subscribers of every
    /// topic that changed, once. The environment list gets one summary per changed environment
    /// at the end of the batch, not one per service change: a summary runs the rules over
    /// every service of the environment, which at thousands of events per second was most of
    /// the server's time.
    pub fn apply(&self, events: &[PlatformEvent]) {
        let mut touched: Vec<Arc<TopicCell>> = Vec::new();
        let mut touch = |cell: &Arc<TopicCell>| {
            if !touched.iter().any(|c| Arc::ptr_eq(c, cell)) {
                touched.push(cell.clone());
            }
        };
        let mut changed: Vec<String> = Vec::new();
        let env_changed = |env: &str, changed: &mut Vec<String>| {
            if !changed.iter().any(|e| e == env) {
                changed.push(env.to_string());
            }
        };
        for event in events {
            match event {
                PlatformEvent::EnvironmentChanged { id, name } => {
                    self.environment(id, name);
                    env_changed(id, &mut changed);
                }
                PlatformEvent::EnvironmentRemoved { id } => {
                    if let Some(list) = self.environment_removed(id) {
                        touch(&list);
                    }
                }
                PlatformEvent::ServiceChanged { env, service } => {
                    if let Some(cell) = self.service(env, service) {
                        touch(&cell);
                        env_changed(env, &mut changed);
                    }
                }
                PlatformEvent::ServiceRemoved { env, service } => {
                    if let Some(cell) = self.service_removed(env, service) {
                        touch(&cell);
                        env_changed(env, &mut changed);
                    }
                }
                PlatformEvent::InstanceChanged {
                    env,
                    service,
                    instance,
                    ..
                } => {
                    let updated = self.with_service(env, service, |s| {
                        match s.instances.iter_mut().find(|i| i.name == instance.name) {
                            Some(i) => *i = instance.clone(),
                            None => s.instances.push(instance.clone()),
                        }
                    });
                    if let Some(cell) = updated.and_then(|s| self.service(env, &s)) {
                        touch(&cell);
                        env_changed(env, &mut changed);
                    }
                }
                PlatformEvent::InstanceRemoved { env, service, name } => {
                    let updated = self.with_service(env, service, |s| {
                        s.instances.retain(|i| i.name != *name);
                    });
                    if let Some(cell) = updated.and_then(|s| self.service(env, &s)) {
                        touch(&cell);
                        env_changed(env, &mut changed);
                    }
                }
                PlatformEvent::DeploymentQueued {
                    env,
                    service,
                    deployment,
                } => {
                    self.created(env, service.clone(), deployment.clone(), self.cfg.base_seq);
                    if service.is_none() {
                        if let Some(cell) = self.env_deployment(env, deployment) {
                            touch(&cell);
                            env_changed(env, &mut changed);
                        }
                    }
                }
                // Stages travel in the lines' `stage`; the wire has no stage change of its own.
                PlatformEvent::DeploymentStage { .. } => {}
                PlatformEvent::DeploymentStatus { deployment } => {
                    let cell = self.read().logs.get(&deployment.id).cloned();
                    if let Some(cell) = cell {
                        let env_wide = {
                            let mut st = lock(&cell.state);
                            TopicCell::publish(
                                &mut st,
                                &Change::Deployment(deployment.clone()),
                                None,
                            );
                            match &st.data {
                                Data::Logs {
                                    env, service: None, ..
                                } => Some(env.clone()),
                                _ => None,
                            }
                        };
                        touch(&cell);
                        if let Some(env) = env_wide {
                            if let Some(cell) = self.env_deployment(&env, deployment) {
                                touch(&cell);
                                env_changed(&env, &mut changed);
                            }
                        }
                    }
                }
                PlatformEvent::LogAppended { deployment, lines } => {
                    let cell = self.read().logs.get(deployment).cloned();
                    if let Some(cell) = cell {
                        let mut st = lock(&cell.state);
                        for line in lines {
                            TopicCell::publish(&mut st, &Change::Line(line.clone()), None);
                        }
                        drop(st);
                        touch(&cell);
                    }
                }
            }
        }
        for env in changed {
            if let Some(cell) = self.summary(&env) {
                touch(&cell);
            }
        }
        for cell in touched {
            cell.announce();
        }
    }

    /// Creates an environment's topic, or renames it.
    fn environment(&self, id: &str, name: &str) {
        if let Some(cell) = self.read().envs.get(id).cloned() {
            let mut st = lock(&cell.state);
            if let Data::Environment(e) = &mut st.data {
                if e.name != name {
                    // Shown to subscribers from their next snapshot; the list says it now.
                    e.name = name.to_string();
                    st.cached = None;
                }
            }
            return;
        }
        let env = Environment {
            id: id.to_string(),
            name: name.to_string(),
            services: Vec::new(),
            deployment: None,
        };
        let bounded = Replay::Bounded(VecDeque::new(), self.cfg.replay.max(1));
        let cell = TopicCell::new(self.cfg.base_seq, bounded, Data::Environment(env));
        let mut t = self.topics.write().unwrap_or_else(|p| p.into_inner());
        t.envs.entry(id.to_string()).or_insert(cell);
    }

    /// Ends an environment's topic and takes it off the list; the list.
    fn environment_removed(&self, id: &str) -> Option<Arc<TopicCell>> {
        let (cell, list) = {
            let mut t = self.topics.write().unwrap_or_else(|p| p.into_inner());
            (t.envs.remove(id)?, t.environments.clone())
        };
        cell.close();
        let mut st = lock(&list.state);
        if let Data::Environments(all) = &mut st.data {
            all.retain(|s| s.id != id);
        }
        TopicCell::publish(
            &mut st,
            &Change::EnvironmentRemoved { id: id.to_string() },
            None,
        );
        drop(st);
        Some(list)
    }

    /// A copy of a service changed by `f`, if the environment has it.
    fn with_service(
        &self,
        env: &str,
        service: &str,
        f: impl FnOnce(&mut shipwatch_model::Service),
    ) -> Option<shipwatch_model::Service> {
        let cell = self.read().envs.get(env)?.clone();
        let st = lock(&cell.state);
        let Data::Environment(e) = &st.data else {
            return None;
        };
        let mut s = e.services.iter().find(|s| s.id == service)?.clone();
        drop(st);
        f(&mut s);
        Some(s)
    }

    /// Publishes a service change to its environment; the topic, if that changed it.
    fn service(&self, env: &str, service: &shipwatch_model::Service) -> Option<Arc<TopicCell>> {
        let cell = self.read().envs.get(env)?.clone();
        let mut st = lock(&cell.state);
        let Data::Environment(e) = &mut st.data else {
            return None;
        };
        let compact = match e.services.iter_mut().find(|s| s.id == service.id) {
            Some(s) if *s == *service => return None,
            Some(s) => {
                let compact = instance_update::between(s, service).map(|(index, instance)| {
                    Change::InstanceUpdate {
                        service: service.id.clone(),
                        index,
                        instance: instance.clone(),
                    }
                });
                *s = service.clone();
                compact
            }
            None => {
                e.services.push(service.clone());
                None
            }
        };
        TopicCell::publish(
            &mut st,
            &Change::ServiceUpsert(service.clone()),
            compact.as_ref(),
        );
        drop(st);
        Some(cell)
    }

    /// Publishes a service's removal; the topic, if it had the service.
    fn service_removed(&self, env: &str, service: &str) -> Option<Arc<TopicCell>> {
        let cell = self.read().envs.get(env)?.clone();
        let mut st = lock(&cell.state);
        let Data::Environment(e) = &mut st.data else {
            return None;
        };
        let before = e.services.len();
        e.services.retain(|s| s.id != service);
        if e.services.len() == before {
            return None;
        }
        TopicCell::publish(
            &mut st,
            &Change::ServiceRemoved {
                id: service.to_string(),
            },
            None,
        );
        drop(st);
        Some(cell)
    }

    /// Publishes an environment-wide deployment to its environment; the topic.
    fn env_deployment(&self, env: &str, deployment: &Deployment) -> Option<Arc<TopicCell>> {
        let cell = self.read().envs.get(env)?.clone();
        let mut st = lock(&cell.state);
        let Data::Environment(e) = &mut st.data else {
            return None;
        };
        e.deployment = Some(deployment.clone());
        TopicCell::publish(
            &mut st,
            &Change::EnvironmentDeployment {
                deployment: Some(deployment.clone()),
            },
            None,
        );
        drop(st);
        Some(cell)
    }

    /// Publishes the environment's summary to the environment list; the list, if it changed.
    fn summary(&self, env: &str) -> Option<Arc<TopicCell>> {
        let (cell, list) = {
            let topics = self.read();
            (topics.envs.get(env)?.clone(), topics.environments.clone())
        };
        let summary = {
            let st = lock(&cell.state);
            let Data::Environment(e) = &st.data else {
                return None;
            };
            summarize(e)
        };
        let mut st = lock(&list.state);
        let Data::Environments(all) = &mut st.data else {
            return None;
        };
        match all.iter_mut().find(|s| s.id == summary.id) {
            Some(s) if *s == summary => return None,
            Some(s) => *s = summary.clone(),
            None => all.push(summary.clone()),
        }
        TopicCell::publish(&mut st, &Change::EnvironmentUpsert(summary), None);
        drop(st);
        Some(list)
    }

    /// Opens a deployment's log topic with its snapshot at `base`.
    fn created(
        &self,
        env: &str,
        service: Option<String>,
        deployment: Deployment,
        base: u64,
    ) -> Arc<TopicCell> {
        let id = deployment.id.clone();
        // Logs of this run start at the boot-time base too, so a resume aimed at a previous
        // run (which may have reused this deployment id) gets a snapshot, not other lines.
        let cell = TopicCell::new(
            base,
            Replay::Full(Vec::new()),
            Data::Logs {
                env: env.to_string(),
                service,
                header: deployment,
            },
        );
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
        cell
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
        let cell = self.created(env, service, header, base);
        let mut st = lock(&cell.state);
        for change in changes {
            TopicCell::publish(&mut st, &change, None);
        }
        drop(st);
        cell.announce();
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
        let Replay::Bounded(buf, cap) = &mut st.replay else {
            return false;
        };
        buf.clear();
        let skip = changes.len().saturating_sub(*cap);
        let mut total = [0u64; 2];
        for c in changes.into_iter().skip(skip) {
            total[0] += c.json.len() as u64;
            total[1] += c.compact.as_ref().unwrap_or(&c.json).len() as u64;
            buf.push_back(Arc::new(Item {
                seq: c.seq,
                json: c.json,
                compact: c.compact,
                total_bytes: total,
                line: None,
            }));
        }
        st.base = seq - buf.len() as u64;
        st.seq = seq;
        st.total_bytes = total;
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
                Replay::Bounded(buf, _) => buf
                    .iter()
                    .map(|i| RecentChange {
                        seq: i.seq,
                        json: i.json.clone(),
                        compact: i.compact.clone(),
                    })
                    .collect(),
                Replay::Full(_) => Vec::new(),
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
