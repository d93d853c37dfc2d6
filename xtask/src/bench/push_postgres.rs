//! The push API's throughput into PostgreSQL (`push_pg_*`): the `push` part's workloads
//! (deployments created, instance reports and log lines acknowledged, each counted on a
//! websocket client too), against the real server with `--store postgres://...` on a
//! PostgreSQL cluster of its own (`shipwatch_e2e::postgres`: `initdb` and `pg_ctl` in a
//! temporary directory, PostgreSQL's default settings: fsync and synchronous commit on; over
//! loopback TCP), beside the SQLite figures of the `push` part.

use super::push::{self, Sizes};
use super::record::Figures;
use crate::build::Built;
use crate::cmd::Result;
use shipwatch_e2e::postgres::PgServer;

/// Prefix of the figures.
pub const PREFIX: &str = "push_pg";

/// Starts PostgreSQL, then the push workloads against a server storing into it.
pub fn measure(built: &Built, sizes: &Sizes, figures: &mut Figures) -> Result {
    let pg = PgServer::launch_with(&[]).and_then(|pg| {
        let url = pg.create_database("shipwatch")?;
        Ok((pg, url))
    });
    let (pg, url) = match pg {
        Ok(started) => started,
        Err(e) => {
            push::missing_all(PREFIX, &e, figures);
            return Err(e);
        }
    };
    eprintln!("bench: PostgreSQL on port {}", pg.port());
    let result = push::measure_with(built, &["--store", &url], PREFIX, sizes, figures);
    super::server::keep_log(&pg.log_path(), "postgresql", "PostgreSQL");
    result
}
