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
}

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
}
