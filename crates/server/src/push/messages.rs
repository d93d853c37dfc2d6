//! What the push API's operations take and answer: the requests' fields once their types are
//! checked (the HTTP handlers parse them from JSON, the webhooks build them from a forge's
//! payload), and the answers, serialised as the HTTP API sends them.

use serde::{Deserialize, Serialize};
use shipwatch_model::entities::Millis;
use shipwatch_model::{Deployment, RunningStatus, ServiceKind};

/// `PUT /api/v1/environments/{env}`'s body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentUpsert {
    /// Display name; a new environment's defaults to its id, an existing one's is kept.
    pub name: Option<String>,
}

/// `PUT .../services/{svc}`'s body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceUpsert {
    /// Display name (default: the id; kept when omitted).
    pub name: Option<String>,
    /// Its kind (default: application; kept when omitted).
    pub kind: Option<ServiceKind>,
    /// The version it runs (default: empty; kept when omitted).
    pub version: Option<String>,
}

/// `PUT .../instances/{name}`'s body: an instance's state as its platform sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceReport {
    /// Its running status: RUNNING, ERROR, STARTING, STOPPING, STOPPED or COMPLETED.
    pub status: RunningStatus,
    /// Why it is not healthy (`CrashLoopBackOff`); a report without it clears it.
    pub reason: Option<String>,
    /// What goes with the reason; a report without it clears it.
    pub message: Option<String>,
    /// The exit code of its last termination.
    pub exit_code: Option<i32>,
    /// Restarts since it was created (kept when omitted).
    pub restarts: Option<u32>,
    /// The version it runs (default: the service's; kept when omitted).
    pub version: Option<String>,
    /// When it started (kept when omitted).
    pub started_at: Option<Millis>,
}

/// `POST /api/v1/deployments`' body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDeployment {
    /// A client-chosen id, which makes creation idempotent; none: the server picks one.
    pub id: Option<String>,
    /// The environment.
    pub environment: String,
    /// The service; none for an environment-wide deployment.
    pub service: Option<String>,
    /// The version being deployed.
    pub version: String,
    /// The version it replaces (default: the service's current version, if it has one).
    pub previous_version: Option<String>,
    /// Who or what started it (default: the name of the write token used).
    pub triggered_by: Option<String>,
    /// A link back to the CI run.
    pub url: Option<String>,
}

/// Where a deployment stands: what `GET /api/v1/deployments/{id}` answers, and what the other
/// deployment calls answer too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeploymentView {
    /// The deployment as it is now.
    pub deployment: Deployment,
    /// Its environment.
    pub environment: String,
    /// Its service; absent for an environment-wide deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The stage it is in, once one was reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The number the next new line must have: every line before it is stored (or a gap).
    pub next_line: u64,
}

/// What a batch of lines did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Appended {
    /// Lines stored.
    pub accepted: usize,
    /// Lines already stored with the same text (a resent batch).
    pub skipped: usize,
    /// Numbers this batch skipped over, as inclusive ranges `[from, to]`: lines the log
    /// records as never received.
    pub gaps: Vec<(u64, u64)>,
    /// The number the next new line must have.
    pub next_line: u64,
}

/// An upsert's result: the thing as it is now, and whether it was created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upserted<T> {
    /// As it is now.
    pub value: T,
    /// True if it did not exist (HTTP 201), false if it was updated or unchanged (200).
    pub created: bool,
}
