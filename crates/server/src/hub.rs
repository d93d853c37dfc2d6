//! Topics and their state: the environments list, each environment, each deployment's log.
//!
//! Every topic has a sequence number, a replay buffer of pre-serialized changes and a
//! broadcast channel. A change is serialized once, however many clients follow the topic.
//! Publishing and subscribing take the same per-topic lock, so a new subscriber's snapshot (or
//! replay point) and its live stream meet with no gap and no duplicate.

use crate::sim::SimEvent;
use shipwatch_model::protocol::{encode, Change, Snapshot, Topic};
use shipwatch_model::{rules, Deployment, Environment, EnvironmentSummary};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// One published change, serialized once and shared by every subscriber.
#[derive(Debug)]
pub struct Item {
    /// Its sequence number in its topic.
    pub seq: u64,
    /// The change as JSON.
    pub json: Arc<str>,
}

/// Sizes of the hub's buffers.
#[derive(Clone, Copy, Debug)]
pub struct HubConfig {
    /// Changes kept per environment topic for resumes and laggards.
    pub replay: usize,
    /// Broadcast slots per topic (a subscriber further behind catches up from the replay).
    pub broadcast: usize,
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

/// A subscription's starting point and its live stream, taken under one lock.
#[derive(Debug)]
pub struct Start {
    /// What to send first.
    pub head: Head,
    /// Sequence number of the first change to send after the head.
    pub next_seq: u64,
    /// Live changes, from the moment of the head on.
    pub rx: broadcast::Receiver<Arc<Item>>,
}

/// What the replay buffer holds from a sequence number on.
#[derive(Debug)]
pub enum Read {
    /// Changes from the asked number on (at most the asked count).
    Items(Vec<Arc<Item>>),
    /// Nothing newer.
    UpToDate,
    /// The asked number is no longer in the buffer: take a fresh snapshot.
    Gone,
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
    replay: Replay,
    data: Data,
    /// The last snapshot built, valid while `seq` has not moved: many subscribers, one encode.
    cached: Option<(u64, Arc<str>)>,
    /// None once the topic is gone: dropping the sender ends every subscriber's stream.
    tx: Option<broadcast::Sender<Arc<Item>>>,
}

/// One topic.
pub struct TopicCell {
    state: Mutex<State>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves consistent data (every mutation is one step).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TopicCell {
    fn new(seq: u64, replay: Replay, data: Data, broadcast_cap: usize) -> Arc<Self> {
        let (tx, _) = broadcast::channel(broadcast_cap.max(1));
        Arc::new(Self {
            state: Mutex::new(State {
                base: seq,
                seq,
                replay,
                data,
                cached: None,
                tx: Some(tx),
            }),
        })
    }

    /// Current sequence number.
    pub fn seq(&self) -> u64 {
        lock(&self.state).seq
    }

    /// Starts a subscription: replay from `resume_from` if the buffer still has what follows
    /// it, else a fresh snapshot. None if the topic is gone.
    pub fn subscribe(&self, resume_from: Option<u64>) -> Option<Start> {
        let mut st = lock(&self.state);
        let rx = st.tx.as_ref()?.subscribe();
        if let Some(r) = resume_from {
            if r <= st.seq && st.has_from(r + 1) {
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

    /// Up to `max` changes from `from` on.
    pub fn read_from(&self, from: u64, max: usize) -> Read {
        let st = lock(&self.state);
        if from > st.seq {
            return Read::UpToDate;
        }
        let items: Vec<Arc<Item>> = match &st.replay {
            Replay::Full(all) => {
                let start = from.saturating_sub(st.base + 1) as usize;
                all.iter().skip(start).take(max).cloned().collect()
            }
            Replay::Bounded(buf, _) => match buf.front() {
                Some(first) if first.seq <= from => {
                    let start = (from - first.seq) as usize;
                    buf.iter().skip(start).take(max).cloned().collect()
                }
                _ => return Read::Gone,
            },
        };
        if items.is_empty() {
            Read::Gone
        } else {
            Read::Items(items)
        }
    }

    fn publish(st: &mut State, change: &Change) {
        st.seq += 1;
        let item = Arc::new(Item {
            seq: st.seq,
            json: encode(change).into(),
        });
        match &mut st.replay {
            Replay::Full(all) => all.push(item.clone()),
            Replay::Bounded(buf, cap) => {
                if buf.len() >= *cap {
                    buf.pop_front();
                }
                buf.push_back(item.clone());
            }
        }
        st.cached = None;
        if let Some(tx) = &st.tx {
            // No receivers is fine: nobody follows this topic right now.
            let _ = tx.send(item);
        }
    }

    fn close(&self) {
        lock(&self.state).tx = None;
    }
}

impl State {
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
            },
        };
        let data: Arc<str> = encode(&snap).into();
        self.cached = Some((self.seq, data.clone()));
        (seq, data)
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
}

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
                    TopicCell::new(
                        cfg.base_seq,
                        bounded(),
                        Data::Environment(e.clone()),
                        cfg.broadcast,
                    ),
                )
            })
            .collect();
        let topics = Topics {
            environments: TopicCell::new(
                cfg.base_seq,
                bounded(),
                Data::Environments(summaries),
                cfg.broadcast,
            ),
            envs,
            logs: HashMap::new(),
            log_order: VecDeque::new(),
        };
        Self {
            cfg,
            topics: std::sync::RwLock::new(topics),
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
            Topic::Logs { deployment } => t.logs.get(deployment).cloned(),
        }
    }

    /// Number of deployment logs held.
    pub fn log_count(&self) -> usize {
        self.read().logs.len()
    }

    /// Applies the simulator's events, in order, to the topics. The environment list gets one
    /// summary per changed environment at the end of the batch, not one per service change:
    /// a summary runs the rules over every service of the environment, which at thousands of
    /// events per second was most of the server's time.
    pub fn apply(&self, events: Vec<SimEvent>) {
        let mut changed: Vec<String> = Vec::new();
        for event in events {
            match event {
                SimEvent::Service { env, service } => {
                    if self.service(&env, service) && !changed.contains(&env) {
                        changed.push(env);
                    }
                }
                SimEvent::DeploymentCreated {
                    env,
                    service,
                    deployment,
                } => self.created(env, service, deployment),
                SimEvent::DeploymentStatus { deployment } => {
                    if let Some(cell) = self.read().logs.get(&deployment.id) {
                        let mut st = lock(&cell.state);
                        TopicCell::publish(&mut st, &Change::Deployment(deployment));
                    }
                }
                SimEvent::Log { deployment, lines } => {
                    if let Some(cell) = self.read().logs.get(&deployment) {
                        let mut st = lock(&cell.state);
                        for line in lines {
                            TopicCell::publish(&mut st, &Change::Line(line));
                        }
                    }
                }
            }
        }
        for env in changed {
            self.summary(&env);
        }
    }

    /// Publishes a service change to its environment; whether it changed anything.
    fn service(&self, env: &str, service: shipwatch_model::Service) -> bool {
        let topics = self.read();
        let Some(cell) = topics.envs.get(env) else {
            return false;
        };
        let mut st = lock(&cell.state);
        let Data::Environment(e) = &mut st.data else {
            return false;
        };
        match e.services.iter_mut().find(|s| s.id == service.id) {
            Some(s) if *s == service => return false,
            Some(s) => *s = service.clone(),
            None => e.services.push(service.clone()),
        }
        TopicCell::publish(&mut st, &Change::ServiceUpsert(service));
        true
    }

    /// Publishes the environment's summary to the environment list, if it changed.
    fn summary(&self, env: &str) {
        let topics = self.read();
        let Some(cell) = topics.envs.get(env) else {
            return;
        };
        let summary = {
            let st = lock(&cell.state);
            let Data::Environment(e) = &st.data else {
                return;
            };
            summarize(e)
        };
        let mut st = lock(&topics.environments.state);
        let Data::Environments(list) = &mut st.data else {
            return;
        };
        match list.iter_mut().find(|s| s.id == summary.id) {
            Some(s) if *s == summary => return,
            Some(s) => *s = summary.clone(),
            None => list.push(summary.clone()),
        }
        TopicCell::publish(&mut st, &Change::EnvironmentUpsert(summary));
    }

    fn created(&self, env: String, service: Option<String>, deployment: Deployment) {
        let id = deployment.id.clone();
        // Logs start at the boot-time base too, so a resume aimed at a previous server run
        // (which may have reused this deployment id) gets a snapshot, not someone else's lines.
        let cell = TopicCell::new(
            self.cfg.base_seq,
            Replay::Full(Vec::new()),
            Data::Logs {
                env,
                service,
                header: deployment,
            },
            self.cfg.broadcast,
        );
        let mut t = self.topics.write().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = t.logs.insert(id.clone(), cell) {
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

    /// Ends every topic: subscribers' streams finish (used at shutdown).
    pub fn close_all(&self) {
        let t = self.read();
        t.environments.close();
        t.envs.values().for_each(|c| c.close());
        t.logs.values().for_each(|c| c.close());
    }
}
