//! Reading deployment history: an environment's (or one service's) kept deployments, newest
//! first, a page at a time, with the stages each went through; and a deployment's neighbours
//! among its service's deployments.
//!
//! Pages are cut by creation order (`ordinal`): a cursor is the ordinal of the last
//! deployment a page held, and the next page is what was created before it. Deployments
//! created meanwhile have higher ordinals, so they never shift a page that is being read.

use super::load::{from_word, stored_deployment, word, StoredDeployment};
use super::schema::Backend;
use super::statement::QueryBuilder;
use serde::Serialize;
use shipwatch_model::DeploymentStatus;
use sqlx::AnyPool;
use sqlx::Row;
use std::collections::HashMap;

/// Which deployments a page holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Environment id.
    pub env: String,
    /// Only this service's deployments (none: every deployment of the environment, the
    /// environment-wide ones included).
    pub service: Option<String>,
    /// Only deployments in one of these statuses (empty: any).
    pub statuses: Vec<DeploymentStatus>,
    /// Only deployments created before this cursor (none: from the newest).
    pub before: Option<u64>,
    /// At most this many.
    pub limit: u32,
}

/// One deployment as the history lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// Environment id.
    pub environment: String,
    /// Service id; none for an environment-wide deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The deployment as it is now.
    pub deployment: shipwatch_model::Deployment,
    /// The stages it went through, in order.
    pub stages: Vec<StageEntry>,
    /// Whether the log-bytes cap removed its log's lines.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub log_removed: bool,
    /// Its place in creation order: the cursor that pages past it.
    pub cursor: String,
}

/// One stage of a deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StageEntry {
    /// Its name (`build`, `deploy`, ...).
    pub name: String,
    /// When the deployment entered it (Unix ms).
    pub started_at: u64,
    /// When it left it: the next stage's start, or the deployment's end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
    /// How it went.
    pub outcome: StageOutcome,
}

/// How a stage went: every stage before the last passed; the last one shares the
/// deployment's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StageOutcome {
    /// Still running.
    Running,
    /// Done, and the deployment went on (or succeeded).
    Passed,
    /// The deployment failed in it.
    Failed,
    /// The deployment was cancelled in it.
    Cancelled,
}

impl StageOutcome {
    /// The outcome of a deployment's last stage, from the deployment's status.
    pub fn of_last(status: DeploymentStatus) -> StageOutcome {
        match status {
            DeploymentStatus::DeploymentOk => StageOutcome::Passed,
            DeploymentStatus::BuildingError | DeploymentStatus::DeploymentError => {
                StageOutcome::Failed
            }
            DeploymentStatus::Cancelled => StageOutcome::Cancelled,
            _ => StageOutcome::Running,
        }
    }
}

/// A page of history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryPage {
    /// Newest first.
    pub deployments: Vec<HistoryEntry>,
    /// The cursor of the next (older) page; none when this page reaches the oldest kept.
    pub next: Option<String>,
    /// Without a store: since when the server keeps the history in memory (its start, Unix
    /// ms); older deployments are not known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_memory_since: Option<u64>,
}

/// The deployments of the same service just before and after one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Neighbours {
    /// The deployment asked about.
    pub deployment: HistoryEntry,
    /// The one created before it, if kept.
    pub previous: Option<HistoryEntry>,
    /// The one created after it, if any.
    pub next: Option<HistoryEntry>,
}

/// A page of `q`.
pub(super) async fn page(pool: &AnyPool, q: &HistoryQuery) -> Result<HistoryPage, sqlx::Error> {
    let mut sql: QueryBuilder = QueryBuilder::new(
        Backend::of_pool(pool),
        concat!(
            "SELECT id, env_id, service_id, ordinal, status, version, previous_version, ",
            "started_at, finished_at, stage, log_base, log_lines, log_bytes, log_removed, ",
            "triggered_by, url FROM deployments WHERE env_id = "
        ),
    );
    sql.push_bind(&q.env);
    if let Some(service) = &q.service {
        sql.push(" AND service_id = ").push_bind(service);
    }
    if let Some(before) = q.before {
        sql.push(" AND ordinal < ")
            .push_bind(before.min(i64::MAX as u64) as i64);
    }
    if !q.statuses.is_empty() {
        sql.push(" AND status IN (");
        let mut list = sql.separated(", ");
        for s in &q.statuses {
            list.push_bind(word(s));
        }
        sql.push(")");
    }
    // One more than asked: whether an older page exists.
    sql.push(" ORDER BY ordinal DESC LIMIT ")
        .push_bind(i64::from(q.limit) + 1);
    let rows = sql.build().persistent(false).fetch_all(pool).await?;
    let mut found = rows
        .iter()
        .map(stored_deployment)
        .collect::<Result<Vec<_>, _>>()?;
    let more = found.len() > q.limit as usize;
    found.truncate(q.limit as usize);
    let deployments = entries(pool, found).await?;
    let next = more
        .then(|| deployments.last().map(|d| d.cursor.clone()))
        .flatten();
    Ok(HistoryPage {
        deployments,
        next,
        in_memory_since: None,
    })
}

/// The deployment of a service created just before one (`$3`, its ordinal).
const OLDER: &str = concat!(
    "SELECT id, env_id, service_id, ordinal, status, version, previous_version, ",
    "started_at, finished_at, stage, log_base, log_lines, log_bytes, log_removed, ",
    "triggered_by, url FROM deployments ",
    "WHERE env_id = $1 AND service_id = $2 AND ordinal < $3 ORDER BY ordinal DESC LIMIT 1"
);

/// The deployment of a service created just after one.
const NEWER: &str = concat!(
    "SELECT id, env_id, service_id, ordinal, status, version, previous_version, ",
    "started_at, finished_at, stage, log_base, log_lines, log_bytes, log_removed, ",
    "triggered_by, url FROM deployments ",
    "WHERE env_id = $1 AND service_id = $2 AND ordinal > $3 ORDER BY ordinal ASC LIMIT 1"
);

/// `id` with the deployments of its service (or of its environment's environment-wide
/// ones) created just before and after it; none if the store does not keep `id`.
pub(super) async fn neighbours(
    pool: &AnyPool,
    id: &str,
) -> Result<Option<Neighbours>, sqlx::Error> {
    let Some(dep) = super::load::deployment(pool, id).await? else {
        return Ok(None);
    };
    let service = dep.service.clone().unwrap_or_default();
    let mut around = Vec::with_capacity(2);
    for query in [OLDER, NEWER] {
        let row = sqlx::query(query)
            .bind(&dep.env)
            .bind(&service)
            .bind(dep.ordinal as i64)
            .fetch_optional(pool)
            .await?;
        around.push(row.as_ref().map(stored_deployment).transpose()?);
    }
    let next = around.pop().flatten();
    let previous = around.pop().flatten();
    let mut all = vec![dep];
    all.extend(previous.iter().cloned());
    all.extend(next.iter().cloned());
    let mut entries = entries(pool, all).await?.into_iter();
    let deployment = entries.next().expect("the deployment asked about");
    Ok(Some(Neighbours {
        deployment,
        previous: previous.and_then(|_| entries.next()),
        next: next.and_then(|_| entries.next()),
    }))
}

/// The deployments with their stages, in the same order.
async fn entries(
    pool: &AnyPool,
    found: Vec<StoredDeployment>,
) -> Result<Vec<HistoryEntry>, sqlx::Error> {
    let mut stages: HashMap<String, Vec<(String, u64)>> = HashMap::new();
    if !found.is_empty() {
        let mut sql: QueryBuilder = QueryBuilder::new(
            Backend::of_pool(pool),
            "SELECT deployment_id, at, stage FROM deployment_history \
             WHERE stage IS NOT NULL AND deployment_id IN (",
        );
        let mut ids = sql.separated(", ");
        for d in &found {
            ids.push_bind(&d.deployment.id);
        }
        sql.push(") ORDER BY deployment_id, k");
        for row in sql.build().persistent(false).fetch_all(pool).await? {
            let id: String = row.try_get("deployment_id")?;
            let at: i64 = row.try_get("at")?;
            stages
                .entry(id)
                .or_default()
                .push((row.try_get("stage")?, at.max(0) as u64));
        }
    }
    Ok(found
        .into_iter()
        .map(|d| {
            let passed = stages.remove(&d.deployment.id).unwrap_or_default();
            HistoryEntry {
                stages: stage_entries(&d.deployment, passed),
                environment: d.env,
                service: d.service,
                log_removed: d.log_removed,
                cursor: d.ordinal.to_string(),
                deployment: d.deployment,
            }
        })
        .collect())
}

/// Stages with their ends and outcomes. A stage entered twice in a row (a source that
/// reports it again) counts once.
pub(crate) fn stage_entries(
    d: &shipwatch_model::Deployment,
    mut passed: Vec<(String, u64)>,
) -> Vec<StageEntry> {
    passed.dedup_by(|later, earlier| later.0 == earlier.0);
    let n = passed.len();
    let mut out: Vec<StageEntry> = Vec::with_capacity(n);
    for (i, (name, started_at)) in passed.iter().enumerate() {
        let last = i + 1 == n;
        out.push(StageEntry {
            name: name.clone(),
            started_at: *started_at,
            finished_at: if last {
                d.finished_at
            } else {
                Some(passed[i + 1].1)
            },
            outcome: if last {
                StageOutcome::of_last(d.status)
            } else {
                StageOutcome::Passed
            },
        });
    }
    out
}

/// A status from its wire word, if it is one (`DEPLOYMENT_OK`).
pub fn status_from_word(s: &str) -> Option<DeploymentStatus> {
    from_word::<DeploymentStatus>(s)
        .ok()
        .filter(|s| *s != DeploymentStatus::Unknown)
}
