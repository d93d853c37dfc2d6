//! The final transaction of a clean stop.

use super::{StageSlot, Writer};
use crate::store::schema::Backend;
use sqlx::Connection;

impl Writer {
    /// The end of a clean stop. Topics nothing happened on in this run and that the change
    /// log has no row of get their `open` rows first (the hub's unopened topics, staged as an
    /// empty batch), so the next start finds every topic where it stands in the change log.
    /// The clean-stop marks of older servers (`topics`, `topic_changes`) are superseded by
    /// the change log: they are emptied, not written.
    pub(super) async fn close(&mut self, slot: &StageSlot) -> Result<(), sqlx::Error> {
        if let Some(stage) = slot.get() {
            let mut nothing = std::iter::empty();
            let mut staged = stage.stage(&mut nothing);
            let rows = std::mem::take(&mut staged.rows);
            let statuses = std::mem::take(&mut staged.statuses);
            if !rows.is_empty() || !statuses.is_empty() {
                self.write(&[], &rows, &statuses).await?;
            }
            stage.show(staged);
        }
        let mut tx = self.conn.begin().await?;
        sqlx::query("DELETE FROM topic_changes")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM topics").execute(&mut *tx).await?;
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
