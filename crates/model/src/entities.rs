//! The things the console shows, as they travel on the wire: environments, services,
//! instances and deployments. Statuses of services and environments are not stored here: they
//! are computed from these facts by [`crate::rules`], on both sides of the wire.

use crate::{DeploymentStatus, RunningStatus, ServiceKind};
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
pub type Millis = u64;

/// One running copy of a service (a pod).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// Stable name, e.g. `api-2` (old and new versions of slot 2 share the slot number).
    pub name: String,
    /// Its own running status.
    pub status: RunningStatus,
    /// The version (commit) it runs.
    pub version: String,
    /// Restarts since it was created.
    #[serde(default)]
    pub restarts: u32,
    /// Why it is not healthy, e.g. `CrashLoopBackOff`, `OOMKilled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A human message that goes with the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Millis>,
    /// How its previous run ended (the container before the last restart), when the source
    /// reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_termination: Option<Termination>,
    /// When it last restarted, when the source reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_restart_at: Option<Millis>,
    /// Its recent events (scheduled, pulled, killed, back-off...), oldest first, when the
    /// source sends them; a few at most.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<InstanceEvent>,
}

impl Instance {
    /// Notes the exit code a source reported beside the instance (the push API's
    /// `exit_code`) in its last termination, unless that already has one.
    pub fn note_exit_code(&mut self, code: Option<i32>) {
        let Some(code) = code else { return };
        let t = self
            .last_termination
            .get_or_insert_with(Termination::default);
        if t.exit_code.is_none() {
            t.exit_code = Some(code);
            if t.reason.is_none() {
                t.reason.clone_from(&self.reason);
            }
        }
    }
}

/// How an instance's run ended: what the platform says of a container that exited.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Termination {
    /// The platform's word for it, e.g. `OOMKilled`, `Error`, `Completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The process's exit code (see [`crate::exit_code`] for what it means).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Millis>,
}

/// Something that happened to an instance, as its platform reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceEvent {
    /// When.
    pub at: Millis,
    /// The platform's word, e.g. `BackOff`, `Pulled`, `Killing`.
    pub reason: String,
    /// What it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Most events an instance carries; older ones are dropped first.
pub const MAX_INSTANCE_EVENTS: usize = 5;

/// One deployment of a service or an environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// Stable id, used to subscribe to its logs.
    pub id: String,
    /// Where it stands.
    pub status: DeploymentStatus,
    /// The version being deployed.
    pub version: String,
    /// The version it replaces, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<String>,
    /// When it was queued.
    pub started_at: Millis,
    /// When it reached a final (or cancelled) state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Millis>,
    /// Who or what started it (a person, a CI job, a webhook), as its source reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggered_by: Option<String>,
    /// A link back to where it runs (the CI job, the forge's deployment page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A service of an environment with its instances and its last deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// Stable id, unique in its environment.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What it is.
    pub kind: ServiceKind,
    /// Its instances (for jobs: the last executions).
    #[serde(default)]
    pub instances: Vec<Instance>,
    /// The version the service is meant to run (its last successful deployment's).
    pub version: String,
    /// Its last deployment, if it ever had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Deployment>,
    /// Since when its computed running status holds, as the server saw it change (absent
    /// from an older server, or before the server saw a change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_since: Option<Millis>,
    /// Since when its last deployment's status holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_since: Option<Millis>,
}

/// An environment with all its services.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// Stable id, used in URLs and subscriptions.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Its services.
    #[serde(default)]
    pub services: Vec<Service>,
    /// Its last environment-wide deployment, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Deployment>,
}

/// What the environment list shows of an environment: computed by the server with
/// [`crate::rules`], so a client need not subscribe to every environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentSummary {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Running status computed from its services.
    pub running: RunningStatus,
    /// Why that running status (the rule's explanation).
    #[serde(default)]
    pub running_reason: String,
    /// Deployment status computed from its last deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentStatus>,
    /// Number of services.
    #[serde(default)]
    pub services: u32,
    /// Since when its running status holds, as the server saw it change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_since: Option<Millis>,
    /// Since when its deployment status holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_since: Option<Millis>,
}
