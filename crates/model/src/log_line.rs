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
