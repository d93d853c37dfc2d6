//! Time in state: the hub stamps each service (and each environment's summary) with since when
//! its running status and its deployment status hold, as it sees them change, and reports
//! every change for the store's timeline. Sources need not know: the statuses are the model's
//! rules over what they report.

use shipwatch_model::entities::Millis;
use shipwatch_model::rules::service_running_status;
use shipwatch_model::{Deployment, DeploymentStatus, EnvironmentSummary, RunningStatus, Service};

/// A service's (or an environment's) statuses from `at` on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusChange {
    /// Environment id.
    pub env: String,
    /// Service id; none for the environment itself.
    pub service: Option<String>,
    /// When the hub saw it.
    pub at: Millis,
    /// The running status from then on.
    pub running: RunningStatus,
    /// The deployment status from then on, if any.
    pub deployment: Option<DeploymentStatus>,
}

/// The wall clock in ms.
pub fn now_ms() -> Millis {
    crate::app::wall_millis()
}

/// When a deployment seen in a new status at `now` got there: a finished one when it
/// finished, a queued one when it was queued (never later than `now`), else `now`. The store
/// applies the same rule to the time of a recorded change when it gives the since back.
pub fn first_seen(d: &Deployment, now: Millis) -> Millis {
    match (d.status, d.finished_at) {
        (s, Some(at)) if s.has_ended() => at.min(now),
        (DeploymentStatus::Queued, _) => d.started_at.min(now),
        _ => now,
    }
}

/// Stamps `new` from `old` (the service as the hub held it): a status that did not change
/// keeps its since, one that did starts now. The change, if a status changed.
pub fn stamp_service(
    env: &str,
    old: Option<&Service>,
    new: &mut Service,
    now: Millis,
) -> Option<StatusChange> {
    let running = service_running_status(new);
    let was = old.map(service_running_status);
    new.running_since = match (was, old) {
        (Some(w), Some(o)) if w == running => o.running_since,
        _ => Some(now),
    };
    let dep = new.deployment.as_ref().map(|d| (d.id.as_str(), d.status));
    let old_dep = old.and_then(|o| o.deployment.as_ref().map(|d| (d.id.as_str(), d.status)));
    new.deployment_since = match (&new.deployment, old) {
        (None, _) => None,
        (Some(_), Some(o)) if dep == old_dep => o.deployment_since,
        (Some(d), _) => Some(first_seen(d, now)),
    };
    let status = dep.map(|d| d.1);
    let changed = was != Some(running) || old_dep.map(|d| d.1) != status;
    changed.then(|| StatusChange {
        env: env.to_string(),
        service: Some(new.id.clone()),
        at: now,
        running,
        deployment: status,
    })
}

/// Stamps an environment's new summary from its previous one, as [`stamp_service`] does.
pub fn stamp_summary(
    old: Option<&EnvironmentSummary>,
    new: &mut EnvironmentSummary,
    now: Millis,
) -> Option<StatusChange> {
    new.running_since = match old {
        Some(o) if o.running == new.running => o.running_since,
        _ => Some(now),
    };
    new.deployment_since = match (new.deployment, old) {
        (None, _) => None,
        (Some(d), Some(o)) if o.deployment == Some(d) => o.deployment_since,
        (Some(_), _) => Some(now),
    };
    let changed = old.is_none_or(|o| o.running != new.running || o.deployment != new.deployment);
    changed.then(|| StatusChange {
        env: new.id.clone(),
        service: None,
        at: now,
        running: new.running,
        deployment: new.deployment,
    })
}

impl super::Hub {
    /// At start, before any page subscribes: since when an environment's summary's running
    /// and deployment statuses hold (the store's timeline gives them back; a new world's hold
    /// since its birth). Nothing is published. The summary's statuses from `running` on, as a
    /// change that starts a new world's timeline; none if the environment is unknown.
    pub fn start_summary_since(
        &self,
        env: &str,
        running: Option<Millis>,
        deployment: Option<Millis>,
    ) -> Option<StatusChange> {
        let list = self.read().environments.clone();
        let mut st = super::topic::lock(&list.state);
        let super::topic::TopicData::Environments(all) = &mut st.data else {
            return None;
        };
        let summary = all.iter_mut().find(|s| s.id == env)?;
        summary.running_since = running;
        summary.deployment_since = deployment.filter(|_| summary.deployment.is_some());
        let change = running.map(|at| StatusChange {
            env: env.to_string(),
            service: None,
            at,
            running: summary.running,
            deployment: summary.deployment,
        });
        // The snapshot, if one was made, no longer says what the list holds.
        st.cached = None;
        st.snapshot_len = None;
        change
    }

    /// Whether the hub has this environment (and this service of it).
    pub fn has_subject(&self, env: &str, service: Option<&str>) -> bool {
        let Some(cell) = self.read().envs.get(env).cloned() else {
            return false;
        };
        let Some(service) = service else {
            return true;
        };
        let st = super::topic::lock(&cell.state);
        matches!(&st.data, super::topic::TopicData::Environment(e) if e.services.iter().any(|s| s.id == service))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shipwatch_model::{Instance, ServiceKind};

    fn svc(status: RunningStatus, dep: Option<DeploymentStatus>) -> Service {
        Service {
            id: "api".into(),
            name: "api".into(),
            kind: ServiceKind::Application,
            instances: vec![Instance {
                name: "api-1".into(),
                status,
                version: "v1".into(),
                restarts: 0,
                reason: None,
                message: None,
                started_at: None,
                last_termination: None,
                last_restart_at: None,
                events: Vec::new(),
            }],
            version: "v1".into(),
            deployment: dep.map(|status| Deployment {
                id: "d1".into(),
                status,
                version: "v1".into(),
                previous_version: None,
                started_at: 5,
                finished_at: None,
                triggered_by: None,
                url: None,
            }),
            running_since: None,
            deployment_since: None,
        }
    }

    #[test]
    fn a_status_that_holds_keeps_its_since_and_a_change_starts_a_new_one() {
        let mut first = svc(RunningStatus::Running, Some(DeploymentStatus::Queued));
        let c = stamp_service("prod", None, &mut first, 100).unwrap();
        assert_eq!(
            (first.running_since, first.deployment_since),
            (Some(100), Some(5))
        );
        assert_eq!(c.running, RunningStatus::Running);
        let mut same = svc(RunningStatus::Running, Some(DeploymentStatus::Queued));
        same.instances[0].restarts = 3;
        assert_eq!(stamp_service("prod", Some(&first), &mut same, 200), None);
        assert_eq!(
            (same.running_since, same.deployment_since),
            (Some(100), Some(5))
        );
        let mut deploying = svc(RunningStatus::Running, Some(DeploymentStatus::Deploying));
        let c = stamp_service("prod", Some(&same), &mut deploying, 300).unwrap();
        assert_eq!(
            (deploying.running_since, deploying.deployment_since),
            (Some(100), Some(300))
        );
        assert_eq!(c.deployment, Some(DeploymentStatus::Deploying));
        let mut error = svc(RunningStatus::Error, Some(DeploymentStatus::Deploying));
        stamp_service("prod", Some(&deploying), &mut error, 400).unwrap();
        assert_eq!(
            (error.running_since, error.deployment_since),
            (Some(400), Some(300))
        );
    }
}
