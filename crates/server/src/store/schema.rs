//! The database file, its settings and its versioned migrations.

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::SqlSafeStr;
use std::path::Path;

/// The file the store lives in, inside the data directory.
pub const FILE_NAME: &str = "shipwatch.db";

/// The file a server locks while it uses the data directory.
pub const LOCK_NAME: &str = "shipwatch.lock";

/// The database behind the store. Both run the same queries through sqlx's `Any` driver
/// (see [`super`] for why); what differs is here: the migrations' dialect, how connections
/// are set up, and what a clean close does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// One file in the data directory (the default).
    Sqlite,
    /// A PostgreSQL database (`--store postgres://...`).
    Postgres,
}

impl Backend {
    /// The backend a connection talks to.
    pub fn of_connection(conn: &sqlx::AnyConnection) -> Backend {
        if conn.backend_name().eq_ignore_ascii_case("postgresql") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// The backend a pool's connections talk to.
    pub fn of_pool(pool: &sqlx::AnyPool) -> Backend {
        match pool.connect_options().database_url.scheme() {
            "postgres" | "postgresql" => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// The word health and logs use.
    pub fn word(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Every migration: its version, name, and its SQL for SQLite and for PostgreSQL. The two
/// directories hold the same numbers (a test checks it); a file differs only where the
/// dialects do.
macro_rules! migrations {
    ($(($version:literal, $name:literal, $file:literal)),* $(,)?) => {
        &[$((
            $version,
            $name,
            include_str!(concat!("../../migrations/sqlite/", $file)),
            include_str!(concat!("../../migrations/postgres/", $file)),
        )),*]
    };
}

/// (version, name, SQLite SQL, PostgreSQL SQL), oldest first.
type MigrationSource = (i64, &'static str, &'static str, &'static str);

const MIGRATIONS: &[MigrationSource] = migrations![
    (1, "platform", "0001_platform.sql"),
    (2, "removed_deployments", "0002_removed_deployments.sql"),
    (3, "deployment_origin", "0003_deployment_origin.sql"),
    (4, "deployments_by_env", "0004_deployments_by_env.sql"),
    (5, "time_in_state", "0005_time_in_state.sql"),
    (6, "environment_sources", "0006_environment_sources.sql"),
    (7, "change_log", "0007_change_log.sql"),
    (8, "removed_order", "0008_removed_order.sql"),
    (9, "replicas", "0009_replicas.sql"),
    (10, "write_inbox", "0010_write_inbox.sql"),
];

/// The migrations of `backend`, oldest first. A migration once released is never edited (its
/// checksum is checked at start); a change to the schema is a new one, in both directories.
pub fn migrator(backend: Backend) -> Migrator {
    let mut m = Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|(version, name, sqlite, postgres)| {
                let sql = match backend {
                    Backend::Sqlite => sqlite,
                    Backend::Postgres => postgres,
                };
                Migration::new(
                    *version,
                    (*name).into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    );
    // SQLite: one process per data directory (its lock file), so sqlx's lock would only cost
    // a round trip. PostgreSQL: replicas may start together on a new database; sqlx's lock
    // makes one apply the migrations while the others wait.
    m.locking = backend == Backend::Postgres;
    m
}

/// The URL the `Any` driver opens `file` with (created if missing); the settings a URL cannot
/// carry are applied to each new connection by [`sqlite_pragmas`].
pub fn sqlite_url(file: &Path) -> String {
    let mut url = String::from("sqlite://");
    for b in file.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    url
}

/// What a SQLite commit waits for (`--sqlite-synchronous`). In WAL mode both survive the
/// process being killed (a commit is in the WAL file when it returns) and neither corrupts the
/// file at a power cut; they differ in what a power cut or kernel crash may lose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Synchronous {
    /// The WAL is synced at checkpoints only: a power cut may lose the last commits
    /// (acknowledged ones included), never the file.
    #[default]
    Normal,
    /// The WAL is synced at every commit: a power cut loses nothing acknowledged, at the cost
    /// of an fsync per commit (the writer commits at most every 250 ms while nobody waits,
    /// at once when someone does).
    Full,
}

impl Synchronous {
    /// The word of the pragma, health and the flag.
    pub fn word(self) -> &'static str {
        match self {
            Synchronous::Normal => "normal",
            Synchronous::Full => "full",
        }
    }

    /// The word of a level as `PRAGMA synchronous` reads it back (0 off, 1 normal, 2 full,
    /// 3 extra).
    pub fn word_of_level(level: i64) -> &'static str {
        match level {
            0 => "off",
            1 => "normal",
            2 => "full",
            _ => "extra",
        }
    }
}

/// The statements run on each new SQLite connection. WAL lets the log download and the
/// start-up load read while the writer writes; `synchronous` is [`Synchronous`]. 64 MiB of
/// page cache: the writer touches the end of many logs at once. Past `max_file_bytes` (pages
/// of 4 KiB, the default) SQLite answers "database or disk is full".
pub fn sqlite_pragmas(max_file_bytes: u64, synchronous: Synchronous) -> Vec<String> {
    let mut pragmas = vec![
        "PRAGMA journal_mode = WAL".to_string(),
        format!("PRAGMA synchronous = {}", synchronous.word().to_uppercase()),
        "PRAGMA busy_timeout = 5000".to_string(),
        "PRAGMA foreign_keys = OFF".to_string(),
        "PRAGMA cache_size = -65536".to_string(),
    ];
    if max_file_bytes > 0 {
        pragmas.push(format!(
            "PRAGMA max_page_count = {}",
            (max_file_bytes / 4096).max(16)
        ));
    }
    pragmas
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The migration numbers in `dir`.
    fn numbers(dir: &str) -> BTreeSet<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dir);
        std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect()
    }

    #[test]
    fn both_backends_have_the_same_migrations() {
        let sqlite = numbers("sqlite");
        let postgres = numbers("postgres");
        assert_eq!(
            sqlite, postgres,
            "migrations/sqlite and migrations/postgres differ"
        );
        let listed: BTreeSet<String> = super::MIGRATIONS
            .iter()
            .map(|(v, name, _, _)| format!("{v:04}_{name}.sql"))
            .collect();
        assert_eq!(
            listed, sqlite,
            "schema.rs does not list every migration file"
        );
    }
}
