//! Kinds of services an environment holds.

use serde::{Deserialize, Serialize};

/// What a service is; decides which statuses it can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// An application built from source, one or more instances.
    Application,
    /// A container from a registry image.
    Container,
    /// A managed or container database.
    Database,
    /// A job run on a schedule.
    Cronjob,
    /// A job run on environment events (start, stop, delete).
    LifecycleJob,
    /// A kind this app does not know, sent by a newer server.
    #[serde(other)]
    Unknown,
}

impl ServiceKind {
    /// Every known kind.
    pub const ALL: [ServiceKind; 5] = [
        Self::Application,
        Self::Container,
        Self::Database,
        Self::Cronjob,
        Self::LifecycleJob,
    ];

    /// Display label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Application => "Application",
            Self::Container => "Container",
            Self::Database => "Database",
            Self::Cronjob => "Cronjob",
            Self::LifecycleJob => "Lifecycle job",
            Self::Unknown => "Unknown",
        }
    }

    /// Jobs run to completion and may be COMPLETED.
    #[must_use]
    pub fn is_job(self) -> bool {
        matches!(self, Self::Cronjob | Self::LifecycleJob)
    }
}
