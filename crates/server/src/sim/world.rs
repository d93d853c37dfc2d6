//! The initial platform: environments named like a real team's, each with a mix of service
//! kinds, every service deployed once and running.

use super::rng::Rng;
use shipwatch_model::entities::Millis;
use shipwatch_model::{
    Deployment, DeploymentStatus, Environment, Instance, RunningStatus, Service, ServiceKind,
};

/// Environment ids, in order; more than these get `preview-pr-<n>`.
const ENVIRONMENTS: [(&str, &str); 3] = [
    ("production", "Production"),
    ("staging", "Staging"),
    ("preview-pr-142", "Preview PR #142"),
];

/// Service ids and kinds, in order; the list repeats with a numeric suffix past its end.
const CATALOG: [(&str, &str, ServiceKind); 12] = [
    ("api", "API", ServiceKind::Application),
    ("web", "Web front", ServiceKind::Application),
    ("worker", "Worker", ServiceKind::Application),
    ("postgres", "PostgreSQL", ServiceKind::Database),
    ("redis", "Redis", ServiceKind::Container),
    ("nightly-report", "Nightly report", ServiceKind::Cronjob),
    ("db-migrate", "DB migrate", ServiceKind::LifecycleJob),
    ("gateway", "Gateway", ServiceKind::Container),
    ("search", "Search", ServiceKind::Application),
    ("billing", "Billing", ServiceKind::Application),
    ("mongo", "MongoDB", ServiceKind::Database),
    ("cleanup", "Cleanup", ServiceKind::Cronjob),
];

/// Id and display name of environment number `i`.
pub fn environment_name(i: usize) -> (String, String) {
    match ENVIRONMENTS.get(i) {
        Some((id, name)) => (id.to_string(), name.to_string()),
        None => {
            let pr = 142 + i as u64 * 7;
            (format!("preview-pr-{pr}"), format!("Preview PR #{pr}"))
        }
    }
}

/// Id, display name and kind of service number `i`.
pub fn service_name(i: usize) -> (String, String, ServiceKind) {
    let (id, name, kind) = CATALOG[i % CATALOG.len()];
    let round = i / CATALOG.len();
    if round == 0 {
        (id.to_string(), name.to_string(), kind)
    } else {
        (
            format!("{id}-{}", round + 1),
            format!("{name} {}", round + 1),
            kind,
        )
    }
}

/// How many instances a service of this kind runs when healthy (jobs: none are kept running).
pub fn desired_instances(kind: ServiceKind, instances: u32) -> u32 {
    match kind {
        ServiceKind::Application => instances.max(1),
        ServiceKind::Container | ServiceKind::Database | ServiceKind::Unknown => 1,
        ServiceKind::Cronjob | ServiceKind::LifecycleJob => 0,
    }
}

/// Name of slot `slot` (from 1) of a service: old and new versions share it.
pub fn slot_name(service: &str, slot: u32) -> String {
    format!("{service}-{slot}")
}

/// A running instance.
pub fn running_instance(name: String, version: &str, now: Millis) -> Instance {
    Instance {
        name,
        status: RunningStatus::Running,
        version: version.to_string(),
        restarts: 0,
        reason: None,
        message: None,
        started_at: Some(now),
        last_termination: None,
        last_restart_at: None,
        events: Vec::new(),
    }
}

/// A finished job execution.
pub fn completed_execution(name: String, version: &str, started: Millis) -> Instance {
    Instance {
        status: RunningStatus::Completed,
        ..running_instance(name, version, started)
    }
}

/// Builds the environments; `next_deployment` numbers the initial deployments.
pub fn build(
    rng: &mut Rng,
    environments: u32,
    services: u32,
    instances: u32,
    now: Millis,
    next_deployment: &mut u64,
) -> Vec<Environment> {
    (0..environments as usize)
        .map(|e| {
            let (id, name) = environment_name(e);
            let services = (0..services as usize)
                .map(|s| {
                    let (sid, sname, kind) = service_name(s);
                    let version = rng.hex(7);
                    let started = now - rng.range(3_600_000, 30 * 86_400_000);
                    let mut instances_list: Vec<Instance> =
                        (1..=desired_instances(kind, instances))
                            .map(|slot| running_instance(slot_name(&sid, slot), &version, started))
                            .collect();
                    if kind.is_job() {
                        // The last executions, oldest first.
                        let runs = if kind == ServiceKind::Cronjob { 2 } else { 1 };
                        for k in 0..runs {
                            let at = now - (runs - k) * 3_600_000;
                            instances_list.push(completed_execution(
                                format!("{sid}-{}", rng.hex(5)),
                                &version,
                                at,
                            ));
                        }
                    }
                    *next_deployment += 1;
                    let deployment = Deployment {
                        id: format!("dep-{next_deployment}"),
                        status: DeploymentStatus::DeploymentOk,
                        version: version.clone(),
                        previous_version: Some(rng.hex(7)),
                        started_at: started - 120_000,
                        finished_at: Some(started),
                        triggered_by: Some(super::SIMULATOR_TRIGGER.to_owned()),
                        url: None,
                    };
                    Service {
                        id: sid,
                        name: sname,
                        kind,
                        instances: instances_list,
                        version,
                        deployment: Some(deployment),
                        running_since: None,
                        deployment_since: None,
                    }
                })
                .collect();
            Environment {
                id,
                name,
                services,
                deployment: None,
            }
        })
        .collect()
}
