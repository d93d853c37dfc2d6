//! Writes on a follower (issue 19): a write reaching a follower is handed to the leader through
//! the database's `write_inbox` table, executed there, and answered with the leader's answer
//! (`crates/server/src/replica/inbox.rs`, docs/store.md "Writes on a follower"). On a real
//! PostgreSQL: the inbox between two replicas' handles with a plain executor (once per row,
//! nothing applied when no leader answers, a row its taker never answered taken again), and a
//! real server as the leader, executing what a follower's handle forwards through its own push
//! API, with a page on it seeing the lines live.

mod common;
mod push_support;

use common::postgres::PgServer;
use common::{start, Client};
use futures_util::future::BoxFuture;
use push_support::Api;
use serde_json::{json, Value};
use shipwatch_model::protocol::{Change, ServerMessage, Snapshot, Topic};
use shipwatch_model::DeploymentStatus;
use shipwatch_server::push::lines::PushedLine;
use shipwatch_server::push::NewDeployment;
use shipwatch_server::replica::inbox::{Exec, Inbox, Taken};
use shipwatch_server::replica::writes::{Operation, Outcome};
use shipwatch_server::replica::Role;
use shipwatch_server::store::schema::{migrator, Backend};
use sqlx::Row;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// A PostgreSQL with the store's schema, and a pool on it.
async fn database() -> (PgServer, String, sqlx::PgPool) {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    sqlx::any::install_default_drivers();
    let any = sqlx::AnyPool::connect(&url).await.expect("connects");
    migrator(Backend::Postgres)
        .run(&any)
        .await
        .expect("migrations");
    let pool = sqlx::PgPool::connect(&url).await.expect("connects");
    (pg, url, pool)
}

/// What an executor ran: each row's id, take and writer.
type Ran = Arc<Mutex<Vec<(i64, i32, String)>>>;

/// An executor that records what it ran and answers 201 with the operation and the take.
fn recording() -> (Exec, Ran) {
    let ran = Arc::new(Mutex::new(Vec::new()));
    let seen = ran.clone();
    let exec: Exec = Arc::new(move |t: Taken| -> BoxFuture<'static, Outcome> {
        let seen = seen.clone();
        Box::pin(async move {
            let op = t.op.expect("readable");
            seen.lock()
                .unwrap()
                .push((t.id, t.attempt, t.writer.clone()));
            Outcome {
                status: 201,
                body: json!({
                    "op": op,
                    "attempt": t.attempt,
                    "writer": t.writer,
                    "late": t.late,
                }),
            }
        })
    });
    (exec, ran)
}

/// Runs `inbox` as a replica in `role` until the returned sender says stop.
fn run(inbox: &Arc<Inbox>, role: Role, exec: Exec) -> (watch::Sender<bool>, watch::Sender<Role>) {
    let (stop, shutdown) = watch::channel(false);
    let (set_role, role) = watch::channel(role);
    tokio::spawn(inbox.clone().run(role, exec, shutdown));
    (stop, set_role)
}

fn stage(id: &str, stage: &str) -> Operation {
    Operation::SetStage {
        id: id.into(),
        stage: stage.into(),
    }
}

async fn rows(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM write_inbox")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_gets_exactly_the_leaders_answer_and_each_row_runs_once() {
    let (_pg, url, pool) = database().await;
    let wait = Duration::from_secs(10);
    let leader = Inbox::new(&url, "leader".into(), wait).unwrap();
    let other = Inbox::new(&url, "other".into(), wait).unwrap();
    let follower = Inbox::new(&url, "follower".into(), wait).unwrap();
    let (exec, ran) = recording();
    // Two replicas that both believe they write (a lease changing hands): still once a row.
    let _l = run(&leader, Role::Leader, exec.clone());
    let _o = run(&other, Role::Leader, exec);
    let (noop, _) = recording();
    let _f = run(&follower, Role::Follower, noop);

    let answer = follower.forward("ci", &stage("d1", "build")).await;
    assert_eq!(answer.status, 201, "{answer:?}");
    assert_eq!(
        answer.body["op"],
        json!({"call": "set_stage", "id": "d1", "stage": "build"})
    );
    assert_eq!(answer.body["writer"], "ci");
    assert_eq!(answer.body["attempt"], 1);

    let started = std::time::Instant::now();
    let forwards = (0..40).map(|i| {
        let f = follower.clone();
        async move { f.forward("ci", &stage(&format!("d{i}"), "deploy")).await }
    });
    let answers = futures_util::future::join_all(forwards).await;
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a.status, 201, "{a:?}");
        assert_eq!(
            a.body["op"]["id"],
            format!("d{i}"),
            "each answer is its own row's"
        );
    }
    eprintln!("40 forwards at once answered in {:?}", started.elapsed());
    let started = std::time::Instant::now();
    for i in 0..50 {
        let a = follower.forward("ci", &stage(&format!("s{i}"), "x")).await;
        assert_eq!(a.status, 201);
    }
    // A figure, not a check: woken by notifications, a forward takes a few ms here; the look
    // every 500 ms alone would make it hundreds.
    eprintln!(
        "50 forwards one after another: {:?} each",
        started.elapsed() / 50
    );
    let ran = ran.lock().unwrap().clone();
    assert_eq!(ran.len(), 91, "{ran:?}");
    let mut ids: Vec<i64> = ran.iter().map(|r| r.0).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 91, "a row ran twice: {ran:?}");
    assert!(ran.iter().all(|r| r.1 == 1));
    // Counted once the answer is stored, which the follower may read first (seen 90 of 91
    // on a loaded machine).
    let counted = || leader.executed() + other.executed();
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while counted() < 91 && std::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(counted(), 91);
    assert_eq!(rows(&pool).await, 91, "answers are kept a while");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_leader_nothing_is_applied_and_the_client_is_told() {
    let (_pg, url, pool) = database().await;
    let follower = Inbox::new(&url, "follower".into(), Duration::from_millis(1500)).unwrap();
    let (noop, _) = recording();
    let _f = run(&follower, Role::Follower, noop);
    let answer = follower.forward("ci", &stage("d1", "build")).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    let error = answer.body["error"].as_str().unwrap();
    assert!(
        error.contains("no leader took the write within 1.5 s"),
        "{error}"
    );
    assert!(error.contains("nothing was applied, retry"), "{error}");
    assert_eq!(rows(&pool).await, 0, "the row was withdrawn");
    // A leader coming later has nothing to run.
    let leader = Inbox::new(&url, "leader".into(), Duration::from_secs(10)).unwrap();
    let (exec, ran) = recording();
    let _l = run(&leader, Role::Leader, exec);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(ran.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_its_taker_never_answered_is_taken_again_and_answered_once() {
    let (_pg, url, pool) = database().await;
    // Taken and not answered: by a replica that died 3 s ago (taken again), by one that died
    // long after its follower stopped waiting (taken again, late), and by this replica itself
    // 3 s ago (left to it for 30 s).
    for (key, by, created_ago, taken_ago) in [
        ("mid-way", "dead", 3_000i64, 3_000i64),
        ("late", "dead", 60_000, 59_000),
        ("mine", "leader", 3_000, 3_000),
    ] {
        sqlx::query(
            "INSERT INTO write_inbox (request_key, call, writer, created_at, attempt, taken_by, \
             taken_at) VALUES ($1, $2, 'ci', \
             (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT - $4, 1, $3, \
             (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT - $5)",
        )
        .bind(key)
        .bind(serde_json::to_string(&stage(key, "build")).unwrap())
        .bind(by)
        .bind(created_ago)
        .bind(taken_ago)
        .execute(&pool)
        .await
        .unwrap();
    }
    let leader = Inbox::new(&url, "leader".into(), Duration::from_secs(10)).unwrap();
    let (exec, ran) = recording();
    let _l = run(&leader, Role::Leader, exec);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let ran = ran.lock().unwrap().clone();
    assert_eq!(ran.len(), 2, "{ran:?}");
    assert!(ran.iter().all(|r| r.1 == 2), "the second take: {ran:?}");
    let answered: Vec<(String, Option<i32>, String, Option<String>)> =
        sqlx::query("SELECT request_key, status, taken_by, answer FROM write_inbox ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
    let late = |a: &Option<String>| {
        a.as_deref()
            .map(|a| serde_json::from_str::<Value>(a).unwrap()["late"].clone())
    };
    assert_eq!(
        answered
            .iter()
            .map(|(k, s, by, a)| (k.as_str(), *s, by.as_str(), late(a)))
            .collect::<Vec<_>>(),
        vec![
            ("mid-way", Some(201), "leader", Some(json!(false))),
            ("late", Some(201), "leader", Some(json!(true))),
            ("mine", None, "leader", None),
        ]
    );
    // Answers are kept a minute, then trimmed.
    sqlx::query(
        "INSERT INTO write_inbox (request_key, call, writer, created_at, attempt, taken_by, \
         taken_at, status, answer, answered_at) VALUES ('done', '{}', 'ci', \
         (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT - 62000, 1, 'leader', 0, 200, \
         '{}', (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT - 61000)",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(leader.trim().await.unwrap(), 1);
    assert_eq!(rows(&pool).await, 3, "the recent answers stay");
}

/// A "follower": the inbox handle of a replica that forwards, beside a real server on the same
/// database, which writes and so executes what is forwarded.
struct Pair {
    _pg: PgServer,
    _dir: tempfile::TempDir,
    pool: sqlx::PgPool,
    leader: shipwatch_server::ServerHandle,
    follower: Arc<Inbox>,
    _stop: (watch::Sender<bool>, watch::Sender<Role>),
}

async fn pair() -> Pair {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let leader = start(&["--data-dir", &data, "--store", &url, "--no-simulator"]).await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let follower = Inbox::new(&url, "follower".into(), Duration::from_secs(10)).unwrap();
    let (noop, _) = recording();
    let stop = run(&follower, Role::Follower, noop);
    Pair {
        _pg: pg,
        _dir: dir,
        pool,
        leader,
        follower,
        _stop: stop,
    }
}

/// A [`pair`] whose leader holds environment `prod` with service `api`, and the leader's push
/// API.
async fn pair_with_service() -> (Pair, Api) {
    let p = pair().await;
    let api = Api::new(&p.leader);
    api.environment("prod").await;
    api.service("prod", "api").await;
    (p, api)
}

/// The action that deploys service `api` of `prod` again, through `api`'s server.
async fn deploy_action(api: &Api) -> push_support::Answer {
    let path = "/api/environments/prod/services/api/deploy";
    api.send("POST", path, None, Vec::<u8>::new()).await
}

fn create(env: &str, svc: &str, version: &str) -> Operation {
    Operation::CreateDeployment {
        req: NewDeployment {
            environment: env.into(),
            service: Some(svc.into()),
            version: version.into(),
            ..Default::default()
        },
        picked_id: None,
    }
}

fn lines(ns: std::ops::RangeInclusive<u64>) -> Operation {
    Operation::AppendLines {
        id: String::new(),
        lines: ns
            .map(|n| PushedLine {
                n,
                text: format!("line {n}"),
                level: None,
                stage: None,
                ts: None,
            })
            .collect(),
    }
}

fn to(op: Operation, dep: &str) -> Operation {
    match op {
        Operation::AppendLines { lines, .. } => Operation::AppendLines {
            id: dep.into(),
            lines,
        },
        op => op,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_executes_forwarded_pushes_through_its_own_push_api() {
    let (p, api) = pair_with_service().await;
    let created = p.follower.forward("ci", &create("prod", "api", "v2")).await;
    assert_eq!(created.status, 201, "{created:?}");
    let dep = created.body["deployment"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(dep.starts_with("push-"), "{dep}");
    assert_eq!(
        created.body["deployment"]["triggered_by"], "ci",
        "the writer's name"
    );
    // What the follower read is what the leader holds.
    let read = p
        .follower
        .forward("ci", &Operation::GetDeployment { id: dep.clone() })
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(
        read.body,
        api.get(&format!("/api/v1/deployments/{dep}")).await.body
    );

    // A page on the leader follows the log while lines come through the follower.
    let mut page = Client::connect(&p.leader).await;
    common::log_lines::subscribe_log(&mut page, "g", &dep).await;
    loop {
        if let ServerMessage::Snapshot {
            data: Snapshot::Logs { .. },
            ..
        } = page.frame().await.msg
        {
            break;
        }
    }
    let building = p
        .follower
        .forward(
            "ci",
            &Operation::SetStatus {
                id: dep.clone(),
                status: DeploymentStatus::Building,
                stage: Some("build".into()),
            },
        )
        .await;
    assert_eq!(building.status, 200, "{building:?}");
    assert_eq!(building.body["stage"], "build");
    let appended = p.follower.forward("ci", &to(lines(1..=5), &dep)).await;
    assert_eq!(appended.status, 200, "{appended:?}");
    assert_eq!(appended.body["accepted"], 5);
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let frame = tokio::time::timeout(Duration::from_secs(5), page.frame())
            .await
            .expect("the page sees the lines live");
        if let ServerMessage::Delta { changes, .. } = frame.msg {
            seen.extend(changes.into_iter().filter_map(|c| match c {
                Change::Line(l) => Some(l.n),
                _ => None,
            }));
        }
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);

    // The same batch again through the follower (a reporter retrying after a lost answer).
    let again = p.follower.forward("ci", &to(lines(3..=7), &dep)).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(
        (
            again.body["accepted"].clone(),
            again.body["skipped"].clone()
        ),
        (json!(2), json!(3))
    );
    assert_eq!(again.body["next_line"], 8);

    // An illegal transition gets the leader's 409, naming it, exactly as on the leader.
    let back = Operation::SetStatus {
        id: dep.clone(),
        status: DeploymentStatus::Queued,
        stage: None,
    };
    let refused = p.follower.forward("ci", &back).await;
    let direct = api.status(&dep, "QUEUED").await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert_eq!(
        (refused.status, &refused.body),
        (direct.status, &direct.body)
    );
    assert!(
        refused.body["error"]
            .as_str()
            .unwrap()
            .contains("BUILDING -> QUEUED"),
        "{refused:?}"
    );
    assert_eq!(refused.body["field"], "status");
    let unknown = p
        .follower
        .forward("ci", &to(lines(1..=1), "no-such-deployment"))
        .await;
    assert_eq!(unknown.status, 404, "{unknown:?}");
    assert_eq!(unknown.body["field"], "id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_creation_run_again_finds_its_deployment_and_an_action_is_not_run_twice() {
    let (p, api) = pair_with_service().await;
    let first = p.follower.forward("ci", &create("prod", "api", "v2")).await;
    assert_eq!(first.status, 201);
    let dep = first.body["deployment"]["id"].as_str().unwrap().to_string();
    // The id was written into the row before the creation ran.
    let row = sqlx::query("SELECT id, call FROM write_inbox ORDER BY id DESC LIMIT 1")
        .fetch_one(&p.pool)
        .await
        .unwrap();
    let (id, call): (i64, String) = (row.get(0), row.get(1));
    let call: Value = serde_json::from_str(&call).unwrap();
    assert_eq!(call["picked_id"], dep.as_str(), "{call}");

    // As if the leader died after creating it, before answering: taken again 31 s later.
    let orphan = |id: i64| {
        sqlx::query(
            "UPDATE write_inbox SET status = NULL, answer = NULL, answered_at = NULL, \
             taken_by = 'dead', taken_at = (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT \
             - 31000 WHERE id = $1",
        )
        .bind(id)
    };
    orphan(id).execute(&p.pool).await.unwrap();
    let rerun = wait_answer(&p.pool, id).await;
    assert_eq!(rerun.0, 201, "{rerun:?}");
    assert_eq!(
        rerun.1["deployment"]["id"],
        dep.as_str(),
        "the same deployment"
    );
    let history = api.get("/api/v1/environments/prod/deployments").await;
    let ids: Vec<&str> = history.body["deployments"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d["deployment"]["id"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        ids.iter().filter(|i| i.starts_with("push-")).count(),
        1,
        "{history:?}"
    );

    // Taken again, an action is answered, not run; and so is a push call whose follower
    // stopped waiting long ago (its client retries itself).
    let now = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";
    for (key, op, created_ago) in [
        (
            "act",
            Operation::Action {
                env: "prod".into(),
                svc: "api".into(),
                action: "deploy".into(),
                outcome: None,
            },
            3_000i64,
        ),
        ("late", stage(&dep, "late-stage"), 60_000),
    ] {
        let sql = format!(
            "INSERT INTO write_inbox (request_key, call, writer, created_at, attempt, taken_by, \
             taken_at) VALUES ($1, $2, 'ci', {now} - $3, 1, 'dead', {now} - 3000)"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .bind(serde_json::to_string(&op).unwrap())
            .bind(created_ago)
            .execute(&p.pool)
            .await
            .unwrap();
    }
    for (key, says) in [
        ("act", "look at the service"),
        ("late", "may have been applied; retry"),
    ] {
        let id: i64 = sqlx::query_scalar("SELECT id FROM write_inbox WHERE request_key = $1")
            .bind(key)
            .fetch_one(&p.pool)
            .await
            .unwrap();
        let answer = wait_answer(&p.pool, id).await;
        assert_eq!(answer.0, 503, "{key}: {answer:?}");
        let error = answer.1["error"].as_str().unwrap();
        assert!(error.contains(says), "{key}: {error}");
    }
    let view = api.get(&format!("/api/v1/deployments/{dep}")).await;
    assert_eq!(
        view.body.get("stage"),
        None,
        "the late stage did not run: {view:?}"
    );
}

/// The answer of row `id`, once stored (within 5 s).
async fn wait_answer(pool: &sqlx::PgPool, id: i64) -> (i32, Value) {
    for _ in 0..50 {
        let row = sqlx::query("SELECT status, answer FROM write_inbox WHERE id = $1")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
        let status: Option<i32> = row.get(0);
        if let Some(status) = status {
            let answer: String = row.get(1);
            return (status, serde_json::from_str(&answer).unwrap());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("row {id} not answered");
}

/// Two servers on one database, as the lease makes them: a leader, then a follower.
struct Replicas {
    _pg: PgServer,
    url: String,
    dirs: Vec<tempfile::TempDir>,
    pool: sqlx::PgPool,
    leader: shipwatch_server::ServerHandle,
    follower: Option<shipwatch_server::ServerHandle>,
}

impl Replicas {
    /// The leader alone; `extra` flags for both replicas.
    async fn leader(extra: &[&str]) -> Replicas {
        let pg = PgServer::start();
        let url = pg.create_db("shipwatch");
        let dir = tempfile::tempdir().unwrap();
        let leader = start_with(&replica_flags(&url, &dir, extra)).await;
        assert_eq!(*leader.app().role.borrow(), Role::Leader);
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        Replicas {
            _pg: pg,
            url,
            dirs: vec![dir],
            pool,
            leader,
            follower: None,
        }
    }

    /// Starts the follower.
    async fn follow(&mut self, extra: &[&str]) -> &shipwatch_server::ServerHandle {
        let dir = tempfile::tempdir().unwrap();
        let follower = start_with(&replica_flags(&self.url, &dir, extra)).await;
        assert_eq!(*follower.app().role.borrow(), Role::Follower);
        self.dirs.push(dir);
        self.follower.insert(follower)
    }
}

/// The flags of a replica on `url` (no simulator, a lease that ends 2 s after its holder).
fn replica_flags(url: &str, dir: &tempfile::TempDir, extra: &[&str]) -> Vec<String> {
    let dir = dir.path().display().to_string();
    let mut flags = vec![
        "--data-dir",
        &dir,
        "--store",
        url,
        "--no-simulator",
        "--lease-ttl-ms",
        "2000",
        "--lease-renew-ms",
        "200",
    ];
    flags.extend_from_slice(extra);
    flags.into_iter().map(String::from).collect()
}

/// Starts a server with `flags`.
async fn start_with(flags: &[String]) -> shipwatch_server::ServerHandle {
    start(&flags.iter().map(String::as_str).collect::<Vec<_>>()).await
}

/// The GitLab webhook's token of the replicas.
const GITLAB_TOKEN: &str = "gitlab-hook-token-7c1e";

async fn replicas() -> Replicas {
    let flags = ["--gitlab-webhook-token", GITLAB_TOKEN];
    let mut r = Replicas::leader(&flags).await;
    r.follow(&flags).await;
    r
}

/// A page following `dep`'s log on the server at `addr`, once its snapshot came.
async fn follow_log(addr: std::net::SocketAddr, dep: &str) -> Client {
    let mut page = Client::connect_to(addr).await;
    page.subscribe(
        "g",
        Topic::Logs {
            deployment: dep.into(),
        },
        None,
    )
    .await;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), page.frame())
            .await
            .expect("a snapshot of the log");
        if let ServerMessage::Snapshot {
            data: Snapshot::Logs { .. },
            ..
        } = frame.msg
        {
            return page;
        }
    }
}

/// The line numbers a page gets until it has `n` of them (5 s at most).
async fn lines_seen(page: &mut Client, n: usize) -> Vec<u64> {
    let mut seen = Vec::new();
    while seen.len() < n {
        let frame = tokio::time::timeout(Duration::from_secs(5), page.frame())
            .await
            .unwrap_or_else(|_| panic!("lines live: only {seen:?} came"));
        if let ServerMessage::Delta { changes, .. } = frame.msg {
            seen.extend(changes.into_iter().filter_map(|c| match c {
                Change::Line(l) => Some(l.n),
                _ => None,
            }));
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_follower_every_push_call_answers_as_on_the_leader() {
    let r = replicas().await;
    let follower = r.follower.as_ref().unwrap();
    let via = Api::at(follower.addr());
    let leader = Api::at(r.leader.addr());

    // Refused by the follower itself, before anything reaches the database.
    let url = format!("http://{}/api/v1/environments/prod", follower.addr());
    let http = reqwest::Client::new();
    let no_token = http.put(&url).json(&json!({})).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    let wrong = http
        .put(&url)
        .bearer_auth("not-the-token-of-this-server")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let origin = http
        .put(&url)
        .bearer_auth(&via.token)
        .header("origin", "http://evil.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(origin.status(), 403);
    let bad = via
        .json("PUT", "/api/v1/environments/prod", json!({"nmae": "x"}))
        .await;
    assert_eq!((bad.status, bad.field()), (400, Some("nmae")), "{bad:?}");
    assert_eq!(rows(&r.pool).await, 0, "nothing was forwarded");

    // Every call through the follower, answered by the leader.
    let env = via
        .json(
            "PUT",
            "/api/v1/environments/prod",
            json!({"name": "Production"}),
        )
        .await;
    assert_eq!(env.status, 201, "{env:?}");
    assert_eq!(env.body["name"], "Production");
    via.service("prod", "api").await;
    let created = via
        .json(
            "POST",
            "/api/v1/deployments",
            json!({"environment": "prod", "service": "api", "version": "v2"}),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(
        created.body["deployment"]["triggered_by"],
        common::WRITE_TOKEN_NAME
    );
    let dep = created.body["deployment"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/deployments/{dep}");
    let read = via.get(&path).await;
    assert_eq!(
        (read.status, &read.body),
        (200, &leader.get(&path).await.body)
    );

    // Pages on both replicas follow the log.
    let mut on_leader = follow_log(r.leader.addr(), &dep).await;
    let mut on_follower = follow_log(follower.addr(), &dep).await;
    let building = via
        .json(
            "POST",
            &format!("{path}/status"),
            json!({"status": "BUILDING"}),
        )
        .await;
    assert_eq!(building.status, 200, "{building:?}");
    let staged = via
        .json("POST", &format!("{path}/stage"), json!({"stage": "build"}))
        .await;
    assert_eq!(
        (staged.status, &staged.body["stage"]),
        (200, &json!("build"))
    );
    let ndjson: String = (1..=5)
        .map(|n| format!("{{\"n\":{n},\"text\":\"line {n}\"}}\n"))
        .collect();
    let appended = via
        .send(
            "POST",
            &format!("{path}/logs"),
            Some("application/x-ndjson"),
            ndjson,
        )
        .await;
    assert_eq!(appended.status, 200, "{appended:?}");
    assert_eq!(
        appended.body,
        json!({"accepted": 5, "skipped": 0, "gaps": [], "next_line": 6})
    );
    assert_eq!(lines_seen(&mut on_leader, 5).await, vec![1, 2, 3, 4, 5]);
    assert_eq!(lines_seen(&mut on_follower, 5).await, vec![1, 2, 3, 4, 5]);

    // The reporter retries the batch through the other replica: skipped line by line.
    let again = leader.lines(&dep, 3..=7).await;
    assert_eq!(
        again.body,
        json!({"accepted": 2, "skipped": 3, "gaps": [], "next_line": 8})
    );

    // An illegal transition through the follower: the leader's 409, naming it.
    let refused = via.status(&dep, "QUEUED").await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert!(
        refused.error().contains("BUILDING -> QUEUED"),
        "{refused:?}"
    );
    assert_eq!(refused.field(), Some("status"));
    let direct = leader.status(&dep, "QUEUED").await;
    assert_eq!(
        (refused.status, &refused.body),
        (direct.status, &direct.body)
    );
    let unknown = via.lines("no-such-deployment", 1..=1).await;
    assert_eq!(
        (unknown.status, unknown.field()),
        (404, Some("id")),
        "{unknown:?}"
    );

    // A webhook delivery and an action through the follower, executed by the leader.
    let path_of = |name: &str| format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut delivery: Value =
        serde_json::from_str(&std::fs::read_to_string(path_of("gitlab/deployment.json")).unwrap())
            .unwrap();
    delivery["status"] = "running".into();
    let hook = format!("http://{}/api/v1/webhooks/gitlab", follower.addr());
    let deliver = |token: &'static str| {
        http.post(&hook)
            .header("x-gitlab-token", token)
            .json(&delivery)
            .send()
    };
    let before = rows(&r.pool).await;
    assert_eq!(
        deliver("gitlab-hook-token-wrong").await.unwrap().status(),
        401
    );
    assert_eq!(
        rows(&r.pool).await,
        before,
        "a wrong token is not forwarded"
    );
    let delivered = deliver(GITLAB_TOKEN).await.unwrap();
    assert_eq!(delivered.status(), 200);
    let delivered: Value = delivered.json().await.unwrap();
    assert_eq!(delivered["deployment"]["id"], "gitlab-15", "{delivered}");
    let on_leader = leader.get("/api/v1/deployments/gitlab-15").await;
    assert_eq!(
        on_leader.body["deployment"]["status"], "DEPLOYING",
        "{on_leader:?}"
    );
    let act = deploy_action(&via).await;
    let act_on_leader = deploy_action(&leader).await;
    assert_eq!(act.status, 405, "{act:?}");
    assert_eq!(act.body, act_on_leader.body);

    // The leader stops; the follower takes over and knows the deployment it never wrote.
    let Replicas {
        leader: old,
        follower: Some(follower),
        ..
    } = r
    else {
        unreachable!()
    };
    old.shutdown();
    old.stopped().await;
    let mut role = follower.app().role.clone();
    tokio::time::timeout(
        Duration::from_secs(15),
        role.wait_for(|r| *r == Role::Leader),
    )
    .await
    .expect("the follower takes over")
    .unwrap();
    let after = via.get(&path).await;
    assert_eq!(
        (after.status, &after.body["next_line"]),
        (200, &json!(8)),
        "{after:?}"
    );
    let more = via.lines(&dep, 8..=8).await;
    assert_eq!(more.body["accepted"], 1, "{more:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reporter_on_the_follower_loses_no_line_when_the_leader_is_killed() {
    use shipwatch_e2e::server::{Launch, Server};
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let token = common::write_token_flag();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let launch = |dir: &tempfile::TempDir| {
        let flags = replica_flags(&url, dir, &["--write-token", &token]);
        Launch::new(
            std::path::Path::new(env!("CARGO_BIN_EXE_shipwatch-server")),
            std::path::Path::new("/nonexistent-dist"),
            &flags.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    // The real binary twice: A takes the lease at start, B follows.
    let mut a = Server::launch(&launch(&dirs[0])).expect("A starts");
    let b = Server::launch(&launch(&dirs[1])).expect("B starts");
    let via = Api::at(b.addr().parse().unwrap());
    via.environment("prod").await;
    via.service("prod", "api").await;
    let dep = via.deploy("prod", "api", "v2").await;

    // A reporter on B sends 30 batches of 10 lines, each retried after a 503 as the
    // `shipwatch` reporter does; A is killed (SIGKILL) after the 10th.
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let reporter = {
        let (sent, dep) = (sent.clone(), dep.clone());
        let via = Api::at(b.addr().parse().unwrap());
        tokio::spawn(async move {
            let mut retries = 0;
            for k in 0..30u64 {
                loop {
                    let a = via.lines(&dep, k * 10 + 1..=k * 10 + 10).await;
                    if a.status == 200 {
                        break;
                    }
                    assert_eq!(a.status, 503, "{a:?}");
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                sent.store(k + 1, std::sync::atomic::Ordering::SeqCst);
            }
            retries
        })
    };
    while sent.load(std::sync::atomic::Ordering::SeqCst) < 10 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.stop().await;
    let retries = tokio::time::timeout(Duration::from_secs(90), reporter)
        .await
        .expect("the reporter is done within 90 s")
        .unwrap();
    eprintln!("503s retried while B took over: {retries}");

    // Every line once, in order, on B now leading.
    let view = via.get(&format!("/api/v1/deployments/{dep}")).await;
    assert_eq!(view.body["next_line"], 301, "{view:?}");
    let log = reqwest::get(format!("http://{}/api/deployments/{dep}/log.txt", b.addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let numbers: Vec<u64> = log
        .lines()
        .filter_map(|l| l.rsplit_once(" line ")?.1.parse().ok())
        .collect();
    assert_eq!(numbers, (1..=300).collect::<Vec<_>>(), "{log}");
}
