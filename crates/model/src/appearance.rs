//! How a status looks, as roles the stylesheet maps to colours and shapes, so that no status
//! is told apart by colour alone.

use serde::{Deserialize, Serialize};

/// The colour family of a status (the CSS picks the actual colours per theme).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColourRole {
    /// Grey: nothing runs, nothing is wrong.
    Neutral,
    /// Blue: work in progress.
    Progress,
    /// Green: healthy or finished well.
    Success,
    /// Orange: degraded, needs a look.
    Warning,
    /// Red: failed.
    Danger,
    /// Purple: a value this app does not know (a newer server).
    Unknown,
}

/// The shape of a status marker; each status has a distinct shape within its family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapeRole {
    /// A hollow ring.
    Ring,
    /// A filled circle.
    Circle,
    /// A circle with a check mark.
    Check,
    /// A triangle (warning sign).
    Triangle,
    /// A square with an X (failure).
    Cross,
    /// A spinning arc, pointing up (starting, building).
    SpinnerUp,
    /// A spinning arc, pointing down (stopping, cancelling).
    SpinnerDown,
    /// Three dots (waiting in a queue).
    Ellipsis,
    /// A rocket-like chevron (deploying).
    Chevron,
    /// A slashed circle (cancelled).
    Slash,
    /// A diamond with a question mark.
    Question,
}

impl ColourRole {
    /// Lower-case CSS name, e.g. `danger` (the stylesheet's `.colour--danger`).
    #[must_use]
    pub fn slug(self) -> &'static str {
        match self {
            Self::Neutral => "neutral",
            Self::Progress => "progress",
            Self::Success => "success",
            Self::Warning => "warning",
            Self::Danger => "danger",
            Self::Unknown => "unknown",
        }
    }
}

impl ShapeRole {
    /// Lower-case CSS name, e.g. `spinnerup` (the stylesheet's `.shape--spinnerup`).
    #[must_use]
    pub fn slug(self) -> &'static str {
        match self {
            Self::Ring => "ring",
            Self::Circle => "circle",
            Self::Check => "check",
            Self::Triangle => "triangle",
            Self::Cross => "cross",
            Self::SpinnerUp => "spinnerup",
            Self::SpinnerDown => "spinnerdown",
            Self::Ellipsis => "ellipsis",
            Self::Chevron => "chevron",
            Self::Slash => "slash",
            Self::Question => "question",
        }
    }
}
