//! Retention: deployments past the number kept, and logs past the log-bytes cap, removed in
//! the batch's transaction.

use super::books::Books;
use super::change_log::close_log_topic;
use super::entities::Tx;

/// Removes a deployment with its history and log (retention).
pub(super) async fn delete_deployment(
    tx: &mut Tx<'_>,
    books: &mut Books,
    id: &str,
) -> Result<(), sqlx::Error> {
    for sql in [
        "INSERT INTO removed_deployments (id, env_id, service_id) \
         SELECT id, env_id, service_id FROM deployments WHERE id = $1 \
         ON CONFLICT (id) DO UPDATE SET env_id = excluded.env_id, service_id = excluded.service_id",
        "DELETE FROM log_lines WHERE deployment_id = $1",
        "DELETE FROM deployment_history WHERE deployment_id = $1",
        "DELETE FROM deployments WHERE id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut **tx).await?;
    }
    books.remove(id);
    books.logs_removed.push(id.to_string());
    close_log_topic(tx, books, id).await
}

/// Removes a deployment's log lines, keeping the deployment (the log-bytes cap).
pub(super) async fn remove_log(
    tx: &mut Tx<'_>,
    books: &mut Books,
    id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM log_lines WHERE deployment_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE deployments SET log_bytes = 0, log_removed = 1 WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    if let Some(dep) = books.deps.get_mut(id) {
        books.total_bytes -= dep.bytes.min(books.total_bytes);
        books.with_bytes.remove(&(dep.ordinal, id.to_string()));
        dep.bytes = 0;
    }
    books.logs_removed.push(id.to_string());
    close_log_topic(tx, books, id).await
}
