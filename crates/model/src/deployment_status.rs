//! Deployment statuses of services and environments (seed 000's words and finality).

use crate::appearance::{ColourRole, ShapeRole};
use serde::{Deserialize, Serialize};

/// Where the last deployment of a service or an environment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentStatus {
    /// Waiting for a deployer.
    Queued,
    /// Building the image.
    Building,
    /// The build failed (final).
    BuildingError,
    /// Rolling the new version out.
    Deploying,
    /// The rollout failed (final).
    DeploymentError,
    /// A cancel was asked during the build.
    CancellingBuilding,
    /// The deployment was cancelled.
    Cancelled,
    /// The new version is live (final).
    DeploymentOk,
    /// A value this app does not know, sent by a newer server.
    #[serde(other)]
    Unknown,
}

impl DeploymentStatus {
    /// Every known status, in lifecycle order.
    pub const ALL: [DeploymentStatus; 8] = [
        Self::Queued,
        Self::Building,
        Self::BuildingError,
        Self::Deploying,
        Self::DeploymentError,
        Self::CancellingBuilding,
        Self::Cancelled,
        Self::DeploymentOk,
    ];

    /// The word shown to users.
    #[must_use]
    pub fn word(self) -> &'static str {
        match self {
            Self::Queued => "QUEUED",
            Self::Building => "BUILDING",
            Self::BuildingError => "BUILDING ERROR",
            Self::Deploying => "DEPLOYING",
            Self::DeploymentError => "DEPLOYMENT ERROR",
            Self::CancellingBuilding => "CANCELLING BUILDING",
            Self::Cancelled => "CANCELLED",
            Self::DeploymentOk => "DEPLOYMENT OK",
            Self::Unknown => "UNKNOWN",
        }
    }

    /// One-line meaning for tooltips.
    #[must_use]
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Queued => "The deployment is waiting for a deployer (temporary state).",
            Self::Building => "The new version is being built (temporary state).",
            Self::BuildingError => {
                "The build failed; the previous version, if any, keeps running (final state)."
            }
            Self::Deploying => "The new version is being rolled out (temporary state).",
            Self::DeploymentError => {
                "The rollout failed; old instances may still be serving (final state)."
            }
            Self::CancellingBuilding => {
                "A cancel was asked; the build is stopping (temporary state)."
            }
            Self::Cancelled => "The deployment was cancelled (temporary state).",
            Self::DeploymentOk => "The new version is deployed and running (final state).",
            Self::Unknown => "A status this console does not know yet (sent by a newer server).",
        }
    }

    /// Final per the newer seed: BUILDING ERROR, DEPLOYMENT ERROR and DEPLOYMENT OK. The seed
    /// calls CANCELLED temporary (the next deployment replaces it).
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::BuildingError | Self::DeploymentError | Self::DeploymentOk
        )
    }

    /// Whether the deployment is over: final, or cancelled (it has a finish time).
    #[must_use]
    pub fn has_ended(self) -> bool {
        self.is_final() || self == Self::Cancelled
    }

    /// Whether a deployment in `self` may move to `to`: forwards through its lifecycle
    /// (QUEUED, BUILDING, DEPLOYING, then an end), never out of an end (BUILDING ERROR,
    /// DEPLOYMENT ERROR, DEPLOYMENT OK, CANCELLED) and never back. A stage may be skipped (a
    /// pipeline without a build goes QUEUED -> DEPLOYING; one that reports only its end goes
    /// QUEUED -> DEPLOYMENT OK). Staying put is not a move: false for `self == to`.
    #[must_use]
    pub fn can_move(self, to: DeploymentStatus) -> bool {
        use DeploymentStatus::*;
        match self {
            Queued => matches!(
                to,
                Building | BuildingError | Deploying | DeploymentError | Cancelled | DeploymentOk
            ),
            Building => matches!(
                to,
                BuildingError
                    | Deploying
                    | DeploymentError
                    | CancellingBuilding
                    | Cancelled
                    | DeploymentOk
            ),
            Deploying => matches!(to, DeploymentError | Cancelled | DeploymentOk),
            CancellingBuilding => matches!(to, BuildingError | Cancelled),
            BuildingError | DeploymentError | Cancelled | DeploymentOk | Unknown => false,
        }
    }

    /// Whether work is going on (shown animated).
    #[must_use]
    pub fn in_progress(self) -> bool {
        matches!(
            self,
            Self::Queued | Self::Building | Self::Deploying | Self::CancellingBuilding
        )
    }

    /// Temporary per the newer seed: every known status that is not final.
    #[must_use]
    pub fn is_temporary(self) -> bool {
        self != Self::Unknown && !self.is_final()
    }

    /// Whether this deployment failed.
    #[must_use]
    pub fn is_failure(self) -> bool {
        matches!(self, Self::BuildingError | Self::DeploymentError)
    }

    /// Colour family.
    #[must_use]
    pub fn colour(self) -> ColourRole {
        match self {
            Self::Queued | Self::Cancelled => ColourRole::Neutral,
            Self::Building | Self::Deploying | Self::CancellingBuilding => ColourRole::Progress,
            Self::BuildingError | Self::DeploymentError => ColourRole::Danger,
            Self::DeploymentOk => ColourRole::Success,
            Self::Unknown => ColourRole::Unknown,
        }
    }

    /// Shape (icon), distinct for every status.
    #[must_use]
    pub fn shape(self) -> ShapeRole {
        match self {
            Self::Queued => ShapeRole::Ellipsis,
            Self::Building => ShapeRole::SpinnerUp,
            Self::BuildingError => ShapeRole::Cross,
            Self::Deploying => ShapeRole::Chevron,
            Self::DeploymentError => ShapeRole::Triangle,
            Self::CancellingBuilding => ShapeRole::SpinnerDown,
            Self::Cancelled => ShapeRole::Slash,
            Self::DeploymentOk => ShapeRole::Check,
            Self::Unknown => ShapeRole::Question,
        }
    }

    /// Lower-case slug for CSS classes.
    #[must_use]
    pub fn slug(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Building => "building",
            Self::BuildingError => "building-error",
            Self::Deploying => "deploying",
            Self::DeploymentError => "deployment-error",
            Self::CancellingBuilding => "cancelling-building",
            Self::Cancelled => "cancelled",
            Self::DeploymentOk => "deployment-ok",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

#[cfg(test)]
mod tests {
    use super::DeploymentStatus as D;

    #[test]
    fn moves_go_forwards_and_never_out_of_an_end() {
        use D::*;
        // Every legal move, written out: anything else is refused.
        let legal = [
            (Queued, Building),
            (Queued, BuildingError),
            (Queued, Deploying),
            (Queued, DeploymentError),
            (Queued, Cancelled),
            (Queued, DeploymentOk),
            (Building, BuildingError),
            (Building, Deploying),
            (Building, DeploymentError),
            (Building, CancellingBuilding),
            (Building, Cancelled),
            (Building, DeploymentOk),
            (Deploying, DeploymentError),
            (Deploying, Cancelled),
            (Deploying, DeploymentOk),
            (CancellingBuilding, BuildingError),
            (CancellingBuilding, Cancelled),
        ];
        for from in D::ALL.into_iter().chain([Unknown]) {
            for to in D::ALL.into_iter().chain([Unknown]) {
                assert_eq!(
                    from.can_move(to),
                    legal.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
        // An ended deployment stays ended; nothing goes back to the queue.
        for s in D::ALL {
            assert_eq!(
                s.has_ended(),
                D::ALL.iter().all(|&to| !s.can_move(to)),
                "{s}"
            );
            assert!(!s.can_move(Queued));
        }
    }

    #[test]
    fn a_deployment_has_ended_when_final_or_cancelled() {
        let ended: Vec<D> = D::ALL.into_iter().filter(|s| s.has_ended()).collect();
        assert_eq!(
            ended,
            [
                D::BuildingError,
                D::DeploymentError,
                D::Cancelled,
                D::DeploymentOk
            ]
        );
        assert!(!D::Unknown.has_ended());
    }
}
