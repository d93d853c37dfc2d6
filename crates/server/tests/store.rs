//! The store on a real SQLite file in a temporary directory, and (the tests that apply to
//! both) on a real PostgreSQL started for the test: every kind of event round-trips,
//! a reopened store has everything and goes on numbering, retention removes the oldest
//! deployments with their logs, and a file that is not a database stops the start with an
//! error naming it.

use shipwatch_model::{
    Deployment, DeploymentStatus, Instance, LogLevel, LogLine, RunningStatus, Service, ServiceKind,
};
use shipwatch_server::platform::PlatformEvent;
use shipwatch_server::store::{
    Loaded, LogChange, Store, StoreConfig, StoreError, StoredChange, TopicMark,
};
use std::path::Path;
use std::sync::Arc;

#[macro_use]
mod common;
use common::postgres::{Backend, TestStore};

fn config(dir: &Path) -> StoreConfig {
    StoreConfig {
        dir: dir.to_path_buf(),
        retain_deployments: 50,
        max_log_bytes: 2 << 30,
        log_base: 1_000_000,
        max_file_bytes: 0,
        queue: Default::default(),
        synchronous: Default::default(),
        keep_removed: shipwatch_server::store::DEFAULT_KEEP_REMOVED,
        database: None,
        pool: Default::default(),
    }
}

async fn open(cfg: StoreConfig) -> (Store, Loaded) {
    Store::open(cfg).await.expect("the store opens")
}

async fn write(store: &Store, events: Vec<PlatformEvent>) {
    store
        .write(Arc::from(events))
        .committed()
        .await
        .expect("committed");
}

fn instance(name: &str, status: RunningStatus) -> Instance {
    Instance {
        name: name.into(),
        status,
        version: "v1".into(),
        restarts: 0,
        reason: None,
        message: None,
        started_at: Some(1_000),
        events: Vec::new(),
        last_restart_at: None,
        last_termination: None,
    }
}

fn deployment(id: &str, status: DeploymentStatus, at: u64) -> Deployment {
    Deployment {
        id: id.into(),
        status,
        version: "v2".into(),
        previous_version: Some("v1".into()),
        started_at: at,
        finished_at: None,
        triggered_by: None,
        url: None,
    }
}

fn service(id: &str, instances: Vec<Instance>, dep: Option<Deployment>) -> Service {
    Service {
        id: id.into(),
        name: format!("The {id}"),
        kind: ServiceKind::Application,
        instances,
        version: "v1".into(),
        deployment: dep,
        deployment_since: None,
        running_since: None,
    }
}

fn lines(from: u64, count: u64, stage: &str) -> Vec<LogLine> {
    (from..from + count)
        .map(|n| LogLine {
            n,
            ts: 10_000 + n,
            stage: stage.into(),
            level: if n % 7 == 0 {
                LogLevel::Error
            } else {
                LogLevel::Info
            },
            text: format!("line {n} \u{1b}[32mok\u{1b}[0m ünïcødé"),
            hint: (n % 7 == 0).then(|| format!("hint for {n}")),
        })
        .collect()
}

fn queued(env: &str, svc: &str, id: &str, at: u64) -> PlatformEvent {
    PlatformEvent::DeploymentQueued {
        env: env.into(),
        service: Some(svc.into()),
        deployment: deployment(id, DeploymentStatus::Queued, at),
    }
}

fn log(id: &str, lines: Vec<LogLine>) -> PlatformEvent {
    PlatformEvent::LogAppended {
        deployment: id.into(),
        lines,
    }
}

async fn every_event_kind_round_trips_through_the_file(at: Backend) {
    let dir = TestStore::new(at);
    let (store, loaded) = open(dir.config()).await;
    assert!(loaded.fresh && loaded.clean && loaded.environments.is_empty());
    let dep = deployment("dep-1", DeploymentStatus::Queued, 5_000);
    let building = Deployment {
        status: DeploymentStatus::Building,
        ..dep.clone()
    };
    let done = Deployment {
        status: DeploymentStatus::DeploymentOk,
        finished_at: Some(9_000),
        triggered_by: None,
        url: None,
        ..dep.clone()
    };
    let mut crashed = instance("api-2", RunningStatus::Error);
    crashed.reason = Some("OOMKilled".into());
    crashed.message = Some("Container exceeded its memory limit".into());
    crashed.restarts = 4;
    write(
        &store,
        vec![
            PlatformEvent::EnvironmentChanged {
                id: "production".into(),
                name: "Prod".into(),
            },
            PlatformEvent::EnvironmentChanged {
                id: "staging".into(),
                name: "Staging".into(),
            },
            PlatformEvent::EnvironmentChanged {
                id: "production".into(),
                name: "Production".into(),
            },
            PlatformEvent::ServiceChanged {
                env: "staging".into(),
                service: service("web", vec![], None),
            },
            PlatformEvent::ServiceChanged {
                env: "production".into(),
                service: service(
                    "api",
                    vec![
                        instance("api-1", RunningStatus::Running),
                        instance("api-2", RunningStatus::Running),
                        instance("api-3", RunningStatus::Running),
                    ],
                    None,
                ),
            },
            PlatformEvent::ServiceChanged {
                env: "production".into(),
                service: service("db", vec![instance("db-1", RunningStatus::Running)], None),
            },
            queued("production", "api", "dep-1", 5_000),
            PlatformEvent::DeploymentStage {
                deployment: "dep-1".into(),
                stage: "build".into(),
                at: 5_100,
            },
            PlatformEvent::DeploymentStatus {
                deployment: building.clone(),
            },
            log("dep-1", lines(1, 3, "build")),
        ],
    )
    .await;
    // A second write: instance events on top of the whole service, the end of the deployment,
    // and removals.
    write(
        &store,
        vec![
            PlatformEvent::InstanceChanged {
                env: "production".into(),
                service: "api".into(),
                instance: crashed.clone(),
                exit_code: Some(137),
            },
            PlatformEvent::InstanceChanged {
                env: "production".into(),
                service: "api".into(),
                instance: instance("api-4", RunningStatus::Starting),
                exit_code: None,
            },
            PlatformEvent::InstanceRemoved {
                env: "production".into(),
                service: "api".into(),
                name: "api-1".into(),
            },
            PlatformEvent::DeploymentStage {
                deployment: "dep-1".into(),
                stage: "deploy".into(),
                at: 8_000,
            },
            log("dep-1", lines(4, 2, "deploy")),
            PlatformEvent::DeploymentStatus {
                deployment: done.clone(),
            },
            PlatformEvent::ServiceChanged {
                env: "production".into(),
                service: service(
                    "web",
                    vec![instance("web-1", RunningStatus::Running)],
                    Some(done.clone()),
                ),
            },
            PlatformEvent::ServiceRemoved {
                env: "production".into(),
                service: "db".into(),
            },
            PlatformEvent::EnvironmentRemoved {
                id: "staging".into(),
            },
        ],
    )
    .await;
    store.close(Vec::new()).await.expect("closes");

    let (store, loaded) = open(dir.config()).await;
    assert!(!loaded.fresh && loaded.clean);
    assert_eq!(loaded.environments.len(), 1, "staging was removed");
    let prod = &loaded.environments[0];
    assert_eq!(
        (prod.id.as_str(), prod.name.as_str()),
        ("production", "Production")
    );
    let ids: Vec<&str> = prod.services.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["api", "web"], "in order of appearance, db removed");
    let api = &prod.services[0];
    let names: Vec<&str> = api.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["api-2", "api-3", "api-4"]);
    // The exit code reported beside it comes back in its last termination.
    let mut expected = crashed.clone();
    expected.note_exit_code(Some(137));
    assert_eq!(api.instances[0], expected);
    assert_eq!(api.instances[2].status, RunningStatus::Starting);
    assert_eq!(prod.services[1].deployment.as_ref(), Some(&done));
    assert_eq!(prod.services[1].name, "The web");

    assert_eq!(loaded.deployments.len(), 1);
    let d = &loaded.deployments[0];
    assert_eq!(d.deployment, done);
    assert_eq!(
        (d.env.as_str(), d.service.as_deref()),
        ("production", Some("api"))
    );
    assert_eq!(d.stage.as_deref(), Some("deploy"));
    assert_eq!(
        (d.log_lines, d.log_base, d.log_removed),
        (5, 1_000_000, false)
    );

    let h = store.log_history("dep-1").await.unwrap().expect("kept");
    assert_eq!(
        h.header, dep,
        "the snapshot's header is the deployment as queued"
    );
    assert_eq!(h.base, 1_000_000);
    let expected = vec![
        LogChange::Status(building),
        LogChange::Line(lines(1, 1, "build").remove(0)),
        LogChange::Line(lines(2, 1, "build").remove(0)),
        LogChange::Line(lines(3, 1, "build").remove(0)),
        LogChange::Line(lines(4, 1, "deploy").remove(0)),
        LogChange::Line(lines(5, 1, "deploy").remove(0)),
        LogChange::Status(done),
    ];
    assert_eq!(
        h.changes, expected,
        "statuses interleaved where they happened"
    );
    assert_eq!(
        store.log_lines("dep-1", 3, 10).await.unwrap(),
        lines(4, 2, "deploy")
    );
    assert!(store.log_history("dep-404").await.unwrap().is_none());

    // An environment-wide deployment is its environment's last one.
    let env_wide = Deployment {
        status: DeploymentStatus::DeploymentError,
        finished_at: Some(12_000),
        triggered_by: None,
        url: None,
        ..deployment("env-dep-1", DeploymentStatus::Queued, 11_000)
    };
    write(
        &store,
        vec![
            PlatformEvent::DeploymentQueued {
                env: "production".into(),
                service: None,
                deployment: deployment("env-dep-1", DeploymentStatus::Queued, 11_000),
            },
            PlatformEvent::DeploymentStatus {
                deployment: env_wide.clone(),
            },
        ],
    )
    .await;
    store.close(Vec::new()).await.unwrap();
    let (store, loaded) = open(dir.config()).await;
    assert_eq!(loaded.environments[0].deployment, Some(env_wide));
    let d = loaded
        .deployments
        .iter()
        .find(|d| d.deployment.id == "env-dep-1")
        .unwrap();
    assert_eq!(d.service, None);
    store.close(Vec::new()).await.unwrap();
}

async fn a_reopened_store_goes_on_where_it_stopped(at: Backend) {
    let dir = TestStore::new(at);
    let (store, _) = open(dir.config()).await;
    write(
        &store,
        vec![
            PlatformEvent::EnvironmentChanged {
                id: "production".into(),
                name: "Production".into(),
            },
            queued("production", "api", "dep-1", 1_000),
            log("dep-1", lines(1, 1_000, "build")),
        ],
    )
    .await;
    let marks = vec![TopicMark {
        topic: "environment:production".into(),
        seq: 42,
        changes: vec![
            StoredChange {
                seq: 41,
                json: r#"{"op":"service_removed","id":"x"}"#.into(),
                compact: None,
            },
            StoredChange {
                seq: 42,
                json: r#"{"op":"service_upsert"}"#.into(),
                compact: Some(r#"{"op":"instance_update"}"#.into()),
            },
        ],
    }];
    store.close(marks.clone()).await.unwrap();
    assert!(
        store
            .write(Arc::from(Vec::new()))
            .committed()
            .await
            .is_err(),
        "a closed store refuses writes"
    );

    // Reopened after a clean close: the log goes on from line 1,001. The marks given to the
    // close are what older servers wrote; where topics stand is the change log's now (a store
    // without a hub, as here, has no rows of it), so none come back.
    let mut cfg = dir.config();
    cfg.log_base = 2_000_000;
    let (store, loaded) = open(cfg.clone()).await;
    assert!(loaded.clean);
    assert!(loaded.topics.is_empty(), "clean-stop marks are not written");
    assert_eq!(loaded.deployments[0].log_lines, 1_000);
    assert_eq!(
        loaded.deployments[0].log_base, 1_000_000,
        "numbering goes on"
    );
    write(
        &store,
        vec![
            log("dep-1", lines(1_001, 5, "deploy")),
            queued("production", "api", "dep-2", 2_000),
            log("dep-2", lines(1, 2, "build")),
        ],
    )
    .await;
    // Dropped without a close: the next start knows the previous run did not end cleanly
    // (and so trusts no topic position), but every acknowledged write is there.
    drop(store);
    cfg.log_base = 3_000_000;
    let (store, loaded) = open(cfg).await;
    assert!(!loaded.clean && loaded.topics.is_empty());
    let by_id = |id: &str| {
        loaded
            .deployments
            .iter()
            .find(|d| d.deployment.id == id)
            .cloned()
            .expect("kept")
    };
    assert_eq!(by_id("dep-1").log_lines, 1_005);
    // Pages are shown only what is committed (the change log, commit before visible): after
    // a crash, logs keep their numbers, so an old resume point resumes.
    assert!(loaded.committed_numbers);
    assert_eq!(by_id("dep-1").log_base, 1_000_000);
    assert_eq!(by_id("dep-2").log_base, 2_000_000);
    assert!(by_id("dep-2").ordinal > by_id("dep-1").ordinal);
    let h = store.log_history("dep-1").await.unwrap().unwrap();
    let ns: Vec<u64> = h
        .changes
        .iter()
        .filter_map(|c| match c {
            LogChange::Line(l) => Some(l.n),
            LogChange::Status(_) => None,
        })
        .collect();
    assert_eq!(
        ns,
        (1..=1_005).collect::<Vec<_>>(),
        "every line once, in order"
    );
    store.close(Vec::new()).await.unwrap();
}

async fn retention_removes_the_oldest_deployments_with_their_logs(at: Backend) {
    let dir = TestStore::new(at);
    let mut cfg = dir.config();
    cfg.retain_deployments = 3;
    let (store, _) = open(cfg.clone()).await;
    for k in 1..=5u64 {
        let id = format!("api-{k}");
        write(
            &store,
            vec![
                queued("production", "api", &id, k * 1_000),
                log(&id, lines(1, 10, "build")),
            ],
        )
        .await;
    }
    write(
        &store,
        vec![
            queued("production", "web", "web-1", 1),
            log("web-1", lines(1, 10, "build")),
        ],
    )
    .await;
    for gone in ["api-1", "api-2"] {
        assert!(store.deployment(gone).await.unwrap().is_none(), "{gone}");
        assert!(store.log_lines(gone, 0, 100).await.unwrap().is_empty());
        assert!(store.log_history(gone).await.unwrap().is_none());
    }
    for kept in ["api-3", "api-4", "api-5", "web-1"] {
        assert_eq!(
            store.log_lines(kept, 0, 100).await.unwrap().len(),
            10,
            "{kept}"
        );
    }
    store.close(Vec::new()).await.unwrap();

    // The log-bytes cap: with room for about two logs of 100 lines, the oldest lose their
    // lines first; the deployments stay, marked.
    let one_log: u64 = lines(1, 100, "build")
        .iter()
        .map(|l| {
            (l.text.len() + l.stage.len() + l.hint.as_ref().map_or(0, String::len) + 24) as u64
        })
        .sum();
    cfg.max_log_bytes = one_log * 2 + one_log / 2;
    let (store, _) = open(cfg).await;
    assert!(store.health().log_bytes > 0);
    for k in 1..=3u64 {
        let id = format!("big-{k}");
        write(
            &store,
            vec![
                queued("staging", "worker", &id, k),
                log(&id, lines(1, 100, "build")),
            ],
        )
        .await;
    }
    let health = store.health();
    assert!(health.ok, "{health:?}");
    assert!(health.log_bytes <= one_log * 2 + one_log / 2, "{health:?}");
    let big1 = store.deployment("big-1").await.unwrap().expect("kept");
    assert!(big1.log_removed && big1.log_bytes == 0);
    assert!(store.log_lines("big-1", 0, 10).await.unwrap().is_empty());
    assert!(store.log_history("big-1").await.unwrap().unwrap().removed);
    for kept in ["big-2", "big-3"] {
        assert_eq!(
            store.log_lines(kept, 0, 1_000).await.unwrap().len(),
            100,
            "{kept}"
        );
    }
    store.close(Vec::new()).await.unwrap();
}

#[tokio::test]
async fn a_file_that_is_not_a_database_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shipwatch.db");
    std::fs::write(
        &file,
        b"this is not a database, and it must not be replaced".repeat(100),
    )
    .unwrap();
    let before = std::fs::read(&file).unwrap();
    let err = Store::open(config(dir.path()))
        .await
        .err()
        .expect("refused");
    let StoreError::Open { file: named, .. } = &err else {
        panic!("expected an open error, got {err:?}");
    };
    assert_eq!(named, &file);
    let msg = err.to_string();
    assert!(msg.contains(&file.display().to_string()), "{msg}");
    assert!(msg.contains("not a database"), "{msg}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the file is left as it was"
    );

    // A store whose pages were damaged after a clean close.
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(config(dir.path())).await;
    write(
        &store,
        vec![
            PlatformEvent::EnvironmentChanged {
                id: "production".into(),
                name: "Production".into(),
            },
            queued("production", "api", "dep-1", 1),
            log("dep-1", lines(1, 2_000, "build")),
        ],
    )
    .await;
    store.close(Vec::new()).await.unwrap();
    let file = dir.path().join("shipwatch.db");
    let mut bytes = std::fs::read(&file).unwrap();
    for b in bytes[4096..].iter_mut() {
        *b = 0x5a;
    }
    std::fs::write(&file, &bytes).unwrap();
    let err = Store::open(config(dir.path()))
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );

    // A data directory that is a file.
    let dir = tempfile::tempdir().unwrap();
    let not_dir = dir.path().join("data");
    std::fs::write(&not_dir, b"x").unwrap();
    let err = Store::open(config(&not_dir)).await.err().expect("refused");
    assert!(
        err.to_string().contains(&not_dir.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn a_full_disk_fails_writes_loudly_and_the_store_keeps_trying() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    // A file limited to 1 MiB: SQLite's "database or disk is full", as on a full disk.
    cfg.max_file_bytes = 1 << 20;
    let (store, _) = open(cfg.clone()).await;
    write(&store, vec![queued("production", "api", "dep-1", 1)]).await;
    let mut failed = None;
    for k in 0..100u64 {
        let mut batch = lines(1 + k * 100, 100, "build");
        for l in &mut batch {
            l.text = format!("{} {}", l.text, "x".repeat(200));
        }
        let ack = store.write(Arc::from(vec![log("dep-1", batch)]));
        if let Err(e) = ack.committed().await {
            failed = Some((k, e));
            break;
        }
    }
    let (k, err) = failed.expect("writes fail once the file is full");
    assert!(k > 0, "the first writes fit");
    let StoreError::Write(msg) = &err else {
        panic!("a write error, got {err:?}");
    };
    assert!(msg.contains("full"), "{msg}");
    let health = store.health();
    assert!(
        !health.ok && health.error.as_deref() == Some(msg.as_str()),
        "{health:?}"
    );
    assert!(
        health.pending_writes >= 1,
        "the failed write waits to be retried"
    );
    // Still failing a retry later, still no panic; closing gives up after a few attempts.
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert!(!store.health().ok);
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), store.close(Vec::new()))
        .await
        .expect("close gives up on a full disk");
    assert!(closed.is_err());

    // What was acknowledged before is there.
    cfg.max_file_bytes = 0;
    let (store, _) = open(cfg).await;
    let kept = store.log_lines("dep-1", 0, 100_000).await.unwrap();
    assert!(kept.len() as u64 >= k * 100, "{} lines kept", kept.len());
    store.close(Vec::new()).await.unwrap();
}

async fn one_server_at_a_time_uses_a_data_directory(at: Backend) {
    let dir = TestStore::new(at);
    let (store, _) = open(dir.config()).await;
    let err = Store::open(dir.config()).await.err().expect("refused");
    let msg = err.to_string();
    assert!(msg.contains("another shipwatch-server"), "{msg}");
    let held = match at {
        Backend::Sqlite => dir.dir.path().join("shipwatch.lock").display().to_string(),
        Backend::Postgres => dir.url.clone().unwrap(),
    };
    assert!(msg.contains(&held), "{msg}");
    store.close(Vec::new()).await.unwrap();
    drop(store);
    let (store, _) = open(dir.config()).await;
    store.close(Vec::new()).await.unwrap();
}

async fn services_keep_the_order_they_first_appeared_in_when_reports_are_merged(at: Backend) {
    let dir = TestStore::new(at);
    let (store, _) = open(dir.config()).await;
    let mut api_later = service("api", vec![instance("api-1", RunningStatus::Error)], None);
    api_later.version = "v2".into();
    // One write: api, then web, then api again (the writer keeps only api's last report).
    write(
        &store,
        vec![
            PlatformEvent::EnvironmentChanged {
                id: "production".into(),
                name: "Production".into(),
            },
            PlatformEvent::ServiceChanged {
                env: "production".into(),
                service: service("api", vec![], None),
            },
            PlatformEvent::ServiceChanged {
                env: "production".into(),
                service: service("web", vec![], None),
            },
            PlatformEvent::ServiceChanged {
                env: "production".into(),
                service: api_later.clone(),
            },
        ],
    )
    .await;
    store.close(Vec::new()).await.unwrap();
    let (store, loaded) = open(dir.config()).await;
    let services = &loaded.environments[0].services;
    let ids: Vec<&str> = services.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["api", "web"]);
    assert_eq!(services[0], api_later, "the last report of api is kept");
    store.close(Vec::new()).await.unwrap();
}

on_both!(
    every_event_kind_round_trips_through_the_file,
    a_reopened_store_goes_on_where_it_stopped,
    retention_removes_the_oldest_deployments_with_their_logs,
    one_server_at_a_time_uses_a_data_directory,
    services_keep_the_order_they_first_appeared_in_when_reports_are_merged,
);

#[tokio::test]
async fn a_database_that_cannot_be_used_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    // Nothing listens on port 1: the start stops with PostgreSQL's reason, not a timeout.
    cfg.database = Some("postgres://shipwatch:s3cret@127.0.0.1:1/shipwatch".into());
    let err = Store::open(cfg.clone()).await.err().expect("refused");
    let msg = err.to_string();
    assert!(
        msg.contains("cannot use the database postgres://shipwatch:***@127.0.0.1:1/shipwatch"),
        "{msg}"
    );
    assert!(
        !msg.contains("s3cret"),
        "the password is never shown: {msg}"
    );
    assert!(
        !msg.contains("timed out"),
        "the reason, not a pool timeout: {msg}"
    );
    cfg.database = Some("mysql://root@127.0.0.1/shipwatch".into());
    let msg = Store::open(cfg).await.err().expect("refused").to_string();
    assert!(msg.contains("postgres://user@host:port/database"), "{msg}");
}
