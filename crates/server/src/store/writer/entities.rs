//! The statements that store what events say of environments, services, instances,
//! deployments and their logs.

use super::books::Books;
use crate::store::load::word;
use crate::store::schema::Backend;
use crate::store::statement::QueryBuilder;
use shipwatch_model::{Deployment, Instance, LogLevel, LogLine, Service};
use sqlx::Any;

/// Log lines per multi-row insert (7 parameters each, far below SQLite's limit).
const LINE_ROWS: usize = 256;
/// Services per multi-row statement (7 parameters each).
const SERVICE_ROWS: usize = 128;
/// Instances per multi-row insert (10 parameters each).
const INSTANCE_ROWS: usize = 256;

/// A level's wire word, without serde: it is asked for every line.
pub(super) fn level_word(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Info => "info",
        LogLevel::Warning => "warning",
        LogLevel::Error => "error",
        LogLevel::Unknown => "unknown",
    }
}

pub(in crate::store) type Tx<'a> = sqlx::Transaction<'a, Any>;

/// Writes whole services (each at most once): their rows, then their instances replaced.
pub(super) async fn write_services(
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
                    .push_bind(crate::store::instance_details::column(i));
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
pub(super) fn pow2_chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
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

pub(super) async fn upsert_instance(
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
    .bind(crate::store::instance_details::column(i))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An environment-wide deployment as its environment's last one.
pub(super) async fn env_deployment(
    tx: &mut Tx<'_>,
    env: &str,
    d: &Deployment,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE environments SET deployment = $2 WHERE id = $1")
        .bind(env)
        .bind(serde_json::to_string(d).unwrap_or_default())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Records a status of a deployment in its history, after the lines written so far.
pub(super) async fn history(
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
pub(super) async fn stage_history(
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

pub(super) async fn insert_lines(
    tx: &mut Tx<'_>,
    lines: &[(&str, &LogLine)],
) -> Result<(), sqlx::Error> {
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
