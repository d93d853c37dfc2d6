//! The writer: the only connection that writes. It takes everything queued while its
//! previous commit ran as one transaction (see [`pipeline`]), keeps retention in the same
//! transaction, and publishes how far it has committed.
//!
//! **Commit before visible.** Right before it writes a batch, the writer has the hub apply it
//! ([`Stage`]: numbers assigned, nothing shown), writes the change log's rows (migration
//! 0007) with the batch's rows in the same transaction ([`transaction`]), commits, and only
//! then has the hub announce it. So every number a page is shown is stored, and a restart (or
//! a replica) goes on from the change log. While writes fail, the staged batches wait, with
//! their numbers, and nothing after them is applied.

mod books;
mod change_log;
mod close;
mod entities;
mod pipeline;
mod retention;
mod transaction;

pub(super) use entities::Tx;

use super::load::TopicMark;
use super::schema::Backend;
use super::{StoreConfig, StoreError};
use crate::hub::Staged;
use crate::platform::PlatformEvent;
use books::Books;
use sqlx::{AnyConnection, AnyPool, Connection};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

/// Facts (events, log lines) gathered into one transaction at most.
const MAX_BATCH_WEIGHT: usize = 50_000;
/// Attempts at the final write when closing (a full disk must not hold shutdown for ever).
pub(super) const CLOSE_ATTEMPTS: u32 = 3;

/// What the writer is sent.
pub(super) enum Msg {
    /// Events to write; `id` counts writes from 1, in queue order.
    Events {
        id: u64,
        events: Arc<[PlatformEvent]>,
    },
    /// Write what is queued, then the clean-shutdown mark, and stop. `topics` is what older
    /// servers wrote as clean-stop marks; the change log holds it now (see `close.rs`), so
    /// it is not written.
    Close {
        topics: Vec<TopicMark>,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// A close asked for: the (unwritten) marks, and who waits for the result.
type Closing = (Vec<TopicMark>, oneshot::Sender<Result<(), StoreError>>);

/// What shows a batch once it is committed: the hub, through [`crate::ingest`]. Without one
/// (a store used on its own, as by the store's tests) batches are written without change-log
/// rows.
pub trait Stage: Send + Sync {
    /// Applies the batch to the topics without showing it: its numbers and change-log rows.
    fn stage(&self, events: &mut dyn Iterator<Item = &PlatformEvent>) -> Staged;
    /// The batch is committed: shows it.
    fn show(&self, staged: Staged);
}

/// Where the writer finds its [`Stage`], once the hub exists (set once).
pub(super) type StageSlot = Arc<OnceLock<Arc<dyn Stage>>>;

/// Who waits for a commit (an [`super::Ack`] being awaited), counted. The writer does not
/// linger for anyone (see [`pipeline`]), so nothing reads the count but tests and logs.
#[derive(Debug, Default)]
pub(super) struct Waiters {
    count: AtomicUsize,
}

impl Waiters {
    /// Counts a waiter until the guard drops.
    pub(super) fn wait(self: &Arc<Self>) -> WaitGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        WaitGuard(self.clone())
    }
}

/// A waiter, counted while it lives.
pub(super) struct WaitGuard(Arc<Waiters>);

impl Drop for WaitGuard {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How far the writer got.
#[derive(Clone, Debug, Default)]
pub(super) struct Progress {
    /// Every write up to this id is committed.
    pub committed: u64,
    /// The last error, while writes fail.
    pub error: Option<String>,
    /// Facts committed since start.
    pub events: u64,
    /// Log lines committed since start.
    pub lines: u64,
    /// Bytes of log text on disk.
    pub log_bytes: u64,
}

/// The writer.
pub(super) struct Writer {
    conn: AnyConnection,
    backend: Backend,
    /// Where a new connection comes from when `conn` is lost (PostgreSQL restarted).
    pool: AnyPool,
    /// Whether `books` may be ahead of the database (a write failed): read again first.
    books_stale: bool,
    retain: usize,
    max_log_bytes: u64,
    log_base: u64,
    /// Removed deployments remembered (`--keep-removed-deployments`).
    keep_removed: u64,
    books: Books,
    /// Told the deployments whose logs retention removed, once committed.
    removed_logs: mpsc::UnboundedSender<String>,
    /// What shows a committed batch (the hub), once set.
    stage: StageSlot,
    /// Status changes written since the timeline was last trimmed.
    status_rows: usize,
}

impl Writer {
    /// A writer on `conn`, which it keeps.
    pub(super) async fn open(
        mut conn: AnyConnection,
        backend: Backend,
        pool: AnyPool,
        cfg: &StoreConfig,
        removed_logs: mpsc::UnboundedSender<String>,
    ) -> Result<Writer, sqlx::Error> {
        let books = Books::load(&mut conn).await?;
        Ok(Writer {
            conn,
            backend,
            pool,
            books_stale: false,
            retain: cfg.retain_deployments.max(1) as usize,
            max_log_bytes: cfg.max_log_bytes,
            log_base: cfg.log_base,
            keep_removed: cfg.keep_removed,
            books,
            removed_logs,
            stage: StageSlot::default(),
            status_rows: 0,
        })
    }

    /// The writer shows its batches with the [`Stage`] put in `slot` (by
    /// [`super::Store::show_with`]).
    pub(super) fn with_stage(mut self, slot: StageSlot) -> Writer {
        self.stage = slot;
        self
    }

    /// Bytes of log text on disk.
    pub(super) fn log_bytes(&self) -> u64 {
        self.books.total_bytes
    }

    /// Replaces a connection that no longer answers by a new one (taking the server's lock
    /// again on PostgreSQL); if none can be had now, the next attempt tries again.
    async fn reconnect(&mut self) {
        if self.conn.ping().await.is_ok() {
            return;
        }
        let Ok(conn) = self.pool.acquire().await else {
            return;
        };
        let mut conn = conn.detach();
        if self.backend == Backend::Postgres {
            match super::postgres_lock(&mut conn).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::error!("another server took this database's lock meanwhile");
                    return;
                }
                Err(_) => return,
            }
        }
        tracing::info!("store connection re-established");
        self.conn = conn;
    }
}

/// Takes a message: events join `pending` (their last id is `upto`), a close is kept.
fn take(
    msg: Msg,
    pending: &mut Vec<Arc<[PlatformEvent]>>,
    upto: &mut u64,
    close: &mut Option<Closing>,
) {
    match msg {
        Msg::Events { id, events } => {
            *upto = id;
            if !events.is_empty() {
                pending.push(events);
            }
        }
        Msg::Close { topics, done } => *close = Some((topics, done)),
    }
}
