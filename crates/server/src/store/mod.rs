//! The durable store: everything sources report, kept in SQLite in the data directory, or in
//! PostgreSQL (`--store postgres://...`).
//!
//! Both databases run the same queries through sqlx's `Any` driver: one copy of every query
//! and of the code around it, chosen at run time by the URL. An enum over two pools (or code
//! generic over sqlx's `Database`) would keep each backend's own types, but every query would
//! then be written, or instantiated under a wall of trait bounds, twice; `Any` costs a copy
//! of each bound value and row into its own value type, which the store bench does not see
//! (docs/store.md). Where the dialects differ the SQL is written in what both accept
//! (`IS NOT DISTINCT FROM`, `ON CONFLICT`), and the migrations have a file per backend.
//!
//! Writes go through one writer task that batches whatever arrived while its previous commit
//! ran into one transaction, so the store takes tens of thousands of events a second without
//! holding anyone up: [`Store::write`] only queues. An event is **acknowledged** when the
//! transaction holding it has committed to the write-ahead log: then it survives the process
//! being killed (`kill -9`); [`Ack::committed`] resolves at that moment. A failed write (disk
//! full, I/O error) is retried until it succeeds; meanwhile acks fail, [`Store::health`] says
//! what fails, and the queue ([`queue`]) holds what waits, bounded by bytes: once full,
//! [`Store::room`] refuses sources before they apply anything.
//!
//! At start, [`Store::open`] loads the present state ([`Loaded`]); a file that cannot be read
//! stops the start with an error naming it, never a silent fresh start.

mod follow;
pub mod history;
mod instance_details;
pub mod load;
mod queue;
mod retention_trim;
pub mod schema;
mod sources;
mod statement;
pub mod timeline;
mod writer;

pub use load::{Loaded, LogChange, LogHistory, StoredChange, StoredDeployment, TopicMark};
pub use queue::{event_bytes, Dropped, QueueLimits, QueueState, DEFAULT_QUEUE_BYTES};
pub use retention_trim::DEFAULT_KEEP_REMOVED;
pub use schema::Synchronous;
pub use writer::Stage;

use crate::platform::PlatformEvent;
use queue::Queue;
use schema::Backend;
use shipwatch_model::protocol::{Gone, Topic};
use shipwatch_model::LogLine;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::AnyPool;
use sqlx::{Connection, Executor};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use writer::{Msg, Progress, Waiters, Writer};

/// Where the store lives and what it keeps.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// The data directory (created if missing); the database is [`schema::FILE_NAME`] in it,
    /// unless `database` names another.
    pub dir: PathBuf,
    /// A PostgreSQL database (`postgres://user@host:port/db`) instead of the data directory's
    /// file; none: SQLite in `dir`.
    pub database: Option<String>,
    /// The connection pool's limits.
    pub pool: PoolLimits,
    /// Deployments kept per service, with their logs; older ones are removed, oldest first.
    pub retain_deployments: u32,
    /// Bytes of log text kept on disk; past it the oldest deployments' logs are removed.
    pub max_log_bytes: u64,
    /// Sequence number the log topics of deployments created in this run start from.
    pub log_base: u64,
    /// Largest size of the database file, in bytes (0: as large as the disk allows). Past it
    /// writes fail as on a full disk.
    pub max_file_bytes: u64,
    /// How large the writer's queue may grow while writes fail.
    pub queue: QueueLimits,
    /// What a SQLite commit waits for (`--sqlite-synchronous`).
    pub synchronous: Synchronous,
    /// Removed deployments remembered, to say why their logs are gone (the newest kept).
    pub keep_removed: u64,
}

/// How many connections the store holds and how long it waits for one. The writer has one
/// connection of its own besides these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolLimits {
    /// Most connections open at once for reads (log downloads, history pages, loads).
    pub max_connections: u32,
    /// Connections kept open when idle.
    pub min_connections: u32,
    /// How long a read waits for a free connection (or a new one) before it fails.
    pub acquire_timeout: Duration,
    /// An idle connection above `min_connections` is closed after this long.
    pub idle_timeout: Duration,
}

impl Default for PoolLimits {
    fn default() -> Self {
        PoolLimits {
            max_connections: 4,
            min_connections: 1,
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(600),
        }
    }
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The data directory or its file cannot be used: the server does not start.
    Open {
        /// The file (or directory) at fault.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// Another server holds the data directory's lock (`file`).
    InUse {
        /// The lock file.
        file: PathBuf,
    },
    /// Writing failed (disk full, I/O error); the writer retries.
    Write(String),
    /// The writer's queue is full (writes have been failing): the write was refused before
    /// anything was applied.
    QueueFull {
        /// Bytes queued and not committed.
        queued_bytes: u64,
        /// The bound (`--store-queue-bytes`).
        max_bytes: u64,
    },
    /// A write larger than the whole queue (`--store-queue-bytes`): it can never be taken,
    /// and was refused before anything was applied.
    TooLarge {
        /// Bytes of the write, as the queue counts them.
        write_bytes: u64,
        /// The bound.
        max_bytes: u64,
    },
    /// Reading failed.
    Read(String),
    /// The store was closed.
    Closed,
    /// At a stop the store still could not write (a full disk, the database gone) after its
    /// last attempts: the writer gave up, dropping what was not committed (never
    /// acknowledged).
    GaveUp {
        /// The last write error.
        error: String,
        /// What was dropped.
        dropped: queue::Dropped,
    },
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Open { file, reason } if is_url(file) => write!(
                f,
                "cannot use the database {}: {reason}. Nothing was changed; check that \
                 PostgreSQL runs there and the user may connect and create tables, or pass \
                 --ephemeral",
                file.display()
            ),
            Self::Open { file, reason } => write!(
                f,
                "cannot use the data file {}: {reason}. Nothing was changed; move the file \
                 away (or restore it from a backup) to start, or pass --ephemeral",
                file.display()
            ),
            Self::InUse { file } if is_url(file) => write!(
                f,
                "{}: another shipwatch-server uses this database (until replicas share one, \
                 one server writes a database); stop it, or pass another --store",
                file.display()
            ),
            Self::InUse { file } => write!(
                f,
                "{}: another shipwatch-server uses this data directory; stop it, or pass \
                 another --data-dir",
                file.display()
            ),
            Self::Write(e) => write!(f, "writing to the store failed: {e}"),
            Self::QueueFull {
                queued_bytes,
                max_bytes,
            } => write!(
                f,
                "the store's queue is full: {queued_bytes} bytes of writes wait to be stored \
                 (at most {}), so nothing more is taken until they are; try again later",
                bytes_for_people(*max_bytes)
            ),
            Self::TooLarge {
                write_bytes,
                max_bytes,
            } => write!(
                f,
                "this write takes {write_bytes} bytes in the store's queue, more than the \
                 queue holds (--store-queue-bytes, at most {}), so it can never be taken: send \
                 it in smaller parts",
                bytes_for_people(*max_bytes)
            ),
            Self::Read(e) => write!(f, "reading the store failed: {e}"),
            Self::Closed => f.write_str("the store is closed"),
            Self::GaveUp { error, dropped } => write!(
                f,
                "the store still could not write at the stop ({error}): {} writes ({} bytes) \
                 that were never acknowledged are dropped; everything acknowledged was \
                 committed, and the next start goes on from it as after a crash",
                dropped.writes, dropped.bytes
            ),
        }
    }
}

impl std::error::Error for StoreError {}

/// Resolves when the events it was given for are acknowledged (committed).
#[derive(Debug)]
pub struct Ack {
    upto: u64,
    /// None: nothing to wait for (an ephemeral server keeps nothing).
    progress: Option<(watch::Receiver<Progress>, Arc<Waiters>)>,
}

impl Ack {
    /// The ack of an ephemeral server: there is no store to wait for.
    pub fn none() -> Ack {
        Ack {
            upto: 0,
            progress: None,
        }
    }

    /// Waits until the write is committed: `Ok` then. `Err` at once while the store fails to
    /// write (the write is still pending and is retried), or if the store closed first.
    pub async fn committed(self) -> Result<(), StoreError> {
        let upto = self.upto;
        let Some((mut progress, waiters)) = self.progress else {
            return Ok(());
        };
        let _waiting = (progress.borrow().committed < upto).then(|| waiters.wait());
        let seen = progress
            .wait_for(|p| p.committed >= upto || p.error.is_some())
            .await
            .map_err(|_| StoreError::Closed)?;
        if seen.committed >= upto {
            Ok(())
        } else {
            Err(StoreError::Write(seen.error.clone().unwrap_or_default()))
        }
    }
}

/// Whether an error's "file" is a database URL rather than a path.
fn is_url(file: &Path) -> bool {
    file.to_string_lossy().starts_with("postgres")
}

/// The store's state, for the health endpoint.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Health {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The database file (SQLite), or the database's URL without its password (PostgreSQL).
    pub file: String,
    /// False while writes fail.
    pub ok: bool,
    /// The last write error, while writes fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Writes queued and not yet committed.
    pub pending_writes: u64,
    /// The writer's queue: bytes waiting, its bound, reports replaced, writes refused.
    pub queue: QueueHealth,
    /// SQLite's `synchronous` setting (`normal` or `full`); none on PostgreSQL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synchronous: Option<&'static str>,
    /// Events and log lines committed since start.
    pub events_written: u64,
    /// Log lines committed since start.
    pub lines_written: u64,
    /// Bytes of log text on disk.
    pub log_bytes: u64,
}

/// The writer's queue, for the health endpoint.
#[derive(Clone, Debug, serde::Serialize)]
pub struct QueueHealth {
    /// Bytes of writes queued and not yet committed.
    pub bytes: u64,
    /// The bound (`--store-queue-bytes`); at it, writes are refused.
    pub max_bytes: u64,
    /// Whether writes are refused now.
    pub full: bool,
    /// Reports replaced by a newer one of the same entity while queued, since start.
    pub replaced: u64,
    /// Writes refused because the queue was full, since start.
    pub refused: u64,
}

/// A handle on the store; clones share it.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    /// The file, or the database's URL without its password.
    file: PathBuf,
    pool: AnyPool,
    /// What waits for the writer (it numbers writes, in order).
    queue: Arc<Queue>,
    /// SQLite's `synchronous` setting, as SQLite reports it.
    synchronous: Option<&'static str>,
    progress: watch::Receiver<Progress>,
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    waiters: Arc<Waiters>,
    /// The data directory's lock, held until the store is closed or dropped.
    lock: Mutex<Option<std::fs::File>>,
    /// Deployments whose logs retention removed, as they are committed (taken once).
    removed_logs: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
    /// Retention's settings, to say why a log is gone.
    retain_deployments: u32,
    max_log_bytes: u64,
    /// A follower replica's writer, started when it leads (`follow.rs`); none once running.
    deferred: Mutex<Option<follow::Deferred>>,
    /// What shows the writer's committed batches (the hub, see [`Store::show_with`]).
    stage: writer::StageSlot,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone without a close (a crash as far as the file knows).
        self.queue.hang_up();
    }
}

/// Why the store no longer keeps a deployment's log, for the page that asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removal {
    /// The reason, for machines.
    pub gone: Gone,
    /// The reason, for people: "this log is older than the 50 kept deployments of api".
    pub message: String,
}

/// The key a topic's sequence number is stored under.
pub fn topic_key(topic: &Topic) -> String {
    match topic {
        Topic::Environments => "environments".into(),
        Topic::Environment { env } => format!("environment:{env}"),
        Topic::Logs { deployment } => format!("logs:{deployment}"),
    }
}

impl Store {
    /// Opens (or creates) the store in `cfg.dir`, applies pending migrations, loads the
    /// present state and starts the writer. Errors name the file at fault.
    pub async fn open(cfg: StoreConfig) -> Result<(Store, Loaded), StoreError> {
        sqlx::any::install_default_drivers();
        let opened = match &cfg.database {
            Some(url) => open_postgres(url, &cfg.pool).await?,
            None => open_sqlite(&cfg).await?,
        };
        let Opened {
            backend,
            file,
            pool,
            mut conn,
            lock,
            synchronous,
        } = opened;
        schema::migrator(backend)
            .run(&pool)
            .await
            .map_err(|e| open_err(&file, &e))?;
        let mut loaded = load::load(&pool).await.map_err(|e| open_err(&file, &e))?;
        timeline::restore_since(&pool, &mut loaded.environments)
            .await
            .map_err(|e| open_err(&file, &e))?;
        // From now on the previous run's state is ours: a crash before the next clean close
        // must be seen as one at the next start.
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('clean_shutdown', '0') \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .execute(&mut conn)
        .await
        .map_err(|e| open_err(&file, &e))?;
        // This server shows pages only what it committed (writer.rs): after a crash of it,
        // every number a page saw is in the file.
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('numbering', $1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(load::COMMITTED_NUMBERS)
        .execute(&mut conn)
        .await
        .map_err(|e| open_err(&file, &e))?;
        if !loaded.clean && !loaded.committed_numbers {
            // An older server that crashed may have sent pages log changes the file never
            // got: its logs are numbered anew from this run's base, so an old resume point
            // gets a snapshot instead of being told "resumed" past changes it never saw.
            sqlx::query("UPDATE deployments SET log_base = $1")
                .bind(cfg.log_base as i64)
                .execute(&mut conn)
                .await
                .map_err(|e| open_err(&file, &e))?;
            for d in &mut loaded.deployments {
                d.log_base = cfg.log_base;
            }
        }
        let (removed_tx, removed_rx) = mpsc::unbounded_channel();
        let stage = writer::StageSlot::default();
        let writer = Writer::open(conn, backend, pool.clone(), &cfg, removed_tx)
            .await
            .map_err(|e| open_err(&file, &e))?
            .with_stage(stage.clone());
        let (progress_tx, progress) = watch::channel(Progress {
            log_bytes: writer.log_bytes(),
            ..Progress::default()
        });
        let queue = Queue::new(cfg.queue);
        let waiters = Arc::new(Waiters::default());
        let task = tokio::spawn(writer.run(queue.receiver(), progress_tx, waiters.clone()));
        let store = Store {
            inner: Arc::new(Inner {
                backend,
                file,
                pool,
                queue,
                synchronous,
                progress,
                writer: Mutex::new(Some(task)),
                waiters,
                lock: Mutex::new(lock),
                removed_logs: Mutex::new(Some(removed_rx)),
                retain_deployments: cfg.retain_deployments.max(1),
                max_log_bytes: cfg.max_log_bytes,
                deferred: Mutex::new(None),
                stage,
            }),
        };
        Ok((store, loaded))
    }

    /// Has the writer apply each batch to the hub through `stage` right before it writes it,
    /// and show it once committed (commit before visible; see `writer.rs`). Set once.
    pub fn show_with(&self, stage: Arc<dyn Stage>) {
        let _ = self.inner.stage.set(stage);
    }

    /// Which database the store is in.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Whether the database answers a query now (`SELECT 1` on the readers' pool), within
    /// `within`: its error, or the wait, when it does not.
    pub async fn answers(&self, within: std::time::Duration) -> Result<(), String> {
        let ask = sqlx::query("SELECT 1").execute(&self.inner.pool);
        match tokio::time::timeout(within, ask).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("the database did not answer within {within:?}")),
        }
    }

    /// The database file (or the database's URL without its password).
    pub fn file(&self) -> &Path {
        &self.inner.file
    }

    /// Queues `events` for writing, in order after every earlier call. Returns at once; the
    /// [`Ack`] resolves when they are committed.
    /// Whatever the queue holds, the write is queued: a source asks [`Store::room`] first.
    pub fn write(&self, events: Arc<[PlatformEvent]>) -> Ack {
        let committed = self.inner.progress.borrow().committed;
        // Closed: the ack waits for a write that never comes, and says the store closed.
        let upto = self.inner.queue.put(events, committed).unwrap_or(u64::MAX);
        Ack {
            upto,
            progress: Some((self.inner.progress.clone(), self.inner.waiters.clone())),
        }
    }

    /// [`Store::write`], only if the write fits whole in the queue's bound with what waits
    /// to be written, checked and queued in one step: else nothing is queued, and the error
    /// is [`StoreError::QueueFull`], or [`StoreError::TooLarge`] for a write larger than the
    /// whole bound. A source publishes this way before it applies the write to its own state.
    pub fn try_write(&self, events: Arc<[PlatformEvent]>) -> Result<Ack, StoreError> {
        let committed = self.inner.progress.borrow().committed;
        let upto = match self.inner.queue.put_if_fits(events, committed) {
            Ok(id) => id.unwrap_or(u64::MAX),
            Err(full) if full.write_bytes > full.max_bytes => {
                return Err(StoreError::TooLarge {
                    write_bytes: full.write_bytes,
                    max_bytes: full.max_bytes,
                })
            }
            Err(full) => {
                return Err(StoreError::QueueFull {
                    queued_bytes: full.queued_bytes,
                    max_bytes: full.max_bytes,
                })
            }
        };
        Ok(Ack {
            upto,
            progress: Some((self.inner.progress.clone(), self.inner.waiters.clone())),
        })
    }

    /// `Ok` while the writer's queue takes more; [`StoreError::QueueFull`] once what waits
    /// to be written (writes failing meanwhile) reaches `--store-queue-bytes`. Sources ask
    /// before they apply anything, so a refused write is not applied at all.
    pub fn room(&self) -> Result<(), StoreError> {
        let committed = self.inner.progress.borrow().committed;
        self.inner
            .queue
            .room(committed)
            .map_err(|full| StoreError::QueueFull {
                queued_bytes: full.queued_bytes,
                max_bytes: full.max_bytes,
            })
    }

    /// Waits until everything written so far is committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        // A follower publishes only what the leader committed.
        if self.is_follower() {
            return Ok(());
        }
        self.write(Arc::from(Vec::new())).committed().await
    }

    /// What the health endpoint reports.
    pub fn health(&self) -> Health {
        let p = self.inner.progress.borrow().clone();
        let sent = self.inner.queue.last_id();
        let open = !self.inner.queue.is_closed();
        let queue = self.inner.queue.state(p.committed);
        // The writer gone while the store is open (it ended on a bug): nothing is written.
        let error = match p.error {
            None if open && self.inner.progress.has_changed().is_err() => {
                Some("the store's writer stopped; nothing more is written".to_string())
            }
            e => e,
        };
        let full = queue.full;
        let error = error.or_else(|| {
            full.then(|| {
                StoreError::QueueFull {
                    queued_bytes: queue.bytes,
                    max_bytes: queue.max_bytes,
                }
                .to_string()
            })
        });
        Health {
            backend: self.inner.backend.word(),
            file: self.inner.file.display().to_string(),
            ok: error.is_none(),
            error,
            pending_writes: sent.saturating_sub(p.committed),
            queue: QueueHealth {
                bytes: queue.bytes,
                max_bytes: queue.max_bytes,
                full,
                replaced: queue.replaced,
                refused: queue.refused,
            },
            synchronous: self.inner.synchronous,
            events_written: p.events,
            lines_written: p.lines,
            log_bytes: p.log_bytes,
        }
    }

    /// Commits what is queued, then `topics` (each environment topic's sequence number and
    /// recent changes) and the mark of a clean shutdown, and stops the writer. Later writes
    /// are refused.
    pub async fn close(&self, topics: Vec<TopicMark>) -> Result<(), StoreError> {
        let (done, result) = oneshot::channel();
        if !self.inner.queue.close(Msg::Close { topics, done }) {
            return Err(StoreError::Closed);
        }
        let result = result.await.unwrap_or(Err(StoreError::Closed));
        let task = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
        // The readers' connections are returned first, unless one waits on a database that
        // does not answer (the pool's acquire timeout): a stop does not wait for that.
        let readers = self.inner.pool.close();
        if tokio::time::timeout(Duration::from_secs(1), readers)
            .await
            .is_err()
        {
            tracing::warn!("the store's readers did not finish within 1 s of the stop");
        }
        self.inner
            .lock
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        result
    }

    /// A deployment the store keeps, if it does.
    pub async fn deployment(&self, id: &str) -> Result<Option<StoredDeployment>, StoreError> {
        load::deployment(&self.inner.pool, id)
            .await
            .map_err(|e| StoreError::Read(e.to_string()))
    }

    /// A deployment's log topic as it was published: the deployment as queued, then its
    /// lines and status changes in order. None if the store does not keep it.
    pub async fn log_history(&self, id: &str) -> Result<Option<LogHistory>, StoreError> {
        load::log_history(&self.inner.pool, id)
            .await
            .map_err(|e| StoreError::Read(e.to_string()))
    }

    /// The deployments whose logs retention removes, each once its removal is committed, so
    /// memory forgets them too; the first call gets them, later ones None.
    pub fn removed_logs(&self) -> Option<mpsc::UnboundedReceiver<String>> {
        self.inner
            .removed_logs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Why a deployment's log is no longer kept, if retention removed it (the deployment
    /// past `--retain-deployments`, or its lines past the log-bytes cap); None if it is kept
    /// or the store never had it.
    pub async fn removal(&self, id: &str) -> Result<Option<Removal>, StoreError> {
        let read = |e: sqlx::Error| StoreError::Read(e.to_string());
        if let Some(d) = load::deployment(&self.inner.pool, id).await.map_err(read)? {
            return Ok(d.log_removed.then(|| Removal {
                gone: Gone::LogBytes,
                message: format!(
                    "this log was removed to keep log storage under {}",
                    bytes_for_people(self.inner.max_log_bytes)
                ),
            }));
        }
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT env_id, service_id FROM removed_deployments WHERE id = $1")
                .bind(id)
                .persistent(false)
                .fetch_optional(&self.inner.pool)
                .await
                .map_err(read)?;
        Ok(row.map(|(env, service)| {
            let n = self.inner.retain_deployments;
            let of = if service.is_empty() {
                format!("environment-wide deployments of {env}")
            } else {
                format!("deployments of {service}")
            };
            Removal {
                gone: Gone::Retention,
                message: format!("this log is older than the {n} kept {of}"),
            }
        }))
    }

    /// A page of deployment history, newest first (`store/history.rs`), once what was
    /// published so far is committed, so the page is no older than what sockets were sent.
    pub async fn history(
        &self,
        query: &history::HistoryQuery,
    ) -> Result<history::HistoryPage, StoreError> {
        self.flush().await?;
        history::page(&self.inner.pool, query)
            .await
            .map_err(|e| StoreError::Read(e.to_string()))
    }

    /// A kept deployment with the ones of its service just before and after it.
    pub async fn neighbours(&self, id: &str) -> Result<Option<history::Neighbours>, StoreError> {
        self.flush().await?;
        history::neighbours(&self.inner.pool, id)
            .await
            .map_err(|e| StoreError::Read(e.to_string()))
    }

    /// Up to `limit` lines of a deployment's log after line `after`, in order.
    pub async fn log_lines(
        &self,
        id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<LogLine>, StoreError> {
        load::log_lines(&self.inner.pool, id, after, limit)
            .await
            .map_err(|e| StoreError::Read(e.to_string()))
    }
}

/// A database opened: its pool, the connection that becomes the writer's, and the lock that
/// makes it this server's.
struct Opened {
    backend: Backend,
    file: PathBuf,
    pool: AnyPool,
    conn: sqlx::AnyConnection,
    /// The data directory's lock file (SQLite); PostgreSQL's lock lives on `conn`.
    lock: Option<std::fs::File>,
    /// SQLite's `synchronous` as read back from the writer's connection.
    synchronous: Option<&'static str>,
}

fn open_err(file: &Path, e: &dyn std::fmt::Display) -> StoreError {
    StoreError::Open {
        file: file.to_path_buf(),
        reason: e.to_string(),
    }
}

fn pool_options(limits: &PoolLimits) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .min_connections(limits.min_connections.min(limits.max_connections.max(1)))
        .max_connections(limits.max_connections.max(1))
        .acquire_timeout(limits.acquire_timeout)
        .idle_timeout(Some(limits.idle_timeout))
}

/// The data directory's file, locked for this process.
async fn open_sqlite(cfg: &StoreConfig) -> Result<Opened, StoreError> {
    std::fs::create_dir_all(&cfg.dir).map_err(|e| open_err(&cfg.dir, &e))?;
    // One server per data directory: two would each run a simulator on one platform.
    // The lock goes with the process, however it ends.
    let lock_path = cfg.dir.join(schema::LOCK_NAME);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| open_err(&lock_path, &e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(StoreError::InUse { file: lock_path });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(open_err(&lock_path, &e)),
    }
    let file = cfg.dir.join(schema::FILE_NAME);
    if file.exists() {
        // Opening would create nothing, but a file that is not ours must not be touched.
        std::fs::File::open(&file).map_err(|e| open_err(&file, &e))?;
    }
    let absolute = std::fs::canonicalize(&cfg.dir)
        .map_err(|e| open_err(&cfg.dir, &e))?
        .join(schema::FILE_NAME);
    let options: AnyConnectOptions = schema::sqlite_url(&absolute)
        .parse()
        .map_err(|e| open_err(&file, &e))?;
    let pragmas = Arc::new(schema::sqlite_pragmas(cfg.max_file_bytes, cfg.synchronous));
    // The writer's connection is its own, outside the pool's limits. It is opened first, on
    // its own, so that a file that cannot be used is named with SQLite's reason (the pool
    // would retry until its timeout and say only that).
    let mut conn = sqlx::AnyConnection::connect_with(&options)
        .await
        .map_err(|e| open_err(&file, &e))?;
    for p in pragmas.iter() {
        conn.execute(sqlx::AssertSqlSafe(p.clone()))
            .await
            .map_err(|e| open_err(&file, &e))?;
    }
    let pool = pool_options(&cfg.pool)
        .after_connect(move |conn, _| {
            let pragmas = pragmas.clone();
            Box::pin(async move {
                for p in pragmas.iter() {
                    // Statements of ours (schema.rs), not input.
                    conn.execute(sqlx::AssertSqlSafe(p.clone())).await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(|e| open_err(&file, &e))?;
    // Read back, so health says what SQLite does, not what was asked.
    let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| open_err(&file, &e))?;
    Ok(Opened {
        backend: Backend::Sqlite,
        file,
        pool,
        conn,
        lock: Some(lock),
        synchronous: Some(Synchronous::word_of_level(level)),
    })
}

/// A PostgreSQL database, locked for this server (see [`postgres_lock`]).
async fn open_postgres(url: &str, limits: &PoolLimits) -> Result<Opened, StoreError> {
    let file = PathBuf::from(redact(url));
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(open_err(
            &file,
            &"a store is `postgres://user@host:port/database` or `sqlite://PATH`",
        ));
    }
    let options: AnyConnectOptions = url.parse().map_err(|e| open_err(&file, &e))?;
    // The writer's connection first, on its own: a refused login or a missing database is
    // then named with PostgreSQL's reason rather than a pool's timeout.
    let mut conn = sqlx::AnyConnection::connect_with(&options)
        .await
        .map_err(|e| open_err(&file, &e))?;
    let pool = pool_options(limits)
        .connect_with(options)
        .await
        .map_err(|e| open_err(&file, &e))?;
    if !postgres_lock(&mut conn)
        .await
        .map_err(|e| open_err(&file, &e))?
    {
        return Err(StoreError::InUse { file });
    }
    Ok(Opened {
        backend: Backend::Postgres,
        file,
        pool,
        conn,
        lock: None,
        synchronous: None,
    })
}

/// The advisory lock's key: one server writes a PostgreSQL database, as one uses a data
/// directory (two would each run a simulator on one platform, and number sequences apart).
/// Replicas (issue 19) replace this with sequence numbers assigned in the database and a
/// lease for the simulator (docs/store.md).
const POSTGRES_LOCK_KEY: i64 = 0x5368_6970_7761_7463; // "Shipwatc"

/// Takes this server's advisory lock on `conn` (held while the session lives); false if
/// another session holds it.
pub(crate) async fn postgres_lock(conn: &mut sqlx::AnyConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(POSTGRES_LOCK_KEY)
        .fetch_one(conn)
        .await
}

/// `url` without its password, for health and messages (a password is never shown).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_string(),
    };
    // Query parameters may carry a password too.
    let tail = match tail.split_once('?') {
        Some((path, _)) => path,
        None => tail,
    };
    format!("{scheme}://{authority}{tail}")
}

/// A byte size as people read it: `2 GiB`, `512 MiB`, `1500 bytes` (exact, not rounded).
fn bytes_for_people(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{} {unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::{bytes_for_people, redact};

    #[test]
    fn urls_are_shown_without_passwords() {
        assert_eq!(
            redact("postgres://ship:s3cret@db:5432/shipwatch?sslmode=require&password=x"),
            "postgres://ship:***@db:5432/shipwatch"
        );
        assert_eq!(redact("postgres://ship@db/x"), "postgres://ship@db/x");
    }

    #[test]
    fn byte_sizes_read_as_people_write_them() {
        assert_eq!(bytes_for_people(2 << 30), "2 GiB");
        assert_eq!(bytes_for_people(512 << 20), "512 MiB");
        assert_eq!(bytes_for_people(3 << 10), "3 KiB");
        assert_eq!(bytes_for_people(1500), "1500 bytes");
    }
}
