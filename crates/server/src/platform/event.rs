//! What happened on a platform, in the model's terms: the one input of the core. Every source
//! (the simulator, the push API, later Kubernetes) reports what it sees as these events; the
//! core writes them to the store and the hub, which know nothing of where they came from.

use shipwatch_model::entities::Millis;
use shipwatch_model::{Deployment, Instance, LogLine, Service};

/// One fact reported by a source. Events of one source are applied in the order it emits them.
#[derive(Clone, Debug, PartialEq)]
pub enum PlatformEvent {
    /// An environment appeared, or its name changed.
    EnvironmentChanged {
        /// Stable id.
        id: String,
        /// Display name.
        name: String,
    },
    /// An environment went away, with its services.
    EnvironmentRemoved {
        /// Its id.
        id: String,
    },
    /// A service appeared or changed; reported whole (its instances and its last deployment
    /// as the source sees them now).
    ServiceChanged {
        /// Environment id.
        env: String,
        /// The service as it is now.
        service: Service,
    },
    /// A service went away.
    ServiceRemoved {
        /// Environment id.
        env: String,
        /// Service id.
        service: String,
    },
    /// One instance of a service appeared or changed state; the rest of the service is as
    /// it was. A source that reports instances one by one (the push API) sends these.
    InstanceChanged {
        /// Environment id.
        env: String,
        /// Service id.
        service: String,
        /// The instance as it is now: status, reason, message, restarts, version.
        instance: Instance,
        /// The exit code of its last termination, when the platform reports one. Kept by the
        /// store; the wire protocol does not carry it (the message can quote it).
        exit_code: Option<i32>,
    },
    /// An instance went away (rolled out, scaled down).
    InstanceRemoved {
        /// Environment id.
        env: String,
        /// Service id.
        service: String,
        /// Instance name.
        name: String,
    },
    /// A deployment was queued (or, for a source that learns of it late, first seen); its log
    /// begins. Reported before any service refers to it.
    DeploymentQueued {
        /// Environment id.
        env: String,
        /// Service id; none for an environment-wide deployment.
        service: Option<String>,
        /// The deployment as queued.
        deployment: Deployment,
    },
    /// A deployment moved to another stage (`build`, `deploy`, ...).
    DeploymentStage {
        /// Deployment id.
        deployment: String,
        /// The stage it is in now.
        stage: String,
        /// When it entered it.
        at: Millis,
    },
    /// A deployment's status changed; a final status means it finished (`finished_at` set).
    DeploymentStatus {
        /// The deployment as it is now.
        deployment: Deployment,
    },
    /// Lines were appended to a deployment's log, numbered on from the previous ones.
    LogAppended {
        /// Deployment id.
        deployment: String,
        /// The lines, in order.
        lines: Vec<LogLine>,
    },
}

impl PlatformEvent {
    /// How many facts the event carries: a log batch counts its lines. Used to size write
    /// batches and to report throughput.
    pub fn weight(&self) -> usize {
        match self {
            Self::LogAppended { lines, .. } => lines.len().max(1),
            _ => 1,
        }
    }
}
