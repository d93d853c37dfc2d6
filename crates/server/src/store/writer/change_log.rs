//! The change log's rows (migration 0007): a batch's rows in commit order, each topic kept to
//! the resume backlog, and a removed log's topic ended.

use super::books::Books;
use super::entities::{pow2_chunks, Tx};
use crate::hub::{ChangeKind, ChangeRow};
use crate::store::schema::Backend;
use crate::store::statement::QueryBuilder;
use shipwatch_model::protocol::{Topic, RESUME_BACKLOG};
use std::collections::HashMap;

/// Change-log rows per multi-row insert (6 parameters each).
const CHANGE_ROWS: usize = 256;
/// A topic's changes past the resume backlog are deleted each time its numbers pass a multiple
/// of this, not at every commit: a statement per topic per commit would cost more than the
/// rows it deletes.
const TRIM_EVERY: u64 = 512;

/// Ends a removed log's topic in the change log: a `close` row at its last number, and its
/// older rows gone (the hub forgets the topic once this commits).
pub(super) async fn close_log_topic(
    tx: &mut Tx<'_>,
    books: &mut Books,
    id: &str,
) -> Result<(), sqlx::Error> {
    let topic = crate::store::topic_key(&Topic::Logs {
        deployment: id.to_string(),
    });
    let row = books.next_change_id;
    books.next_change_id += 1;
    sqlx::query(
        "INSERT INTO change_log (id, topic, seq, kind) \
         SELECT $1, $2, COALESCE(MAX(seq), 0), 'close' FROM change_log WHERE topic = $2",
    )
    .bind(row)
    .bind(&topic)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM change_log WHERE topic = $1 AND id < $2")
        .bind(&topic)
        .bind(row)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Stores a batch's change-log rows in order, and keeps each topic's changes to the resume
/// backlog (`RESUME_BACKLOG`, the most a resume is served from). A topic opened again (an
/// environment created anew, a deployment id given again) starts over: its older rows go.
pub(super) async fn write_change_log(
    tx: &mut Tx<'_>,
    books: &mut Books,
    rows: &[ChangeRow],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = rows
        .iter()
        .map(|r| crate::store::topic_key(&r.topic))
        .collect();
    let opened: Vec<&String> = rows
        .iter()
        .zip(&keys)
        .filter(|(r, _)| r.kind == ChangeKind::Open)
        .map(|(_, k)| k)
        .collect();
    for chunk in pow2_chunks(&opened, CHANGE_ROWS) {
        let mut q = QueryBuilder::new(
            Backend::of_connection(tx),
            "DELETE FROM change_log WHERE topic IN (",
        );
        let mut list = q.separated(", ");
        for key in chunk {
            list.push_bind(key.to_string());
        }
        q.push(")");
        q.build().execute(&mut **tx).await?;
    }
    let first = books.next_change_id;
    books.next_change_id += rows.len() as i64;
    let numbered: Vec<(i64, &ChangeRow, &String)> = rows
        .iter()
        .zip(&keys)
        .enumerate()
        .map(|(k, (row, key))| (first + k as i64, row, key))
        .collect();
    for chunk in pow2_chunks(&numbered, CHANGE_ROWS) {
        let mut q: QueryBuilder = QueryBuilder::new(
            Backend::of_connection(tx),
            "INSERT INTO change_log (id, topic, seq, kind, json, compact) ",
        );
        q.push_values(chunk, |mut b, (id, row, key)| {
            b.push_bind(*id)
                .push_bind(key.to_string())
                .push_bind(row.seq as i64)
                .push_bind(row.kind.word())
                .push_bind(row.json.as_deref().map(str::to_string))
                .push_bind(row.compact.as_deref().map(str::to_string));
        });
        q.build().execute(&mut **tx).await?;
    }
    // Each topic's first and last number in the batch.
    let mut span: HashMap<&str, (u64, u64)> = HashMap::new();
    for (row, key) in rows.iter().zip(&keys) {
        if row.kind == ChangeKind::Change {
            let (first, last) = span.entry(key.as_str()).or_insert((row.seq, row.seq));
            *first = (*first).min(row.seq);
            *last = (*last).max(row.seq);
        }
    }
    for (key, (first, last)) in span {
        if first / TRIM_EVERY == last / TRIM_EVERY && first % TRIM_EVERY != 0 {
            continue;
        }
        let Some(before) = last.checked_sub(RESUME_BACKLOG as u64) else {
            continue;
        };
        sqlx::query("DELETE FROM change_log WHERE topic = $1 AND kind = 'change' AND seq <= $2")
            .bind(key)
            .bind(before as i64)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
