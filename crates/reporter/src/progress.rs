//! Where a reported deployment stands, from its stages and its command's end: the statuses
//! the reporter sends, always moves the model allows (`DeploymentStatus::can_move`: forwards
//! through QUEUED, BUILDING, DEPLOYING, then an end), so the server never refuses one.
//!
//! - A build stage starting moves a QUEUED deployment to BUILDING; any other stage moves it
//!   to DEPLOYING. A build stage after DEPLOYING changes no status (a deployment does not go
//!   back).
//! - The command exits 0: DEPLOYMENT OK (unless `--keep-open`: more commands of the same
//!   deployment follow). Otherwise BUILDING ERROR when it failed while building (a build
//!   stage was the last to start and nothing had deployed yet), DEPLOYMENT ERROR when not.
//! - Cancelled (Ctrl-C, SIGTERM): CANCELLING BUILDING at once when building, then CANCELLED
//!   once the command has stopped.

use crate::stages::is_build_stage;
use shipwatch_model::DeploymentStatus;

/// The statuses of one deployment as the reporter moves it.
#[derive(Clone, Debug)]
pub struct Progress {
    status: DeploymentStatus,
    build_stages: Vec<String>,
}

impl Progress {
    /// A deployment just created (QUEUED); `build_stages` are the `--build-stages` patterns.
    #[must_use]
    pub fn new(status: DeploymentStatus, build_stages: Vec<String>) -> Self {
        Self {
            status,
            build_stages,
        }
    }

    /// Where it stands now.
    #[must_use]
    pub fn status(&self) -> DeploymentStatus {
        self.status
    }

    /// A stage started: the status to report, if it moves.
    pub fn stage_started(&mut self, stage: &str) -> Option<DeploymentStatus> {
        let to = if is_build_stage(stage, &self.build_stages) {
            DeploymentStatus::Building
        } else {
            DeploymentStatus::Deploying
        };
        self.advance(to)
    }

    /// The command exited with `success` (or not): the final status to report, if any.
    pub fn finished(&mut self, success: bool, keep_open: bool) -> Option<DeploymentStatus> {
        use DeploymentStatus::*;
        let to = match (success, self.status) {
            (true, _) if keep_open => return None,
            (true, _) => DeploymentOk,
            (false, Building) => BuildingError,
            (false, _) => DeploymentError,
        };
        self.advance(to)
    }

    /// A cancel was asked: the status to report while the command stops, if any.
    pub fn cancelling(&mut self) -> Option<DeploymentStatus> {
        match self.status {
            DeploymentStatus::Building => self.advance(DeploymentStatus::CancellingBuilding),
            _ => None,
        }
    }

    /// The command stopped after a cancel.
    pub fn cancelled(&mut self) -> Option<DeploymentStatus> {
        self.advance(DeploymentStatus::Cancelled)
    }

    /// Moves to `to` if the model's transitions allow it (forwards only, never out of an
    /// end): the status to report, or None.
    fn advance(&mut self, to: DeploymentStatus) -> Option<DeploymentStatus> {
        if self.status.can_move(to) {
            self.status = to;
            Some(to)
        } else {
            None
        }
    }
}

/// The exit code a shell gives for a command that exited with `code`, or was killed by
/// `signal` (128 + the signal's number).
#[must_use]
pub fn shell_exit_code(code: Option<i32>, signal: Option<i32>) -> i32 {
    match (code, signal) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeploymentStatus::*;

    fn progress() -> Progress {
        Progress::new(Queued, vec!["build".into(), "compile".into()])
    }

    #[test]
    fn stages_move_the_status_forwards_only() {
        let mut p = progress();
        assert_eq!(p.stage_started("build"), Some(Building));
        assert_eq!(p.stage_started("compile assets"), None);
        assert_eq!(p.stage_started("deploy"), Some(Deploying));
        assert_eq!(p.stage_started("build again"), None);
        assert_eq!(p.stage_started("smoke"), None);
        assert_eq!(p.status(), Deploying);
    }

    #[test]
    fn the_exit_code_and_the_failing_stage_give_the_end() {
        // Failed while building.
        let mut p = progress();
        p.stage_started("build");
        assert_eq!(p.finished(false, false), Some(BuildingError));
        // Failed in the deploy stage.
        let mut p = progress();
        p.stage_started("build");
        p.stage_started("deploy");
        assert_eq!(p.finished(false, false), Some(DeploymentError));
        // Failed before any output.
        assert_eq!(progress().finished(false, false), Some(DeploymentError));
        // Succeeded, from wherever it was.
        assert_eq!(progress().finished(true, false), Some(DeploymentOk));
        let mut p = progress();
        p.stage_started("build");
        assert_eq!(p.finished(true, false), Some(DeploymentOk));
        // More commands follow: a success leaves it in progress, a failure still ends it.
        let mut p = progress();
        p.stage_started("build");
        assert_eq!(p.finished(true, true), None);
        assert_eq!(p.status(), Building);
        assert_eq!(p.finished(false, true), Some(BuildingError));
        // Nothing moves out of an end.
        assert_eq!(p.stage_started("deploy"), None);
        assert_eq!(p.cancelled(), None);
    }

    #[test]
    fn a_cancel_while_building_says_so_first() {
        let mut p = progress();
        p.stage_started("build");
        assert_eq!(p.cancelling(), Some(CancellingBuilding));
        assert_eq!(p.stage_started("deploy"), None);
        assert_eq!(p.cancelled(), Some(Cancelled));
        let mut p = progress();
        p.stage_started("deploy");
        assert_eq!(p.cancelling(), None);
        assert_eq!(p.cancelled(), Some(Cancelled));
        let mut p = progress();
        assert_eq!(p.cancelling(), None);
        assert_eq!(p.cancelled(), Some(Cancelled));
    }

    #[test]
    fn exit_codes_are_a_shells() {
        assert_eq!(shell_exit_code(Some(0), None), 0);
        assert_eq!(shell_exit_code(Some(3), None), 3);
        assert_eq!(shell_exit_code(None, Some(15)), 143);
        assert_eq!(shell_exit_code(None, Some(2)), 130);
    }
}
