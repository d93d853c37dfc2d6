//! Two replicas behind nginx (`deploy/nginx.conf`, filled and started by
//! `shipwatch_e2e::nginx`), on one PostgreSQL (`shipwatch_e2e::postgres`, default settings):
//!
//! - **fan-out** (`replicas_*`): `shipwatch-loadgen fanout` through nginx, which spreads the
//!   clients over the replicas (`least_conn`), let in at [`CONNECT_RATE`] a second: live
//!   clients (at the end of the window: snapshot held, socket open, changes in order), the
//!   latency of a change reaching the clients (from the event's own stamp, as the `server`
//!   part measures it), disconnects, and the CPU of nginx, the replicas, PostgreSQL, the load
//!   generator and the rest of the machine during the ramp and the window.
//! - **renewal gap** (`replicas_renewal_gap_ms`): the leader's longest time between two
//!   renewals of its lease, from its health at the end of the fan-out window.
//! - **failover** (`failover_*`): `shipwatch-loadgen failover` through nginx, then a SIGKILL of
//!   replica B (the second started: a follower, where replicas share the database); the time
//!   until each of B's clients is subscribed again and receiving, reconnecting with the page's
//!   back-off.
//!
//! Where the server does not yet let a second replica on the same database (it refuses to
//! start), both replicas run `--ephemeral` instead, each its own world:
//! `replicas_one_database` is 0 then, and a moved client gets a fresh snapshot rather than
//! `resumed`.

use super::record::Figures;
use super::server::{self, Server};
use super::socket::Socket;
use super::swarm::loadgen;
use crate::build::Built;
use crate::cmd::Result;
use shipwatch_e2e::nginx::Nginx;
use shipwatch_e2e::postgres::PgServer;
use shipwatch_e2e::procs;
use shipwatch_e2e::server::open_file_limits;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Services of the environment the clients follow (as the `server` part: 10,000 snapshots of
/// 1,000 services would be 6 GB).
const SERVICES: &str = "100";
/// Status events per second asked of the simulator: a hundredth of the `server` part's.
/// nginx copies every byte between two sockets, and each event reaches a client as about
/// 1.4 KB (its service whole, deployments with their stages); on these 2 cores, shared with
/// the replicas, PostgreSQL and the swarm, 10,000 clients at 1,000 events/s (14 GB/s asked)
/// got 1,389 live, and at 100 events/s 2,502 live with 502s from nginx: that measures the
/// machine's bytes, not the replicas.
const RATE: &str = "10";

/// New fan-out clients per second through nginx. A page's reconnect back-off spreads a crowd
/// out; all 10,000 at once would measure a connect storm (each handshake brings a 116 KB
/// snapshot through two sockets) rather than the clients being served.
const CONNECT_RATE: &str = "250";

/// How many clients, for how long.
pub struct Sizes {
    /// Fan-out clients through nginx.
    pub fanout_clients: usize,
    /// The fan-out's measuring window.
    pub fanout_seconds: f64,
    /// Failover clients through nginx (about half of them land on the replica killed).
    pub failover_clients: usize,
}

impl Sizes {
    /// The quick run's sizes, or the full run's.
    pub fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                fanout_clients: 1_000,
                fanout_seconds: 5.0,
                failover_clients: 200,
            }
        } else {
            Sizes {
                fanout_clients: 10_000,
                fanout_seconds: 20.0,
                failover_clients: 2_000,
            }
        }
    }
}

/// The database, the two replicas and nginx in front of them; stopped when dropped, in this
/// order (nginx first, the replicas' data directories last).
struct Setup {
    nginx: Nginx,
    a: Server,
    b: Server,
    one_database: bool,
    pg: Option<PgServer>,
    _dirs: Dirs,
}

/// Temporary directories, removed when dropped.
struct Dirs(Vec<PathBuf>);

impl Drop for Dirs {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Runs the fan-out, then the failover (which kills replica B), on one setup.
pub fn measure(built: &Built, loadgen_bin: &Path, sizes: &Sizes, figures: &mut Figures) -> Result {
    let setup = start(built)?;
    let result = fan_out_then_failover(&setup, loadgen_bin, sizes, figures);
    if let Some(pg) = &setup.pg {
        server::keep_log(&pg.log_path(), "postgresql", "PostgreSQL");
    }
    result
}

fn fan_out_then_failover(
    setup: &Setup,
    loadgen_bin: &Path,
    sizes: &Sizes,
    figures: &mut Figures,
) -> Result {
    figures.put(
        "replicas_one_database",
        f64::from(u8::from(setup.one_database)),
        "",
    );
    let ws = format!("ws://{}/ws", setup.nginx.addr());
    // nginx's workers, the load generator and the replicas each get the hard open-files
    // limit; a worker holding every websocket needs two descriptors per client.
    if let Some((_, hard)) = open_file_limits() {
        let needed = 2 * sizes.fanout_clients as u64;
        if hard < needed {
            eprintln!(
                "bench: the open-files limit is {hard}, under the {needed} one nginx worker \
                 may need: clients past it will fail (raise `ulimit -Hn`)"
            );
        }
    }
    let pids = [setup.a.pid(), setup.b.pid()]
        .iter()
        .flatten()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let out = loadgen(
        loadgen_bin,
        &[
            "fanout".into(),
            "--url".into(),
            ws.clone(),
            "--env".into(),
            "production".into(),
            "--clients".into(),
            sizes.fanout_clients.to_string(),
            "--seconds".into(),
            sizes.fanout_seconds.to_string(),
            "--server-pid".into(),
            pids,
            "--connect-rate".into(),
            CONNECT_RATE.into(),
            "--cpu".into(),
            cpu_groups(setup),
            "--prefix".into(),
            "replicas".into(),
        ],
    );
    match out {
        Ok(out) => figures.absorb(&out),
        Err(e) => figures.missing("replicas_clients_live", "clients", &e),
    }
    match leader_renewal_gap(setup) {
        Ok(ms) => figures.put("replicas_renewal_gap_ms", ms, "ms"),
        Err(why) => figures.missing("replicas_renewal_gap_ms", "ms", &why),
    }
    // The fan-out's sockets are closing: let the replicas settle before the next swarm.
    std::thread::sleep(Duration::from_secs(2));
    let b = setup.b.pid().ok_or("replica B is not running")?;
    let out = loadgen(
        loadgen_bin,
        &[
            "failover".into(),
            "--url".into(),
            ws,
            "--env".into(),
            "production".into(),
            "--clients".into(),
            sizes.failover_clients.to_string(),
            "--kill-pid".into(),
            b.to_string(),
            "--prefix".into(),
            "failover".into(),
        ],
    )?;
    figures.absorb(&out);
    let log = setup.nginx.error_log();
    for (n, what) in error_kinds(&log).iter().take(6) {
        eprintln!("bench: nginx's error log: {n} × {what}");
    }
    Ok(())
}

/// The longest time between two renewals of its lease the leader has seen (health's
/// `replica.longest_renewal_gap_ms`; the lease is lost past its time to live), asked of both
/// replicas directly, not through nginx.
fn leader_renewal_gap(setup: &Setup) -> std::result::Result<f64, String> {
    if !setup.one_database {
        return Err("no lease: each replica --ephemeral".into());
    }
    for r in [&setup.a, &setup.b] {
        let Some(health) = super::browser::block_on(r.health()) else {
            continue;
        };
        let replica = &health["replica"];
        if replica["role"].as_str() == Some("leader") {
            return replica["longest_renewal_gap_ms"]
                .as_f64()
                .ok_or_else(|| "the leader's health has no longest_renewal_gap_ms".into());
        }
    }
    Err("no replica answered health as the leader".into())
}

/// The loadgen's `--cpu` groups: nginx (master and workers), the replicas, PostgreSQL (the
/// postmaster and its backends).
fn cpu_groups(setup: &Setup) -> String {
    let mut groups = Vec::new();
    let nginx_dir = format!("shipwatch-nginx-{}-", setup.nginx.port);
    let me = std::process::id();
    if let Some((pid, _)) = procs::descendants(me)
        .into_iter()
        // The master names itself `nginx: master process /usr/sbin/nginx -p DIR ...`; the
        // workers' names do not hold the directory.
        .find(|(_, cmd)| cmd.contains(&nginx_dir))
    {
        groups.push(format!("nginx={pid}"));
    }
    let replicas: Vec<String> = [setup.a.pid(), setup.b.pid()]
        .iter()
        .flatten()
        .map(u32::to_string)
        .collect();
    if !replicas.is_empty() {
        groups.push(format!("replicas={}", replicas.join("+")));
    }
    if let Some(pg) = &setup.pg {
        if let Some(pid) = procs::with_argument(&format!("-p {} ", pg.port()))
            .into_iter()
            .next()
        {
            groups.push(format!("postgres={pid}"));
        }
    }
    groups.join(",")
}

/// nginx's error log by kind of message (the text after the connection number, up to the
/// client's address), most frequent first.
fn error_kinds(log: &str) -> Vec<(usize, String)> {
    let mut kinds: std::collections::HashMap<String, usize> = Default::default();
    for line in log.lines() {
        let what = line.split_once("] ").map_or(line, |(_, rest)| rest);
        // `PID#TID: *CONN message, client: ...`
        let what = what.split_once(": ").map_or(what, |(_, rest)| rest);
        let what = what
            .strip_prefix('*')
            .and_then(|r| r.split_once(' ').map(|(_, m)| m))
            .unwrap_or(what);
        let what = what.split_once(", client:").map_or(what, |(m, _)| m);
        *kinds.entry(what.to_string()).or_default() += 1;
    }
    let mut kinds: Vec<(usize, String)> = kinds.into_iter().map(|(k, n)| (n, k)).collect();
    kinds.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    kinds
}

/// PostgreSQL, replica A, replica B on the same database (or both `--ephemeral` where B
/// refuses it), and nginx.
fn start(built: &Built) -> Result<Setup> {
    let pg = PgServer::launch_with(&[])?;
    let url = pg.create_database("shipwatch")?;
    let dir = |name: &str| {
        std::env::temp_dir().join(format!(
            "shipwatch-bench-replica-{name}-{}",
            std::process::id()
        ))
    };
    let dirs = Dirs(vec![dir("a"), dir("b")]);
    for d in &dirs.0 {
        let _ = std::fs::remove_dir_all(d);
    }
    let on_db = |d: &Path| -> Vec<String> {
        vec![
            "--data-dir".into(),
            d.display().to_string(),
            "--store".into(),
            url.clone(),
        ]
    };
    let a = replica(built, "a", "7", &on_db(&dirs.0[0]))?;
    // The leader's world is in the database before the follower starts.
    serves_environment(&a.addr(), Duration::from_secs(15))?;
    let shared = replica(built, "b", "7", &on_db(&dirs.0[1])).and_then(|b| {
        // A replica that refuses the database may do so once it listens; one that takes it
        // must serve the leader's environment.
        serves_environment(&b.addr(), Duration::from_secs(15))?;
        if b.pid().is_some_and(alive) {
            Ok(b)
        } else {
            Err("replica B exited".into())
        }
    });
    let (a, b, pg, one_database) = match shared {
        Ok(b) => (a, b, Some(pg), true),
        Err(e) => {
            eprintln!(
                "bench: replicas: a second server on the database did not start ({e}): \
                 both replicas run --ephemeral instead, each its own world"
            );
            drop(a);
            drop(pg);
            (
                replica(built, "a", "7", &[])?,
                replica(built, "b", "8", &[])?,
                None,
                false,
            )
        }
    };
    let hard = open_file_limits().map_or(20_000, |(_, hard)| hard);
    let nginx = Nginx::start_with(
        &[a.addr(), b.addr()],
        &format!("worker_rlimit_nofile {hard};"),
    )?;
    eprintln!(
        "bench: replicas A {} and B {} behind nginx {}, {}",
        a.addr(),
        b.addr(),
        nginx.addr(),
        if one_database {
            "on one PostgreSQL database"
        } else {
            "each --ephemeral"
        }
    );
    Ok(Setup {
        nginx,
        a,
        b,
        one_database,
        pg,
        _dirs: dirs,
    })
}

/// Replica `name` of the workload (its log `target/bench/logs/replicas-<name>.log`), with
/// `store` flags (none: `--ephemeral`): connections from one address unlimited (the swarm is
/// one address), nginx trusted for the client's address.
fn replica(built: &Built, name: &str, seed: &str, store: &[String]) -> Result<Server> {
    let mut flags: Vec<&str> = vec![
        "--environments",
        "1",
        "--services",
        SERVICES,
        "--rate",
        RATE,
        "--seed",
        seed,
        "--max-connections-per-ip",
        "0",
        "--trusted-proxy",
        "127.0.0.1",
    ];
    flags.extend(store.iter().map(String::as_str));
    server::start_named(Some(name), &built.server, &built.dist, &flags)
}

/// Waits until the server at `addr` sends a websocket client the environment's snapshot,
/// subscribing again every second while it answers with an error (no such environment yet).
fn serves_environment(addr: &str, within: Duration) -> Result {
    let deadline = std::time::Instant::now() + within;
    let mut ws = Socket::connect(addr)?;
    let mut last = String::from("nothing");
    for n in 0.. {
        if std::time::Instant::now() >= deadline {
            break;
        }
        ws.send(format!(
            r#"{{"v":1,"type":"subscribe","sub":"e{n}","topic":{{"kind":"environment","env":"production"}}}}"#
        ))?;
        let ask_again = std::time::Instant::now() + Duration::from_secs(1);
        while std::time::Instant::now() < ask_again.min(deadline) {
            let Some(frame) = ws.next()? else { continue };
            match frame["type"].as_str() {
                Some("snapshot" | "snapshot_part") => {
                    ws.close();
                    return Ok(());
                }
                Some("error") => {
                    last = frame.to_string();
                    std::thread::sleep(
                        ask_again.saturating_duration_since(std::time::Instant::now()),
                    );
                    break;
                }
                _ => {}
            }
        }
    }
    Err(format!(
        "{addr} sent no snapshot of the environment within {within:?} (last: {last})"
    ))
}

/// Whether process `pid` runs (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().to_string()))
        .is_some_and(|state| !state.starts_with('Z') && !state.starts_with('X'))
}

#[cfg(test)]
mod tests {
    use super::error_kinds;

    #[test]
    fn nginx_errors_are_counted_by_kind() {
        let log = "\
2026/12/05 13:35:10 [error] 11384#11384: *37207 no live upstreams while connecting to upstream, client: 127.0.0.1, server: _
2026/12/05 13:35:11 [error] 11384#11384: *37208 no live upstreams while connecting to upstream, client: 127.0.0.1, server: _
2026/12/05 13:35:12 [error] 11385#11385: *9 upstream timed out (110: Connection timed out) while connecting to upstream, client: 127.0.0.1
2026/12/05 13:35:13 [warn] 11385#11385: 16384 worker_connections exceed open file resource limit: 1024";
        assert_eq!(
            error_kinds(log),
            vec![
                (
                    2,
                    "no live upstreams while connecting to upstream".to_string()
                ),
                (
                    1,
                    "16384 worker_connections exceed open file resource limit: 1024".to_string()
                ),
                (
                    1,
                    "upstream timed out (110: Connection timed out) while connecting to upstream"
                        .to_string()
                ),
            ]
        );
    }
}
