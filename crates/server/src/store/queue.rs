//! The writer's queue: what sources published and the writer has not yet committed, bounded
//! by bytes (`--store-queue-bytes`).
//!
//! While writes fail (a full disk, PostgreSQL down) the queue is all that holds what pages
//! were shown, so it must not grow without limit. Two things keep it bounded:
//! - **Whole-state events replace each other.** An environment, service or instance reported
//!   again replaces the report of it still queued (not yet taken by the writer): what the
//!   writer would store is the same, as the newer report is the whole state. The first queued
//!   report of an entity is kept where it is (it decides where a new service or instance goes
//!   in its list), so status traffic holds at most two reports per entity, however long the
//!   outage.
//! - **A bound on bytes.** Log lines and deployments cannot be replaced; they count against
//!   [`QueueLimits::max_bytes`], and past it a source is refused before it applies anything
//!   ([`Queue::room`]): the push API and actions answer 503, the simulator holds still.
//!
//! A write counts from when it is queued until it is committed, including while the writer
//! holds it for a retry.

use super::writer::Msg;
use crate::platform::PlatformEvent;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The default of `--store-queue-bytes`: 256 MiB.
pub const DEFAULT_QUEUE_BYTES: u64 = 256 << 20;

/// Bytes an event counts for besides its text: its numbers, enums and the queue's own book.
const EVENT_OVERHEAD: u64 = 64;
/// The same for each log line (its number, time, level) and each instance.
const ITEM_OVERHEAD: u64 = 40;

/// How large the queue may grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLimits {
    /// Bytes of writes queued and not committed past which sources are refused.
    pub max_bytes: u64,
}

impl Default for QueueLimits {
    fn default() -> Self {
        QueueLimits {
            max_bytes: DEFAULT_QUEUE_BYTES,
        }
    }
}

/// The queue is full: what is queued, and the bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full {
    /// Bytes queued and not committed.
    pub queued_bytes: u64,
    /// The bound (`--store-queue-bytes`).
    pub max_bytes: u64,
    /// Bytes of the write refused, when it was sized ([`Queue::put_if_fits`]); else 0.
    pub write_bytes: u64,
}

/// What the queue holds, for the health endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueState {
    /// Bytes of writes queued and not yet committed.
    pub bytes: u64,
    /// The bound.
    pub max_bytes: u64,
    /// Reports replaced by a newer one of the same entity while queued, since start.
    pub replaced: u64,
    /// Writes refused because the queue was full, since start.
    pub refused: u64,
    /// Writes are refused now: the queue holds its bound, or a write did not fit and
    /// nothing has been committed since.
    pub full: bool,
}

/// What a whole-state event is the state of.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Entity {
    Environment(String),
    Service(String, String),
    Instance(String, String, String),
}

impl Entity {
    /// The entity `ev` reports whole, if it does.
    fn reported(ev: &PlatformEvent) -> Option<Entity> {
        match ev {
            PlatformEvent::EnvironmentChanged { id, .. } => Some(Entity::Environment(id.clone())),
            PlatformEvent::ServiceChanged { env, service } => {
                Some(Entity::Service(env.clone(), service.id.clone()))
            }
            PlatformEvent::InstanceChanged {
                env,
                service,
                instance,
                ..
            } => Some(Entity::Instance(
                env.clone(),
                service.clone(),
                instance.name.clone(),
            )),
            _ => None,
        }
    }

    /// Whether removing what `ev` removes removes this entity too.
    fn removed_by(&self, ev: &PlatformEvent) -> bool {
        match (self, ev) {
            (Entity::Environment(e), PlatformEvent::EnvironmentRemoved { id })
            | (Entity::Service(e, _), PlatformEvent::EnvironmentRemoved { id })
            | (Entity::Instance(e, _, _), PlatformEvent::EnvironmentRemoved { id }) => e == id,
            (Entity::Service(e, s), PlatformEvent::ServiceRemoved { env, service })
            | (Entity::Instance(e, s, _), PlatformEvent::ServiceRemoved { env, service }) => {
                e == env && s == service
            }
            (Entity::Instance(e, s, n), PlatformEvent::InstanceRemoved { env, service, name }) => {
                e == env && s == service && n == name
            }
            _ => false,
        }
    }
}

/// Bytes an event holds in memory, near enough to bound the queue (its strings, and a fixed
/// amount for the rest).
pub fn event_bytes(ev: &PlatformEvent) -> u64 {
    fn opt(s: &Option<String>) -> u64 {
        s.as_ref().map_or(0, |s| s.len() as u64)
    }
    fn deployment(d: &shipwatch_model::Deployment) -> u64 {
        (d.id.len() + d.version.len()) as u64
            + opt(&d.previous_version)
            + opt(&d.triggered_by)
            + opt(&d.url)
            + ITEM_OVERHEAD
    }
    fn instance(i: &shipwatch_model::Instance) -> u64 {
        (i.name.len() + i.version.len()) as u64
            + opt(&i.reason)
            + opt(&i.message)
            + i.last_termination.as_ref().map_or(0, |t| opt(&t.reason))
            + i.events
                .iter()
                .map(|e| e.reason.len() as u64 + opt(&e.message) + ITEM_OVERHEAD)
                .sum::<u64>()
            + ITEM_OVERHEAD
    }
    EVENT_OVERHEAD
        + match ev {
            PlatformEvent::EnvironmentChanged { id, name } => (id.len() + name.len()) as u64,
            PlatformEvent::EnvironmentRemoved { id } => id.len() as u64,
            PlatformEvent::ServiceChanged { env, service } => {
                (env.len() + service.id.len() + service.name.len() + service.version.len()) as u64
                    + service.deployment.as_ref().map_or(0, deployment)
                    + service.instances.iter().map(instance).sum::<u64>()
            }
            PlatformEvent::ServiceRemoved { env, service } => (env.len() + service.len()) as u64,
            PlatformEvent::InstanceChanged {
                env,
                service,
                instance: i,
                ..
            } => (env.len() + service.len()) as u64 + instance(i),
            PlatformEvent::InstanceRemoved { env, service, name } => {
                (env.len() + service.len() + name.len()) as u64
            }
            PlatformEvent::DeploymentQueued {
                env,
                service,
                deployment: d,
            } => env.len() as u64 + opt(service) + deployment(d),
            PlatformEvent::DeploymentStage {
                deployment, stage, ..
            } => (deployment.len() + stage.len()) as u64,
            PlatformEvent::DeploymentStatus { deployment: d } => deployment(d),
            PlatformEvent::LogAppended { deployment, lines } => {
                deployment.len() as u64
                    + lines
                        .iter()
                        .map(|l| {
                            (l.text.len() + l.stage.len()) as u64 + opt(&l.hint) + ITEM_OVERHEAD
                        })
                        .sum::<u64>()
            }
        }
}

/// One write waiting for the writer.
struct Item {
    id: u64,
    events: Arc<[PlatformEvent]>,
    /// Events of `events` a newer report replaced (empty: none).
    replaced: Vec<bool>,
    /// Bytes of the events still in it.
    bytes: u64,
}

/// A message waiting for the writer: a write, or the close.
enum Waiting {
    Write(Item),
    Close(Msg),
}

#[derive(Default)]
struct State {
    next_id: u64,
    /// Messages not yet taken by the writer, oldest first; `items[k]` is slot `head + k`.
    items: VecDeque<Waiting>,
    head: u64,
    /// Writes taken by the writer and not known to be committed: (id, bytes).
    taken: VecDeque<(u64, u64)>,
    /// Bytes of every write queued or taken and not committed.
    bytes: u64,
    /// The first queued report of each entity (slot, index in its write): it stays.
    first: HashMap<Entity, (u64, usize)>,
    /// The latest queued report after the first: replaced by the next one.
    latest: HashMap<Entity, (u64, usize)>,
    /// A write did not fit ([`Queue::put_if_fits`]): every write is refused until something
    /// is committed, so smaller ones do not pass it by.
    refusing: bool,
    /// No more writes are taken (the store closed).
    closed: bool,
    replaced: u64,
    refused: u64,
}

/// The queue, shared by the store's handles (which put) and the writer (which takes).
pub(super) struct Queue {
    state: Mutex<State>,
    ready: Notify,
    /// Told when the close is queued (or every handle is gone): a writer retrying a failed
    /// write stops waiting for its next attempt.
    stopping: Notify,
    limits: QueueLimits,
}

impl Queue {
    pub(super) fn new(limits: QueueLimits) -> Arc<Queue> {
        Arc::new(Queue {
            state: Mutex::new(State::default()),
            ready: Notify::new(),
            stopping: Notify::new(),
            limits,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets the bytes of writes committed up to `committed`.
    fn settle(st: &mut State, committed: u64) {
        while let Some(&(id, bytes)) = st.taken.front() {
            if id > committed {
                break;
            }
            st.bytes -= bytes.min(st.bytes);
            st.taken.pop_front();
            st.refusing = false;
        }
    }

    /// `Ok` while the queue has room for another write; `Err` (counted as refused) once it
    /// holds `max_bytes` or more. A source asks before it applies anything, so a refused write
    /// leaves nothing half applied; what it then publishes is queued (a write admitted is
    /// never dropped). Log lines, which fill the queue, are admitted by
    /// [`Queue::put_if_fits`] instead, whole and only if they fit; what is admitted here is one
    /// report of an entity or a simulator tick, small beside the bound.
    pub(super) fn room(&self, committed: u64) -> Result<(), Full> {
        let mut st = self.lock();
        Self::settle(&mut st, committed);
        if st.refusing || st.bytes >= self.limits.max_bytes {
            st.refused += 1;
            return Err(Full {
                queued_bytes: st.bytes,
                max_bytes: self.limits.max_bytes,
                write_bytes: 0,
            });
        }
        Ok(())
    }

    /// Queues `events` after every earlier write; their id, or None once closed. Each report
    /// of an entity replaces the latest queued one (not the first) of the same entity.
    pub(super) fn put(&self, events: Arc<[PlatformEvent]>, committed: u64) -> Option<u64> {
        self.put_within(events, committed, false)
            .unwrap_or_else(|_| unreachable!("not checked"))
    }

    /// [`Queue::put`] only if the write fits whole under the bound with what is queued,
    /// checked and queued in one step: `Err` (counted as refused) if it does not, with the
    /// write's own bytes in [`Full::write_bytes`] (a write larger than the bound never fits).
    pub(super) fn put_if_fits(
        &self,
        events: Arc<[PlatformEvent]>,
        committed: u64,
    ) -> Result<Option<u64>, Full> {
        self.put_within(events, committed, true)
    }

    fn put_within(
        &self,
        events: Arc<[PlatformEvent]>,
        committed: u64,
        check: bool,
    ) -> Result<Option<u64>, Full> {
        let write_bytes = if check {
            events.iter().map(event_bytes).sum()
        } else {
            0
        };
        let mut st = self.lock();
        if st.closed {
            return Ok(None);
        }
        Self::settle(&mut st, committed);
        if check && (st.refusing || st.bytes + write_bytes > self.limits.max_bytes) {
            st.refused += 1;
            // A write larger than the whole bound never fits; it holds no one back.
            st.refusing |= write_bytes <= self.limits.max_bytes;
            return Err(Full {
                queued_bytes: st.bytes,
                max_bytes: self.limits.max_bytes,
                write_bytes,
            });
        }
        st.next_id += 1;
        let id = st.next_id;
        let slot = st.head + st.items.len() as u64;
        let mut bytes = 0;
        for (k, ev) in events.iter().enumerate() {
            bytes += event_bytes(ev);
            if matches!(
                ev,
                PlatformEvent::EnvironmentRemoved { .. }
                    | PlatformEvent::ServiceRemoved { .. }
                    | PlatformEvent::InstanceRemoved { .. }
            ) {
                // A report after a removal is a new entity's first (its place in the list
                // is taken anew).
                st.first.retain(|e, _| !e.removed_by(ev));
                st.latest.retain(|e, _| !e.removed_by(ev));
                continue;
            }
            let Some(entity) = Entity::reported(ev) else {
                continue;
            };
            let head = st.head;
            let first_queued = st.first.get(&entity).is_some_and(|(s, _)| *s >= head);
            if !first_queued {
                st.first.insert(entity, (slot, k));
                continue;
            }
            if let Some((s, i)) = st.latest.insert(entity, (slot, k)) {
                if s >= head {
                    Self::replace(&mut st, s, i);
                }
            }
        }
        st.bytes += bytes;
        st.items.push_back(Waiting::Write(Item {
            id,
            events,
            replaced: Vec::new(),
            bytes,
        }));
        drop(st);
        self.ready.notify_one();
        Ok(Some(id))
    }

    /// Marks event `index` of the write in `slot` as replaced by a newer report.
    fn replace(st: &mut State, slot: u64, index: usize) {
        let Some(Waiting::Write(item)) = st.items.get_mut((slot - st.head) as usize) else {
            return;
        };
        if item.replaced.is_empty() {
            item.replaced = vec![false; item.events.len()];
        }
        if std::mem::replace(&mut item.replaced[index], true) {
            return;
        }
        let freed = event_bytes(&item.events[index]).min(item.bytes);
        item.bytes -= freed;
        st.bytes -= freed.min(st.bytes);
        st.replaced += 1;
    }

    /// Queues the close (after every write); false if already closed.
    pub(super) fn close(&self, msg: Msg) -> bool {
        let mut st = self.lock();
        if st.closed {
            return false;
        }
        st.closed = true;
        st.items.push_back(Waiting::Close(msg));
        drop(st);
        self.ready.notify_one();
        self.stopping.notify_waiters();
        true
    }

    /// Every handle on the store is gone: the writer takes what is queued, then stops (as it
    /// does after a close), and its connection (with PostgreSQL's lock) goes with it.
    pub(super) fn hang_up(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
        self.stopping.notify_waiters();
    }

    /// The id the next write gets, less one: every write so far.
    pub(super) fn last_id(&self) -> u64 {
        self.lock().next_id
    }

    /// Whether the close was queued.
    pub(super) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// What the queue holds.
    pub(super) fn state(&self, committed: u64) -> QueueState {
        let mut st = self.lock();
        Self::settle(&mut st, committed);
        QueueState {
            bytes: st.bytes,
            max_bytes: self.limits.max_bytes,
            replaced: st.replaced,
            refused: st.refused,
            full: st.refusing || st.bytes >= self.limits.max_bytes,
        }
    }

    /// The oldest message, if any.
    fn pop(&self) -> Option<Msg> {
        let mut st = self.lock();
        let waiting = st.items.pop_front()?;
        st.head += 1;
        if st.items.is_empty() {
            // Nothing left to replace: the books start again (and stay small).
            st.first.clear();
            st.latest.clear();
        }
        Some(match waiting {
            Waiting::Close(msg) => msg,
            Waiting::Write(item) => {
                st.taken.push_back((item.id, item.bytes));
                let events = if item.replaced.is_empty() {
                    item.events
                } else {
                    item.events
                        .iter()
                        .zip(&item.replaced)
                        .filter(|(_, r)| !**r)
                        .map(|(e, _)| e.clone())
                        .collect()
                };
                Msg::Events {
                    id: item.id,
                    events,
                }
            }
        })
    }

    /// The writer's end.
    pub(super) fn receiver(self: &Arc<Self>) -> Receiver {
        Receiver(self.clone())
    }
}

/// The writer's end of the queue, with the calls of a channel's receiver.
pub(super) struct Receiver(Arc<Queue>);

/// Nothing is queued now.
#[derive(Debug)]
pub(super) struct Empty;

/// What a writer that gives up at a stop drops: writes never committed, so never
/// acknowledged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Writes (a source's publish each).
    pub writes: u64,
    /// Their bytes, as the queue counts them.
    pub bytes: u64,
}

impl Receiver {
    /// The next message, waiting for one; None once the close was taken and nothing follows
    /// (the writer stops at the close before that).
    pub(super) async fn recv(&mut self) -> Option<Msg> {
        loop {
            let ready = self.0.ready.notified();
            if let Some(msg) = self.0.pop() {
                return Some(msg);
            }
            if self.0.lock().closed {
                return None;
            }
            ready.await;
        }
    }

    /// The next message if one is queued.
    pub(super) fn try_recv(&mut self) -> Result<Msg, Empty> {
        self.0.pop().ok_or(Empty)
    }

    /// Whether the store is stopping: the close is queued (behind writes the writer has not
    /// taken yet), or every handle is gone.
    pub(super) fn stopping(&self) -> bool {
        self.0.lock().closed
    }

    /// Resolves once the store is stopping.
    pub(super) async fn stop_asked(&self) {
        loop {
            let told = self.0.stopping.notified();
            if self.stopping() {
                return;
            }
            told.await;
        }
    }

    /// The writer gives up (it cannot write, and the store is stopping): takes the close out
    /// of the queue and drops the writes queued before it, none of them committed, so none
    /// acknowledged. The close (None after a hang-up), and what is dropped: every write not
    /// committed, the writer's own included.
    pub(super) fn abandon(&mut self, committed: u64) -> (Option<Msg>, Dropped) {
        let mut st = self.0.lock();
        Queue::settle(&mut st, committed);
        st.head += st.items.len() as u64;
        let close = st.items.drain(..).find_map(|w| match w {
            Waiting::Close(msg) => Some(msg),
            Waiting::Write(_) => None,
        });
        st.first.clear();
        st.latest.clear();
        let dropped = Dropped {
            writes: st.next_id.saturating_sub(committed),
            bytes: st.bytes,
        };
        (close, dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shipwatch_model::{Instance, LogLevel, LogLine, RunningStatus};

    fn instance(env: &str, name: &str, restarts: u32) -> PlatformEvent {
        PlatformEvent::InstanceChanged {
            env: env.into(),
            service: "api".into(),
            instance: Instance {
                name: name.into(),
                status: RunningStatus::Running,
                version: "v1".into(),
                restarts,
                reason: None,
                message: None,
                started_at: None,
                last_termination: None,
                last_restart_at: None,
                events: Vec::new(),
            },
            exit_code: None,
        }
    }

    fn lines(n: usize) -> PlatformEvent {
        PlatformEvent::LogAppended {
            deployment: "dep-1".into(),
            lines: (1..=n as u64)
                .map(|n| LogLine {
                    n,
                    ts: 0,
                    stage: String::new(),
                    level: LogLevel::Info,
                    text: "x".repeat(100),
                    hint: None,
                })
                .collect(),
        }
    }

    fn taken(rx: &mut Receiver) -> Vec<PlatformEvent> {
        let mut out = Vec::new();
        while let Ok(Msg::Events { events, .. }) = rx.try_recv() {
            out.extend(events.iter().cloned());
        }
        out
    }

    fn restarts(ev: &PlatformEvent) -> u32 {
        match ev {
            PlatformEvent::InstanceChanged { instance, .. } => instance.restarts,
            _ => u32::MAX,
        }
    }

    #[test]
    fn reports_of_one_entity_hold_two_places_however_many_arrive() {
        let q = Queue::new(QueueLimits { max_bytes: 1 << 20 });
        for r in 0..10_000 {
            q.put(Arc::from(vec![instance("prod", "api-1", r)]), 0);
        }
        let state = q.state(0);
        assert!(state.bytes < 2 * 1024, "{state:?}");
        assert_eq!(state.replaced, 9_998);
        assert!(q.room(0).is_ok());
        let mut rx = q.receiver();
        let kept: Vec<u32> = taken(&mut rx).iter().map(restarts).collect();
        assert_eq!(kept, vec![0, 9_999], "the first report and the newest");
    }

    #[test]
    fn a_removal_keeps_the_reports_around_it() {
        let q = Queue::new(QueueLimits::default());
        q.put(Arc::from(vec![instance("prod", "api-1", 1)]), 0);
        q.put(Arc::from(vec![instance("prod", "api-1", 2)]), 0);
        q.put(
            Arc::from(vec![PlatformEvent::InstanceRemoved {
                env: "prod".into(),
                service: "api".into(),
                name: "api-1".into(),
            }]),
            0,
        );
        q.put(Arc::from(vec![instance("prod", "api-1", 3)]), 0);
        q.put(Arc::from(vec![instance("prod", "api-1", 4)]), 0);
        let mut rx = q.receiver();
        let kept: Vec<u32> = taken(&mut rx).iter().map(restarts).collect();
        assert_eq!(kept, vec![1, 2, u32::MAX, 3, 4]);
    }

    #[test]
    fn lines_fill_the_queue_until_committed() {
        let q = Queue::new(QueueLimits { max_bytes: 10_000 });
        let mut ids = Vec::new();
        while q.room(0).is_ok() {
            ids.push(q.put(Arc::from(vec![lines(10)]), 0).unwrap());
        }
        // 10 lines of 100 bytes count 1,469 bytes: the 7th write passes the bound.
        assert_eq!(ids.len(), 7);
        let full = q.room(0).unwrap_err();
        assert_eq!(full.max_bytes, 10_000);
        assert_eq!(full.queued_bytes, 7 * 1_469);
        // Taken by the writer, they still count until committed.
        let mut rx = q.receiver();
        assert_eq!(taken(&mut rx).len(), 7);
        assert!(q.room(0).is_err());
        assert!(q.room(1).is_ok(), "6 writes left: 8,814 bytes");
        assert_eq!(q.state(*ids.last().unwrap()).bytes, 0);
        assert_eq!(q.state(0).refused, 3);
    }

    #[test]
    fn lines_are_taken_only_if_they_fit_and_the_bound_holds() {
        // 10 lines of 100 bytes count 1,469 bytes: 6 fit in 10,000, the 7th does not.
        let q = Queue::new(QueueLimits { max_bytes: 10_000 });
        let mut ids = Vec::new();
        while let Ok(id) = q.put_if_fits(Arc::from(vec![lines(10)]), 0) {
            ids.push(id.unwrap());
        }
        assert_eq!(ids.len(), 6);
        let state = q.state(0);
        assert_eq!(state.bytes, 6 * 1_469, "at most the bound");
        assert!(state.full);
        // Nothing smaller passes the refused write by until something is committed.
        assert!(q.room(0).is_err());
        assert!(q.put_if_fits(Arc::from(vec![lines(1)]), 0).is_err());
        let mut rx = q.receiver();
        assert_eq!(taken(&mut rx).len(), 6);
        assert!(q.room(0).is_err(), "taken, not committed");
        assert!(q.room(ids[0]).is_ok(), "the first write committed");
        assert!(q.put_if_fits(Arc::from(vec![lines(10)]), ids[0]).is_ok());
    }

    #[test]
    fn a_write_larger_than_the_bound_is_refused_and_holds_no_one_back() {
        let q = Queue::new(QueueLimits { max_bytes: 1_000 });
        let full = q.put_if_fits(Arc::from(vec![lines(10)]), 0).unwrap_err();
        assert_eq!((full.write_bytes, full.max_bytes), (1_469, 1_000));
        assert_eq!(full.queued_bytes, 0);
        assert!(!q.state(0).full);
        assert!(q.put_if_fits(Arc::from(vec![lines(1)]), 0).is_ok());
    }
}
