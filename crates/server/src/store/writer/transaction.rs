//! One batch's transaction: the rows of its events (coalesced), retention, the change log's
//! rows, then the commit.

use super::books::{Books, Dep};
use super::change_log::write_change_log;
use super::entities::*;
use super::retention::{delete_deployment, remove_log};
use super::Writer;
use crate::hub::since::StatusChange;
use crate::hub::ChangeRow;
use crate::platform::PlatformEvent;
use crate::store::load::word;
use crate::store::schema::Backend;
use crate::store::timeline;
use shipwatch_model::{LogLine, Service};
use sqlx::Connection;
use std::collections::HashSet;
use std::sync::Arc;

impl Writer {
    /// Writes the events of `batch`, the change log's `rows` of it and the status changes
    /// it made (`statuses`, the timeline's rows) in one transaction; returns the facts and
    /// lines written.
    pub(super) async fn write(
        &mut self,
        batch: &[Arc<[PlatformEvent]>],
        rows: &[ChangeRow],
        statuses: &[StatusChange],
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
            crate::store::retention_trim::forget_oldest_removed(&mut tx, self.keep_removed).await?;
        }
        write_change_log(&mut tx, books, rows).await?;
        timeline::write_changes(&mut tx, self.backend, statuses).await?;
        if self.backend == Backend::Postgres && !rows.is_empty() {
            // Delivered at commit, only if it commits: followers read the rows past theirs.
            sqlx::query("SELECT pg_notify('shipwatch_changes', $1)")
                .bind((books.next_change_id - 1).to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        timeline::trim_now_and_then(&self.pool, &mut self.status_rows, statuses.len());
        Ok((facts, line_count))
    }
}

/// The batch's events in order, without those a later event of the batch makes moot: a
/// service reported whole (or removed) replaces every earlier report of it and its instances.
pub(super) fn coalesce(batch: &[Arc<[PlatformEvent]>]) -> Vec<&PlatformEvent> {
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

pub(super) fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Bytes a line counts for against the log-bytes cap: its text, stage and hint, and the
/// numbers around them.
pub(super) fn line_bytes(line: &LogLine) -> u64 {
    (line.text.len() + line.stage.len() + line.hint.as_ref().map_or(0, String::len) + 24) as u64
}
