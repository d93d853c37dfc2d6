//! The writer's loop: batch k commits on a task of its own while the writer takes batch k+1
//! from the queue and has the hub stage it, so the hub's work and the database's overlap.
//! Batches are shown (and acknowledged) in commit order, each up to its own numbers.
//!
//! No batch lingers: whatever arrives while a batch commits forms the next one (group
//! commit), so an event waits for at most the commit before its own at low rates, and the
//! cost of a commit is shared by thousands of events at high ones.
//!
//! A page that asks for a snapshot of a topic with staged changes gets it at the announce
//! that leaves nothing of the topic staged. So while such a page waits, the next batch is
//! staged only once the one committing is shown: under a steady stream the wait would
//! otherwise begin again at every batch.

use super::{
    take, Closing, Msg, Progress, Stage, StageSlot, Writer, CLOSE_ATTEMPTS, MAX_BATCH_WEIGHT,
};
use crate::hub::since::StatusChange;
use crate::hub::{ChangeRow, Staged};
use crate::platform::PlatformEvent;
use crate::store::queue::Receiver;
use crate::store::StoreError;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Wait before retrying a failed write.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What one transaction writes: a batch's events, and the change log's rows and the status
/// changes the hub made of them.
#[derive(Default)]
pub(super) struct Commit {
    pub(super) events: Vec<Arc<[PlatformEvent]>>,
    pub(super) rows: Vec<ChangeRow>,
    pub(super) statuses: Vec<StatusChange>,
}

/// A batch taken from the queue.
struct Batch {
    commit: Commit,
    /// Facts in it (0: only ids to acknowledge).
    weight: usize,
    /// Its last write id.
    upto: u64,
    /// The hub's staging of it, shown once committed; None until staged (or without a hub).
    shown: Option<(Staged, Arc<dyn Stage>)>,
    staged: bool,
}

impl Batch {
    /// Has the hub apply it (numbers assigned, nothing shown), once.
    fn stage(&mut self, slot: &StageSlot) {
        if std::mem::replace(&mut self.staged, true) || self.weight == 0 {
            return;
        }
        if let Some(stage) = slot.get() {
            let started = std::time::Instant::now();
            let mut events = self.commit.events.iter().flat_map(|b| b.iter());
            let mut staged = stage.stage(&mut events);
            tracing::debug!(
                facts = self.weight,
                ms = started.elapsed().as_secs_f64() * 1e3,
                "batch staged"
            );
            self.commit.rows = std::mem::take(&mut staged.rows);
            self.commit.statuses = std::mem::take(&mut staged.statuses);
            self.shown = Some((staged, stage.clone()));
        }
    }
}

/// What a commit task gives back: the writer, what it wrote, and how it went.
type Outcome = (Writer, Commit, Result<(u64, u64), sqlx::Error>);

/// The batch committing now.
struct InFlight {
    task: JoinHandle<Outcome>,
    weight: usize,
    upto: u64,
    shown: Option<(Staged, Arc<dyn Stage>)>,
}

impl InFlight {
    fn start(mut writer: Writer, batch: Batch) -> InFlight {
        let Batch {
            commit,
            weight,
            upto,
            shown,
            ..
        } = batch;
        let task = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let result = if weight == 0 {
                Ok((0, 0))
            } else {
                writer
                    .write(&commit.events, &commit.rows, &commit.statuses)
                    .await
            };
            tracing::debug!(
                facts = weight,
                rows = commit.rows.len(),
                ms = started.elapsed().as_secs_f64() * 1e3,
                "batch committed"
            );
            (writer, commit, result)
        });
        InFlight {
            task,
            weight,
            upto,
            shown,
        }
    }
}

/// What woke the writer while a batch committed.
enum Woken {
    Msg(Option<Msg>),
    /// The batch in flight committed (or failed): its outcome is in `finished`.
    Committed,
}

impl Writer {
    /// Runs until closed (or every handle is dropped).
    pub(in crate::store) async fn run(
        self,
        mut rx: Receiver,
        progress: watch::Sender<Progress>,
        _waiters: Arc<super::Waiters>,
    ) {
        // The writer, while no commit task holds it.
        let slot = self.stage.clone();
        let mut idle: Option<Writer> = Some(self);
        let mut flight: Option<InFlight> = None;
        let mut finished: Option<Outcome> = None;
        let mut next: Option<Batch> = None;
        let mut upto = 0;
        let mut close: Option<Closing> = None;
        let mut ended = false;
        let mut failures = 0u32;
        loop {
            // Take the next batch, while the previous one commits.
            if next.is_none() && close.is_none() && !ended && finished.is_none() {
                let woken = match &mut flight {
                    None => Woken::Msg(rx.recv().await),
                    Some(f) => tokio::select! {
                        msg = rx.recv() => Woken::Msg(msg),
                        out = &mut f.task => {
                            finished = Some(out.expect("the commit task panicked"));
                            Woken::Committed
                        }
                    },
                };
                match woken {
                    Woken::Committed => {}
                    Woken::Msg(None) => ended = true,
                    Woken::Msg(Some(msg)) => {
                        let mut events = Vec::new();
                        take(msg, &mut events, &mut upto, &mut close);
                        let mut weight = weight_of(&events);
                        while weight < MAX_BATCH_WEIGHT && close.is_none() {
                            let Ok(msg) = rx.try_recv() else { break };
                            let from = events.len();
                            take(msg, &mut events, &mut upto, &mut close);
                            weight += weight_of(&events[from..]);
                        }
                        next = Some(Batch {
                            commit: Commit {
                                events,
                                ..Commit::default()
                            },
                            weight,
                            upto,
                            shown: None,
                            staged: false,
                        });
                    }
                }
            }
            // Staged while the previous batch commits, unless a page waits for a snapshot
            // that batch holds back.
            if let Some(batch) = &mut next {
                let held = flight
                    .as_ref()
                    .is_some_and(|f| f.shown.as_ref().is_some_and(|(s, _)| s.snapshot_wanted()));
                if !held {
                    batch.stage(&slot);
                }
            }
            if finished.is_none() {
                if let Some(f) = &mut flight {
                    if next.is_some() || close.is_some() || ended {
                        finished = Some((&mut f.task).await.expect("the commit task panicked"));
                    }
                }
            }
            if let Some((mut writer, commit, result)) = finished.take() {
                let Some(f) = flight.take() else {
                    unreachable!("an outcome without a batch in flight")
                };
                match result {
                    Ok((events, lines)) => {
                        failures = 0;
                        // Shown before it is acknowledged: a source told "stored" finds it
                        // on the pages.
                        if let Some((staged, stage)) = f.shown {
                            stage.show(staged);
                        }
                        for id in writer.books.logs_removed.drain(..) {
                            let _ = writer.removed_logs.send(id);
                        }
                        let bytes = writer.books.total_bytes;
                        progress.send_modify(|p| {
                            p.committed = f.upto;
                            p.error = None;
                            p.events += events;
                            p.lines += lines;
                            p.log_bytes = bytes;
                        });
                        idle = Some(writer);
                    }
                    Err(e) => {
                        failures += 1;
                        let msg = e.to_string();
                        tracing::error!(error = %msg, attempt = failures, "store write failed; retrying");
                        progress.send_modify(|p| p.error = Some(msg.clone()));
                        // The transaction rolled back: what the writer knew may be ahead of
                        // the database. It is read again before the retry, on a new
                        // connection if this one is gone (PostgreSQL restarted, the network
                        // cut).
                        writer.books_stale = true;
                        // A stop does not wait for ever on a store that cannot write: the
                        // close may still be queued behind writes a staged batch keeps the
                        // writer from taking, so the queue is asked too. What is not
                        // committed was never acknowledged, and is dropped.
                        let stopping = close.is_some() || rx.stopping();
                        if stopping && failures >= CLOSE_ATTEMPTS {
                            let committed = progress.borrow().committed;
                            let (queued, dropped) = rx.abandon(committed);
                            let done = close.take().map(|(_, done)| done).or(match queued {
                                Some(Msg::Close { done, .. }) => Some(done),
                                _ => None,
                            });
                            tracing::error!(error = %msg, writes = dropped.writes, bytes = dropped.bytes, "the store cannot write at the stop: giving up what was never acknowledged");
                            if let Some(done) = done {
                                let _ = done.send(Err(StoreError::GaveUp {
                                    error: msg,
                                    dropped,
                                }));
                            }
                            return;
                        }
                        // Finding no connection can take the pool's acquire timeout (5 s):
                        // at a stop, a second at most.
                        let reconnect = writer.reconnect();
                        if stopping {
                            let _ = tokio::time::timeout(RETRY_AFTER, reconnect).await;
                        } else {
                            tokio::select! {
                                _ = reconnect => {}
                                _ = rx.stop_asked() => {}
                            }
                        }
                        // A stop asked meanwhile is tried at once, not a second later.
                        tokio::select! {
                            _ = tokio::time::sleep(RETRY_AFTER) => {}
                            _ = rx.stop_asked(), if !stopping => {}
                        }
                        // The same batch again, with its numbers: nothing after it is shown
                        // before it.
                        let batch = Batch {
                            commit,
                            weight: f.weight,
                            upto: f.upto,
                            shown: f.shown,
                            staged: true,
                        };
                        flight = Some(InFlight::start(writer, batch));
                        continue;
                    }
                }
            }
            let Some(writer) = idle.take() else {
                continue;
            };
            if let Some(mut batch) = next.take() {
                batch.stage(&slot);
                flight = Some(InFlight::start(writer, batch));
            } else if let Some((_marks, done)) = close.take() {
                let mut writer = writer;
                let result = writer
                    .close(&slot)
                    .await
                    .map_err(|e| StoreError::Write(e.to_string()));
                let _ = done.send(result);
                return;
            } else if ended {
                return;
            } else {
                idle = Some(writer);
            }
        }
    }
}

fn weight_of(events: &[Arc<[PlatformEvent]>]) -> usize {
    events
        .iter()
        .flat_map(|b| b.iter())
        .map(|e| e.weight())
        .sum()
}
