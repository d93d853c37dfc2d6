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
    pub fn in_progress(self) -> bool {
        matches!(self, Self::Starting | Self::Stopping)
    }

    /// Lower-case slug for CSS classes and URLs.
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

impl std::fmt::Display for RunningStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}
