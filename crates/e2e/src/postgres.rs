//! A real PostgreSQL of its own for tests and the benchmark: Debian's `postgresql` package
//! (`cargo xtask test` installs it when missing), a cluster made by `initdb` in a temporary
//! directory, started by `pg_ctl` on a free port of 127.0.0.1 with its socket in that
//! directory, and stopped (its directory removed) when the handle drops. Nothing outside the
//! temporary directory is touched. The one launcher of the server's store tests, the
//! end-to-end tests and `cargo xtask bench`.

use crate::free_port;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where Debian puts PostgreSQL 15's programs (`SHIPWATCH_PG_BIN` overrides it).
const DEFAULT_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running PostgreSQL cluster of its own.
pub struct PgServer {
    bin: PathBuf,
    /// Holds `data/` (the cluster, owned by the `postgres` user when run as root).
    dir: PathBuf,
    port: u16,
    /// `name=value` settings it runs with (`-c`).
    settings: Vec<String>,
}

/// The tests' settings: fsync off (they kill servers, not machines).
pub const FOR_TESTS: &[&str] = &["fsync=off"];

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

/// `program`, as the `postgres` user when we are root (initdb and postgres refuse root).
fn command(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// Runs `program args` (see [`command`]); its output in the error when it fails.
fn run(program: &Path, args: &[&str]) -> Result<(), String> {
    let out = command(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} {args:?} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Clusters made by this process so far: each gets a directory of its own.
static MADE: AtomicUsize = AtomicUsize::new(0);

impl PgServer {
    /// Makes a cluster in a temporary directory and starts it with [`FOR_TESTS`].
    pub fn launch() -> Result<PgServer, String> {
        Self::launch_with(FOR_TESTS)
    }

    /// Makes a cluster in a temporary directory and starts it with `settings`
    /// (`name=value`; none: PostgreSQL's defaults, fsync on).
    pub fn launch_with(settings: &[&str]) -> Result<PgServer, String> {
        let bin = bin_dir();
        if !bin.join("initdb").exists() {
            return Err(format!(
                "PostgreSQL is not installed ({} has no initdb): `apt-get install -y \
                 postgresql`, or run `cargo xtask test`, which installs it",
                bin.display()
            ));
        }
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "shipwatch-pg-{}-{}-{port}",
            std::process::id(),
            MADE.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let data = dir.join("data");
        std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
        // From here on, dropping the handle removes the directory.
        let settings = settings.iter().map(|s| s.to_string()).collect();
        let server = PgServer {
            bin,
            dir,
            port,
            settings,
        };
        if is_root() {
            // The cluster's user must reach and own its directory.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&server.dir, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("chmod {}: {e}", server.dir.display()))?;
            let chown = Command::new("chown")
                .args(["postgres:postgres", &server.data()])
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !chown.success() {
                return Err(format!("chown postgres {}: {chown}", server.data()));
            }
        }
        run(
            &server.bin.join("initdb"),
            &[
                "-D",
                &server.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        )?;
        server.restart()?;
        Ok(server)
    }

    /// [`PgServer::launch`], panicking with the reason (tests).
    pub fn start() -> PgServer {
        Self::launch().unwrap_or_else(|e| panic!("{e}"))
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    /// Starts the cluster (again, after [`PgServer::halt`]) and waits until it takes
    /// connections.
    pub fn restart(&self) -> Result<(), String> {
        let data = self.data();
        let mut opts = format!("-p {} -k {data} -c listen_addresses=127.0.0.1", self.port);
        for s in &self.settings {
            opts.push_str(&format!(" -c {s}"));
        }
        let log = format!("{data}/server.log");
        run(
            &self.bin.join("pg_ctl"),
            &["-D", &data, "-o", &opts, "-l", &log, "-w", "start"],
        )
    }

    /// [`PgServer::restart`], panicking with the reason (tests).
    pub fn start_again(&self) {
        self.restart().unwrap_or_else(|e| panic!("{e}"));
    }

    /// Stops the cluster (fast: sessions are cut, as when a database restarts).
    pub fn halt(&self) -> Result<(), String> {
        run(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data(), "-m", "fast", "-w", "stop"],
        )
    }

    /// [`PgServer::halt`], panicking with the reason (tests).
    pub fn stop(&self) {
        self.halt().unwrap_or_else(|e| panic!("{e}"));
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its log file (`pg_ctl -l`), inside its temporary directory.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("data/server.log")
    }

    /// Creates database `name` and gives its URL.
    pub fn create_database(&self, name: &str) -> Result<String, String> {
        let port = self.port.to_string();
        run(
            &self.bin.join("createdb"),
            &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", name],
        )?;
        Ok(self.url(name))
    }

    /// [`PgServer::create_database`], panicking with the reason (tests).
    pub fn create_db(&self, name: &str) -> String {
        self.create_database(name).unwrap_or_else(|e| panic!("{e}"))
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
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
