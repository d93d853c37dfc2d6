//! Stuck detection: a service or environment that stays in a transitional status (STARTING,
//! STOPPING, QUEUED, BUILDING, DEPLOYING, CANCELLING BUILDING) longer than that status's
//! threshold is **stuck**. The server chooses the thresholds (`--stuck-after`) and announces
//! them in `hello`; the page decides, with its clock, what is stuck.

use crate::entities::Millis;
use crate::{DeploymentStatus, RunningStatus};
use serde::{Deserialize, Serialize};

const MIN: u64 = 60_000;

/// How long each transitional status may last before it counts as stuck, in milliseconds;
/// 0 means never. A field a server does not send keeps its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StuckAfter {
    /// STARTING (running status).
    pub starting_ms: u64,
    /// STOPPING (running status).
    pub stopping_ms: u64,
    /// QUEUED (deployment status).
    pub queued_ms: u64,
    /// BUILDING (deployment status).
    pub building_ms: u64,
    /// DEPLOYING (deployment status).
    pub deploying_ms: u64,
    /// CANCELLING BUILDING (deployment status).
    pub cancelling_building_ms: u64,
}

impl Default for StuckAfter {
    /// STARTING and STOPPING 10 min (Kubernetes' default progress deadline for a rollout),
    /// QUEUED 15 min, BUILDING 30 min (builds are long), DEPLOYING 15 min, CANCELLING
    /// BUILDING 5 min (a cancel should be quick).
    fn default() -> Self {
        Self {
            starting_ms: 10 * MIN,
            stopping_ms: 10 * MIN,
            queued_ms: 15 * MIN,
            building_ms: 30 * MIN,
            deploying_ms: 15 * MIN,
            cancelling_building_ms: 5 * MIN,
        }
    }
}

/// The statuses a threshold is set for, as the flag names them.
pub const STUCK_STATUSES: [&str; 6] = [
    "STARTING",
    "STOPPING",
    "QUEUED",
    "BUILDING",
    "DEPLOYING",
    "CANCELLING_BUILDING",
];

/// A status held past its threshold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stuck {
    /// The status word, e.g. "DEPLOYING".
    pub word: &'static str,
    /// Whether it is the deployment status (else the running status).
    pub deployment: bool,
    /// Since when it holds.
    pub since: Millis,
    /// Its threshold.
    pub after_ms: u64,
}

impl StuckAfter {
    /// Sets the threshold of a status named as in [`STUCK_STATUSES`] (any case, `-` or `_`
    /// or a space between words).
    ///
    /// # Errors
    /// The status is not one of [`STUCK_STATUSES`].
    pub fn set(&mut self, status: &str, ms: u64) -> Result<(), String> {
        let name = status.trim().to_uppercase().replace(['-', ' '], "_");
        let slot = match name.as_str() {
            "STARTING" => &mut self.starting_ms,
            "STOPPING" => &mut self.stopping_ms,
            "QUEUED" => &mut self.queued_ms,
            "BUILDING" => &mut self.building_ms,
            "DEPLOYING" => &mut self.deploying_ms,
            "CANCELLING_BUILDING" => &mut self.cancelling_building_ms,
            _ => {
                return Err(format!(
                    "`{status}` is not a transitional status; one of {}",
                    STUCK_STATUSES.join(", ")
                ))
            }
        };
        *slot = ms;
        Ok(())
    }

    /// The threshold of a running status, if it is transitional (and not switched off).
    #[must_use]
    pub fn running(&self, s: RunningStatus) -> Option<u64> {
        let ms = match s {
            RunningStatus::Starting => self.starting_ms,
            RunningStatus::Stopping => self.stopping_ms,
            _ => 0,
        };
        (ms > 0).then_some(ms)
    }

    /// The threshold of a deployment status, if it is transitional (and not switched off).
    #[must_use]
    pub fn deployment(&self, s: DeploymentStatus) -> Option<u64> {
        let ms = match s {
            DeploymentStatus::Queued => self.queued_ms,
            DeploymentStatus::Building => self.building_ms,
            DeploymentStatus::Deploying => self.deploying_ms,
            DeploymentStatus::CancellingBuilding => self.cancelling_building_ms,
            _ => 0,
        };
        (ms > 0).then_some(ms)
    }

    /// When something in `running` since `running_since` and (maybe) deployed with status
    /// `deployment` since `deployment_since` becomes stuck, if it ever does (the earlier of the
    /// two). Without a "since" nothing can be stuck.
    #[must_use]
    pub fn stuck_at(
        &self,
        running: (RunningStatus, Option<Millis>),
        deployment: Option<(DeploymentStatus, Option<Millis>)>,
    ) -> Option<Millis> {
        let r = running
            .1
            .zip(self.running(running.0))
            .map(|(s, ms)| s.saturating_add(ms));
        let d = deployment.and_then(|(st, since)| {
            since
                .zip(self.deployment(st))
                .map(|(s, ms)| s.saturating_add(ms))
        });
        match (r, d) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// What is stuck at `now`, if anything: the deployment status first (it says more:
    /// "DEPLOYING for 40 min"), else the running status.
    #[must_use]
    pub fn stuck(
        &self,
        running: (RunningStatus, Option<Millis>),
        deployment: Option<(DeploymentStatus, Option<Millis>)>,
        now: Millis,
    ) -> Option<Stuck> {
        let held = |since: Millis, after: u64| now >= since.saturating_add(after);
        if let Some((st, Some(since))) = deployment {
            if let Some(after) = self.deployment(st).filter(|&a| held(since, a)) {
                return Some(Stuck {
                    word: st.word(),
                    deployment: true,
                    since,
                    after_ms: after,
                });
            }
        }
        let (st, since) = (running.0, running.1?);
        let after = self.running(st).filter(|&a| held(since, a))?;
        Some(Stuck {
            word: st.word(),
            deployment: false,
            since,
            after_ms: after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeploymentStatus as D;
    use RunningStatus as R;

    #[test]
    fn only_transitional_statuses_have_a_threshold() {
        let t = StuckAfter::default();
        assert_eq!(t.running(R::Starting), Some(10 * MIN));
        assert_eq!(t.running(R::Stopping), Some(10 * MIN));
        for s in [
            R::Running,
            R::Error,
            R::Warning,
            R::Stopped,
            R::Completed,
            R::Unknown,
        ] {
            assert_eq!(t.running(s), None, "{s:?}");
        }
        assert_eq!(t.deployment(D::Deploying), Some(15 * MIN));
        assert_eq!(t.deployment(D::CancellingBuilding), Some(5 * MIN));
        for s in [
            D::DeploymentOk,
            D::DeploymentError,
            D::BuildingError,
            D::Cancelled,
        ] {
            assert_eq!(t.deployment(s), None, "{s:?}");
        }
    }

    #[test]
    fn deploying_past_its_threshold_is_stuck_and_not_before() {
        let t = StuckAfter::default();
        let since = 1_000_000;
        let dep = Some((D::Deploying, Some(since)));
        assert_eq!(
            t.stuck((R::Running, Some(0)), dep, since + 15 * MIN - 1),
            None
        );
        let s = t
            .stuck((R::Running, Some(0)), dep, since + 15 * MIN)
            .unwrap();
        assert_eq!((s.word, s.deployment, s.since), ("DEPLOYING", true, since));
        assert_eq!(
            t.stuck_at((R::Running, Some(0)), dep),
            Some(since + 15 * MIN)
        );
    }

    #[test]
    fn starting_is_stuck_after_its_own_threshold_and_the_earlier_one_counts() {
        let mut t = StuckAfter::default();
        t.set("starting", 60_000).unwrap();
        let s = t.stuck((R::Starting, Some(0)), None, 60_000).unwrap();
        assert_eq!((s.word, s.deployment), ("STARTING", false));
        assert_eq!(
            t.stuck_at((R::Starting, Some(0)), Some((D::Queued, Some(0)))),
            Some(60_000)
        );
    }

    #[test]
    fn without_since_or_with_zero_nothing_is_stuck() {
        let mut t = StuckAfter::default();
        assert_eq!(
            t.stuck((R::Starting, None), Some((D::Building, None)), u64::MAX),
            None
        );
        t.set("cancelling-building", 0).unwrap();
        assert_eq!(t.deployment(D::CancellingBuilding), None);
    }

    #[test]
    fn the_flag_names_every_transitional_status_and_refuses_others() {
        let mut t = StuckAfter::default();
        for (i, name) in STUCK_STATUSES.iter().enumerate() {
            t.set(name, i as u64 + 1).unwrap();
        }
        assert_eq!(t.cancelling_building_ms, 6);
        assert_eq!(t.set("Cancelling building", 9), Ok(()));
        let err = t.set("RUNNING", 1).unwrap_err();
        assert!(
            err.contains("RUNNING") && err.contains("DEPLOYING"),
            "{err}"
        );
    }
}
