//! What the writer knows of the stored deployments and services (their numbers, log bytes,
//! positions), so that it numbers history, counts log bytes and applies retention without
//! asking the database.

use sqlx::{AnyConnection, Row};
use std::collections::{BTreeSet, HashMap};

/// What the writer knows of each deployment, to number history, count log bytes and apply
/// retention without asking the database.
#[derive(Clone, Debug)]
pub(super) struct Dep {
    pub(super) env: String,
    pub(super) service: String,
    pub(super) ordinal: u64,
    pub(super) lines: u64,
    pub(super) bytes: u64,
    pub(super) next_k: u64,
}

#[derive(Default)]
pub(super) struct Books {
    pub(super) deps: HashMap<String, Dep>,
    /// Deployments of each (environment, service), by creation order.
    pub(super) by_service: HashMap<(String, String), BTreeSet<(u64, String)>>,
    /// Deployments whose log holds bytes, oldest first.
    pub(super) with_bytes: BTreeSet<(u64, String)>,
    pub(super) total_bytes: u64,
    pub(super) next_ordinal: u64,
    /// Position of every stored service in its environment, and the next free one.
    pub(super) service_positions: HashMap<(String, String), i64>,
    pub(super) next_service_position: HashMap<String, i64>,
    /// Deployments whose logs the write in progress removes (retention), told once committed.
    pub(super) logs_removed: Vec<String>,
    /// The change log's next row id (commit order).
    pub(super) next_change_id: i64,
}

impl Books {
    pub(super) async fn load(conn: &mut AnyConnection) -> Result<Books, sqlx::Error> {
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

    pub(super) fn add(&mut self, id: String, dep: Dep) {
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
    pub(super) fn service_position(&mut self, env: &str, service: &str) -> i64 {
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

    pub(super) fn remove(&mut self, id: &str) -> Option<Dep> {
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
