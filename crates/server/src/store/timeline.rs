//! Status changes of services and environments (table `status_changes`, migration 5): the
//! hub reports them as it stages a batch ([`crate::hub::since`]), the store's writer writes
//! them in the transaction of the batch that made them, and the timeline endpoint reads a
//! window of them back. At start (and on a follower, when it opens environments from the
//! store) they give each service, and each environment's summary, its "since" again.
//!
//! Being in the batch's transaction, a status change is stored exactly when the change that
//! made it is: a `kill -9` loses none that a page was shown, and a follower's snapshot of the
//! store holds the "since" of every change it holds.

use super::load::{from_word, word};
use super::schema::Backend;
use super::statement::QueryBuilder;
use super::writer::Tx;
use super::{Store, StoreError};
use crate::hub::since::{first_seen, StatusChange};
use shipwatch_model::entities::Millis;
use shipwatch_model::timeline::Segment;
use shipwatch_model::{DeploymentStatus, Environment, RunningStatus};
use sqlx::AnyPool;
use sqlx::Row;
use std::collections::HashMap;

/// Rows per insert statement (5 binds each, well under SQLite's limit).
const ROWS_PER_INSERT: usize = 512;
/// Status changes written between two trims of the table.
const TRIM_EVERY_ROWS: usize = 10_000;
/// How long changes are kept; the last one of each service is kept whatever its age (it
/// says what the service's status has been since).
pub const KEEP_MS: Millis = 24 * 3_600_000;

/// Writes a batch's status changes in the batch's transaction (the writer's).
pub(super) async fn write_changes(
    tx: &mut Tx<'_>,
    backend: Backend,
    changes: &[StatusChange],
) -> Result<(), sqlx::Error> {
    for chunk in changes.chunks(ROWS_PER_INSERT) {
        let mut q: QueryBuilder = QueryBuilder::new(
            backend,
            "INSERT INTO status_changes (env_id, service_id, at, running, deployment) ",
        );
        q.push_values(chunk, |mut row, c| {
            row.push_bind(c.env.clone())
                .push_bind(c.service.clone().unwrap_or_default())
                .push_bind(c.at as i64)
                .push_bind(word(&c.running))
                .push_bind(c.deployment.as_ref().map(word));
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Counts `written` changes into `since_trim`, and once it passes [`TRIM_EVERY_ROWS`] trims
/// the changes older than [`KEEP_MS`] on a task of its own: housekeeping no commit waits for.
pub(super) fn trim_now_and_then(pool: &AnyPool, since_trim: &mut usize, written: usize) {
    *since_trim += written;
    if *since_trim < TRIM_EVERY_ROWS {
        return;
    }
    *since_trim = 0;
    let pool = pool.clone();
    tokio::spawn(async move {
        if let Err(e) = trim(&pool, now_ms().saturating_sub(KEEP_MS)).await {
            tracing::warn!(error = %e, "old status changes not trimmed");
        }
    });
}

impl Store {
    /// Records status changes that no batch made (a new world's first statuses, at start,
    /// before the server serves anything).
    pub async fn record_statuses(&self, changes: &[StatusChange]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let write = |e: sqlx::Error| StoreError::Write(e.to_string());
        let mut tx = self.inner.pool.begin().await.map_err(write)?;
        write_changes(&mut tx, self.inner.backend, changes)
            .await
            .map_err(write)?;
        tx.commit().await.map_err(write)
    }

    /// The statuses of a service (or, with `service` none, of the environment) between
    /// `from` and `to`: the one that held at `from`, then every change until `to`.
    pub async fn timeline(
        &self,
        env: &str,
        service: Option<&str>,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<Segment>, StoreError> {
        segments(&self.inner.pool, env, service.unwrap_or(""), from, to)
            .await
            .map_err(|e| StoreError::Read(e.to_string()))
    }
}

async fn trim(pool: &AnyPool, before: Millis) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM status_changes WHERE at < $1 AND rowid NOT IN \
         (SELECT MAX(rowid) FROM status_changes GROUP BY env_id, service_id)",
    )
    .bind(before as i64)
    .execute(pool)
    .await
    .map(|_| ())
}

fn now_ms() -> Millis {
    crate::hub::since::now_ms()
}

type Row3 = (i64, String, Option<String>);

fn row_of(r: &sqlx::any::AnyRow) -> Result<Row3, sqlx::Error> {
    Ok((
        r.try_get("at")?,
        r.try_get("running")?,
        r.try_get("deployment")?,
    ))
}

async fn segments(
    pool: &AnyPool,
    env: &str,
    service: &str,
    from: Millis,
    to: Millis,
) -> Result<Vec<Segment>, sqlx::Error> {
    let before = sqlx::query(
        "SELECT at, running, deployment FROM status_changes WHERE env_id = $1 AND service_id = $2 \
         AND at < $3 ORDER BY at DESC, rowid DESC LIMIT 1",
    )
    .bind(env)
    .bind(service)
    .bind(from as i64)
    .fetch_optional(pool)
    .await?;
    let during = sqlx::query(
        "SELECT at, running, deployment FROM status_changes WHERE env_id = $1 AND service_id = $2 \
         AND at >= $3 AND at <= $4 ORDER BY at, rowid",
    )
    .bind(env)
    .bind(service)
    .bind(from as i64)
    .bind(to as i64)
    .fetch_all(pool)
    .await?;
    let mut rows = Vec::with_capacity(during.len() + 1);
    if let Some(r) = before {
        rows.push(row_of(&r)?);
    }
    for r in &during {
        rows.push(row_of(r)?);
    }
    let mut changes = Vec::with_capacity(rows.len());
    for (at, running, deployment) in rows {
        let running: RunningStatus = from_word(&running)?;
        let deployment = deployment.as_deref().map(from_word).transpose()?;
        changes.push((at.max(0) as Millis, running, deployment));
    }
    Ok(segments_of(changes, from))
}

/// The segments of a subject's changes in order, from the one that held at `from` (an
/// earlier change starts at `from`): a change that repeats the statuses before it starts
/// none. The store's and the in-memory timeline's one rule.
pub fn segments_of(
    changes: impl IntoIterator<Item = (Millis, RunningStatus, Option<DeploymentStatus>)>,
    from: Millis,
) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for (at, running, deployment) in changes {
        let at = at.max(from);
        if let Some(last) = out.last_mut() {
            if last.running == running && last.deployment == deployment {
                continue;
            }
            last.to = Some(at);
        }
        out.push(Segment {
            from: at,
            to: None,
            running,
            deployment,
        });
    }
    out
}

/// Since when an environment's own statuses (its summary's) hold, as the timeline gives them
/// back at start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SummarySince {
    /// Since when its running status holds.
    pub running: Option<Millis>,
    /// Since when its deployment status holds.
    pub deployment: Option<Millis>,
}

impl Store {
    /// Since when each environment's own statuses hold: when the recorded running (and
    /// deployment) status of the environment last changed, for those whose last recorded
    /// statuses are the ones their summary has now (as [`restore_since`] does for services).
    pub async fn summary_since(
        &self,
        environments: &[Environment],
    ) -> Result<HashMap<String, SummarySince>, StoreError> {
        let last = last_since(&self.inner.pool, Subjects::Environments)
            .await
            .map_err(|e| StoreError::Read(e.to_string()))?;
        let mut out = HashMap::new();
        for env in environments {
            let Some(rec) = last.get(&(env.id.clone(), String::new())) else {
                continue;
            };
            let summary = crate::hub::summarize(env);
            let mut since = SummarySince::default();
            if rec.running == word(&summary.running) {
                since.running = ms(rec.running_since);
            }
            if summary.deployment.is_some()
                && rec.deployment == summary.deployment.map(|d| word(&d))
            {
                since.deployment = ms(rec.deployment_since);
            }
            out.insert(env.id.clone(), since);
        }
        Ok(out)
    }
}

/// Which subjects' last statuses [`last_since`] reads.
#[derive(Clone, Copy)]
enum Subjects {
    Services,
    Environments,
}

/// The last recorded statuses of a subject, and since when each held.
struct LastSince {
    running: String,
    deployment: Option<String>,
    running_since: Option<i64>,
    deployment_since: Option<i64>,
}

fn ms(v: Option<i64>) -> Option<Millis> {
    v.map(|v| v.max(0) as Millis)
}

/// The last recorded statuses of every service (or every environment, whose rows have an
/// empty service id), by (environment, service), with when each status last changed.
async fn last_since(
    pool: &AnyPool,
    subjects: Subjects,
) -> Result<HashMap<(String, String), LastSince>, sqlx::Error> {
    let which = match subjects {
        Subjects::Services => "service_id <> ''",
        Subjects::Environments => "service_id = ''",
    };
    // `which` is one of the two fixed conditions above.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH marked AS (SELECT env_id, service_id, rowid AS k, at, running, deployment, \
           (LAG(running) OVER w IS NOT DISTINCT FROM running) AS same_running, \
           (LAG(deployment) OVER w IS NOT DISTINCT FROM deployment) AS same_deployment \
           FROM status_changes WHERE {which} \
           WINDOW w AS (PARTITION BY env_id, service_id ORDER BY at, rowid)) \
         SELECT m.env_id, m.service_id, m.running, m.deployment, \
           (SELECT MAX(at) FROM marked x WHERE x.env_id = m.env_id AND x.service_id = m.service_id \
              AND NOT x.same_running) AS running_since, \
           (SELECT MAX(at) FROM marked x WHERE x.env_id = m.env_id AND x.service_id = m.service_id \
              AND NOT x.same_deployment) AS deployment_since \
         FROM marked m WHERE m.k IN (SELECT MAX(k) FROM marked GROUP BY env_id, service_id)"
    )))
    .fetch_all(pool)
    .await?;
    let mut last = HashMap::new();
    for r in &rows {
        last.insert(
            (r.try_get("env_id")?, r.try_get("service_id")?),
            LastSince {
                running: r.try_get("running")?,
                deployment: r.try_get("deployment")?,
                running_since: r.try_get("running_since")?,
                deployment_since: r.try_get("deployment_since")?,
            },
        );
    }
    Ok(last)
}

/// Gives each loaded service the since of its current statuses: when the recorded running
/// (and deployment) status last changed, if the last recorded statuses are the ones it has
/// now (a change lost at a crash leaves its since unknown rather than wrong).
pub(super) async fn restore_since(
    pool: &AnyPool,
    environments: &mut [Environment],
) -> Result<(), sqlx::Error> {
    let last = last_since(pool, Subjects::Services).await?;
    for env in environments {
        for svc in &mut env.services {
            let Some(rec) = last.get(&(env.id.clone(), svc.id.clone())) else {
                continue;
            };
            if rec.running == word(&shipwatch_model::rules::service_running_status(svc)) {
                svc.running_since = ms(rec.running_since);
            }
            if let Some(d) = &svc.deployment {
                if rec.deployment == Some(word(&d.status)) {
                    svc.deployment_since = ms(rec.deployment_since).map(|at| first_seen(d, at));
                }
            }
        }
    }
    Ok(())
}
