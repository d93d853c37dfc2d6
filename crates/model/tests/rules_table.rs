//! Totality of the status rules, checked by enumeration against the precedence table of
//! docs/status-rules.md, which is written again here as data (not by calling the rules).

use shipwatch_model::rules::deployment_from_services;
use shipwatch_model::{
    environment_deployment, environment_running, service_running, Deployment, DeploymentStatus,
    Environment, Instance, Rule, RunningStatus as S, Service, ServiceKind,
};

/// Every running status a member may have: the 7 known ones and Unknown.
const VALUES: [S; 8] = [
    S::Stopped,
    S::Starting,
    S::Stopping,
    S::Running,
    S::Error,
    S::Warning,
    S::Completed,
    S::Unknown,
];

const ANY: &[S] = &VALUES;

/// One row of the precedence table: it matches when there is at least one member and at least
/// one member is in `some`, and every member is in `all_in` (or, for `empty`, no member at all).
struct Row {
    rule: &'static str,
    some: &'static [S],
    all_in: &'static [S],
    status: S,
}

const EMPTY_STATUS: S = S::Stopped;

const TABLE: [Row; 9] = [
    Row {
        rule: "all_error",
        some: &[S::Error],
        all_in: &[S::Error],
        status: S::Error,
    },
    Row {
        rule: "some_error",
        some: &[S::Error, S::Warning],
        all_in: ANY,
        status: S::Warning,
    },
    Row {
        rule: "any_starting",
        some: &[S::Starting],
        all_in: &[
            S::Stopped,
            S::Starting,
            S::Stopping,
            S::Running,
            S::Completed,
            S::Unknown,
        ],
        status: S::Starting,
    },
    Row {
        rule: "any_stopping",
        some: &[S::Stopping],
        all_in: &[
            S::Stopped,
            S::Stopping,
            S::Running,
            S::Completed,
            S::Unknown,
        ],
        status: S::Stopping,
    },
    Row {
        rule: "any_unknown",
        some: &[S::Unknown],
        all_in: &[S::Stopped, S::Running, S::Completed, S::Unknown],
        status: S::Unknown,
    },
    Row {
        rule: "all_running",
        some: &[S::Running],
        all_in: &[S::Running],
        status: S::Running,
    },
    Row {
        rule: "some_running",
        some: &[S::Running],
        all_in: &[S::Running, S::Stopped, S::Completed],
        status: S::Running,
    },
    Row {
        rule: "completed",
        some: &[S::Completed],
        all_in: &[S::Completed, S::Stopped],
        status: S::Completed,
    },
    Row {
        rule: "all_stopped",
        some: &[S::Stopped],
        all_in: &[S::Stopped],
        status: S::Stopped,
    },
];

/// The first row of the table that matches, as (rule id, status); panics if none does (the
/// table would not be total).
fn expected(members: &[S]) -> (&'static str, S) {
    if members.is_empty() {
        return ("empty", EMPTY_STATUS);
    }
    let row = TABLE
        .iter()
        .find(|r| {
            members.iter().any(|m| r.some.contains(m))
                && members.iter().all(|m| r.all_in.contains(m))
        })
        .unwrap_or_else(|| panic!("the precedence table is not total: no row for {members:?}"));
    (row.rule, row.status)
}

/// Every multiset of at most `max` items of `values` (as sorted index lists).
fn multisets<T: Copy>(values: &[T], max: usize) -> Vec<Vec<T>> {
    fn go<T: Copy>(
        values: &[T],
        from: usize,
        left: usize,
        cur: &mut Vec<T>,
        out: &mut Vec<Vec<T>>,
    ) {
        out.push(cur.clone());
        if left == 0 {
            return;
        }
        for i in from..values.len() {
            cur.push(values[i]);
            go(values, i, left - 1, cur, out);
            cur.pop();
        }
    }
    let mut out = Vec::new();
    go(values, 0, max, &mut Vec::new(), &mut out);
    out
}

fn instance(name: String, status: S) -> Instance {
    Instance {
        name,
        status,
        version: "v1".into(),
        restarts: 0,
        reason: (status == S::Error).then(|| "CrashLoopBackOff".to_string()),
        message: None,
        started_at: None,
        events: Vec::new(),
        last_restart_at: None,
        last_termination: None,
    }
}

fn service(id: &str, kind: ServiceKind, statuses: &[S]) -> Service {
    Service {
        id: id.into(),
        name: id.into(),
        kind,
        instances: statuses
            .iter()
            .enumerate()
            .map(|(i, s)| instance(format!("{id}-{}", i + 1), *s))
            .collect(),
        version: "v1".into(),
        deployment: None,
        deployment_since: None,
        running_since: None,
    }
}

/// A service whose computed running status is `status`.
fn service_with_status(id: &str, status: S) -> Service {
    let svc = match status {
        S::Warning => service(id, ServiceKind::Application, &[S::Error, S::Running]),
        S::Completed => service(id, ServiceKind::Cronjob, &[S::Completed]),
        s => service(id, ServiceKind::Container, &[s, s]),
    };
    assert_eq!(
        service_running(&svc).status,
        status,
        "fixture for {status:?}"
    );
    svc
}

fn rule_id(rule: Rule) -> &'static str {
    // Written out here rather than calling Rule::id, so a renamed rule fails this test.
    match rule {
        Rule::Empty => "empty",
        Rule::AllError => "all_error",
        Rule::SomeError => "some_error",
        Rule::AnyStarting => "any_starting",
        Rule::AnyStopping => "any_stopping",
        Rule::AnyUnknown => "any_unknown",
        Rule::AllRunning => "all_running",
        Rule::SomeRunning => "some_running",
        Rule::Completed => "completed",
        Rule::AllStopped => "all_stopped",
        Rule::LastDeployment => "last_deployment",
        Rule::FromServices => "from_services",
        Rule::NeverDeployed => "never_deployed",
    }
}

#[test]
fn service_status_is_total_and_follows_the_table_for_every_multiset_of_4_instances() {
    let all = multisets(&VALUES, 4);
    assert_eq!(all.len(), 1 + 8 + 36 + 120 + 330);
    for statuses in &all {
        let (rule, status) = expected(statuses);
        for kind in [ServiceKind::Application, ServiceKind::Cronjob] {
            let svc = service("api", kind, statuses);
            let v = service_running(&svc);
            assert_eq!(
                (rule_id(v.rule), v.status),
                (rule, status),
                "instances {statuses:?}"
            );
            assert_eq!(
                v.headline(),
                format!("{}: {}", status.word(), v.explanation)
            );
            let n = statuses.len();
            assert!(
                n <= 1 || v.explanation.contains(&n.to_string()),
                "{statuses:?}: explanation without the count: {}",
                v.explanation
            );
            if status == S::Warning || status == S::Error {
                assert!(
                    v.explanation.contains("api-"),
                    "culprits named: {}",
                    v.explanation
                );
            }
            // The same multiset in reverse order gives the same verdict.
            let mut reversed = statuses.clone();
            reversed.reverse();
            let r = service_running(&service("api", kind, &reversed));
            assert_eq!((r.status, r.rule), (v.status, v.rule));
        }
    }
}

#[test]
fn environment_status_is_total_and_follows_the_table_for_every_multiset_of_4_services() {
    for statuses in multisets(&VALUES, 4) {
        let (rule, status) = expected(&statuses);
        let env = Environment {
            id: "prod".into(),
            name: "production".into(),
            services: statuses
                .iter()
                .enumerate()
                .map(|(i, s)| service_with_status(&format!("svc{i}"), *s))
                .collect(),
            deployment: None,
        };
        let v = environment_running(&env);
        assert_eq!(
            (rule_id(v.rule), v.status),
            (rule, status),
            "services {statuses:?}"
        );
        assert!(!v.explanation.is_empty());
    }
}

#[test]
fn the_table_in_the_docs_is_the_table_of_the_tests_and_the_code() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/status-rules.md"
    ))
    .expect("docs/status-rules.md exists");
    // Rows like "| 3    | `some_error`   | ...  | WARNING   |".
    let rows: Vec<(String, String)> = doc
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            if cells.len() != 6 || cells[1].parse::<u32>().is_err() || !cells[2].starts_with('`') {
                return None;
            }
            Some((cells[2].trim_matches('`').to_string(), cells[4].to_string()))
        })
        .collect();
    let mut ours = vec![("empty".to_string(), EMPTY_STATUS.word().to_string())];
    ours.extend(
        TABLE
            .iter()
            .map(|r| (r.rule.to_string(), r.status.word().to_string())),
    );
    assert_eq!(rows, ours, "docs/status-rules.md precedence table");
    let code: Vec<&str> = Rule::RUNNING_PRECEDENCE
        .iter()
        .map(|r| rule_id(*r))
        .collect();
    let ours: Vec<&str> = ours.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(code, ours, "Rule::RUNNING_PRECEDENCE");
    for r in Rule::RUNNING_PRECEDENCE {
        assert_eq!(r.id(), rule_id(r));
    }
}

/// The environment deployment precedence of docs/status-rules.md, as data: rank by status.
const DEPLOYMENT_RANKS: [(DeploymentStatus, &str); 9] = [
    (DeploymentStatus::CancellingBuilding, "CANCELLING BUILDING"),
    (DeploymentStatus::Deploying, "DEPLOYING"),
    (DeploymentStatus::Building, "BUILDING"),
    (DeploymentStatus::Queued, "QUEUED"),
    (DeploymentStatus::DeploymentError, "DEPLOYMENT ERROR"),
    (DeploymentStatus::BuildingError, "BUILDING ERROR"),
    (DeploymentStatus::Unknown, "UNKNOWN"),
    (DeploymentStatus::Cancelled, "CANCELLED"),
    (DeploymentStatus::DeploymentOk, "DEPLOYMENT OK"),
];

fn deployment(id: &str, status: DeploymentStatus) -> Deployment {
    Deployment {
        id: id.into(),
        status,
        version: "v2".into(),
        previous_version: Some("v1".into()),
        started_at: 1,
        finished_at: None,
        triggered_by: None,
        url: None,
    }
}

#[test]
fn environment_deployment_is_total_and_follows_its_table() {
    let values: Vec<DeploymentStatus> = DEPLOYMENT_RANKS.iter().map(|(s, _)| *s).collect();
    for statuses in multisets(&values, 4) {
        let mut services: Vec<Service> = statuses
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut svc = service(&format!("svc{i}"), ServiceKind::Application, &[S::Running]);
                svc.deployment = Some(deployment(&format!("dep{i}"), *s));
                svc
            })
            .collect();
        // A service never deployed does not count.
        services.push(service("fresh", ServiceKind::Database, &[S::Running]));
        let mut env = Environment {
            id: "prod".into(),
            name: "production".into(),
            services,
            deployment: None,
        };
        let want = DEPLOYMENT_RANKS
            .iter()
            .find(|(s, _)| statuses.contains(s))
            .map(|(s, _)| *s);
        let got = environment_deployment(&env);
        assert_eq!(got.as_ref().map(|v| v.status), want, "{statuses:?}");
        if let Some(v) = &got {
            assert_eq!(v.rule, Rule::FromServices);
        }
        let pairs: Vec<(&str, DeploymentStatus)> = statuses.iter().map(|s| ("x", *s)).collect();
        assert_eq!(deployment_from_services(&pairs).map(|v| v.status), want);
        // The environment's own last deployment always wins (newer seed).
        for own in values.iter().copied() {
            env.deployment = Some(deployment("env-dep", own));
            let v = environment_deployment(&env).expect("has a deployment");
            assert_eq!((v.status, v.rule), (own, Rule::LastDeployment));
        }
    }
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/status-rules.md"
    ))
    .expect("docs/status-rules.md exists");
    let start = doc
        .find("| Rank | Status")
        .expect("deployment precedence table");
    let documented: Vec<String> = doc[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.split('|').nth(2).unwrap_or_default().trim().to_string())
        .collect();
    let ours: Vec<String> = DEPLOYMENT_RANKS
        .iter()
        .map(|(_, w)| (*w).to_string())
        .collect();
    assert_eq!(documented, ours);
    for (s, w) in DEPLOYMENT_RANKS {
        assert_eq!(s.word(), w);
    }
}

#[test]
fn deployment_finality_is_the_newer_seeds() {
    use DeploymentStatus as D;
    let finals = [D::BuildingError, D::DeploymentError, D::DeploymentOk];
    for s in D::ALL {
        assert_eq!(s.is_final(), finals.contains(&s), "{s:?}");
        assert_eq!(s.is_temporary(), !finals.contains(&s), "{s:?}");
    }
    assert!(!D::Unknown.is_final() && !D::Unknown.is_temporary());
}
