//! What a service's instances say beyond its status: how many are up ("2/3 running", or for
//! jobs "2/2 completed"), which versions run side by side during a rolling deployment, and
//! whether an old version still serves after a failed deployment (seed 001: an error during a
//! deployment does not mean the service is down).

use crate::{DeploymentStatus, Instance, RunningStatus, Service};

/// "2/3 running": instances up out of all, and the word for "up".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstanceCount {
    /// Instances up (running; for jobs that are not running: completed executions).
    pub up: usize,
    /// All instances (for jobs: the last executions).
    pub total: usize,
    /// `running` or `completed`.
    pub word: &'static str,
}

impl std::fmt::Display for InstanceCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} {}", self.up, self.total, self.word)
    }
}

/// Counts a service's instances. A job's instances are executions: while none runs, what
/// matters is how many completed ("2/2 completed", not "0/2 running").
#[must_use]
pub fn instance_count(service: &Service) -> InstanceCount {
    let count = |s: RunningStatus| service.instances.iter().filter(|i| i.status == s).count();
    let running = count(RunningStatus::Running);
    let busy = running + count(RunningStatus::Starting);
    let total = service.instances.len();
    if service.kind.is_job() && busy == 0 && total > 0 {
        InstanceCount {
            up: count(RunningStatus::Completed),
            total,
            word: "completed",
        }
    } else {
        InstanceCount {
            up: running,
            total,
            word: "running",
        }
    }
}

/// The place of a version among a service's instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionRole {
    /// Every instance runs this version.
    Only,
    /// The version of the last deployment, rolling out (or failed to).
    New,
    /// An older version, still there during or after a deployment.
    Old,
}

/// The instances that run one version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionGroup<'a> {
    /// The version (commit).
    pub version: &'a str,
    /// New, old, or the only one.
    pub role: VersionRole,
    /// Its instances, in the service's order.
    pub instances: Vec<&'a Instance>,
    /// How many of them are running.
    pub running: usize,
}

/// The instances grouped by version, the new version (the last deployment's) first, then the
/// old ones by first appearance. One group of role [`VersionRole::Only`] when all run one
/// version; none without instances.
#[must_use]
pub fn version_groups(service: &Service) -> Vec<VersionGroup<'_>> {
    let mut groups: Vec<VersionGroup<'_>> = Vec::new();
    for inst in &service.instances {
        let running = usize::from(inst.status == RunningStatus::Running);
        match groups.iter_mut().find(|g| g.version == inst.version) {
            Some(g) => {
                g.instances.push(inst);
                g.running += running;
            }
            None => groups.push(VersionGroup {
                version: &inst.version,
                role: VersionRole::Old,
                instances: vec![inst],
                running,
            }),
        }
    }
    if groups.len() == 1 {
        groups[0].role = VersionRole::Only;
        return groups;
    }
    let newest = service
        .deployment
        .as_ref()
        .map_or(service.version.as_str(), |d| d.version.as_str());
    if let Some(pos) = groups.iter().position(|g| g.version == newest) {
        let mut new = groups.remove(pos);
        new.role = VersionRole::New;
        groups.insert(0, new);
    }
    groups
}

/// An older version still serving while the last deployment rolls out or after it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OldServing {
    /// The version still serving.
    pub old_version: String,
    /// The version the last deployment brings.
    pub new_version: String,
    /// How many old instances are running.
    pub serving: usize,
    /// The last deployment's status.
    pub deployment: DeploymentStatus,
}

impl OldServing {
    /// "Deployment of e4f5a6b failed (DEPLOYMENT ERROR), but old version a1b2c3d is still
    /// serving on 3 instances", with short commits.
    #[must_use]
    pub fn headline(&self) -> String {
        let old = short_version(&self.old_version);
        let new = short_version(&self.new_version);
        let n = self.serving;
        let on = if n == 1 {
            "1 instance".to_string()
        } else {
            format!("{n} instances")
        };
        if self.deployment.is_failure() {
            format!(
                "Deployment of {new} failed ({}), but old version {old} is still serving on {on}",
                self.deployment.word()
            )
        } else {
            format!("Rolling out {new}: old version {old} still serving on {on}")
        }
    }
}

/// Whether an older version still serves while the last deployment is not done: during a
/// rollout, or after a failed build or rollout. `None` when the last deployment went through,
/// or nothing old runs (then the service really is down, or fully new).
#[must_use]
pub fn old_version_serving(service: &Service) -> Option<OldServing> {
    if service.kind.is_job() {
        return None;
    }
    let d = service.deployment.as_ref()?;
    let rolling_or_failed = d.status.is_failure()
        || matches!(
            d.status,
            DeploymentStatus::Deploying
                | DeploymentStatus::Building
                | DeploymentStatus::Queued
                | DeploymentStatus::CancellingBuilding
        );
    if !rolling_or_failed {
        return None;
    }
    let groups = version_groups(service);
    let old = groups
        .iter()
        .filter(|g| g.version != d.version && g.running > 0)
        .max_by_key(|g| g.running)?;
    Some(OldServing {
        old_version: old.version.to_string(),
        new_version: d.version.clone(),
        serving: old.running,
        deployment: d.status,
    })
}

/// The first 7 characters of a commit, as consoles show them.
#[must_use]
pub fn short_version(version: &str) -> &str {
    match version.char_indices().nth(7) {
        Some((i, _)) => &version[..i],
        None => version,
    }
}
