//! The hub takes platform events of every kind, from any source: what a subscriber of each
//! topic reads after them.

use shipwatch_model::protocol::{Change, Snapshot, Topic};
use shipwatch_model::{
    Deployment, DeploymentStatus, Environment, Instance, LogLevel, LogLine, RunningStatus, Service,
    ServiceKind,
};
use shipwatch_server::hub::{Hub, HubConfig, ReplayRead};
use shipwatch_server::platform::PlatformEvent;

fn instance(name: &str, status: RunningStatus) -> Instance {
    Instance {
        name: name.into(),
        status,
        version: "v1".into(),
        restarts: 0,
        reason: None,
        message: None,
        started_at: None,
        events: Vec::new(),
        last_restart_at: None,
        last_termination: None,
    }
}

fn service(id: &str) -> Service {
    Service {
        id: id.into(),
        name: id.into(),
        kind: ServiceKind::Application,
        instances: vec![instance(&format!("{id}-1"), RunningStatus::Running)],
        version: "v1".into(),
        deployment: None,
        deployment_since: None,
        running_since: None,
    }
}

fn hub() -> Hub {
    Hub::new(
        HubConfig {
            replay: 100,
            max_logs: 10,
            base_seq: 1_000,
        },
        &[],
    )
}

/// Every change of `topic` after `from`, decoded.
fn changes(hub: &Hub, topic: &Topic, from: u64) -> Vec<Change> {
    let cell = hub.topic(topic).expect("the topic exists");
    match cell.read_from(from + 1, 1_000, 1 << 20, false) {
        ReplayRead::Items(items) => items
            .iter()
            .map(|i| serde_json::from_str(&i.json).expect("a change"))
            .collect(),
        ReplayRead::UpToDate => Vec::new(),
        ReplayRead::Resync => panic!("resync"),
    }
}

fn snapshot(hub: &Hub, topic: &Topic) -> (u64, Snapshot) {
    let (seq, data) = hub
        .topic(topic)
        .expect("the topic exists")
        .snapshot()
        .expect("nothing staged");
    (seq, serde_json::from_str(&data).expect("a snapshot"))
}

/// Services without the times in state the hub stamps (checked on their own).
fn unstamped(services: Vec<Service>) -> Vec<Service> {
    services
        .into_iter()
        .map(|mut s| {
            s.running_since = None;
            s.deployment_since = None;
            s
        })
        .collect()
}

#[test]
fn environments_services_and_instances_come_and_go() {
    let hub = hub();
    let prod = Topic::Environment {
        env: "production".into(),
    };
    hub.apply(&[
        PlatformEvent::EnvironmentChanged {
            id: "production".into(),
            name: "Production".into(),
        },
        PlatformEvent::ServiceChanged {
            env: "production".into(),
            service: service("api"),
        },
        PlatformEvent::ServiceChanged {
            env: "production".into(),
            service: service("db"),
        },
    ]);
    let (seq, Snapshot::Environment { environment }) = snapshot(&hub, &prod) else {
        panic!("an environment snapshot");
    };
    assert_eq!(environment.name, "Production");
    assert!(
        environment
            .services
            .iter()
            .all(|s| s.running_since.is_some()),
        "the hub stamps since when each status holds"
    );
    assert_eq!(
        unstamped(environment.services),
        vec![service("api"), service("db")]
    );
    let (_, Snapshot::Environments { environments }) = snapshot(&hub, &Topic::Environments) else {
        panic!("the list");
    };
    assert_eq!(environments.len(), 1);
    assert_eq!(environments[0].services, 2);

    let mut crashed = instance("api-1", RunningStatus::Error);
    crashed.reason = Some("OOMKilled".into());
    crashed.restarts = 1;
    hub.apply(&[
        PlatformEvent::InstanceChanged {
            env: "production".into(),
            service: "api".into(),
            instance: crashed.clone(),
            exit_code: Some(137),
        },
        PlatformEvent::InstanceChanged {
            env: "production".into(),
            service: "api".into(),
            instance: instance("api-2", RunningStatus::Starting),
            exit_code: None,
        },
        PlatformEvent::InstanceRemoved {
            env: "production".into(),
            service: "db".into(),
            name: "db-1".into(),
        },
        PlatformEvent::ServiceRemoved {
            env: "production".into(),
            service: "db".into(),
        },
    ]);
    let mut api = service("api");
    // The exit code reported beside the instance travels in its last termination.
    crashed.note_exit_code(Some(137));
    assert_eq!(
        crashed
            .last_termination
            .as_ref()
            .map(|t| (t.exit_code, t.reason.as_deref())),
        Some((Some(137), Some("OOMKilled")))
    );
    api.instances = vec![crashed];
    let first = Change::ServiceUpsert(api.clone());
    api.instances
        .push(instance("api-2", RunningStatus::Starting));
    let mut db = service("db");
    db.instances.clear();
    assert_eq!(
        changes(&hub, &prod, seq)
            .into_iter()
            .map(|c| match c {
                Change::ServiceUpsert(s) => Change::ServiceUpsert(unstamped(vec![s]).remove(0)),
                other => other,
            })
            .collect::<Vec<_>>(),
        vec![
            first,
            Change::ServiceUpsert(api),
            Change::ServiceUpsert(db),
            Change::ServiceRemoved { id: "db".into() },
        ]
    );

    let (list_seq, _) = snapshot(&hub, &Topic::Environments);
    hub.apply(&[PlatformEvent::EnvironmentChanged {
        id: "production".into(),
        name: "Production EU".into(),
    }]);
    let renamed = changes(&hub, &Topic::Environments, list_seq);
    assert!(
        matches!(&renamed[..], [Change::EnvironmentUpsert(s)] if s.name == "Production EU"),
        "{renamed:?}"
    );
    let (_, Snapshot::Environment { environment }) = snapshot(&hub, &prod) else {
        panic!("an environment snapshot");
    };
    assert_eq!(environment.name, "Production EU");

    hub.apply(&[PlatformEvent::EnvironmentRemoved {
        id: "production".into(),
    }]);
    assert!(hub.topic(&prod).is_none(), "its topic ended");
    let (_, Snapshot::Environments { environments }) = snapshot(&hub, &Topic::Environments) else {
        panic!("the list");
    };
    assert!(environments.is_empty());
}

#[test]
fn a_deployment_is_queued_staged_moved_and_logged() {
    let hub = hub();
    hub.apply(&[PlatformEvent::EnvironmentChanged {
        id: "staging".into(),
        name: "Staging".into(),
    }]);
    let queued = Deployment {
        id: "env-dep-1".into(),
        status: DeploymentStatus::Queued,
        version: "v2".into(),
        previous_version: None,
        started_at: 5,
        finished_at: None,
        triggered_by: None,
        url: None,
    };
    let done = Deployment {
        status: DeploymentStatus::DeploymentOk,
        finished_at: Some(9),
        triggered_by: None,
        url: None,
        ..queued.clone()
    };
    let line = LogLine {
        n: 1,
        ts: 6,
        stage: "deploy".into(),
        level: LogLevel::Info,
        text: "applying".into(),
        hint: None,
    };
    let staging = Topic::Environment {
        env: "staging".into(),
    };
    let (env_seq, _) = snapshot(&hub, &staging);
    hub.apply(&[
        // An environment-wide deployment (no service): the environment shows it.
        PlatformEvent::DeploymentQueued {
            env: "staging".into(),
            service: None,
            deployment: queued.clone(),
        },
        PlatformEvent::DeploymentStage {
            deployment: "env-dep-1".into(),
            stage: "deploy".into(),
            at: 6,
        },
        PlatformEvent::LogAppended {
            deployment: "env-dep-1".into(),
            lines: vec![line.clone()],
        },
        PlatformEvent::DeploymentStatus {
            deployment: done.clone(),
        },
    ]);
    let log = Topic::Logs {
        deployment: "env-dep-1".into(),
    };
    let (seq, Snapshot::Logs { deployment, .. }) = snapshot(&hub, &log) else {
        panic!("a logs snapshot");
    };
    assert_eq!(deployment, queued);
    assert_eq!(
        changes(&hub, &log, seq),
        vec![Change::Line(line), Change::Deployment(done.clone())],
        "a stage is no change of its own: lines carry it"
    );
    assert_eq!(
        changes(&hub, &staging, env_seq),
        vec![
            Change::EnvironmentDeployment {
                deployment: Some(queued)
            },
            Change::EnvironmentDeployment {
                deployment: Some(done.clone())
            },
        ]
    );
    let (_, Snapshot::Environment { environment }) = snapshot(&hub, &staging) else {
        panic!("an environment snapshot");
    };
    assert_eq!(
        environment,
        Environment {
            id: "staging".into(),
            name: "Staging".into(),
            services: Vec::new(),
            deployment: Some(done),
        }
    );
}
