//! A follower's hub kept current: the change log read by `id` past the last row applied, after
//! each notification ([`super::listener`]) and every second anyway, and applied to the hub
//! ([`crate::hub::Hub::mirror`]). The rows are the truth; a notification only says "look".

use crate::hub::{ChangeKind, Hub, LoggedChange};
use crate::store::{Store, StoreError};
use sqlx::{AnyPool, Row};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Rows read per query.
const PAGE: i64 = 2_000;
/// The read made even without a notification.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// Where a follower's hub stands in the change log.
#[derive(Debug, Default)]
pub struct Position {
    /// The last row applied.
    pub applied: AtomicU64,
    /// The last row committed, as of the last read.
    pub head: AtomicU64,
}

impl Position {
    /// Rows committed and not yet applied, as of the last read.
    pub fn lag(&self) -> u64 {
        self.head
            .load(Ordering::Relaxed)
            .saturating_sub(self.applied.load(Ordering::Relaxed))
    }
}

/// The rows past `after`, at most [`PAGE`], in commit order.
async fn rows_after(pool: &AnyPool, after: u64) -> Result<Vec<(u64, LoggedChange)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, topic, seq, kind, json, compact FROM change_log WHERE id > $1 \
         ORDER BY id LIMIT $2",
    )
    .bind(after as i64)
    .bind(PAGE)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.try_get("id")?;
        let kind: String = row.try_get("kind")?;
        let Some(kind) = ChangeKind::parse(&kind) else {
            continue;
        };
        out.push((
            id.max(0) as u64,
            LoggedChange {
                topic: row.try_get("topic")?,
                seq: row.try_get::<i64, _>("seq")?.max(0) as u64,
                kind,
                json: row.try_get("json")?,
                compact: row.try_get("compact")?,
            },
        ));
    }
    Ok(out)
}

/// The last row committed.
pub async fn head(pool: &AnyPool) -> Result<u64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM change_log")
        .fetch_one(pool)
        .await?;
    Ok(id.max(0) as u64)
}

/// Applies every row committed past `position.applied` to `hub`; returns the rows applied.
pub async fn catch_up(store: &Store, hub: &Hub, position: &Position) -> Result<u64, StoreError> {
    let pool = store.pool();
    let read = |e: sqlx::Error| StoreError::Read(e.to_string());
    let mut applied = 0;
    loop {
        let after = position.applied.load(Ordering::Relaxed);
        let rows = rows_after(pool, after).await.map_err(read)?;
        let Some(&(last, _)) = rows.last() else {
            break;
        };
        let changes: Vec<LoggedChange> = rows.into_iter().map(|(_, c)| c).collect();
        if hub.lacks_topics_of(&changes) || hub.holds_no_environments() {
            // Read after these rows were committed: the stored state holds them, with each
            // status's "since" (the leader writes the timeline in the same transaction).
            open_environments(store, hub).await?;
        }
        hub.mirror(&changes);
        applied += changes.len() as u64;
        position.applied.store(last, Ordering::Relaxed);
        position.head.fetch_max(last, Ordering::Relaxed);
        if (changes.len() as i64) < PAGE {
            break;
        }
    }
    if hub.holds_no_environments() {
        open_environments(store, hub).await?;
    }
    let head = head(pool).await.map_err(read)?;
    position.head.fetch_max(head, Ordering::Relaxed);
    Ok(applied)
}

/// Opens the environment topics `hub` lacks from the store (see [`Hub::mirror_environments`]).
async fn open_environments(store: &Store, hub: &Hub) -> Result<(), StoreError> {
    let (environments, numbers) = store.snapshot_environments().await?;
    if environments.is_empty() {
        return Ok(());
    }
    hub.mirror_environments(&environments, &numbers);
    if let Ok(since) = store.summary_since(&environments).await {
        for (env, since) in since {
            hub.start_summary_since(&env, since.running, since.deployment);
        }
    }
    Ok(())
}

/// Keeps `hub` current until `stop` is notified: a read at each `wake` and every
/// [`POLL_EVERY`]. Returns once stopped (the caller then catches up one last time, if it
/// takes over).
pub async fn tail(
    store: Store,
    hub: Arc<Hub>,
    position: Arc<Position>,
    wake: Arc<Notify>,
    stop: Arc<Notify>,
) {
    let mut failing = false;
    loop {
        match catch_up(&store, &hub, &position).await {
            Ok(_) if failing => {
                failing = false;
                tracing::info!("reading the change log again");
            }
            Ok(_) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "reading the change log failed; retrying every second");
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL_EVERY) => {}
            _ = stop.notified() => return,
        }
    }
}
