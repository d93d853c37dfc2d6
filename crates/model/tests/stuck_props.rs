//! Stuck detection and its place in triage, for any services, thresholds and times: a
//! service is stuck exactly when a transitional status has held at least its threshold; a
//! stuck service is in trouble and sorts before every service that is not stuck.

use proptest::prelude::*;
use shipwatch_model::stuck::StuckAfter;
use shipwatch_model::triage::{table_rows, ServiceTriage, SortKey, TableQuery};
use shipwatch_model::{
    Deployment, DeploymentStatus, Instance, RunningStatus, Service, ServiceKind,
};
use std::collections::HashMap;

fn service(
    id: usize,
    statuses: Vec<RunningStatus>,
    dep: Option<DeploymentStatus>,
    running_since: Option<u64>,
    deployment_since: Option<u64>,
) -> Service {
    Service {
        id: format!("s{id}"),
        name: format!("s{id}"),
        kind: ServiceKind::Application,
        instances: statuses
            .into_iter()
            .enumerate()
            .map(|(k, status)| Instance {
                name: format!("s{id}-{k}"),
                status,
                version: "v1".into(),
                restarts: 0,
                reason: None,
                message: None,
                started_at: None,
                last_termination: None,
                last_restart_at: None,
                events: Vec::new(),
            })
            .collect(),
        version: "v1".into(),
        deployment: dep.map(|status| Deployment {
            id: format!("d{id}"),
            status,
            version: "v2".into(),
            previous_version: None,
            started_at: 0,
            finished_at: None,
            triggered_by: None,
            url: None,
        }),
        running_since,
        deployment_since,
    }
}

fn running() -> impl Strategy<Value = RunningStatus> {
    prop::sample::select([RunningStatus::ALL.as_slice(), &[RunningStatus::Unknown]].concat())
}

fn deployment() -> impl Strategy<Value = Option<DeploymentStatus>> {
    prop::option::of(prop::sample::select(DeploymentStatus::ALL.to_vec()))
}

fn a_service() -> impl Strategy<
    Value = (
        Vec<RunningStatus>,
        Option<DeploymentStatus>,
        Option<u64>,
        Option<u64>,
    ),
> {
    (
        prop::collection::vec(running(), 0..4),
        deployment(),
        prop::option::of(0u64..10_000),
        prop::option::of(0u64..10_000),
    )
}

fn limits() -> impl Strategy<Value = StuckAfter> {
    prop::array::uniform6(0u64..5_000).prop_map(|n| StuckAfter {
        starting_ms: n[0],
        stopping_ms: n[1],
        queued_ms: n[2],
        building_ms: n[3],
        deploying_ms: n[4],
        cancelling_building_ms: n[5],
    })
}

proptest! {
    #[test]
    fn stuck_exactly_when_a_transitional_status_held_its_threshold(
        (statuses, dep, rs, ds) in a_service(), limits in limits(), now in 0u64..20_000,
    ) {
        let s = service(0, statuses, dep, rs, ds);
        let t = ServiceTriage::at(&s, &limits, now);
        let held = |since: Option<u64>, after: Option<u64>| {
            matches!((since, after), (Some(since), Some(after)) if now >= since + after)
        };
        let expected = held(rs, limits.running(t.running))
            || dep.is_some_and(|d| held(ds, limits.deployment(d)));
        prop_assert_eq!(t.stuck, expected);
        if t.stuck {
            prop_assert!(t.in_trouble());
            prop_assert!(t.stuck_at(&limits).is_some_and(|at| at <= now));
        } else if let Some(at) = t.stuck_at(&limits) {
            // Becomes stuck at that moment and not before, if nothing changes.
            prop_assert!(at > now);
            prop_assert!(ServiceTriage::at(&s, &limits, at).stuck);
        }
    }

    #[test]
    fn stuck_services_are_listed_first(
        services in prop::collection::vec(a_service(), 1..12), limits in limits(), now in 0u64..20_000,
    ) {
        let mut triage = HashMap::new();
        let mut order = Vec::new();
        for (k, (statuses, dep, rs, ds)) in services.into_iter().enumerate() {
            let s = service(k, statuses, dep, rs, ds);
            order.push(s.id.clone());
            triage.insert(s.id.clone(), ServiceTriage::at(&s, &limits, now));
        }
        let query = TableQuery { key: SortKey::Status, ascending: true, only_trouble: false, name: String::new() };
        let rows = table_rows(&order, &triage, &query).ids;
        let stuck: Vec<bool> = rows.iter().map(|id| triage[id].stuck).collect();
        let first_calm = stuck.iter().position(|s| !s).unwrap_or(stuck.len());
        prop_assert!(stuck[first_calm..].iter().all(|s| !s), "{:?}", stuck);
        let trouble = TableQuery { only_trouble: true, ..query };
        let shown = table_rows(&order, &triage, &trouble).ids;
        prop_assert!(order.iter().filter(|id| triage[*id].stuck).all(|id| shown.contains(id)));
    }
}
