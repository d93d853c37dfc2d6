//! The writer task: the only connection that writes. It takes everything queued while its
//! previous commit ran as one transaction (so the cost of a commit is shared by thousands of
//! events at high rates, and an event waits for at most one commit at low ones), keeps
//! retention in the same transaction, and publishes how far it has committed.
//!
//! **Commit before visible.** Right before it writes a batch, the writer has the hub apply it
//! ([`Stage`]: numbers assigned, nothing shown), writes the change log's rows (migration
//! 0007) with the batch's rows in the same transaction, commits, and only then has the hub
//! announce it. So every number a page is shown is stored, and a restart (or a replica) goes
//! on from the change log. Between commits nothing is staged; while writes fail, the staged
//! batch waits, with its numbers, and nothing after it is applied.

use super::load::{word, TopicMark};
use super::schema::Backend;
use super::statement::QueryBuilder;
use super::{StoreConfig, StoreError};
use crate::hub::{ChangeKind, ChangeRow, Staged};
use crate::platform::PlatformEvent;
use shipwatch_model::protocol::{Topic, RESUME_BACKLOG};
use shipwatch_model::{Deployment, Instance, LogLevel, LogLine, Service};
use sqlx::Any;
use sqlx::{AnyConnection, AnyPool};
use sqlx::{Connection, Row};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch, Notify};

/// Facts (events, log lines) gathered into one transaction at most.
const MAX_BATCH_WEIGHT: usize = 50_000;
/// Log lines per multi-row insert (7 parameters each, far below SQLite's limit).
const LINE_ROWS: usize = 256;
/// Services per multi-row statement (7 parameters each).
const SERVICE_ROWS: usize = 128;
/// Instances per multi-row insert (10 parameters each).
const INSTANCE_ROWS: usize = 256;
/// Change-log rows per multi-row insert (6 parameters each).
const CHANGE_ROWS: usize = 256;
/// A topic's changes past the resume backlog are deleted each time its numbers pass a multiple
/// of this, not at every commit: a statement per topic per commit would cost more than the
/// rows it deletes.
const TRIM_EVERY: u64 = 512;
/// Wait before retrying a failed write.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long the writer gathers events before a commit while nobody waits for one: a service
/// reported several times meanwhile is written once. Pages see a change only once it is
/// committed, so this is most of what they wait for a change nobody awaits (the simulator's);
/// an [`super::Ack`] being awaited (an action's answer, a push, a log download) ends the wait
/// at once.
const LINGER: Duration = Duration::from_millis(25);
/// Attempts at the final write when closing (a full disk must not hold shutdown for ever).
const CLOSE_ATTEMPTS: u32 = 3;

/// What the writer is sent.
pub(super) enum Msg {
    /// Events to write; `id` counts writes from 1, in queue order.
    Events {
        id: u64,
        events: Arc<[PlatformEvent]>,
    },
    /// Write what is queued, then the topics and the clean-shutdown mark, and stop.
    Close {
        topics: Vec<TopicMark>,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// A close asked for: the topics to record, and who waits for the result.
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

/// Who waits for a commit: while anyone does, the writer does not linger.
#[derive(Debug, Default)]
pub(super) struct Waiters {
    count: AtomicUsize,
    arrived: Notify,
}

impl Waiters {
    /// Counts a waiter until the guard drops, and wakes a lingering writer.
    pub(super) fn wait(self: &Arc<Self>) -> WaitGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.arrived.notify_one();
        WaitGuard(self.clone())
    }

    fn any(&self) -> bool {
        self.count.load(Ordering::SeqCst) > 0
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

/// What the writer knows of each deployment, to number history, count log bytes and apply
/// retention without asking the database.
#[derive(Clone, Debug)]
struct Dep {
    env: String,
    service: String,
    ordinal: u64,
    lines: u64,
    bytes: u64,
    next_k: u64,
}

#[derive(Default)]
struct Books {
    deps: HashMap<String, Dep>,
    /// Deployments of each (environment, service), by creation order.
    by_service: HashMap<(String, String), BTreeSet<(u64, String)>>,
    /// Deployments whose log holds bytes, oldest first.
    with_bytes: BTreeSet<(u64, String)>,
    total_bytes: u64,
    next_ordinal: u64,
    /// Position of every stored service in its environment, and the next free one.
    service_positions: HashMap<(String, String), i64>,
    next_service_position: HashMap<String, i64>,
    /// Deployments whose logs the write in progress removes (retention), told once committed.
    logs_removed: Vec<String>,
    /// The change log's next row id (commit order).
    next_change_id: i64,
}

impl Books {
    async fn load(conn: &mut AnyConnection) -> Result<Books, sqlx::Error> {
        let mut books = Books::default();
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM change_log")
            .fetch_one(&mut *conn)
            .await?;
        books.next_change_id = last.unwrap_or(0) + 1;
        for row in sqlx::query("SELECT env_id, id, position FROM services")
            .fetch_all(&mut *conn)
            .await?
        {
            let env: String = row.try_get("env_id")?;
            let position: i64 = row.try_get("position")?;
            let next = books.next_service_position.entry(env.clone()).or_insert(0);
            *next = (*next).max(position + 1);
            books
                .service_positions
                .insert((env, row.try_get("id")?), position);
        }
        let ks: HashMap<String, i64> = sqlx::query(
            "SELECT deployment_id, MAX(k) + 1 AS next_k FROM deployment_history \
             GROUP BY deployment_id",
        )
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("deployment_id")?, r.try_get("next_k")?)))
        .collect::<Result<_, sqlx::Error>>()?;
        for row in sqlx::query(
            "SELECT id, env_id, service_id, ordinal, log_lines, log_bytes FROM deployments",
        )
        .fetch_all(&mut *conn)
        .await?
        {
            let id: String = row.try_get("id")?;
            let dep = Dep {
                env: row.try_get("env_id")?,
                service: row.try_get("service_id")?,
                ordinal: row.try_get::<i64, _>("ordinal")?.max(0) as u64,
                lines: row.try_get::<i64, _>("log_lines")?.max(0) as u64,
                bytes: row.try_get::<i64, _>("log_bytes")?.max(0) as u64,
                next_k: ks.get(&id).copied().unwrap_or(0).max(0) as u64,
            };
            books.add(id, dep);
        }
        Ok(books)
    }

    fn add(&mut self, id: String, dep: Dep) {
        self.next_ordinal = self.next_ordinal.max(dep.ordinal + 1);
        self.total_bytes += dep.bytes;
        if dep.bytes > 0 {
            self.with_bytes.insert((dep.ordinal, id.clone()));
        }
        self.by_service
            .entry((dep.env.clone(), dep.service.clone()))
            .or_default()
            .insert((dep.ordinal, id.clone()));
        self.deps.insert(id, dep);
    }

    /// The position of a service in its environment (a new one goes last).
    fn service_position(&mut self, env: &str, service: &str) -> i64 {
        let key = (env.to_string(), service.to_string());
        if let Some(p) = self.service_positions.get(&key) {
            return *p;
        }
        let next = self.next_service_position.entry(key.0.clone()).or_insert(0);
        let p = *next;
        *next += 1;
        self.service_positions.insert(key, p);
        p
    }

    fn remove(&mut self, id: &str) -> Option<Dep> {
        let dep = self.deps.remove(id)?;
        self.total_bytes -= dep.bytes.min(self.total_bytes);
        self.with_bytes.remove(&(dep.ordinal, id.to_string()));
        let key = (dep.env.clone(), dep.service.clone());
        if let Some(set) = self.by_service.get_mut(&key) {
            set.remove(&(dep.ordinal, id.to_string()));
            if set.is_empty() {
                self.by_service.remove(&key);
            }
        }
        Some(dep)
    }
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

    /// Runs until closed (or every handle is dropped).
    pub(super) async fn run(
        mut self,
        mut rx: super::queue::Receiver,
        progress: watch::Sender<Progress>,
        waiters: Arc<Waiters>,
    ) {
        let mut pending: Vec<Arc<[PlatformEvent]>> = Vec::new();
        // `pending` applied to the hub: its numbers are taken, so it is written as it is
        // (nothing joins it) until it commits and is shown.
        let mut staged: Option<(Staged, Arc<dyn Stage>)> = None;
        let mut upto = 0;
        let mut close: Option<Closing> = None;
        let mut failures = 0u32;
        loop {
            if pending.is_empty() && close.is_none() {
                match rx.recv().await {
                    Some(msg) => take(msg, &mut pending, &mut upto, &mut close),
                    None => break,
                }
                if failures == 0 && close.is_none() && !waiters.any() {
                    tokio::select! {
                        _ = tokio::time::sleep(LINGER) => {}
                        _ = waiters.arrived.notified() => {}
                    }
                }
            }
            let mut weight: usize = pending
                .iter()
                .flat_map(|b| b.iter())
                .map(|e| e.weight())
                .sum();
            while weight < MAX_BATCH_WEIGHT && close.is_none() && staged.is_none() {
                match rx.try_recv() {
                    Ok(msg) => {
                        if let Msg::Events { events, .. } = &msg {
                            weight += events.iter().map(|e| e.weight()).sum::<usize>();
                        }
                        take(msg, &mut pending, &mut upto, &mut close);
                    }
                    Err(_) => break,
                }
            }
            if staged.is_none() && weight > 0 {
                if let Some(stage) = self.stage.get() {
                    let mut events = pending.iter().flat_map(|b| b.iter());
                    staged = Some((stage.stage(&mut events), stage.clone()));
                }
            }
            let result = if weight == 0 {
                Ok((0, 0))
            } else {
                let rows = staged.as_ref().map_or(&[][..], |(s, _)| &s.rows[..]);
                self.write(&pending, rows).await
            };
            match result {
                Ok((events, lines)) => {
                    failures = 0;
                    pending.clear();
                    // Shown before it is acknowledged: a source told "stored" finds it on
                    // the pages.
                    if let Some((batch, stage)) = staged.take() {
                        stage.show(batch);
                    }
                    for id in self.books.logs_removed.drain(..) {
                        let _ = self.removed_logs.send(id);
                    }
                    let bytes = self.books.total_bytes;
                    progress.send_modify(|p| {
                        p.committed = upto;
                        p.error = None;
                        p.events += events;
                        p.lines += lines;
                        p.log_bytes = bytes;
                    });
                }
                Err(e) => {
                    failures += 1;
                    let msg = e.to_string();
                    tracing::error!(error = %msg, attempt = failures, "store write failed; retrying");
                    progress.send_modify(|p| p.error = Some(msg.clone()));
                    // The transaction rolled back: what the writer knew may be ahead of the
                    // database. It is read again before the retry, on a new connection if
                    // this one is gone (PostgreSQL restarted, the network cut).
                    self.books_stale = true;
                    self.reconnect().await;
                    // A stop does not wait for ever on a store that cannot write: the close
                    // may still be queued behind writes a staged batch keeps the writer from
                    // taking, so the queue is asked too. What is not committed was never
                    // acknowledged, and is dropped.
                    let stopping = close.is_some() || rx.stopping();
                    if stopping && failures >= CLOSE_ATTEMPTS {
                        let committed = progress.borrow().committed;
                        let (queued, dropped) = rx.abandon(committed);
                        let done = close.take().map(|(_, done)| done).or(match queued {
                            Some(Msg::Close { done, .. }) => Some(done),
                            _ => None,
                        });
                        tracing::error!(
                            error = %msg,
                            writes = dropped.writes,
                            bytes = dropped.bytes,
                            "the store cannot write at the stop: giving up what was never acknowledged"
                        );
                        if let Some(done) = done {
                            let _ = done.send(Err(StoreError::GaveUp {
                                error: msg,
                                dropped,
                            }));
                        }
                        return;
                    }
                    // A stop asked meanwhile is tried at once, not a second later.
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY_AFTER) => {}
                        _ = rx.stop_asked(), if !stopping => {}
                    }
                    continue;
                }
            }
            if let Some((topics, done)) = close.take() {
                let result = self
                    .close(&topics)
                    .await
                    .map_err(|e| StoreError::Write(e.to_string()));
                let _ = done.send(result);
                return;
            }
        }
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

    /// Writes the events of `batch` and the change log's `rows` of it in one transaction;
    /// returns the facts and lines written.
    async fn write(
        &mut self,
        batch: &[Arc<[PlatformEvent]>],
        rows: &[ChangeRow],
    ) -> Result<(u64, u64), sqlx::Error> {
        if self.books_stale {
            self.books = Books::load(&mut self.conn).await?;
            self.books_stale = false;
        }
        let events = coalesce(batch);
        self.books.logs_removed.clear();
        let mut tx = self.conn.begin().await?;
        let books = &mut self.books;
        // A new service takes its place by its first report, whichever report of it the
        // batch keeps (the order of appearance is the order pages list services in).
        for ev in batch.iter().flat_map(|b| b.iter()) {
            if let PlatformEvent::ServiceChanged { env, service } = ev {
                books.service_position(env, &service.id);
            }
        }
        let mut lines: Vec<(&str, &LogLine)> = Vec::new();
        let mut counted: HashSet<&str> = HashSet::new();
        let mut new_deployments: HashSet<(String, String)> = HashSet::new();
        let mut facts = 0u64;
        // Whole services are written together, many rows a statement; any other event that
        // touches services or environments writes them first, to keep the order.
        let mut services: Vec<(&str, &Service)> = Vec::new();
        for ev in &events {
            facts += ev.weight() as u64;
            let touches_services = matches!(
                ev,
                PlatformEvent::EnvironmentChanged { .. }
                    | PlatformEvent::EnvironmentRemoved { .. }
                    | PlatformEvent::ServiceRemoved { .. }
                    | PlatformEvent::InstanceChanged { .. }
                    | PlatformEvent::InstanceRemoved { .. }
            );
            if touches_services && !services.is_empty() {
                write_services(&mut tx, books, &services).await?;
                services.clear();
            }
            match ev {
                PlatformEvent::EnvironmentChanged { id, name } => {
                    sqlx::query(
                        "INSERT INTO environments (id, name, position) VALUES ($1, $2, \
                         (SELECT COALESCE(MAX(position) + 1, 0) FROM environments)) \
                         ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                    )
                    .bind(id)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                }
                PlatformEvent::EnvironmentRemoved { id } => {
                    let gone: Vec<String> = books
                        .deps
                        .iter()
                        .filter(|(_, d)| d.env == *id)
                        .map(|(k, _)| k.clone())
                        .collect();
                    for dep in gone {
                        delete_deployment(&mut tx, books, &dep).await?;
                    }
                    books.service_positions.retain(|(e, _), _| e != id);
                    books.next_service_position.remove(id);
                    for sql in [
                        "DELETE FROM instances WHERE env_id = $1",
                        "DELETE FROM services WHERE env_id = $1",
                        "DELETE FROM environments WHERE id = $1",
                    ] {
                        sqlx::query(sql).bind(id).execute(&mut *tx).await?;
                    }
                }
                PlatformEvent::ServiceChanged { env, service } => {
                    services.push((env, service));
                }
                PlatformEvent::ServiceRemoved { env, service } => {
                    let gone: Vec<String> = books
                        .by_service
                        .get(&(env.clone(), service.clone()))
                        .map(|s| s.iter().map(|(_, id)| id.clone()).collect())
                        .unwrap_or_default();
                    for dep in gone {
                        delete_deployment(&mut tx, books, &dep).await?;
                    }
                    books
                        .service_positions
                        .remove(&(env.clone(), service.clone()));
                    for sql in [
                        "DELETE FROM instances WHERE env_id = $1 AND service_id = $2",
                        "DELETE FROM services WHERE env_id = $1 AND id = $2",
                    ] {
                        sqlx::query(sql)
                            .bind(env)
                            .bind(service)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                PlatformEvent::InstanceChanged {
                    env,
                    service,
                    instance,
                    exit_code,
                } => {
                    upsert_instance(&mut tx, env, service, instance, *exit_code).await?;
                }
                PlatformEvent::InstanceRemoved { env, service, name } => {
                    sqlx::query(
                        "DELETE FROM instances WHERE env_id = $1 AND service_id = $2 AND name = $3",
                    )
                    .bind(env)
                    .bind(service)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                }
                PlatformEvent::DeploymentQueued {
                    env,
                    service,
                    deployment,
                } => {
                    let svc = service.clone().unwrap_or_default();
                    if !books.deps.contains_key(&deployment.id) {
                        let ordinal = books.next_ordinal;
                        books.add(
                            deployment.id.clone(),
                            Dep {
                                env: env.clone(),
                                service: svc.clone(),
                                ordinal,
                                lines: 0,
                                bytes: 0,
                                next_k: 0,
                            },
                        );
                        new_deployments.insert((env.clone(), svc.clone()));
                    }
                    let ordinal = books.deps.get(&deployment.id).map_or(0, |d| d.ordinal);
                    sqlx::query(
                        "INSERT INTO deployments (id, env_id, service_id, ordinal, status, \
                         version, previous_version, started_at, finished_at, log_base, \
                         triggered_by, url) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                         ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
                         version = excluded.version, previous_version = excluded.previous_version, \
                         started_at = excluded.started_at, finished_at = excluded.finished_at, \
                         triggered_by = excluded.triggered_by, url = excluded.url",
                    )
                    .bind(&deployment.id)
                    .bind(env)
                    .bind(&svc)
                    .bind(ordinal as i64)
                    .bind(word(&deployment.status))
                    .bind(&deployment.version)
                    .bind(&deployment.previous_version)
                    .bind(deployment.started_at as i64)
                    .bind(deployment.finished_at.map(|t| t as i64))
                    .bind(self.log_base as i64)
                    .bind(&deployment.triggered_by)
                    .bind(&deployment.url)
                    .execute(&mut *tx)
                    .await?;
                    history(&mut tx, books, deployment, deployment.started_at).await?;
                    if service.is_none() {
                        env_deployment(&mut tx, env, deployment).await?;
                    }
                }
                PlatformEvent::DeploymentStage {
                    deployment,
                    stage,
                    at,
                } => {
                    if books.deps.contains_key(deployment) {
                        sqlx::query("UPDATE deployments SET stage = $2 WHERE id = $1")
                            .bind(deployment)
                            .bind(stage)
                            .execute(&mut *tx)
                            .await?;
                        stage_history(&mut tx, books, deployment, stage, *at).await?;
                    }
                }
                PlatformEvent::DeploymentStatus { deployment } => {
                    if books.deps.contains_key(&deployment.id) {
                        sqlx::query(
                            "UPDATE deployments SET status = $2, finished_at = $3 WHERE id = $1",
                        )
                        .bind(&deployment.id)
                        .bind(word(&deployment.status))
                        .bind(deployment.finished_at.map(|t| t as i64))
                        .execute(&mut *tx)
                        .await?;
                        let at = deployment.finished_at.unwrap_or_else(now_millis);
                        history(&mut tx, books, deployment, at).await?;
                        let env_wide = books
                            .deps
                            .get(&deployment.id)
                            .filter(|d| d.service.is_empty())
                            .map(|d| d.env.clone());
                        if let Some(env) = env_wide {
                            env_deployment(&mut tx, &env, deployment).await?;
                        }
                    }
                }
                PlatformEvent::LogAppended {
                    deployment,
                    lines: new,
                } => {
                    let Some(dep) = books.deps.get_mut(deployment) else {
                        tracing::warn!(deployment, "log lines for an unknown deployment dropped");
                        continue;
                    };
                    let mut added = 0;
                    for line in new {
                        // A line number already seen is a resend: stored once, counted once.
                        if line.n > dep.lines {
                            dep.lines = line.n;
                            added += line_bytes(line);
                        }
                        lines.push((deployment.as_str(), line));
                    }
                    dep.bytes += added;
                    let key = (dep.ordinal, deployment.clone());
                    books.total_bytes += added;
                    if added > 0 {
                        books.with_bytes.insert(key);
                    }
                    counted.insert(deployment.as_str());
                }
            }
        }
        write_services(&mut tx, books, &services).await?;
        let line_count = lines.len() as u64;
        insert_lines(&mut tx, &lines).await?;
        for id in counted {
            let Some(dep) = books.deps.get(id) else {
                continue;
            };
            sqlx::query("UPDATE deployments SET log_lines = $2, log_bytes = $3 WHERE id = $1")
                .bind(id)
                .bind(dep.lines as i64)
                .bind(dep.bytes as i64)
                .execute(&mut *tx)
                .await?;
        }
        for key in new_deployments {
            loop {
                let oldest = match books.by_service.get(&key) {
                    Some(set) if set.len() > self.retain => set.first().map(|(_, id)| id.clone()),
                    _ => None,
                };
                let Some(id) = oldest else { break };
                delete_deployment(&mut tx, books, &id).await?;
            }
        }
        while books.total_bytes > self.max_log_bytes {
            let Some((_, id)) = books.with_bytes.first().cloned() else {
                break;
            };
            remove_log(&mut tx, books, &id).await?;
        }
        if !books.logs_removed.is_empty() {
            super::retention_trim::forget_oldest_removed(&mut tx, self.keep_removed).await?;
        }
        write_change_log(&mut tx, books, rows).await?;
        if self.backend == Backend::Postgres && !rows.is_empty() {
            // Delivered at commit, only if it commits: followers read the rows past theirs.
            sqlx::query("SELECT pg_notify('shipwatch_changes', $1)")
                .bind((books.next_change_id - 1).to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok((facts, line_count))
    }

    /// The final transaction of a clean shutdown.
    async fn close(&mut self, topics: &[TopicMark]) -> Result<(), sqlx::Error> {
        let mut tx = self.conn.begin().await?;
        sqlx::query("DELETE FROM topic_changes")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM topics").execute(&mut *tx).await?;
        for t in topics {
            sqlx::query("INSERT INTO topics (topic, seq) VALUES ($1, $2)")
                .bind(&t.topic)
                .bind(t.seq as i64)
                .execute(&mut *tx)
                .await?;
            for c in &t.changes {
                sqlx::query(
                    "INSERT INTO topic_changes (topic, seq, json, compact) VALUES ($1, $2, $3, $4)",
                )
                .bind(&t.topic)
                .bind(c.seq as i64)
                .bind(&c.json)
                .bind(&c.compact)
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query("UPDATE meta SET value = '1' WHERE key = 'clean_shutdown'")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if self.backend == Backend::Sqlite {
            // Fold the WAL into the file, so the data directory is one file at rest.
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut self.conn)
                .await?;
        }
        Ok(())
    }
}

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

/// The batch's events in order, without those a later event of the batch makes moot: a
/// service reported whole (or removed) replaces every earlier report of it and its instances.
fn coalesce(batch: &[Arc<[PlatformEvent]>]) -> Vec<&PlatformEvent> {
    let all: Vec<&PlatformEvent> = batch.iter().flat_map(|b| b.iter()).collect();
    let mut replaced: HashSet<(&str, &str)> = HashSet::new();
    let mut keep = vec![true; all.len()];
    for (i, ev) in all.iter().enumerate().rev() {
        match ev {
            PlatformEvent::ServiceChanged { env, service } => {
                keep[i] = replaced.insert((env, &service.id));
            }
            PlatformEvent::ServiceRemoved { env, service } => {
                keep[i] = replaced.insert((env, service));
            }
            PlatformEvent::InstanceChanged { env, service, .. }
            | PlatformEvent::InstanceRemoved { env, service, .. } => {
                keep[i] = !replaced.contains(&(env.as_str(), service.as_str()));
            }
            _ => {}
        }
    }
    all.into_iter()
        .zip(keep)
        .filter_map(|(e, k)| k.then_some(e))
        .collect()
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Bytes a line counts for against the log-bytes cap: its text, stage and hint, and the
/// numbers around them.
fn line_bytes(line: &LogLine) -> u64 {
    (line.text.len() + line.stage.len() + line.hint.as_ref().map_or(0, String::len) + 24) as u64
}

/// A level's wire word, without serde: it is asked for every line.
fn level_word(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Info => "info",
        LogLevel::Warning => "warning",
        LogLevel::Error => "error",
        LogLevel::Unknown => "unknown",
    }
}

pub(super) type Tx<'a> = sqlx::Transaction<'a, Any>;

/// Writes whole services (each at most once): their rows, then their instances replaced.
async fn write_services(
    tx: &mut Tx<'_>,
    books: &mut Books,
    services: &[(&str, &Service)],
) -> Result<(), sqlx::Error> {
    for chunk in pow2_chunks(services, SERVICE_ROWS) {
        let mut q: QueryBuilder = QueryBuilder::new(
            Backend::of_connection(tx),
            "INSERT INTO services (env_id, id, position, name, kind, version, deployment) ",
        );
        q.push_values(chunk, |mut row, (env, svc)| {
            let deployment = svc
                .deployment
                .as_ref()
                .map(|d| serde_json::to_string(d).unwrap_or_default());
            row.push_bind(env.to_string())
                .push_bind(svc.id.clone())
                .push_bind(books.service_position(env, &svc.id))
                .push_bind(svc.name.clone())
                .push_bind(word(&svc.kind))
                .push_bind(svc.version.clone())
                .push_bind(deployment);
        });
        q.push(
            " ON CONFLICT (env_id, id) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
             version = excluded.version, deployment = excluded.deployment",
        );
        q.build().execute(&mut **tx).await?;
        let mut q: QueryBuilder = QueryBuilder::new(
            Backend::of_connection(tx),
            "DELETE FROM instances WHERE (env_id, service_id) IN (VALUES ",
        );
        let mut list = q.separated(", ");
        for (env, svc) in chunk {
            list.push("(")
                .push_bind_unseparated(env.to_string())
                .push_unseparated(", ")
                .push_bind_unseparated(svc.id.clone())
                .push_unseparated(")");
        }
        q.push(")");
        q.build().execute(&mut **tx).await?;
        let instances: Vec<(&str, &str, usize, &Instance)> = chunk
            .iter()
            .flat_map(|(env, svc)| {
                svc.instances
                    .iter()
                    .enumerate()
                    .map(move |(k, i)| (*env, svc.id.as_str(), k, i))
            })
            .collect();
        for part in pow2_chunks(&instances, INSTANCE_ROWS) {
            let mut q: QueryBuilder = QueryBuilder::new(
                Backend::of_connection(tx),
                "INSERT INTO instances (env_id, service_id, name, position, status, version, \
                 restarts, reason, message, started_at, exit_code, details) ",
            );
            q.push_values(part, |mut row, (env, svc, k, i)| {
                row.push_bind(env.to_string())
                    .push_bind(svc.to_string())
                    .push_bind(i.name.clone())
                    .push_bind(*k as i64)
                    .push_bind(word(&i.status))
                    .push_bind(i.version.clone())
                    .push_bind(i64::from(i.restarts))
                    .push_bind(i.reason.clone())
                    .push_bind(i.message.clone())
                    .push_bind(i.started_at.map(|t| t as i64))
                    .push_bind(i.last_termination.as_ref().and_then(|t| t.exit_code))
                    .push_bind(super::instance_details::column(i));
            });
            // Two instances of one name in a report: the first stands.
            q.push(" ON CONFLICT (env_id, service_id, name) DO NOTHING");
            q.build().execute(&mut **tx).await?;
        }
    }
    Ok(())
}

/// `items` in chunks of `max`, then of decreasing powers of two: every statement built from a
/// chunk has one of a few shapes, each prepared once and cached.
fn pow2_chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = if rest.len() >= max {
            max
        } else {
            1 << rest.len().ilog2()
        };
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

async fn upsert_instance(
    tx: &mut Tx<'_>,
    env: &str,
    service: &str,
    i: &Instance,
    exit_code: Option<i32>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO instances (env_id, service_id, name, position, status, version, restarts, \
         reason, message, exit_code, started_at, details) VALUES ($1, $2, $3, \
         (SELECT COALESCE(MAX(position) + 1, 0) FROM instances WHERE env_id = $1 AND service_id = $2), \
         $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (env_id, service_id, name) DO UPDATE SET \
         status = excluded.status, version = excluded.version, restarts = excluded.restarts, \
         reason = excluded.reason, message = excluded.message, exit_code = excluded.exit_code, \
         started_at = excluded.started_at, details = excluded.details",
    )
    .bind(env)
    .bind(service)
    .bind(&i.name)
    .bind(word(&i.status))
    .bind(&i.version)
    .bind(i64::from(i.restarts))
    .bind(&i.reason)
    .bind(&i.message)
    .bind(exit_code.or(i.last_termination.as_ref().and_then(|t| t.exit_code)))
    .bind(i.started_at.map(|t| t as i64))
    .bind(super::instance_details::column(i))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An environment-wide deployment as its environment's last one.
async fn env_deployment(tx: &mut Tx<'_>, env: &str, d: &Deployment) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE environments SET deployment = $2 WHERE id = $1")
        .bind(env)
        .bind(serde_json::to_string(d).unwrap_or_default())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records a status of a deployment in its history, after the lines written so far.
async fn history(
    tx: &mut Tx<'_>,
    books: &mut Books,
    d: &Deployment,
    at: u64,
) -> Result<(), sqlx::Error> {
    let Some(dep) = books.deps.get_mut(&d.id) else {
        return Ok(());
    };
    let k = dep.next_k;
    dep.next_k += 1;
    sqlx::query(
        "INSERT INTO deployment_history (deployment_id, k, at, status, finished_at, after_line) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&d.id)
    .bind(k as i64)
    .bind(at as i64)
    .bind(word(&d.status))
    .bind(d.finished_at.map(|t| t as i64))
    .bind(dep.lines as i64)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records a stage of a deployment in its history.
async fn stage_history(
    tx: &mut Tx<'_>,
    books: &mut Books,
    id: &str,
    stage: &str,
    at: u64,
) -> Result<(), sqlx::Error> {
    let Some(dep) = books.deps.get_mut(id) else {
        return Ok(());
    };
    let k = dep.next_k;
    dep.next_k += 1;
    sqlx::query(
        "INSERT INTO deployment_history (deployment_id, k, at, stage, after_line) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(k as i64)
    .bind(at as i64)
    .bind(stage)
    .bind(dep.lines as i64)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_lines(tx: &mut Tx<'_>, lines: &[(&str, &LogLine)]) -> Result<(), sqlx::Error> {
    for chunk in pow2_chunks(lines, LINE_ROWS) {
        let mut q: QueryBuilder = QueryBuilder::new(
            Backend::of_connection(tx),
            "INSERT INTO log_lines (deployment_id, n, ts, stage, level, text, hint) ",
        );
        q.push_values(chunk, |mut row, (dep, line)| {
            row.push_bind(dep.to_string())
                .push_bind(line.n as i64)
                .push_bind(line.ts as i64)
                .push_bind(line.stage.clone())
                .push_bind(level_word(line.level))
                .push_bind(line.text.clone())
                .push_bind(line.hint.clone());
        });
        q.push(" ON CONFLICT (deployment_id, n) DO NOTHING");
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Removes a deployment with its history and log (retention).
async fn delete_deployment(
    tx: &mut Tx<'_>,
    books: &mut Books,
    id: &str,
) -> Result<(), sqlx::Error> {
    for sql in [
        "INSERT INTO removed_deployments (id, env_id, service_id) \
         SELECT id, env_id, service_id FROM deployments WHERE id = $1 \
         ON CONFLICT (id) DO UPDATE SET env_id = excluded.env_id, service_id = excluded.service_id",
        "DELETE FROM log_lines WHERE deployment_id = $1",
        "DELETE FROM deployment_history WHERE deployment_id = $1",
        "DELETE FROM deployments WHERE id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut **tx).await?;
    }
    books.remove(id);
    books.logs_removed.push(id.to_string());
    close_log_topic(tx, books, id).await
}

/// Ends a removed log's topic in the change log: a `close` row at its last number, and its
/// older rows gone (the hub forgets the topic once this commits).
async fn close_log_topic(tx: &mut Tx<'_>, books: &mut Books, id: &str) -> Result<(), sqlx::Error> {
    let topic = super::topic_key(&Topic::Logs {
        deployment: id.to_string(),
    });
    let row = books.next_change_id;
    books.next_change_id += 1;
    sqlx::query(
        "INSERT INTO change_log (id, topic, seq, kind) \
         SELECT $1, $2, COALESCE(MAX(seq), 0), 'close' FROM change_log WHERE topic = $2",
    )
    .bind(row)
    .bind(&topic)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM change_log WHERE topic = $1 AND id < $2")
        .bind(&topic)
        .bind(row)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Stores a batch's change-log rows in order, and keeps each topic's changes to the resume
/// backlog (`RESUME_BACKLOG`, the most a resume is served from). A topic opened again (an
/// environment created anew, a deployment id given again) starts over: its older rows go.
async fn write_change_log(
    tx: &mut Tx<'_>,
    books: &mut Books,
    rows: &[ChangeRow],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = rows.iter().map(|r| super::topic_key(&r.topic)).collect();
    let opened: Vec<&String> = rows
        .iter()
        .zip(&keys)
        .filter(|(r, _)| r.kind == ChangeKind::Open)
        .map(|(_, k)| k)
        .collect();
    for chunk in pow2_chunks(&opened, CHANGE_ROWS) {
        let mut q = QueryBuilder::new(
            Backend::of_connection(tx),
            "DELETE FROM change_log WHERE topic IN (",
        );
        let mut list = q.separated(", ");
        for key in chunk {
            list.push_bind(key.to_string());
        }
        q.push(")");
        q.build().execute(&mut **tx).await?;
    }
    let first = books.next_change_id;
    books.next_change_id += rows.len() as i64;
    let numbered: Vec<(i64, &ChangeRow, &String)> = rows
        .iter()
        .zip(&keys)
        .enumerate()
        .map(|(k, (row, key))| (first + k as i64, row, key))
        .collect();
    for chunk in pow2_chunks(&numbered, CHANGE_ROWS) {
        let mut q: QueryBuilder = QueryBuilder::new(
            Backend::of_connection(tx),
            "INSERT INTO change_log (id, topic, seq, kind, json, compact) ",
        );
        q.push_values(chunk, |mut b, (id, row, key)| {
            b.push_bind(*id)
                .push_bind(key.to_string())
                .push_bind(row.seq as i64)
                .push_bind(row.kind.word())
                .push_bind(row.json.as_deref().map(str::to_string))
                .push_bind(row.compact.as_deref().map(str::to_string));
        });
        q.build().execute(&mut **tx).await?;
    }
    // Each topic's first and last number in the batch.
    let mut span: HashMap<&str, (u64, u64)> = HashMap::new();
    for (row, key) in rows.iter().zip(&keys) {
        if row.kind == ChangeKind::Change {
            let (first, last) = span.entry(key.as_str()).or_insert((row.seq, row.seq));
            *first = (*first).min(row.seq);
            *last = (*last).max(row.seq);
        }
    }
    for (key, (first, last)) in span {
        if first / TRIM_EVERY == last / TRIM_EVERY && first % TRIM_EVERY != 0 {
            continue;
        }
        let Some(before) = last.checked_sub(RESUME_BACKLOG as u64) else {
            continue;
        };
        sqlx::query("DELETE FROM change_log WHERE topic = $1 AND kind = 'change' AND seq <= $2")
            .bind(key)
            .bind(before as i64)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Removes a deployment's log lines, keeping the deployment (the log-bytes cap).
async fn remove_log(tx: &mut Tx<'_>, books: &mut Books, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM log_lines WHERE deployment_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE deployments SET log_bytes = 0, log_removed = 1 WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    if let Some(dep) = books.deps.get_mut(id) {
        books.total_bytes -= dep.bytes.min(books.total_bytes);
        books.with_bytes.remove(&(dep.ordinal, id.to_string()));
        dep.bytes = 0;
    }
    books.logs_removed.push(id.to_string());
    close_log_topic(tx, books, id).await
}
