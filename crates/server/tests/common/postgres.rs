//! A real PostgreSQL for tests: Debian's `postgresql` package (`cargo xtask test` installs it
//! when missing), a cluster made by `initdb` in a temporary directory, started by `pg_ctl` on
//! a free port with its socket in that directory, and stopped when the handle drops. Nothing
//! outside the temporary directory is touched.
//!
//! [`TestStore`] gives a test the same store on either backend, so the store's tests run on
//! both.

use shipwatch_server::store::StoreConfig;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// Where Debian puts PostgreSQL 15's programs (`SHIPWATCH_PG_BIN` overrides it).
const DEFAULT_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running PostgreSQL cluster of its own.
pub struct PgServer {
    bin: PathBuf,
    /// Holds `data/` (the cluster, owned by the `postgres` user when run as root).
    dir: TempDir,
    port: u16,
}

fn bin_dir() -> PathBuf {
    std::env::var_os("SHIPWATCH_PG_BIN").map_or_else(|| PathBuf::from(DEFAULT_BIN), Into::into)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program`, as the `postgres` user when we are root.
fn command(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// `program args` as the `postgres` user when we are root (initdb refuses root), else as we
/// are; panics with its output when it fails.
fn run(program: &Path, args: &[&str]) {
    let out = command(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl PgServer {
    /// Makes a cluster in a temporary directory and starts it.
    pub fn start() -> PgServer {
        let bin = bin_dir();
        assert!(
            bin.join("initdb").exists(),
            "PostgreSQL is not installed ({} has no initdb): `apt-get install -y postgresql`, \
             or run `cargo xtask test`, which installs it",
            bin.display()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("data dir");
        if is_root() {
            // The cluster's user must reach and own its directory.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&data)
                .status()
                .expect("chown");
            assert!(status.success(), "chown postgres {}", data.display());
        }
        let data_s = data.to_string_lossy().into_owned();
        run(
            &bin.join("initdb"),
            &["-D", &data_s, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        let server = PgServer {
            bin,
            dir,
            port: free_port(),
        };
        server.start_again();
        server
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    /// Starts the cluster (again, after [`PgServer::stop`]) and waits until it takes
    /// connections.
    pub fn start_again(&self) {
        let data = self.data();
        // fsync off: the tests kill servers, not machines.
        let opts = format!(
            "-p {} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port
        );
        let log = format!("{data}/server.log");
        run(
            &self.bin.join("pg_ctl"),
            &["-D", &data, "-o", &opts, "-l", &log, "-w", "start"],
        );
    }

    /// Stops the cluster (fast: sessions are cut, as when a database restarts).
    pub fn stop(&self) {
        run(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data(), "-m", "fast", "-w", "stop"],
        );
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates database `name` and gives its URL.
    pub fn create_db(&self, name: &str) -> String {
        let port = self.port.to_string();
        run(
            &self.bin.join("createdb"),
            &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", name],
        );
        self.url(name)
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // Immediate: a test that failed must not wait for sessions to end.
        let _ = command(&self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .output();
    }
}

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
