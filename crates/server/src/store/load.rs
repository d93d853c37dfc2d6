//! Reading the store: the present state at start, a deployment's log topic, pages of lines.

use serde::de::DeserializeOwned;
use serde::Serialize;
use shipwatch_model::{Deployment, DeploymentStatus, Environment, Instance, LogLine, Service};
use sqlx::any::AnyRow;
use sqlx::AnyPool;
use sqlx::Row;
use std::collections::HashMap;

/// The query of [`stored_deployment`]'s columns, with `$tail` after it.
macro_rules! select_deployments {
    ($tail:literal) => {
        concat!(
            "SELECT id, env_id, service_id, ordinal, status, version, previous_version, \
             started_at, finished_at, stage, log_base, log_lines, log_bytes, log_removed, \
             triggered_by, url \
             FROM deployments ",
            $tail
        )
    };
}

/// The present state, as the previous run left it.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Whether the store was empty (a new data directory).
    pub fresh: bool,
    /// Whether the previous run closed cleanly; true for a new store.
    pub clean: bool,
    /// Whether the previous run showed pages only numbers it had committed (the change log,
    /// migration 0007): then, even after a crash, every number a page saw is stored, and
    /// logs keep their numbers. False for a store last written by an older server.
    pub committed_numbers: bool,
    /// The environments with their services and instances, in order of appearance.
    pub environments: Vec<Environment>,
    /// Every deployment kept, in creation order.
    pub deployments: Vec<StoredDeployment>,
    /// The environments list and environment topics where they stand: from the change log
    /// (each at its last committed number with its recent changes), or, for a topic it does
    /// not hold, as an older server's clean shutdown left it (`topics`, `topic_changes`).
    pub topics: Vec<TopicMark>,
    /// The keys of the topics the change log holds (ended ones too): any other topic has no
    /// `open` row yet.
    pub logged: std::collections::HashSet<String>,
}

/// A deployment the store keeps.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredDeployment {
    /// Environment id.
    pub env: String,
    /// Service id; none for an environment-wide deployment.
    pub service: Option<String>,
    /// The deployment as it is now.
    pub deployment: Deployment,
    /// Its current stage, if a source reported stages.
    pub stage: Option<String>,
    /// Creation order.
    pub ordinal: u64,
    /// Sequence number of its log topic's snapshot.
    pub log_base: u64,
    /// Its last line number.
    pub log_lines: u64,
    /// Bytes of its log text kept.
    pub log_bytes: u64,
    /// Whether the log-bytes cap removed its lines.
    pub log_removed: bool,
}

/// Where a topic stood: its last sequence number and its most recent changes, as sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TopicMark {
    /// The topic's key ([`super::topic_key`]).
    pub topic: String,
    /// Its last sequence number.
    pub seq: u64,
    /// Its most recent changes, oldest first, ending at `seq`.
    pub changes: Vec<StoredChange>,
}

/// One change of a topic as it was sent.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredChange {
    /// Its sequence number.
    pub seq: u64,
    /// The change's JSON.
    pub json: String,
    /// The same change as an `instance_update`, if it had that form.
    pub compact: Option<String>,
}

/// A deployment's log topic as published: the snapshot's header, then the changes.
#[derive(Clone, Debug, PartialEq)]
pub struct LogHistory {
    /// Environment id.
    pub env: String,
    /// Service id.
    pub service: Option<String>,
    /// The deployment as queued (the snapshot's header).
    pub header: Deployment,
    /// Sequence number of the snapshot; the k-th change is `base + k`.
    pub base: u64,
    /// Lines and status changes, in the order they were reported.
    pub changes: Vec<LogChange>,
    /// Whether the log-bytes cap removed its lines.
    pub removed: bool,
}

/// One change of a log topic.
#[derive(Clone, Debug, PartialEq)]
pub enum LogChange {
    /// The deployment's status changed.
    Status(Deployment),
    /// A line.
    Line(LogLine),
}

/// The wire word of an enum (its serde form), for a text column.
pub(super) fn word<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// An enum from its wire word; unknown words decode as the enum's fallback where it has one.
pub(super) fn from_word<T: DeserializeOwned>(s: &str) -> Result<T, sqlx::Error> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|e| sqlx::Error::Decode(format!("`{s}`: {e}").into()))
}

fn from_json<T: DeserializeOwned>(s: Option<String>) -> Result<Option<T>, sqlx::Error> {
    s.map(|s| serde_json::from_str(&s).map_err(|e| sqlx::Error::Decode(e.into())))
        .transpose()
}

/// The `meta` row `numbering` of a server that shows pages only committed numbers.
pub(super) const COMMITTED_NUMBERS: &str = "committed";

/// The environments list and environment topics as the change log holds them: each from its
/// last `open` on (an older incarnation of the topic is not its history), at its last number,
/// with its `change` rows; a topic whose last row is `close` ended. Also every topic key the
/// log names, ended ones included (an older clean shutdown's mark of one is stale).
async fn logged_topics(
    pool: &AnyPool,
) -> Result<(Vec<TopicMark>, std::collections::HashSet<String>), sqlx::Error> {
    // (mark, ended) of each topic, in key order.
    let mut topics: Vec<(TopicMark, bool)> = Vec::new();
    for row in sqlx::query(
        "SELECT topic, seq, kind, json, compact FROM change_log \
         WHERE topic NOT LIKE 'logs:%' ORDER BY topic, id",
    )
    .fetch_all(pool)
    .await?
    {
        let topic: String = row.try_get("topic")?;
        let seq = u(row.try_get("seq")?);
        let kind: String = row.try_get("kind")?;
        if topics.last().is_none_or(|(m, _)| m.topic != topic) {
            topics.push((
                TopicMark {
                    topic,
                    seq,
                    changes: Vec::new(),
                },
                false,
            ));
        }
        let Some((mark, ended)) = topics.last_mut() else {
            continue;
        };
        match kind.as_str() {
            "open" => {
                *mark = TopicMark {
                    topic: std::mem::take(&mut mark.topic),
                    seq,
                    changes: Vec::new(),
                };
                *ended = false;
            }
            "close" => *ended = true,
            _ => {
                mark.seq = seq;
                mark.changes.push(StoredChange {
                    seq,
                    json: row
                        .try_get::<Option<String>, _>("json")?
                        .unwrap_or_default(),
                    compact: row.try_get("compact")?,
                });
            }
        }
    }
    let keys = topics.iter().map(|(m, _)| m.topic.clone()).collect();
    let marks = topics
        .into_iter()
        .filter(|(_, ended)| !ended)
        .map(|(m, _)| m)
        .collect();
    Ok((marks, keys))
}

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

fn opt_u(v: Option<i64>) -> Option<u64> {
    v.map(u)
}

/// Everything but log lines.
pub(super) async fn load(pool: &AnyPool) -> Result<Loaded, sqlx::Error> {
    let marker: Option<String> =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'clean_shutdown'")
            .fetch_optional(pool)
            .await?;
    let mut environments: Vec<Environment> = Vec::new();
    let mut env_index: HashMap<String, usize> = HashMap::new();
    for row in sqlx::query("SELECT id, name, deployment FROM environments ORDER BY position")
        .fetch_all(pool)
        .await?
    {
        let id: String = row.try_get("id")?;
        env_index.insert(id.clone(), environments.len());
        environments.push(Environment {
            id,
            name: row.try_get("name")?,
            services: Vec::new(),
            deployment: from_json(row.try_get("deployment")?)?,
        });
    }
    let mut svc_index: HashMap<(String, String), (usize, usize)> = HashMap::new();
    for row in sqlx::query(
        "SELECT env_id, id, name, kind, version, deployment FROM services \
         ORDER BY env_id, position",
    )
    .fetch_all(pool)
    .await?
    {
        let env: String = row.try_get("env_id")?;
        let Some(&e) = env_index.get(&env) else {
            continue;
        };
        let id: String = row.try_get("id")?;
        let kind: String = row.try_get("kind")?;
        let services = &mut environments[e].services;
        svc_index.insert((env, id.clone()), (e, services.len()));
        services.push(Service {
            id,
            name: row.try_get("name")?,
            kind: from_word(&kind)?,
            instances: Vec::new(),
            version: row.try_get("version")?,
            deployment: from_json(row.try_get("deployment")?)?,
            running_since: None,
            deployment_since: None,
        });
    }
    for row in sqlx::query(
        "SELECT env_id, service_id, name, status, version, restarts, reason, message, \
         started_at, exit_code, details FROM instances ORDER BY env_id, service_id, position",
    )
    .fetch_all(pool)
    .await?
    {
        let key: (String, String) = (row.try_get("env_id")?, row.try_get("service_id")?);
        let Some(&(e, s)) = svc_index.get(&key) else {
            continue;
        };
        let status: String = row.try_get("status")?;
        let mut instance = Instance {
            name: row.try_get("name")?,
            status: from_word(&status)?,
            version: row.try_get("version")?,
            restarts: u(row.try_get("restarts")?) as u32,
            reason: row.try_get("reason")?,
            message: row.try_get("message")?,
            started_at: opt_u(row.try_get("started_at")?),
            last_termination: None,
            last_restart_at: None,
            events: Vec::new(),
        };
        let details: Option<String> = row.try_get("details")?;
        super::instance_details::restore(
            &mut instance,
            details.as_deref(),
            row.try_get("exit_code")?,
        );
        environments[e].services[s].instances.push(instance);
    }
    let deployments = sqlx::query(select_deployments!("ORDER BY ordinal"))
        .fetch_all(pool)
        .await?
        .iter()
        .map(stored_deployment)
        .collect::<Result<Vec<_>, _>>()?;
    let clean = marker.as_deref() != Some("0");
    let numbering: Option<String> =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'numbering'")
            .fetch_optional(pool)
            .await?;
    let committed_numbers = numbering.as_deref() == Some(COMMITTED_NUMBERS);
    let (mut topics, logged) = logged_topics(pool).await?;
    if clean {
        let mut by_key: HashMap<String, usize> = HashMap::new();
        for row in sqlx::query("SELECT topic, seq FROM topics")
            .fetch_all(pool)
            .await?
        {
            let topic: String = row.try_get("topic")?;
            if logged.contains(&topic) {
                continue;
            }
            by_key.insert(topic, topics.len());
            topics.push(TopicMark {
                topic: row.try_get("topic")?,
                seq: u(row.try_get("seq")?),
                changes: Vec::new(),
            });
        }
        for row in
            sqlx::query("SELECT topic, seq, json, compact FROM topic_changes ORDER BY topic, seq")
                .fetch_all(pool)
                .await?
        {
            let topic: String = row.try_get("topic")?;
            if let Some(&i) = by_key.get(&topic) {
                topics[i].changes.push(StoredChange {
                    seq: u(row.try_get("seq")?),
                    json: row.try_get("json")?,
                    compact: row.try_get("compact")?,
                });
            }
        }
    }
    Ok(Loaded {
        fresh: marker.is_none(),
        clean,
        committed_numbers,
        logged,
        environments,
        deployments,
        topics,
    })
}

pub(super) fn stored_deployment(row: &AnyRow) -> Result<StoredDeployment, sqlx::Error> {
    let service: String = row.try_get("service_id")?;
    let status: String = row.try_get("status")?;
    let removed: i64 = row.try_get("log_removed")?;
    Ok(StoredDeployment {
        env: row.try_get("env_id")?,
        service: (!service.is_empty()).then_some(service),
        deployment: Deployment {
            id: row.try_get("id")?,
            status: from_word(&status)?,
            version: row.try_get("version")?,
            previous_version: row.try_get("previous_version")?,
            started_at: u(row.try_get("started_at")?),
            finished_at: opt_u(row.try_get("finished_at")?),
            triggered_by: row.try_get("triggered_by")?,
            url: row.try_get("url")?,
        },
        stage: row.try_get("stage")?,
        ordinal: u(row.try_get("ordinal")?),
        log_base: u(row.try_get("log_base")?),
        log_lines: u(row.try_get("log_lines")?),
        log_bytes: u(row.try_get("log_bytes")?),
        log_removed: removed != 0,
    })
}

/// One deployment.
pub(super) async fn deployment(
    pool: &AnyPool,
    id: &str,
) -> Result<Option<StoredDeployment>, sqlx::Error> {
    sqlx::query(select_deployments!("WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(stored_deployment)
        .transpose()
}

fn line(row: &AnyRow) -> Result<LogLine, sqlx::Error> {
    let level: String = row.try_get("level")?;
    Ok(LogLine {
        n: u(row.try_get("n")?),
        ts: u(row.try_get("ts")?),
        stage: row.try_get("stage")?,
        level: from_word(&level)?,
        text: row.try_get("text")?,
        hint: row.try_get("hint")?,
    })
}

/// Lines after `after`, at most `limit`.
pub(super) async fn log_lines(
    pool: &AnyPool,
    id: &str,
    after: u64,
    limit: u32,
) -> Result<Vec<LogLine>, sqlx::Error> {
    sqlx::query(
        "SELECT n, ts, stage, level, text, hint FROM log_lines \
         WHERE deployment_id = $1 AND n > $2 ORDER BY n LIMIT $3",
    )
    .bind(id)
    .bind(after as i64)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?
    .iter()
    .map(line)
    .collect()
}

/// A deployment's log topic: the header (history entry 0), then lines and status changes
/// interleaved as they were reported. Read in one transaction (`REPEATABLE READ` on
/// PostgreSQL), so the deployment, its statuses and its lines are of one commit: numbered
/// from the base, each change has the number the writer gave it, which a follower's hub
/// relies on to join the log with the change-log rows that follow (`hub/mirror.rs`).
pub(super) async fn log_history(
    pool: &AnyPool,
    id: &str,
) -> Result<Option<LogHistory>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if tx.backend_name().eq_ignore_ascii_case("postgresql") {
        // Before the first read: READ COMMITTED would let each query see a later commit.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
    }
    let history = log_history_in(&mut tx, id).await;
    // Nothing was written: the end of the read.
    tx.rollback().await?;
    history
}

async fn log_history_in(
    conn: &mut sqlx::AnyConnection,
    id: &str,
) -> Result<Option<LogHistory>, sqlx::Error> {
    let Some(dep) = sqlx::query(select_deployments!("WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(stored_deployment)
        .transpose()?
    else {
        return Ok(None);
    };
    let history = sqlx::query(
        "SELECT k, at, status, finished_at, after_line FROM deployment_history \
         WHERE deployment_id = $1 AND status IS NOT NULL ORDER BY k",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let mut statuses: Vec<(u64, u64, Deployment)> = Vec::with_capacity(history.len());
    for row in &history {
        let status: String = row.try_get("status")?;
        let status: DeploymentStatus = from_word(&status)?;
        statuses.push((
            u(row.try_get("k")?),
            u(row.try_get("after_line")?),
            Deployment {
                status,
                finished_at: opt_u(row.try_get("finished_at")?),
                ..dep.deployment.clone()
            },
        ));
    }
    let header = match statuses.first() {
        Some((0, _, d)) => d.clone(),
        _ => dep.deployment.clone(),
    };
    let mut later = statuses.into_iter().filter(|(k, _, _)| *k > 0).peekable();
    let lines = sqlx::query(
        "SELECT n, ts, stage, level, text, hint FROM log_lines \
         WHERE deployment_id = $1 ORDER BY n",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let mut changes = Vec::with_capacity(lines.len() + 8);
    for row in &lines {
        let line = line(row)?;
        while let Some((_, _, d)) = later.next_if(|(_, after, _)| *after < line.n) {
            changes.push(LogChange::Status(d));
        }
        changes.push(LogChange::Line(line));
    }
    changes.extend(later.map(|(_, _, d)| LogChange::Status(d)));
    Ok(Some(LogHistory {
        env: dep.env,
        service: dep.service,
        header,
        base: dep.log_base,
        changes,
        removed: dep.log_removed,
    }))
}
