//! One line of a deployment log.

use crate::entities::Millis;
use serde::{Deserialize, Serialize};

/// Severity of a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// Normal output.
    Info,
    /// Something to look at.
    Warning,
    /// A failure.
    Error,
    /// A level this app does not know (shown as info).
    #[serde(other)]
    Unknown,
}

/// A line of a deployment's log. Its id is the deployment id plus `n`: stable across
/// reconnects, never derived from the timestamp (two lines may share one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Line number in the deployment's log, from 1, without gaps.
    pub n: u64,
    /// When it was written.
    pub ts: Millis,
    /// The stage that wrote it: `build`, `deploy`, ...
    pub stage: String,
    /// Severity.
    pub level: LogLevel,
    /// Raw text; may hold ANSI escape sequences. Always rendered as text.
    pub text: String,
    /// For errors: what to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl LogLine {
    /// The line's stable id within the log of deployment `deployment`.
    #[must_use]
    pub fn id(&self, deployment: &str) -> LogLineId {
        LogLineId {
            deployment: deployment.to_string(),
            n: self.n,
        }
    }
}

/// The stable id of a log line: its deployment and its number. Clients dedupe by this, never by
/// timestamp.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogLineId {
    /// The deployment whose log holds the line.
    pub deployment: String,
    /// The line number, from 1.
    pub n: u64,
}

impl std::fmt::Display for LogLineId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.deployment, self.n)
    }
}
