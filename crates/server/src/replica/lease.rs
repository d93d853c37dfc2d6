//! The leader's lease: a row of `leases` (migration 0009) that one replica at a time holds.
//! It is taken with an upsert that succeeds only when the row has expired or is already the
//! taker's, and renewed by its holder every [`LeaseConfig::renew_every`]; times are read from
//! the database's clock, so the replicas' clocks do not matter.

use sqlx::AnyPool;
use std::time::Duration;

/// The lease's row.
pub const LEADER: &str = "leader";

/// The database's clock in milliseconds since the epoch.
const NOW_MS: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// How long a lease lasts and how often its holder renews it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseConfig {
    /// A lease not renewed for this long may be taken by another replica.
    pub ttl: Duration,
    /// How often the holder renews it, and a follower tries to take it.
    pub renew_every: Duration,
}

/// Who holds the lease, for health.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Holder {
    /// The holder's id ([`replica_id`]).
    pub holder: String,
    /// Milliseconds until it expires unless renewed (negative: expired).
    pub expires_in_ms: i64,
}

/// This process's id among replicas: host name, process id and start time.
pub fn replica_id(start_ms: u64) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}:{start_ms}", std::process::id())
}

/// Takes the lease for `holder`, or renews it if `holder` has it: true if `holder` holds it
/// now, for `ttl` from the database's now.
pub async fn take(pool: &AnyPool, holder: &str, ttl: Duration) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, {NOW_MS} + $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
         expires_at = excluded.expires_at \
         WHERE leases.holder = excluded.holder OR leases.expires_at < {NOW_MS} \
         RETURNING holder"
    );
    let row: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(LEADER)
        .bind(holder)
        .bind(ttl.as_millis() as i64)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_deref() == Some(holder))
}

/// Gives the lease up (at a clean stop), so a follower takes it at once.
pub async fn release(pool: &AnyPool, holder: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
        .bind(LEADER)
        .bind(holder)
        .execute(pool)
        .await?;
    Ok(())
}

/// Who holds the lease, if anyone ever took it.
pub async fn holder(pool: &AnyPool) -> Result<Option<Holder>, sqlx::Error> {
    let sql = format!("SELECT holder, expires_at - {NOW_MS} FROM leases WHERE name = $1");
    let row: Option<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(LEADER)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|(holder, expires_in_ms)| Holder {
        holder,
        expires_in_ms,
    }))
}
