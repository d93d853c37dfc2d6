//! Instance counts, versions side by side, "old version still serving" and triage, on the
//! situations the seeds describe.

use shipwatch_model::instances::{
    instance_count, old_version_serving, short_version, version_groups, VersionRole,
};
use shipwatch_model::service_running;
use shipwatch_model::triage::{in_trouble, notable_change, trouble_rank, ServiceTriage};
use shipwatch_model::{
    Deployment, DeploymentStatus as D, Instance, RunningStatus as R, Service, ServiceKind,
};

fn inst(name: &str, status: R, version: &str) -> Instance {
    Instance {
        name: name.into(),
        status,
        version: version.into(),
        restarts: 0,
        reason: (status == R::Error).then(|| "CrashLoopBackOff".into()),
        message: None,
        started_at: None,
        events: Vec::new(),
        last_restart_at: None,
        last_termination: None,
    }
}

fn service(kind: ServiceKind, instances: Vec<Instance>, dep: Option<(D, &str)>) -> Service {
    Service {
        id: "api".into(),
        name: "api".into(),
        kind,
        instances,
        version: "a1b2c3d4e5".into(),
        deployment: dep.map(|(status, version)| Deployment {
            id: "dep-1".into(),
            status,
            version: version.into(),
            previous_version: Some("a1b2c3d4e5".into()),
            started_at: 1,
            finished_at: None,
            triggered_by: None,
            url: None,
        }),
        deployment_since: None,
        running_since: None,
    }
}

#[test]
fn jobs_count_completed_executions_not_running_ones() {
    let job = service(
        ServiceKind::LifecycleJob,
        vec![
            inst("m-1", R::Completed, "v"),
            inst("m-2", R::Completed, "v"),
        ],
        None,
    );
    assert_eq!(instance_count(&job).to_string(), "2/2 completed");
    let running_job = service(
        ServiceKind::Cronjob,
        vec![inst("c-1", R::Running, "v"), inst("c-2", R::Completed, "v")],
        None,
    );
    assert_eq!(instance_count(&running_job).to_string(), "1/2 running");
    let app = service(
        ServiceKind::Application,
        vec![inst("api-1", R::Running, "v"), inst("api-2", R::Error, "v")],
        None,
    );
    assert_eq!(instance_count(&app).to_string(), "1/2 running");
}

#[test]
fn a_rolling_deployment_lists_new_then_old_version() {
    let svc = service(
        ServiceKind::Application,
        vec![
            inst("api-1", R::Running, "a1b2c3d4e5"),
            inst("api-2", R::Running, "a1b2c3d4e5"),
            inst("api-1", R::Starting, "e4f5a6b7c8"),
        ],
        Some((D::Deploying, "e4f5a6b7c8")),
    );
    let groups = version_groups(&svc);
    assert_eq!(groups.len(), 2);
    assert_eq!(
        (groups[0].version, groups[0].role),
        ("e4f5a6b7c8", VersionRole::New)
    );
    assert_eq!(
        (groups[1].version, groups[1].role),
        ("a1b2c3d4e5", VersionRole::Old)
    );
    assert_eq!(groups[1].running, 2);
    let serving = old_version_serving(&svc).expect("old version serves during the rollout");
    assert_eq!(
        serving.headline(),
        "Rolling out e4f5a6b: old version a1b2c3d still serving on 2 instances"
    );
}

#[test]
fn a_failed_deployment_says_the_old_version_still_serves() {
    let svc = service(
        ServiceKind::Application,
        vec![
            inst("api-1", R::Running, "a1b2c3d4e5"),
            inst("api-1", R::Error, "e4f5a6b7c8"),
        ],
        Some((D::DeploymentError, "e4f5a6b7c8")),
    );
    let s = old_version_serving(&svc).expect("old serves");
    assert!(s.headline().starts_with("Deployment of e4f5a6b failed (DEPLOYMENT ERROR), but old version a1b2c3d is still serving on 1 instance"));
    // Everything down: no comfort to give.
    let down = service(
        ServiceKind::Application,
        vec![inst("api-1", R::Error, "e4f5a6b7c8")],
        Some((D::DeploymentError, "e4f5a6b7c8")),
    );
    assert_eq!(old_version_serving(&down), None);
    // A deployment that went through leaves nothing old to mention.
    let ok = service(
        ServiceKind::Application,
        vec![inst("api-1", R::Running, "e4f5a6b7c8")],
        Some((D::DeploymentOk, "e4f5a6b7c8")),
    );
    assert_eq!(old_version_serving(&ok), None);
    assert_eq!(version_groups(&ok)[0].role, VersionRole::Only);
}

#[test]
fn trouble_comes_first() {
    let mut all: Vec<(R, Option<D>)> = vec![
        (R::Running, Some(D::DeploymentOk)),
        (R::Completed, None),
        (R::Starting, Some(D::Deploying)),
        (R::Running, Some(D::BuildingError)),
        (R::Warning, Some(D::DeploymentError)),
        (R::Error, None),
        (R::Stopped, None),
    ];
    all.sort_by_key(|(r, d)| trouble_rank(*r, *d));
    assert_eq!(all[0].0, R::Error);
    assert_eq!(all[1].0, R::Warning);
    assert_eq!(all[2], (R::Running, Some(D::BuildingError)));
    assert_eq!(all[3].0, R::Starting);
    assert!(in_trouble(R::Running, Some(D::DeploymentError)));
    assert!(!in_trouble(R::Starting, Some(D::Deploying)));
    assert!(!in_trouble(R::Running, Some(D::DeploymentOk)));
}

#[test]
fn finishing_deployments_and_new_errors_are_announced_once() {
    let before = service(
        ServiceKind::Application,
        vec![inst("api-1", R::Running, "a1b2c3d4e5")],
        Some((D::Deploying, "e4f5a6b7c8")),
    );
    let failed = service(
        ServiceKind::Application,
        vec![inst("api-1", R::Running, "a1b2c3d4e5")],
        Some((D::DeploymentError, "e4f5a6b7c8")),
    );
    let n = notable_change(&before, &failed).expect("a deployment finished");
    assert_eq!(n.text, "api: DEPLOYMENT ERROR");
    assert!(n.deployment_finished);
    assert_eq!(notable_change(&failed, &failed), None, "announced once");
    let broken = service(
        ServiceKind::Application,
        vec![inst("api-1", R::Error, "a1b2c3d4e5")],
        Some((D::DeploymentError, "e4f5a6b7c8")),
    );
    let n = notable_change(&failed, &broken).expect("entering ERROR");
    assert!(n.text.starts_with("api: ERROR"), "{}", n.text);
    assert!(!n.deployment_finished);
    assert_eq!(short_version("e4f5a6b7c8"), "e4f5a6b");
    assert_eq!(short_version("abc"), "abc");
}

#[test]
fn triage_facts_follow_the_rules() {
    let failing = service(
        ServiceKind::Application,
        vec![
            inst("Api-1", R::Running, "v2"),
            inst("Api-2", R::Error, "v2"),
        ],
        Some((D::DeploymentError, "v2")),
    );
    let t = ServiceTriage::of(&failing);
    assert_eq!(t.running, R::Warning);
    assert_eq!(t.running, service_running(&failing).status);
    assert_eq!(t.rank, trouble_rank(R::Warning, Some(D::DeploymentError)));
    assert!(t.in_trouble());
    assert_eq!(
        t.deployment.as_ref().map(|d| d.status),
        Some(D::DeploymentError)
    );
    assert_eq!(t.sort_name, t.name.to_lowercase());

    let calm = service(
        ServiceKind::Application,
        vec![inst("web-1", R::Running, "v1")],
        None,
    );
    let t = ServiceTriage::of(&calm);
    assert_eq!(
        (t.running, t.in_trouble(), t.deployment),
        (R::Running, false, None)
    );
}

#[test]
fn table_rows_sort_trouble_first_and_filter() {
    use shipwatch_model::triage::{table_rows, trouble_count, SortKey, TableQuery};
    use std::collections::HashMap;
    let mk = |id: &str, statuses: &[R], dep: Option<D>| {
        let mut s = service(
            ServiceKind::Application,
            statuses
                .iter()
                .enumerate()
                .map(|(i, st)| inst(&format!("{id}-{i}"), *st, "v1"))
                .collect(),
            dep.map(|d| (d, "v1")),
        );
        s.id = id.into();
        s.name = id.into();
        s
    };
    let services = [
        mk("web", &[R::Running], None),
        mk("Api", &[R::Running, R::Error], None),
        mk("worker", &[R::Error], None),
        mk("cron", &[R::Running], Some(D::BuildingError)),
        mk("db", &[R::Starting], Some(D::Deploying)),
    ];
    let order: Vec<String> = services.iter().map(|s| s.id.clone()).collect();
    let triage: HashMap<String, ServiceTriage> = services
        .iter()
        .map(|s| (s.id.clone(), ServiceTriage::of(s)))
        .collect();
    let mut q = TableQuery {
        key: SortKey::Status,
        ascending: true,
        only_trouble: false,
        name: String::new(),
    };
    let rows = table_rows(&order, &triage, &q);
    assert_eq!(rows.ids, ["worker", "Api", "cron", "db", "web"]);
    assert_eq!(trouble_count(&order, &triage), (3, 5));
    q.ascending = false;
    assert_eq!(
        table_rows(&order, &triage, &q).ids,
        ["web", "db", "cron", "Api", "worker"]
    );
    q.key = SortKey::Name;
    q.ascending = true;
    assert_eq!(
        table_rows(&order, &triage, &q).ids,
        ["Api", "cron", "db", "web", "worker"]
    );
    q.only_trouble = true;
    assert_eq!(
        table_rows(&order, &triage, &q).ids,
        ["Api", "cron", "worker"]
    );
    q.only_trouble = false;
    q.name = " W ".into();
    let rows = table_rows(&order, &triage, &q);
    assert_eq!(rows.ids, ["web", "worker"]);
    // Counts are of the whole environment, whatever the filters show.
    assert_eq!(trouble_count(&order, &triage), (3, 5));
}
