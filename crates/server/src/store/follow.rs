//! The store of a replica that follows another (`crate::replica`): the database opened for
//! reads, the platform loaded as of one point of the change log, and no writer until the
//! replica takes the lease over ([`Store::lead`]).

use super::load::{self, Loaded};
use super::schema::{self, Backend};
use super::writer::{Progress, Writer};
use super::{open_err, pool_options, postgres_lock, redact, timeline, Store, StoreConfig};
use super::{Inner, Queue, StoreError, Waiters};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How often a replica that took the lease asks again for the writer's lock the previous
/// leader's session still holds (its process is gone once PostgreSQL sees its socket close).
const LOCK_RETRY: Duration = Duration::from_millis(200);

/// What a follower needs to start its writer when it leads.
pub(super) struct Deferred {
    cfg: StoreConfig,
    progress: watch::Sender<Progress>,
    removed: mpsc::UnboundedSender<String>,
}

impl Store {
    /// Opens a PostgreSQL store to follow the replica that writes it: the migrations, then the
    /// platform and the topics as of one point of the change log, read in one snapshot (a
    /// `REPEATABLE READ` transaction), with that point (the last change-log row it includes).
    /// Nothing is written; writes queue until [`Store::lead`].
    pub async fn open_follower(cfg: StoreConfig) -> Result<(Store, Loaded, u64), StoreError> {
        sqlx::any::install_default_drivers();
        let Some(url) = cfg.database.clone() else {
            return Err(open_err(&cfg.dir, &"replicas share a PostgreSQL store"));
        };
        let file = PathBuf::from(redact(&url));
        let options: AnyConnectOptions = url.parse().map_err(|e| open_err(&file, &e))?;
        let pool = pool_options(&cfg.pool)
            .connect_with(options.clone())
            .await
            .map_err(|e| open_err(&file, &e))?;
        schema::migrator(Backend::Postgres)
            .run(&pool)
            .await
            .map_err(|e| open_err(&file, &e))?;
        let (loaded, at) = snapshot_load(options)
            .await
            .map_err(|e| open_err(&file, &e))?;
        let (progress_tx, progress) = watch::channel(Progress::default());
        let (removed_tx, removed_rx) = mpsc::unbounded_channel();
        let store = Store {
            inner: Arc::new(Inner {
                backend: Backend::Postgres,
                file,
                pool,
                queue: Queue::new(cfg.queue),
                synchronous: None,
                progress,
                writer: Mutex::new(None),
                waiters: Arc::new(Waiters::default()),
                lock: Mutex::new(None),
                removed_logs: Mutex::new(Some(removed_rx)),
                retain_deployments: cfg.retain_deployments.max(1),
                max_log_bytes: cfg.max_log_bytes,
                deferred: Mutex::new(Some(Deferred {
                    cfg,
                    progress: progress_tx,
                    removed: removed_tx,
                })),
                stage: Default::default(),
            }),
        };
        Ok((store, loaded, at))
    }

    /// Whether this store follows another replica's writes (it has no writer yet).
    pub fn is_follower(&self) -> bool {
        self.deferred().is_some()
    }

    fn deferred(&self) -> std::sync::MutexGuard<'_, Option<Deferred>> {
        self.inner
            .deferred
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The pool reads share (the lease and the change log are read through it).
    pub fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// Makes this follower's store the one that writes: waits for the writer's lock (held by
    /// the previous leader's session until PostgreSQL sees it gone, so two writers never
    /// overlap), runs `caught_up` (the follower applies the last rows the previous leader
    /// committed), then starts the writer, its books read from the database as they are now.
    pub async fn lead<F>(&self, caught_up: F) -> Result<(), StoreError>
    where
        F: Future<Output = ()>,
    {
        if !self.is_follower() {
            return Ok(());
        }
        let write = |e: sqlx::Error| StoreError::Write(e.to_string());
        let mut conn = loop {
            let mut conn = self.inner.pool.acquire().await.map_err(write)?.detach();
            if postgres_lock(&mut conn).await.map_err(write)? {
                break conn;
            }
            Store::fence_writer(&self.inner.pool).await.map_err(write)?;
            tokio::time::sleep(LOCK_RETRY).await;
        };
        caught_up.await;
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('clean_shutdown', '0') \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .execute(&mut conn)
        .await
        .map_err(write)?;
        let Some(deferred) = self.deferred().take() else {
            return Ok(());
        };
        let writer = Writer::open(
            conn,
            Backend::Postgres,
            self.inner.pool.clone(),
            &deferred.cfg,
            deferred.removed,
        )
        .await
        .map_err(write)?
        .with_stage(self.inner.stage.clone());
        let bytes = writer.log_bytes();
        deferred.progress.send_modify(|p| p.log_bytes = bytes);
        let task = tokio::spawn(writer.run(
            self.inner.queue.receiver(),
            deferred.progress,
            self.inner.waiters.clone(),
        ));
        *self.inner.writer.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        Ok(())
    }

    /// Ends the database session of a previous leader's writer that still holds the writer's
    /// lock: this replica holds the lease, so that one's has expired. A process that died with
    /// its machine leaves its session open until PostgreSQL's keepalive notices (hours by
    /// default); a paused one would write when it wakes. Its next renewal then fails, and it
    /// stops. Returns the sessions ended.
    pub async fn fence_writer(pool: &AnyPool) -> Result<u64, sqlx::Error> {
        let key = super::POSTGRES_LOCK_KEY;
        let ended: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' \
             AND granted AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1 \
             AND pid <> pg_backend_pid()",
        )
        .bind((key >> 32) & 0xffff_ffff)
        .bind(key & 0xffff_ffff)
        .fetch_all(pool)
        .await?;
        let ended = ended.into_iter().filter(|e| *e).count() as u64;
        if ended > 0 {
            tracing::warn!(
                sessions = ended,
                "ended the previous leader's writer session, which still held the lock"
            );
        }
        Ok(ended)
    }

    /// The environments as stored now (each status's "since" with them), with the last number
    /// the change log gave each environment topic (and the list), read in one snapshot: a
    /// follower opens from them the topics the leader built at its start, which no `open` row
    /// announces.
    pub async fn snapshot_environments(
        &self,
    ) -> Result<
        (
            Vec<shipwatch_model::Environment>,
            std::collections::HashMap<String, u64>,
        ),
        StoreError,
    > {
        let read = |e: sqlx::Error| StoreError::Read(e.to_string());
        let options = (*self.inner.pool.connect_options()).clone();
        let snapshot = snapshot_pool(options).await.map_err(read)?;
        let numbers: Vec<(String, i64)> = sqlx::query_as(
            "SELECT topic, MAX(seq) FROM change_log WHERE topic = 'environments' \
             OR topic LIKE 'environment:%' GROUP BY topic",
        )
        .fetch_all(&snapshot)
        .await
        .map_err(read)?;
        let mut loaded = load::load(&snapshot).await.map_err(read)?;
        timeline::restore_since(&snapshot, &mut loaded.environments)
            .await
            .map_err(read)?;
        snapshot.close().await;
        Ok((
            loaded.environments,
            numbers
                .into_iter()
                .map(|(topic, seq)| (topic, seq.max(0) as u64))
                .collect(),
        ))
    }

    /// The platform as the store holds it now (a follower taking over reads what the previous
    /// leader left).
    pub async fn reload(&self) -> Result<Loaded, StoreError> {
        let read = |e: sqlx::Error| StoreError::Read(e.to_string());
        let mut loaded = load::load(&self.inner.pool).await.map_err(read)?;
        timeline::restore_since(&self.inner.pool, &mut loaded.environments)
            .await
            .map_err(read)?;
        Ok(loaded)
    }
}

/// The platform and the last change-log row, read in one `REPEATABLE READ` transaction: a
/// pool of one connection that opens the transaction as it connects, so every query of the
/// load reads the same snapshot. The transaction ends with the connection.
async fn snapshot_load(options: AnyConnectOptions) -> Result<(Loaded, u64), sqlx::Error> {
    let snapshot = snapshot_pool(options).await?;
    let at: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM change_log")
        .fetch_one(&snapshot)
        .await?;
    let mut loaded = load::load(&snapshot).await?;
    timeline::restore_since(&snapshot, &mut loaded.environments).await?;
    snapshot.close().await;
    Ok((loaded, at.max(0) as u64))
}

/// A pool of one connection that opens a `REPEATABLE READ` transaction as it connects: every
/// query through it reads the same snapshot, until it is closed.
async fn snapshot_pool(options: AnyConnectOptions) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .min_connections(0)
        .max_connections(1)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
}
