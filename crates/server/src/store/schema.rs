//! The database file, its settings and its versioned migrations.

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::SqlSafeStr;
use std::path::Path;
use std::time::Duration;

/// The file the store lives in, inside the data directory.
pub const FILE_NAME: &str = "shipwatch.db";

/// The file a server locks while it uses the data directory.
pub const LOCK_NAME: &str = "shipwatch.lock";

/// The migrations, oldest first. A migration once released is never edited (its checksum is
/// checked at start); a change to the schema is a new one.
pub fn migrator() -> Migrator {
    let mut m = Migrator::with_migrations(vec![
        Migration::new(
            1,
            "platform".into(),
            MigrationType::Simple,
            include_str!("../../migrations/0001_platform.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "removed_deployments".into(),
            MigrationType::Simple,
            include_str!("../../migrations/0002_removed_deployments.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            3,
            "deployment_origin".into(),
            MigrationType::Simple,
            include_str!("../../migrations/0003_deployment_origin.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            4,
            "deployments_by_env".into(),
            MigrationType::Simple,
            include_str!("../../migrations/0004_deployments_by_env.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            5,
            "time_in_state".into(),
            MigrationType::Simple,
            include_str!("../../migrations/0005_time_in_state.sql").into_sql_str(),
            false,
        ),
        Migration::new(
            6,
            "environment_sources".into(),
            MigrationType::Simple,
            include_str!("../../migrations/0006_environment_sources.sql").into_sql_str(),
            false,
        ),
    ]);
    // One process owns a data directory; the advisory lock would only cost a round trip.
    m.locking = false;
    m
}

/// How every connection to the file is opened. WAL lets the log download and the start-up
/// load read while the writer writes; `synchronous = NORMAL` makes a commit durable against
/// the process being killed (the commit is in the WAL file when it returns) and leaves the
/// fsync to checkpoints, so a power cut may lose the last commits but never corrupts the file.
pub fn options(file: &Path, max_file_bytes: u64) -> SqliteConnectOptions {
    let options = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(false)
        // The writer's statements are few and repeated; logs pages too.
        .statement_cache_capacity(64)
        // 64 MiB of page cache: the writer touches the end of many logs at once.
        .pragma("cache_size", "-65536");
    if max_file_bytes == 0 {
        return options;
    }
    // SQLite answers "database or disk is full" past this many pages (of 4 KiB, the default).
    options.pragma(
        "max_page_count",
        (max_file_bytes / 4096).max(16).to_string(),
    )
}
