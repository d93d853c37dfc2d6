//! Several replicas on one PostgreSQL (docs/store.md, "Several replicas"), with the real
//! binary, a real PostgreSQL and real websocket clients: the lease decides who leads, a
//! follower serves what the change log holds at the leader's numbers (a page resumes on it with
//! `resumed`), and when the leader's lease ends a follower takes over with its pages still on.

mod common;
mod push_support;

use common::binary::Server;
use common::postgres::PgServer;
use common::{keeping_up, Client, Got};
use serde_json::Value;
use shipwatch_model::protocol::{encode, Change, ServerFrame, ServerMessage, Snapshot, Topic};
use shipwatch_model::{Environment, EnvironmentSummary, Service};
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The lease of the test replicas: short, so a takeover takes about two seconds.
const LEASE_TTL_MS: u64 = 2_000;
const LEASE_RENEW_MS: u64 = 200;

/// The server binary as one replica on `url`.
struct Replica {
    server: Server,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Replica {
    async fn start(url: &str, extra: &[&str]) -> Replica {
        let dir = tempfile::tempdir().expect("temp dir");
        let (ttl, renew) = (LEASE_TTL_MS.to_string(), LEASE_RENEW_MS.to_string());
        let mut flags = vec!["--store", url];
        flags.extend(["--lease-ttl-ms", &ttl, "--lease-renew-ms", &renew]);
        flags.extend_from_slice(extra);
        let server = Server::start(&dir.path().join("data"), &flags).await;
        let replica = Replica {
            addr: server.addr,
            server,
            _dir: dir,
        };
        // It listens before it boots: health answers once it took its role, so the replica
        // started next finds the lease taken.
        replica.role().await;
        replica
    }

    /// `/api/health`'s `replica` part.
    async fn replica(&self) -> Value {
        let (status, _, body) = common::http_at(self.addr, "GET", "/api/health", &[]).await;
        assert_eq!(status, 200);
        let health: Value = serde_json::from_slice(&body).expect("health is JSON");
        health["replica"].clone()
    }

    async fn role(&self) -> String {
        self.replica().await["role"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until health says `role`; how long it took.
    async fn until_role(&self, role: &str, within: Duration) -> Duration {
        let t0 = Instant::now();
        while self.role().await != role {
            assert!(
                t0.elapsed() < within,
                "the replica is {role} within {within:?}:\n{}",
                self.server.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        t0.elapsed()
    }

    /// SIGKILL: no chance to give the lease up or flush anything.
    fn kill(self) {
        self.server.kill();
    }
}

async fn pool(url: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .expect("connects to PostgreSQL")
}

/// Holds the lease for a replica that is not running, until `until_ms` from now (negative:
/// expired), as a dead leader leaves it.
async fn lease_held_elsewhere(db: &AnyPool, until_ms: i64) {
    sqlx::query(
        "INSERT INTO leases (name, holder, expires_at) VALUES ('leader', 'elsewhere', \
         CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) + $1) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
         expires_at = excluded.expires_at",
    )
    .bind(until_ms)
    .execute(db)
    .await
    .expect("lease row");
}

/// Commits change-log rows as a leader's writer does, and notifies.
async fn commit_rows(db: &AnyPool, rows: &[(i64, &str, i64, &str, String)]) {
    let mut tx = db.begin().await.expect("begin");
    for (id, topic, seq, kind, json) in rows {
        sqlx::query(
            "INSERT INTO change_log (id, topic, seq, kind, json, compact) \
             VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(*id)
        .bind(*topic)
        .bind(*seq)
        .bind(*kind)
        .bind(json.clone())
        .execute(&mut *tx)
        .await
        .expect("change-log row");
    }
    let last = rows.last().map_or(0, |r| r.0).to_string();
    sqlx::query("SELECT pg_notify('shipwatch_changes', $1)")
        .bind(last)
        .execute(&mut *tx)
        .await
        .expect("notify");
    tx.commit().await.expect("commit");
}

fn service(id: &str, version: &str) -> Service {
    serde_json::from_value(serde_json::json!({
        "id": id, "name": id, "kind": "application", "instances": [], "version": version,
    }))
    .expect("a service")
}

/// The next frame that is not a heartbeat.
async fn frame(c: &mut Client) -> ServerFrame {
    match c.next().await {
        Got::Frame(f) => *f,
        Got::Closed(code) => panic!("closed ({code:?})"),
    }
}

/// A follower started while another replica holds the lease serves what the change log holds,
/// at its numbers, live (a row committed later reaches its socket), and a page resumes on it;
/// once the lease expires it takes over and its pages stay on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_serves_the_change_log_at_its_numbers_and_takes_over() {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let db = pool(&url).await;
    shipwatch_server::store::schema::migrator(shipwatch_server::store::schema::Backend::Postgres)
        .run(&db)
        .await
        .expect("migrations");
    lease_held_elsewhere(&db, 60_000).await;
    let summary: EnvironmentSummary = serde_json::from_value(serde_json::json!({
        "id": "syn", "name": "Synthetic", "running": "RUNNING", "services": 0,
    }))
    .expect("a summary");
    let env = Environment {
        id: "syn".into(),
        name: "Synthetic".into(),
        services: Vec::new(),
        deployment: None,
    };
    let open = encode(&Snapshot::Environment {
        environment: env.clone(),
    });
    let follower = Replica::start(&url, &["--no-simulator"]).await;
    let health = follower.replica().await;
    assert_eq!(health["role"], "follower", "{health}");
    assert_eq!(health["lease"]["holder"], "elsewhere", "{health}");
    commit_rows(
        &db,
        &[
            (
                1,
                "environments",
                41,
                "change",
                encode(&Change::EnvironmentUpsert(summary)),
            ),
            (2, "environment:syn", 70, "open", open),
            (
                3,
                "environment:syn",
                71,
                "change",
                encode(&Change::ServiceUpsert(service("api", "v1"))),
            ),
        ],
    )
    .await;

    let t0 = Instant::now();
    while follower.replica().await["applied"] != 3 {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the rows are applied"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The topics stand at the change log's numbers, with what it holds.
    let mut page = Client::connect_to(follower.addr).await;
    page.subscribe("s", Topic::Environment { env: "syn".into() }, None)
        .await;
    let f = frame(&mut page).await;
    let ServerMessage::Snapshot {
        seq,
        data: Snapshot::Environment { environment },
        ..
    } = f.msg
    else {
        panic!("expected the environment's snapshot, got {f:?}");
    };
    assert_eq!(seq, 71);
    assert_eq!(environment.services.len(), 1);
    let mut list = Client::connect_to(follower.addr).await;
    list.subscribe("l", Topic::Environments, None).await;
    let f = frame(&mut list).await;
    let ServerMessage::Snapshot {
        seq,
        data: Snapshot::Environments { environments },
        ..
    } = f.msg
    else {
        panic!("expected the list's snapshot, got {f:?}");
    };
    assert_eq!((seq, environments.len()), (41, 1));

    // A page that saw 72 on the leader resumes here before this replica has it: it waits
    // for 72 rather than get the state at 71, older than what it showed (seen failing
    // without the wait: the snapshot at 71).
    let mut ahead = Client::connect_to(follower.addr).await;
    ahead
        .subscribe("a", Topic::Environment { env: "syn".into() }, Some(72))
        .await;
    let early = tokio::time::timeout(Duration::from_millis(500), ahead.next()).await;
    assert!(early.is_err(), "nothing before 72 is here: {early:?}");

    // Committed later: live on the socket, at the leader's number, as the leader sent it.
    let change = Change::ServiceUpsert(service("api", "v2"));
    commit_rows(
        &db,
        &[(4, "environment:syn", 72, "change", encode(&change))],
    )
    .await;
    let f = frame(&mut page).await;
    match f.msg {
        ServerMessage::Delta { seq, changes, .. } => {
            assert_eq!((seq, changes), (72, vec![change.clone()]));
        }
        other => panic!("expected the change, got {other:?}"),
    }
    match frame(&mut ahead).await.msg {
        ServerMessage::Resumed { seq, .. } => assert_eq!(seq, 72),
        other => panic!("resumed at 72 once the follower has it, got {other:?}"),
    }
    // A number it does not reach within the wait: an error, not the older state.
    ahead
        .subscribe("far", Topic::Environment { env: "syn".into() }, Some(1_000))
        .await;
    match frame(&mut ahead).await.msg {
        ServerMessage::Error {
            sub, message, code, ..
        } => {
            assert_eq!(sub.as_deref(), Some("far"));
            assert_eq!(
                code,
                shipwatch_model::protocol::ErrorCode::Behind,
                "{message}"
            );
            assert!(message.contains("has not caught up"), "{message}");
        }
        other => panic!("an error for a number the follower does not reach, got {other:?}"),
    }
    assert_eq!(follower.replica().await["lag"], 0);

    // A page that saw 71 elsewhere resumes here with exactly what it missed.
    let mut resumed = Client::connect_to(follower.addr).await;
    resumed
        .subscribe("r", Topic::Environment { env: "syn".into() }, Some(71))
        .await;
    assert!(matches!(
        frame(&mut resumed).await.msg,
        ServerMessage::Resumed { seq: 71, .. }
    ));
    match frame(&mut resumed).await.msg {
        ServerMessage::Delta { seq, changes, .. } => assert_eq!((seq, changes), (72, vec![change])),
        other => panic!("expected the missed change, got {other:?}"),
    }

    // The leader's lease expires: this replica takes over within a renewal period.
    lease_held_elsewhere(&db, -1).await;
    let took = follower
        .until_role("leader", Duration::from_millis(LEASE_TTL_MS))
        .await;
    eprintln!("took the lease over {took:?} after it expired");
    let health = follower.replica().await;
    assert_eq!(health["lease"]["holder"], health["id"], "{health}");
    // Its pages stay on, and it goes on from the change log's numbers: a write it takes
    // now reaches the page that was there before, numbered after the log's last change.
    let (k, v) = common::write_auth();
    let (status, _, body) = common::request_at(
        follower.addr,
        "PUT",
        "/api/v1/environments/pushed",
        &[(k, &v), ("Content-Type", "application/json")],
        br#"{"name": "Pushed"}"#,
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    match frame(&mut list).await.msg {
        ServerMessage::Delta { seq, changes, .. } => {
            assert_eq!(seq, 42);
            assert!(
                matches!(&changes[0], Change::EnvironmentUpsert(s) if s.id == "pushed"),
                "{changes:?}"
            );
        }
        other => panic!("expected the new environment, got {other:?}"),
    }
    drop(pg);
}

/// Every change a subscription got, by sequence number, as the changes' JSON.
#[derive(Default)]
struct Seen {
    changes: std::collections::BTreeMap<u64, String>,
    /// The number the subscription stands at.
    last: u64,
}

impl Seen {
    /// Reads `c`'s frames for `sub` for `how_long`, checking they follow on without a gap or
    /// a duplicate.
    async fn read(&mut self, c: &mut Client, how_long: Duration) {
        let until = Instant::now() + how_long;
        while Instant::now() < until {
            let Ok(got) = tokio::time::timeout(until - Instant::now(), c.next()).await else {
                break;
            };
            let f = match got {
                Got::Frame(f) => *f,
                Got::Closed(code) => panic!("closed ({code:?})"),
            };
            match f.msg {
                ServerMessage::Snapshot { seq, .. } => self.last = seq,
                ServerMessage::Resumed { seq, .. } => {
                    assert_eq!(seq, self.last, "resumed where it asked");
                }
                ServerMessage::Delta { seq, changes, .. } => {
                    assert_eq!(seq, self.last + 1, "no gap, no duplicate");
                    for (k, change) in changes.iter().enumerate() {
                        self.changes.insert(seq + k as u64, encode(change));
                    }
                    self.last = seq + changes.len() as u64 - 1;
                }
                _ => {}
            }
        }
    }
}

/// The services' deployment numbers (`dep-N`) in an environment's snapshot.
fn deployment_numbers(env: &Environment) -> Vec<(String, u64)> {
    env.services
        .iter()
        .filter_map(|s| {
            let d = s.deployment.as_ref()?;
            Some((s.id.clone(), d.id.strip_prefix("dep-")?.parse().ok()?))
        })
        .collect()
}

/// An environment's snapshot, asked again while the replica does not hold it yet.
async fn snapshot_of(addr: SocketAddr, env: &str) -> (u64, Environment) {
    let mut c = Client::connect_to(addr).await;
    let t0 = Instant::now();
    loop {
        c.subscribe("s", Topic::Environment { env: env.into() }, None)
            .await;
        loop {
            match frame(&mut c).await.msg {
                ServerMessage::Snapshot {
                    seq,
                    data: Snapshot::Environment { environment },
                    ..
                } => return (seq, environment),
                ServerMessage::Error { .. } => break,
                _ => {}
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{env} is served within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two replicas on one database with the simulator: the follower serves the leader's world at
/// the leader's numbers (and runs no simulator of its own), a page resumes on either, and when
/// the leader is killed the follower takes the lease over within the lease's time, goes on with
/// the same world (not a second one), and a page that was on the killed replica resumes on it
/// with no gap and no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_serve_one_world_and_the_follower_takes_over_from_a_killed_leader() {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let sim = ["--rate", "20", "--speed", "10"];
    let leader = Replica::start(&url, &sim).await;
    assert_eq!(leader.role().await, "leader");
    let follower = Replica::start(&url, &sim).await;
    assert_eq!(follower.role().await, "follower");
    let production = || Topic::Environment {
        env: "production".into(),
    };

    // The follower holds the world once the leader committed it.
    snapshot_of(follower.addr, "production").await;

    // A page on each replica: the same changes at the same numbers.
    let mut on_leader = Client::connect_to(leader.addr).await;
    on_leader.subscribe("p", production(), None).await;
    let mut on_follower = Client::connect_to(follower.addr).await;
    on_follower.subscribe("p", production(), None).await;
    let (mut a, mut b) = (Seen::default(), Seen::default());
    tokio::join!(
        a.read(&mut on_leader, Duration::from_secs(4)),
        b.read(&mut on_follower, Duration::from_secs(4)),
    );
    let both: Vec<u64> = a
        .changes
        .keys()
        .filter(|k| b.changes.contains_key(k))
        .copied()
        .collect();
    assert!(
        both.len() >= 5,
        "both pages saw changes: {} in common; leader {:?}..{}, follower {:?}..{}\n{}",
        both.len(),
        a.changes.keys().next(),
        a.last,
        b.changes.keys().next(),
        b.last,
        follower.server.log()
    );
    for k in &both {
        assert_eq!(a.changes[k], b.changes[k], "change {k} is the same on both");
    }

    // A page that was on the leader resumes on the follower with exactly what it missed.
    let left_at = a.last;
    drop(on_leader);
    let mut recorder = Client::connect_to(follower.addr).await;
    recorder.subscribe("p", production(), Some(b.last)).await;
    let mut moved = Client::connect_to(follower.addr).await;
    moved.subscribe("p", production(), Some(left_at)).await;
    let mut m = Seen {
        last: left_at,
        ..Seen::default()
    };
    let mut r = Seen {
        last: b.last,
        ..Seen::default()
    };
    tokio::join!(
        m.read(&mut moved, Duration::from_secs(2)),
        r.read(&mut recorder, Duration::from_secs(2)),
        b.read(&mut on_follower, Duration::from_secs(2)),
    );
    for (k, json) in &m.changes {
        if let Some(seen) = b.changes.get(k) {
            assert_eq!(json, seen, "the resumed page's change {k}");
        }
    }

    // Kill the leader: the follower leads within the lease's time and one renewal.
    let mut on_killed = Client::connect_to(leader.addr).await;
    on_killed.subscribe("p", production(), None).await;
    let mut k = Seen::default();
    k.read(&mut on_killed, Duration::from_millis(500)).await;
    let (_, before) = snapshot_of(follower.addr, "production").await;
    leader.kill();
    let took = follower
        .until_role(
            "leader",
            Duration::from_millis(LEASE_TTL_MS + 2 * LEASE_RENEW_MS + 2_000),
        )
        .await;
    eprintln!("the follower led {took:?} after the leader was killed");

    // The killed replica's page resumes on the survivor: no gap, no duplicate.
    drop(on_killed);
    let mut back = Client::connect_to(follower.addr).await;
    back.subscribe("p", production(), Some(k.last)).await;
    let f = frame(&mut back).await;
    assert!(
        matches!(f.msg, ServerMessage::Resumed { seq, .. } if seq == k.last),
        "resumed on the survivor: {f:?}"
    );
    let mut kb = Seen {
        last: k.last,
        ..Seen::default()
    };
    kb.read(&mut back, Duration::from_secs(2)).await;
    // Past what the takeover itself settles (deployments the killed leader ran end
    // cancelled), changes keep coming: the simulator runs on the survivor.
    let settled = kb.changes.len();
    kb.read(&mut back, Duration::from_secs(2)).await;
    assert!(
        kb.changes.len() > settled,
        "the survivor's simulator goes on: {settled} changes, then none"
    );

    // One world: the survivor went on with the stored one (its deployments numbered on), not
    // a new one of its own (numbered from 1 again).
    let (_, after) = snapshot_of(follower.addr, "production").await;
    assert_eq!(after.services.len(), before.services.len());
    let before = deployment_numbers(&before);
    for (service, n) in deployment_numbers(&after) {
        if let Some((_, was)) = before.iter().find(|(s, _)| *s == service) {
            assert!(n >= *was, "{service}: deployment {n} after {was}");
        }
    }
    drop(pg);
}

/// Pages on a follower that keep up with a steady stream of the leader's batches get one
/// snapshot each, then every change as deltas (as on the leader, tests/keeping_up.rs): a batch
/// the follower mirrors from the change log is read whole while it is one of the two newest,
/// past the replay buffer's bound, and is not weighed as a backlog. The bound (`--replay 1`)
/// and the environment (3 services) are small so that every batch outgrows both, as a
/// leader's batch of tens of thousands of facts does on a real world.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_that_keep_up_on_a_follower_get_no_second_snapshot() {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let leader = Replica::start(&url, &keeping_up::BIG_BATCHES).await;
    let follower = Replica::start(&url, &keeping_up::BIG_BATCHES).await;
    assert_eq!(follower.role().await, "follower");
    snapshot_of(follower.addr, "production").await;
    // Without the mirrored batches held whole, a page got a snapshot at every batch.
    keeping_up::three_pages_keep_up(follower.addr, Duration::from_secs(8)).await;
    drop((leader, follower, pg));
}

/// A page opens on a follower the log of a deployment the follower does not hold (it keeps
/// one log in memory, and another deployment came since), while a reporter streams that
/// log's lines through the leader: the follower reads the log from the store while change-log
/// rows of it arrive. The page gets every line from 1 on, each once, and lines keep coming
/// live after it, with no second snapshot. Many times over, so a row that arrives during the
/// read is likely: without the follower holding those rows for the read (`hub/mirror.rs`,
/// `Hub::hold_log_rows`), one is dropped and the topic jumps past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_a_follower_loads_while_its_lines_arrive_misses_none_and_repeats_none() {
    log_loaded_while_its_lines_arrive(Side::Follower).await;
}

/// The same on the leader (and so on a single server, see tests/old_log_load.rs), keeping one
/// log in memory: the lines it stages while it reads the log from the store find no topic,
/// and are kept for the load (`hub/held_logs.rs`). Without that the page missed them (lines
/// 20,861 to 21,320 of 22,385 on the first load).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_the_leader_loads_while_its_lines_arrive_misses_none_and_repeats_none() {
    log_loaded_while_its_lines_arrive(Side::Leader).await;
}

/// Which replica keeps one log in memory and has the page.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Leader,
    Follower,
}

async fn log_loaded_while_its_lines_arrive(side: Side) {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    // Started on an empty store, the side keeps one log in memory (--max-logs 1).
    let one_log = ["--no-simulator", "--max-logs", "1"];
    let flags = |s| {
        if side == s {
            &one_log[..]
        } else {
            &one_log[..1]
        }
    };
    let leader = Replica::start(&url, flags(Side::Leader)).await;
    assert_eq!(leader.role().await, "leader");
    let follower = Replica::start(&url, flags(Side::Follower)).await;
    assert_eq!(follower.role().await, "follower");
    let page_on = if side == Side::Leader {
        leader.addr
    } else {
        follower.addr
    };
    let api = push_support::Api::at(leader.addr);
    api.environment("prod").await;
    api.service("prod", "api").await;
    api.service("prod", "other").await;
    let dep = api.deploy("prod", "api", "v2").await;
    // A long log already, so that reading it from the store takes a while; then the
    // reporter, through the leader.
    const BEFORE: u64 = 20_000;
    common::log_lines::write_long_log(leader.addr, &dep, BEFORE).await;
    let reporter = common::log_lines::Reporter::start(leader.addr, &dep, BEFORE);

    for round in 0..12 {
        // Another deployment's log opens: the side forgets `dep`'s.
        api.deploy("prod", "other", &format!("v{round}")).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut page = Client::connect_to(page_on).await;
        common::log_lines::subscribe_log(&mut page, "g", &dep).await;
        let numbers = common::log_lines::read_log(&mut page, round).await;
        common::log_lines::assert_each_line_once(&numbers, BEFORE, round);
    }
    reporter.stop().await;
    drop(pg);
}

/// A topic's snapshot on the server at `addr`: its number and its data as sent.
async fn snapshot_json(addr: SocketAddr, topic: Topic) -> (u64, String) {
    match snapshot_or_error(addr, topic.clone()).await {
        Ok(snapshot) => snapshot,
        Err(e) => panic!("{topic:?} on {addr}: {e}"),
    }
}

/// A topic's snapshot on the server at `addr`, or the error frame it answered.
async fn snapshot_or_error(addr: SocketAddr, topic: Topic) -> Result<(u64, String), String> {
    let mut c = Client::connect_to(addr).await;
    c.subscribe("s", topic, None).await;
    loop {
        match frame(&mut c).await.msg {
            ServerMessage::Snapshot { seq, data, .. } => return Ok((seq, encode(&data))),
            e @ ServerMessage::Error { .. } => return Err(format!("{e:?}")),
            _ => {}
        }
    }
}

/// What a page reads of `env` and the logs of `deps` on the server at `addr`: the list's and
/// the environment's snapshots, and each log as text.
async fn what_pages_read(addr: SocketAddr, env: &str, deps: &[&str]) -> Vec<String> {
    let mut out = vec![
        format!("{:?}", snapshot_or_error(addr, Topic::Environments).await),
        format!(
            "{:?}",
            snapshot_or_error(addr, Topic::Environment { env: env.into() }).await
        ),
    ];
    for dep in deps {
        let (status, _, body) =
            common::http_at(addr, "GET", &format!("/api/deployments/{dep}/log.txt"), &[]).await;
        out.push(format!("{status} {}", String::from_utf8_lossy(&body)));
    }
    out
}

/// Every kind of platform event the leader applies through the push API (an environment
/// created and renamed, services, instances, deployments of a service and of the whole
/// environment with their stages, statuses and lines, a deployment retention removes) reads
/// the same on a follower: the same snapshots at the same numbers, the same logs. The leader
/// renames an environment's topic without a change of its own; the follower takes the name
/// from the list's row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_change_the_leader_applies_reads_the_same_on_a_follower() {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let flags = ["--no-simulator", "--retain-deployments", "1"];
    let leader = Replica::start(&url, &flags).await;
    let follower = Replica::start(&url, &flags).await;
    assert_eq!(follower.role().await, "follower");
    let api = push_support::Api::at(leader.addr);
    let ok = |a: &push_support::Answer| assert!(a.status / 100 == 2, "{a:?}");
    ok(&api
        .json(
            "PUT",
            "/api/v1/environments/prod",
            serde_json::json!({"name": "Production"}),
        )
        .await);
    api.service("prod", "api").await;
    api.service("prod", "db").await;
    for (name, body) in [
        (
            "api-1",
            serde_json::json!({"status": "RUNNING", "restarts": 1}),
        ),
        (
            "api-2",
            serde_json::json!({"status": "ERROR", "reason": "CrashLoopBackOff", "exit_code": 137}),
        ),
    ] {
        ok(&api
            .json(
                "PUT",
                &format!("/api/v1/environments/prod/services/api/instances/{name}"),
                body,
            )
            .await);
    }
    let dep = api.deploy("prod", "api", "v2").await;
    ok(&api
        .json(
            "POST",
            &format!("/api/v1/deployments/{dep}/status"),
            serde_json::json!({"status": "BUILDING", "stage": "build"}),
        )
        .await);
    ok(&api.lines(&dep, 1..=20).await);
    ok(&api
        .json(
            "POST",
            &format!("/api/v1/deployments/{dep}/stage"),
            serde_json::json!({"stage": "deploy"}),
        )
        .await);
    ok(&api.status(&dep, "DEPLOYING").await);
    ok(&api.lines(&dep, 21..=30).await);
    ok(&api.status(&dep, "DEPLOYMENT_OK").await);
    let whole = api
        .json(
            "POST",
            "/api/v1/deployments",
            serde_json::json!({"environment": "prod", "version": "infra-7"}),
        )
        .await;
    assert_eq!(whole.status, 201, "{whole:?}");
    let whole = whole.body["deployment"]["id"].as_str().unwrap().to_string();
    ok(&api.status(&whole, "BUILDING").await);
    ok(&api.lines(&whole, 1..=5).await);
    ok(&api.status(&whole, "BUILDING_ERROR").await);
    // The next deployment of `api`: retention removes `dep` (its log on the follower too).
    let next = api.deploy("prod", "api", "v3").await;
    ok(&api.lines(&next, 1..=3).await);
    // Renamed last: nothing after it changes the environment's topic.
    ok(&api
        .json(
            "PUT",
            "/api/v1/environments/prod",
            serde_json::json!({"name": "Production EU"}),
        )
        .await);

    let deps = [dep.as_str(), &whole, &next];
    let on_leader = what_pages_read(leader.addr, "prod", &deps).await;
    assert!(on_leader[1].contains("Production EU"), "{}", on_leader[1]);
    assert!(
        !on_leader[2].starts_with("200"),
        "retention removed {dep}: {}",
        on_leader[2]
    );
    let t0 = Instant::now();
    loop {
        let on_follower = what_pages_read(follower.addr, "prod", &deps).await;
        if on_follower == on_leader {
            break;
        }
        // 30 s: with CI running beside it, this once failed at 10 s (its output was not kept:
        // a follower late on a loaded machine, or a real difference, which fails here too).
        if t0.elapsed() > Duration::from_secs(30) {
            for (a, b) in on_leader.iter().zip(&on_follower) {
                let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
                let around =
                    |t: &str| t[at.saturating_sub(200)..(at + 100).min(t.len())].to_string();
                assert_eq!(
                    around(a),
                    around(b),
                    "the same on the follower as on the leader"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(pg);
}

/// A leader paused (SIGSTOP) for longer than its lease: a follower takes the lease and the
/// writer's lock over and leads. When the paused one wakes (SIGCONT), it finds its lease
/// taken and exits with status 75 for its supervisor to restart it (as a follower); it
/// writes nothing (every topic's numbers in the change log stay one each), its page's
/// socket closes, and that page resumes on the new leader with `resumed`, at a number the
/// new leader holds. The reporter's lines, sent to both leaders in turn, are each stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_paused_past_its_lease_writes_nothing_when_it_wakes_and_exits_75() {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let mut old = Replica::start(&url, &["--no-simulator"]).await;
    assert_eq!(old.role().await, "leader");
    let new = Replica::start(&url, &["--no-simulator"]).await;
    assert_eq!(new.role().await, "follower");
    let api = push_support::Api::at(old.addr);
    api.environment("prod").await;
    api.service("prod", "api").await;
    let dep = api.deploy("prod", "api", "v2").await;
    assert_eq!(api.lines(&dep, 1..=10).await.status, 200);
    let prod = || Topic::Environment { env: "prod".into() };
    let mut page = Client::connect_to(old.addr).await;
    page.subscribe("p", prod(), None).await;
    let mut seen = Seen::default();
    seen.read(&mut page, Duration::from_millis(300)).await;
    assert!(seen.last > 0, "the page on the leader has the environment");

    // Paused for longer than its lease: the follower leads.
    old.server.signal("STOP");
    let took = new
        .until_role(
            "leader",
            Duration::from_millis(2 * LEASE_TTL_MS + 4 * LEASE_RENEW_MS + 2_000),
        )
        .await;
    eprintln!("the follower led {took:?} after the leader was paused");
    let api = push_support::Api::at(new.addr);
    assert_eq!(api.lines(&dep, 11..=20).await.status, 200);
    api.service("prod", "db").await;
    let (ahead, _) = snapshot_json(new.addr, prod()).await;
    assert!(
        ahead > seen.last,
        "the new leader went on: {ahead} after {}",
        seen.last
    );

    // A write sent to the paused one (it waits in its socket) reaches it as it wakes.
    let late = {
        let api = push_support::Api::at(old.addr);
        let body = serde_json::json!({"kind": "application", "version": "v1"});
        tokio::spawn(async move {
            let path = "/api/v1/environments/prod/services/late";
            api.json("PUT", path, body).await.status
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Woken: it finds its lease taken, and exits 75.
    old.server.signal("CONT");
    let code = old.server.exited(Duration::from_secs(10)).await;
    assert_eq!(
        code,
        Some(75),
        "a leader that lost its lease exits with status 75"
    );
    // Its page's socket closes (it may get nothing else before).
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match page.next().await {
                Got::Closed(_) => break,
                Got::Frame(f) => {
                    if let ServerMessage::Delta { seq, .. } = f.msg {
                        assert!(seq > seen.last, "nothing older than the page saw");
                    }
                }
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the page's socket closes when its server exits"
    );
    let mut back = Client::connect_to(new.addr).await;
    back.subscribe("p", prod(), Some(seen.last)).await;
    let f = frame(&mut back).await;
    assert!(
        matches!(f.msg, ServerMessage::Resumed { seq, .. } if seq == seen.last),
        "the page resumes on the new leader: {f:?}"
    );

    // The write it took as it woke was not stored (its client saw no success), and
    // nothing was written twice: each topic's numbers once in the change log, the log's
    // lines once each.
    let late = tokio::time::timeout(Duration::from_secs(10), late)
        .await
        .expect("the late write is over");
    assert!(
        !matches!(late, Ok(200 | 201)),
        "the late write answered {late:?}"
    );
    let (_, now) = snapshot_json(new.addr, prod()).await;
    assert!(!now.contains(r#""id":"late""#), "{now}");
    let db = pool(&url).await;
    let twice: Vec<(String, i64)> =
        sqlx::query_as("SELECT topic, seq FROM change_log GROUP BY topic, seq HAVING COUNT(*) > 1")
            .fetch_all(&db)
            .await
            .expect("change log");
    assert!(twice.is_empty(), "numbers given twice: {twice:?}");
    let (status, _, body) = common::http_at(
        new.addr,
        "GET",
        &format!("/api/deployments/{dep}/log.txt"),
        &[],
    )
    .await;
    assert_eq!(status, 200);
    let numbers: Vec<u64> = String::from_utf8_lossy(&body)
        .lines()
        .filter_map(|l| l.rsplit_once(" line ")?.1.parse().ok())
        .collect();
    assert_eq!(numbers, (1..=20).collect::<Vec<_>>());
    drop(pg);
}
