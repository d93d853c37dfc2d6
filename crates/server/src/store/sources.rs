//! Which source owns each environment, so that at start every source takes back its own: the
//! simulator does not go on with an environment the push API created, nor the push API with
//! one of the simulator's. An environment with no mark is the simulator's (stores written
//! before sources were marked hold only its environments).

use super::{Store, StoreError};
use std::collections::HashMap;

impl Store {
    /// Marks `env` as `source`'s, at once (not through the writer's queue): a source marks
    /// an environment before it reports it, so the store never holds an unmarked environment
    /// another source created.
    pub async fn mark_environment_source(&self, env: &str, source: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO environment_sources (env_id, source) VALUES ($1, $2) \
             ON CONFLICT (env_id) DO UPDATE SET source = excluded.source",
        )
        .bind(env)
        .bind(source)
        .execute(&self.inner.pool)
        .await
        .map_err(|e| StoreError::Write(e.to_string()))?;
        Ok(())
    }

    /// Every marked environment's source, by environment id.
    pub async fn environment_sources(&self) -> Result<HashMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT env_id, source FROM environment_sources")
                .fetch_all(&self.inner.pool)
                .await
                .map_err(|e| StoreError::Read(e.to_string()))?;
        Ok(rows.into_iter().collect())
    }
}
