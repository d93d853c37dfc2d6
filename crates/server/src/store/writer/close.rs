//! The final transaction of a clean stop.

use super::Writer;
use crate::store::load::TopicMark;
use crate::store::schema::Backend;
use sqlx::Connection;

impl Writer {
    /// The final transaction of a clean shutdown.
    pub(super) async fn close(&mut self, topics: &[TopicMark]) -> Result<(), sqlx::Error> {
        let mut tx = self.conn.begin().await?;
        sqlx::query("DELETE FROM topic_changes")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM topics").execute(&mut *tx).await?;
        for t in topics {
            sqlx::query("INSERT INTO topics (topic, seq) VALUES ($1, $2)")
                .bind(&t.topic)
                .bind(t.seq as i64)
                .execute(&mut *tx)
                .await?;
            for c in &t.changes {
                sqlx::query(
                    "INSERT INTO topic_changes (topic, seq, json, compact) VALUES ($1, $2, $3, $4)",
                )
                .bind(&t.topic)
                .bind(c.seq as i64)
                .bind(&c.json)
                .bind(&c.compact)
                .execute(&mut *tx)
                .await?;
            }
        }
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
