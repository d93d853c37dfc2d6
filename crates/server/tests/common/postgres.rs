//! A real PostgreSQL for tests: [`PgServer`], the launcher the end-to-end tests and the
//! benchmark share (`crates/e2e/src/postgres.rs`: `initdb` and `pg_ctl` in a temporary
//! directory on a free port, stopped when the handle drops).
//!
//! [`TestStore`] gives a test the same store on either backend, so the store's tests run on
//! both.

pub use shipwatch_e2e::postgres::PgServer;
use shipwatch_server::store::StoreConfig;
use tempfile::TempDir;

/// The server flags that put its store on `at` (none for SQLite in the data directory), with
/// the PostgreSQL it then needs, which the caller keeps running.
pub fn store_on(at: Backend) -> (Option<PgServer>, Vec<String>) {
    match at {
        Backend::Sqlite => (None, Vec::new()),
        Backend::Postgres => {
            let pg = PgServer::start();
            let url = pg.create_db("shipwatch");
            (Some(pg), vec!["--store".into(), url])
        }
    }
}

/// Which database a store test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store's place for one test: a temporary data directory, and on PostgreSQL a cluster of
/// its own with one database. Opening the same [`TestStore`] again opens the same store.
pub struct TestStore {
    pub backend: Backend,
    pub dir: TempDir,
    pub pg: Option<PgServer>,
    pub url: Option<String>,
}

impl TestStore {
    pub fn new(backend: Backend) -> TestStore {
        let dir = tempfile::tempdir().expect("temp dir");
        let (pg, url) = match backend {
            Backend::Sqlite => (None, None),
            Backend::Postgres => {
                let pg = PgServer::start();
                let url = pg.create_db("shipwatch");
                (Some(pg), Some(url))
            }
        };
        TestStore {
            backend,
            dir,
            pg,
            url,
        }
    }

    /// The store's config, with the tests' usual settings.
    pub fn config(&self) -> StoreConfig {
        StoreConfig {
            dir: self.dir.path().to_path_buf(),
            database: self.url.clone(),
            pool: Default::default(),
            retain_deployments: 50,
            max_log_bytes: 2 << 30,
            log_base: 1_000_000,
            max_file_bytes: 0,
            queue: Default::default(),
            synchronous: Default::default(),
            keep_removed: shipwatch_server::store::DEFAULT_KEEP_REMOVED,
        }
    }

    /// The server flags that put its store here.
    pub fn flags(&self) -> Vec<String> {
        let mut flags = vec![
            "--data-dir".to_string(),
            self.dir.path().display().to_string(),
        ];
        if let Some(url) = &self.url {
            flags.extend(["--store".to_string(), url.clone()]);
        }
        flags
    }
}
