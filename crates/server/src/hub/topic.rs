//! One topic: its state ([`TopicData`]), the snapshot built from it and cached while its
//! sequence number stands, its sequence number, and its replay buffer. Subscribing reads the
//! snapshot (or replay point) under the same lock publishing takes, so a new subscriber's head
//! and the changes after it meet with no gap and no duplicate.
//!
//! With a store, changes are published **staged**: numbered and applied while the writer
//! stores them, and shown to nobody until the store committed them and the hub announced
//! them. Readers stop at the topic's `visible` number; a snapshot is built only of a topic
//! with nothing staged (a subscriber that asks meanwhile gets it at the announce). So a page
//! is never shown a number that a crash could give to another change.

use super::line_json::{line_json, LineParts};
use super::log_limit::LogLimit;
use super::replay::{PublishedChange, ReplayBuffer, ReplayRead, SentBytes};
use crate::frames::FrameCache;
use shipwatch_model::protocol::{
    encode, Change, Snapshot, MAX_LINES_PER_BATCH, RESUME_HELD_BATCHES,
};
use shipwatch_model::{Deployment, Environment, EnvironmentSummary};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

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
    /// A snapshot, once the changes the store is committing are announced (the topic's
    /// state holds them already, and no page may see them before the commit).
    Pending,
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

/// Why a subscription is not served from the replay buffer, and is sent a snapshot instead
/// (logged at `info`: one line per such snapshot, never per change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resync {
    /// The topic is not shown yet (a batch the store has not committed created it).
    NotShown,
    /// The change wanted next, `from`, is past the topic's newest shown one (a number from a
    /// replica ahead of this one).
    Ahead {
        /// The first change wanted.
        from: u64,
        /// The topic's newest shown change.
        visible: u64,
    },
    /// The change wanted next has left the replay buffer.
    NotHeld {
        /// The first change wanted.
        from: u64,
        /// The oldest change the buffer holds, if any.
        oldest: Option<u64>,
        /// The number before the two newest batches shown (held whole).
        batches_after: u64,
    },
    /// The changes from `from` up to the two newest batches weigh more than
    /// [`CONFLATE_AFTER_SNAPSHOTS`] snapshots of the state.
    Outweighs {
        /// The first change wanted.
        from: u64,
        /// The last change weighed (the one before the two newest batches).
        upto: u64,
        /// Their bytes, in the form the subscription reads.
        backlog: u64,
        /// Bytes of the topic's snapshot.
        state: u64,
    },
}

impl std::fmt::Display for Resync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::NotShown => f.write_str("the topic is not shown yet"),
            Self::Ahead { from, visible } => {
                write!(f, "change {from} is past the topic's newest, {visible}")
            }
            Self::NotHeld {
                from,
                oldest,
                batches_after,
            } => {
                write!(f, "change {from} left the replay buffer (oldest held: ")?;
                match oldest {
                    Some(oldest) => write!(f, "{oldest}")?,
                    None => f.write_str("none")?,
                }
                write!(f, "; the two newest batches start after {batches_after})")
            }
            Self::Outweighs {
                from,
                upto,
                backlog,
                state,
            } => write!(
                f,
                "changes {from}..={upto} weigh {backlog} bytes, more than \
                 {CONFLATE_AFTER_SNAPSHOTS} snapshots of {state} bytes"
            ),
        }
    }
}

/// A subscriber whose missed changes weigh more than this many snapshots of the topic's state
/// gets a snapshot instead of them (not on log topics, whose snapshot is only a header). Above
/// 1, so that a client that keeps up is not sent snapshots when one batch happens to weigh
/// about as much as the state (every service changed once).
pub const CONFLATE_AFTER_SNAPSHOTS: u64 = 3;

/// What a topic holds: the state its snapshot is built from.
pub(super) enum TopicData {
    /// The environments list: one summary each.
    Environments(Vec<EnvironmentSummary>),
    /// One environment, whole.
    Environment(Environment),
    /// A deployment's log: its header (its lines are the topic's changes).
    Logs {
        /// Environment id.
        env: String,
        /// Service id, or none for an environment-wide deployment.
        service: Option<String>,
        /// The deployment as queued.
        header: Deployment,
    },
}

/// A topic's state and sequence, behind its lock.
pub(super) struct TopicState {
    /// The sequence number the topic started at (its first change is `base + 1`).
    pub(super) base: u64,
    /// The number of the last change published (staged ones included).
    pub(super) seq: u64,
    /// The number of the last change announced: what readers see. Below `seq` while the
    /// store commits the changes after it.
    pub(super) visible: u64,
    /// The numbers readers stood at before each of the newest batches was shown
    /// ([`RESUME_HELD_BATCHES`] of them, two), older first. A page that keeps up reads a batch while the next one commits; one long
    /// commit's batch may take it longer than that, so it may still be in the batch before
    /// the newest. Those two batches are neither dropped from the replay buffer nor weighed
    /// as a backlog against the state (see [`Self::recent_from`]).
    pub(super) shown_from: [u64; RESUME_HELD_BATCHES],
    /// Whether the topic was announced since it was created (a topic created by a batch the
    /// store has not committed yet is not shown).
    pub(super) shown: bool,
    /// The changes published since the last announce, in order: what the change log stores.
    pub(super) unlogged: Vec<Arc<PublishedChange>>,
    /// Bytes of JSON of every change published so far.
    pub(super) sent_so_far: SentBytes,
    /// Lines published so far (logs).
    pub(super) lines: u64,
    /// The changes kept for resumes and laggards.
    pub(super) replay: ReplayBuffer,
    /// The state as of `seq`.
    pub(super) data: TopicData,
    /// The last snapshot built and the `visible` number it stands at, valid while that number
    /// is visible: many subscribers, one encode.
    pub(super) cached: Option<(u64, Arc<str>)>,
    /// Length of the last snapshot built: what a laggard's backlog is weighed against.
    pub(super) snapshot_len: Option<usize>,
    /// A subscriber waits for a snapshot that staged changes held back: the next announce
    /// builds it, before the writer can stage the next batch, so that under a steady stream
    /// of batches the subscriber is not held back again at every one.
    pub(super) snapshot_wanted: bool,
    /// None once the topic is gone: dropping the sender ends every subscriber's stream.
    pub(super) tx: Option<watch::Sender<u64>>,
}

/// One topic: its state and sequence behind one lock, and the frames last built from it.
pub struct TopicCell {
    pub(super) state: Mutex<TopicState>,
    /// Frames built for one subscriber, reused by the next one that needs the same.
    pub frames: FrameCache,
    /// The per-subscriber lines at `info`, at most one a second.
    pub log_limit: LogLimit,
}

pub(super) fn lock(m: &Mutex<TopicState>) -> MutexGuard<'_, TopicState> {
    // A panic while holding the lock leaves consistent data (every mutation is one step).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TopicCell {
    /// A topic at `seq`, shown at once.
    pub(super) fn new(seq: u64, replay: ReplayBuffer, data: TopicData) -> Arc<Self> {
        let cell = Self::hidden(seq, replay, data);
        lock(&cell.state).shown = true;
        cell
    }

    /// A topic at `seq`, shown from its first announce.
    pub(super) fn hidden(seq: u64, replay: ReplayBuffer, data: TopicData) -> Arc<Self> {
        let (tx, _) = watch::channel(seq);
        Arc::new(Self {
            state: Mutex::new(TopicState {
                base: seq,
                seq,
                visible: seq,
                shown_from: [seq; RESUME_HELD_BATCHES],
                shown: false,
                unlogged: Vec::new(),
                sent_so_far: SentBytes::default(),
                lines: 0,
                replay,
                data,
                cached: None,
                snapshot_len: None,
                snapshot_wanted: false,
                tx: Some(tx),
            }),
            frames: FrameCache::default(),
            log_limit: LogLimit::default(),
        })
    }

    /// Current sequence number, as pages see it (changes being committed are not counted).
    #[allow(clippy::misnamed_getters)] // the topic's number is the visible one
    pub fn seq(&self) -> u64 {
        lock(&self.state).visible
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
            match st.refusal(r + 1, compact) {
                None => {
                    return Some(Start {
                        head: Head::Resumed { seq: r },
                        next_seq: r + 1,
                        rx,
                    })
                }
                // A follower waits for a number ahead of it (`Subscription::resuming_from`);
                // otherwise the snapshot below is the answer.
                Some(why) => match self.log_limit.admit() {
                    Some(held_back) => tracing::info!(
                        topic = ?st.data.topic(),
                        resume_from = r,
                        %why,
                        held_back,
                        "resume not served from the replay buffer"
                    ),
                    None => tracing::debug!(
                        topic = ?st.data.topic(),
                        resume_from = r,
                        %why,
                        "resume not served from the replay buffer"
                    ),
                },
            }
        }
        Some(match st.snapshot() {
            Some((seq, data)) => Start {
                head: Head::Snapshot { seq, data },
                next_seq: seq + 1,
                rx,
            },
            None => Start {
                head: Head::Pending,
                next_seq: st.visible + 1,
                rx,
            },
        })
    }

    /// A fresh snapshot and the seq it stands at, for a subscriber that is too far behind;
    /// none while the store commits changes of the topic (ask again at the announce).
    pub fn snapshot(&self) -> Option<(u64, Arc<str>)> {
        lock(&self.state).snapshot()
    }

    /// Why a subscription that wants change `from` next is not served it from the replay
    /// buffer now; none if it is (for the log line of a snapshot sent instead of deltas).
    pub fn resync_reason(&self, from: u64, compact: bool) -> Option<Resync> {
        lock(&self.state).refusal(from, compact)
    }

    /// Up to `max` changes from `from` on, and past the first at most about `max_bytes` (in
    /// the form `compact` says, see [`PublishedChange::text`]).
    pub fn read_from(&self, from: u64, max: usize, max_bytes: usize, compact: bool) -> ReplayRead {
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
    ) -> ReplayRead {
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
        mut take: impl FnMut(usize, &PublishedChange, usize) -> (usize, bool),
    ) -> ReplayRead {
        let mut st = lock(&self.state);
        if from > st.visible {
            return ReplayRead::UpToDate;
        }
        if st.refusal(from, compact).is_some() {
            return ReplayRead::Resync;
        }
        let start = st.index_of(from);
        let visible = st.visible;
        let tail = st.replay.starting_at(start);
        let mut items: Vec<Arc<PublishedChange>> = Vec::new();
        let mut bytes = 0;
        for item in tail.take_while(|i| i.seq <= visible) {
            let (len, fits) = take(items.len(), item, bytes);
            if !fits && !items.is_empty() {
                break;
            }
            bytes += len;
            items.push(item.clone());
        }
        match items.first() {
            Some(first) if first.seq == from => ReplayRead::Items(items),
            _ => ReplayRead::Resync,
        }
    }

    /// Publishes `change`, and `compact`, the same change as an `instance_update`, if any.
    pub(super) fn publish(st: &mut TopicState, change: &Change, compact: Option<&Change>) {
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
        st: &mut TopicState,
        json: Arc<str>,
        compact: Option<&Change>,
        line: Option<LineParts>,
    ) {
        st.seq += 1;
        st.lines += u64::from(line.is_some());
        let as_instance_update: Option<Arc<str>> = compact.map(|c| encode(c).into());
        st.sent_so_far = st.sent_so_far.plus(&json, as_instance_update.as_deref());
        let change = Arc::new(PublishedChange {
            seq: st.seq,
            json,
            as_instance_update,
            sent_so_far: st.sent_so_far,
            line,
        });
        st.unlogged.push(change.clone());
        st.keep(change);
    }

    /// Shows what was published (the store committed it, or there is no store) and wakes the
    /// topic's subscribers: once per batch, so that a batch goes out as one frame.
    pub(super) fn announce(&self) {
        let seq = lock(&self.state).seq;
        self.announce_upto(seq);
    }

    /// Shows what was published up to `upto` (a batch the store committed; a later batch may
    /// be staged already, and stays hidden) and wakes the topic's subscribers.
    pub(super) fn announce_upto(&self, upto: u64) {
        let mut st = lock(&self.state);
        let before = st.visible;
        st.visible = st.visible.max(upto.min(st.seq));
        if st.visible > before {
            tracing::debug!(
                from = before + 1,
                upto = st.visible,
                staged = st.seq - st.visible,
                "batch shown"
            );
            st.shown_from.rotate_left(1);
            st.shown_from[RESUME_HELD_BATCHES - 1] = before;
        }
        st.shown = true;
        let visible = st.visible;
        st.unlogged.retain(|c| c.seq > visible);
        if std::mem::take(&mut st.snapshot_wanted) {
            // None while a later batch is staged: asked for again at its announce.
            st.snapshot();
        }
        if let Some(tx) = &st.tx {
            tx.send_replace(visible);
        }
    }

    /// The changes published since the last announce, for the change log (taken once).
    pub(super) fn take_unlogged(&self) -> Vec<Arc<PublishedChange>> {
        std::mem::take(&mut lock(&self.state).unlogged)
    }

    pub(super) fn close(&self) {
        lock(&self.state).tx = None;
    }
}

impl TopicState {
    /// The number before the two newest batches shown (at most the visible one: a
    /// follower's topic may jump back to the leader's numbers).
    fn recent_from(&self) -> u64 {
        self.shown_from[0].min(self.visible)
    }

    /// Keeps a change just published (numbered `seq`, not shown yet) in the replay buffer,
    /// which holds the two newest batches shown and the staged ones past its bound. A
    /// follower's mirrored changes are kept the same way: its batch is what one read of the
    /// change log applied.
    pub(super) fn keep(&mut self, change: Arc<PublishedChange>) {
        let recent = (self.seq - self.recent_from()) as usize;
        self.replay.push_staged(change, recent);
    }

    /// Why a subscription that wants change `from` next cannot be served from the replay
    /// buffer; none if it can (every change from `from` on is held, and they weigh less than
    /// the state).
    fn refusal(&mut self, from: u64, compact: bool) -> Option<Resync> {
        if !self.shown {
            return Some(Resync::NotShown);
        }
        if from > self.visible + 1 {
            return Some(Resync::Ahead {
                from,
                visible: self.visible,
            });
        }
        if !self.has_from(from) {
            let oldest = match &self.replay {
                ReplayBuffer::Full(_) => Some(self.base + 1),
                ReplayBuffer::Bounded(buf, _) => buf.front().map(|c| c.seq),
            };
            return Some(Resync::NotHeld {
                from,
                oldest,
                batches_after: self.recent_from(),
            });
        }
        self.outweighs_state(from, compact)
    }

    /// Position of change `from` in the replay buffer (which holds it: see `has_from`).
    fn index_of(&self, from: u64) -> usize {
        match &self.replay {
            ReplayBuffer::Full(_) => from.saturating_sub(self.base + 1) as usize,
            ReplayBuffer::Bounded(buf, _) => buf
                .front()
                .map_or(0, |f| from.saturating_sub(f.seq) as usize),
        }
    }

    /// Whether the changes from `from` (held in the buffer) to the two newest batches shown
    /// weigh more than [`CONFLATE_AFTER_SNAPSHOTS`] snapshots: then a snapshot is the cheaper
    /// catch-up. Those two batches are not counted: a page that keeps up is in them, and one
    /// long commit's batch may weigh more than the state. `compact`: weighed as sent with
    /// `instance_updates`. The weights, when it does.
    fn outweighs_state(&mut self, from: u64, compact: bool) -> Option<Resync> {
        let missed_upto = self.recent_from();
        if matches!(self.data, TopicData::Logs { .. }) || from > missed_upto {
            return None;
        }
        let (Some(first), Some(last)) = (
            self.replay.get(self.index_of(from)),
            self.replay.get(self.index_of(missed_upto)),
        ) else {
            return None;
        };
        let before_first = first.sent_so_far.read_as(compact) - first.text(compact).len() as u64;
        let backlog = last.sent_so_far.read_as(compact) - before_first;
        let state = match self.snapshot_len {
            Some(n) => n,
            // Nothing to weigh against while the state is staged: the changes are sent.
            None => match self.snapshot() {
                Some((_, data)) => data.len(),
                None => return None,
            },
        } as u64;
        (backlog > CONFLATE_AFTER_SNAPSHOTS * state).then_some(Resync::Outweighs {
            from,
            upto: missed_upto,
            backlog,
            state,
        })
    }

    fn has_from(&self, from: u64) -> bool {
        if from > self.visible {
            return true;
        }
        match &self.replay {
            ReplayBuffer::Full(_) => from > self.base,
            ReplayBuffer::Bounded(buf, _) => buf.front().is_some_and(|f| f.seq <= from),
        }
    }

    /// The snapshot and the seq it stands at, as pages may see it: none while the topic is
    /// not shown yet, or its state holds staged changes (and no snapshot of the visible state
    /// is cached). A log's snapshot is its header as created, at its base seq: every line, and
    /// every later status, follows as a change.
    fn snapshot(&mut self) -> Option<(u64, Arc<str>)> {
        if !self.shown {
            return None;
        }
        let logs = matches!(self.data, TopicData::Logs { .. });
        let seq = if logs { self.base } else { self.visible };
        if let Some((s, data)) = &self.cached {
            if *s == self.visible {
                return Some((seq, data.clone()));
            }
        }
        if self.visible < self.seq && !logs {
            self.snapshot_wanted = true;
            return None;
        }
        let data = self.snapshot_data();
        self.snapshot_len = Some(data.len());
        self.cached = Some((self.visible, data.clone()));
        Some((seq, data))
    }

    /// The snapshot `data` of the state as it is now, staged changes included (what the
    /// change log's `open` row of a new topic holds).
    pub(super) fn snapshot_data(&self) -> Arc<str> {
        let snap = match &self.data {
            TopicData::Environments(list) => Snapshot::Environments {
                environments: list.clone(),
            },
            TopicData::Environment(env) => Snapshot::Environment {
                environment: env.clone(),
            },
            TopicData::Logs {
                env,
                service,
                header,
            } => Snapshot::Logs {
                env: env.clone(),
                service: service.clone(),
                deployment: header.clone(),
                line_count: Some(self.visible_lines()),
            },
        };
        encode(&snap).into()
    }

    /// Lines of a log published up to `visible`.
    fn visible_lines(&self) -> u64 {
        let staged = match &self.replay {
            ReplayBuffer::Full(all) => all
                .iter()
                .rev()
                .take_while(|c| c.seq > self.visible)
                .filter(|c| c.line.is_some())
                .count(),
            ReplayBuffer::Bounded(..) => 0,
        };
        self.lines - staged as u64
    }
}
