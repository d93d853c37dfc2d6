//! Running statuses of instances, services and environments (seed 000's words).

use crate::appearance::{ColourRole, ShapeRole};
use serde::{Deserialize, Serialize};

/// Whether something runs: an instance, a service (from its instances) or an environment (from
/// its services).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunningStatus {
    /// All stopped.
    Stopped,
    /// At least one starting.
    Starting,
    /// At least one stopping.
    Stopping,
    /// All running correctly.
    Running,
    /// All in error.
    Error,
    /// At least one in error, not all (multi-instance services and environments only).
    Warning,
    /// A job execution completed (cronjobs and lifecycle jobs).
    Completed,
    /// A value this app does not know, sent by a newer server.
    #[serde(other)]
    Unknown,
}

impl RunningStatus {
    /// Every known status, in display order.
    pub const ALL: [RunningStatus; 7] = [
        Self::Stopped,
        Self::Starting,
        Self::Stopping,
        Self::Running,
        Self::Error,
        Self::Warning,
        Self::Completed,
    ];

    /// The word shown to users.
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            Self::Stopped => "STOPPED",
            Self::Starting => "STARTING",
            Self::Stopping => "STOPPING",
            Self::Running => "RUNNING",
            Self::Error => "ERROR",
            Self::Warning => "WARNING",
            Self::Completed => "COMPLETED",
            Self::Unknown => "UNKNOWN",
        }
    }

    /// The seed's one-line meaning, phrased for any level (instance, service, environment).
    #[must_use]
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Stopped => "All instances or services are stopped.",
            Self::Starting => "At least one instance or service is starting.",
            Self::Stopping => "At least one instance or service is stopping.",
            Self::Running => "All instances or services are running correctly.",
            Self::Error => "All instances or services are in error.",
            Self::Warning => {
                "At least one instance or service is in error, but not all of them \
                 (multi-instance services and environments only)."
            }
            Self::Completed => "The job execution has completed (cronjobs and lifecycle jobs).",
            Self::Unknown => "A status this console does not know yet (sent by a newer server).",
        }
    }

    /// Colour family.
    #[must_use]
    pub fn colour(self) -> ColourRole {
        match self {
            Self::Stopped => ColourRole::Neutral,
            Self::Starting | Self::Stopping => ColourRole::Progress,
            Self::Running | Self::Completed => ColourRole::Success,
            Self::Warning => ColourRole::Warning,
            Self::Error => ColourRole::Danger,
            Self::Unknown => ColourRole::Unknown,
        }
    }

    /// Shape, distinct for every status.
    #[must_use]
    pub fn shape(self) -> ShapeRole {
        match self {
            Self::Stopped => ShapeRole::Ring,
            Self::Starting => ShapeRole::SpinnerUp,
            Self::Stopping => ShapeRole::SpinnerDown,
            Self::Running => ShapeRole::Circle,
            Self::Error => ShapeRole::Cross,
            Self::Warning => ShapeRole::Triangle,
            Self::Completed => ShapeRole::Check,
            Self::Unknown => ShapeRole::Question,
        }
    }

    /// Whether the status is a transition (shown animated).
    #[must_use]
    pub fn in_progress(self) -> bool {
        matches!(self, Self::Starting | Self::Stopping)
    }

    /// Lower-case slug for CSS classes and URLs.
    #[must_use]
    pub fn slug(self) -> &'static str {
        match self {
            Self::Stopped => "stopped",
            Self::Starting => "starting",
            Self::Stopping => "stopping",
            Self::Running => "running",
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Completed => "completed",
            Self::Unknown => "unknown",
        }
    }
}

/// Where a running status is shown: the seed words its meanings per level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One instance (a pod) or one job execution.
    Instance,
    /// A service, from its instances.
    Service,
    /// An environment, from its services.
    Environment,
}

impl Scope {
    /// The noun of the members aggregated at this level, singular and plural.
    #[must_use]
    pub fn members(self) -> (&'static str, &'static str) {
        match self {
            Self::Instance | Self::Service => ("instance", "instances"),
            Self::Environment => ("service", "services"),
        }
    }
}

impl RunningStatus {
    /// The seed's one-line meaning at one level: the newer seed's sentences for services and
    /// environments, and their plain reading for a single instance.
    #[must_use]
    pub fn meaning_in(self, scope: Scope) -> &'static str {
        use Scope::{Environment as E, Instance as I, Service as S};
        match (self, scope) {
            (Self::Stopped, I) => "This instance is stopped.",
            (Self::Stopped, S) => "All the application instances are stopped.",
            (Self::Stopped, E) => "All the services are stopped.",
            (Self::Starting, I) => "This instance is starting.",
            (Self::Starting, S) => "At least 1 application instance is starting.",
            (Self::Starting, E) => "At least 1 service is starting.",
            (Self::Stopping, I) => "This instance is stopping.",
            (Self::Stopping, S) => "At least 1 application instance is stopping.",
            (Self::Stopping, E) => "At least 1 service is stopping.",
            (Self::Running, I) => "This instance is running correctly.",
            (Self::Running, S) => "All application instances are running correctly.",
            (Self::Running, E) => "All services are running correctly.",
            (Self::Error, I) => "This instance is in error.",
            (Self::Error, S) => "All application instances are in error status.",
            (Self::Error, E) => "All services are in error status.",
            (Self::Warning, I) => "This instance reports a degraded state.",
            (Self::Warning, S) => {
                "(Valid for multi-instance applications only) At least 1 application instance \
                 is in error status (but not all of them)."
            }
            (Self::Warning, E) => "At least 1 service is in error status (but not all of them).",
            (Self::Completed, I) => "This job execution has completed.",
            (Self::Completed, S | E) => {
                "The job execution has completed (only for cronjob and lifecycle jobs)."
            }
            (Self::Unknown, _) => {
                "A status this console does not know yet (sent by a newer server)."
            }
        }
    }
}

impl std::fmt::Display for RunningStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}
