//! How long the store remembers removed deployments. Retention removes a deployment with its
//! log and keeps its id (table `removed_deployments`) so that a page opened on that log is
//! told why it is gone; without a bound that table grows with every deployment ever removed.
//! The newest `--keep-removed-deployments` (default [`DEFAULT_KEEP_REMOVED`]) are remembered,
//! in the writer's transaction that removes more; a log removed longer ago is answered as an
//! unknown one.

use super::writer::Tx;

/// The default of `--keep-removed-deployments`: 100,000 ids (about 10 MB of rows), the
/// removals of 2,000 services' 50 kept deployments over.
pub const DEFAULT_KEEP_REMOVED: u64 = 100_000;

/// Forgets all but the `keep` most recently removed deployments (at least one is kept).
/// Rows are numbered in the order they were removed: SQLite's rowid, and a column of the same
/// name on PostgreSQL (migration 8).
pub(super) async fn forget_oldest_removed(tx: &mut Tx<'_>, keep: u64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM removed_deployments WHERE rowid < \
         (SELECT rowid FROM removed_deployments ORDER BY rowid DESC LIMIT 1 OFFSET $1)",
    )
    .bind(keep.max(1) as i64 - 1)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
