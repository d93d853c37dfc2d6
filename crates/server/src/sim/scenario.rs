//! Named scenarios: a calm platform plus a script of actions at fixed offsets, so that a test
//! or a demo can watch one story unfold without random noise.

use super::{Action, Outcome};
use shipwatch_model::entities::Millis;
use shipwatch_model::ServiceKind;

/// A story to play instead of random events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// No random events and no script: statuses change only through the HTTP API.
    Calm,
    /// A clean rolling deployment of production/api: old and new versions side by side, then only new.
    Rolling,
    /// production/api fails to build; the old version keeps running.
    BuildError,
    /// production/api's new version crash-loops: the rollout stalls in WARNING with the old version serving, DEPLOYMENT ERROR.
    CrashLoop,
    /// A deployment of production/api is cancelled while building.
    Cancel,
    /// production/api's new version never becomes ready: the deployment holds in DEPLOYING
    /// (stuck past `--stuck-after DEPLOYING=...`).
    Stuck,
    /// production/db-migrate (a lifecycle job) is deployed, runs and reaches COMPLETED.
    JobCompletes,
}

/// One scripted action: at `at`, on the first service of `kind` in environment number `env`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scripted {
    /// When (simulated time).
    pub at: Millis,
    /// Environment index.
    pub env: usize,
    /// Kind of the target service (the first of that kind).
    pub kind: ServiceKind,
    /// What to do.
    pub action: Action,
}

fn at(start: Millis, offset: Millis, env: usize, kind: ServiceKind, action: Action) -> Scripted {
    Scripted {
        at: start + offset,
        env,
        kind,
        action,
    }
}

impl Scenario {
    /// The script of this scenario, from simulated time `start`.
    pub fn script(self, start: Millis) -> Vec<Scripted> {
        use ServiceKind::{Application as App, LifecycleJob};
        match self {
            Self::Calm => vec![],
            Self::Rolling => vec![at(start, 500, 0, App, Action::Deploy(Outcome::Ok))],
            Self::BuildError => vec![at(start, 500, 0, App, Action::Deploy(Outcome::BuildError))],
            Self::CrashLoop => vec![at(start, 500, 0, App, Action::Deploy(Outcome::CrashLoop))],
            Self::Stuck => vec![at(start, 500, 0, App, Action::Deploy(Outcome::Stall))],
            Self::Cancel => vec![
                at(start, 500, 0, App, Action::Deploy(Outcome::Ok)),
                at(start, 4_000, 0, App, Action::Cancel),
            ],
            Self::JobCompletes => {
                vec![at(start, 500, 0, LifecycleJob, Action::Deploy(Outcome::Ok))]
            }
        }
    }
}

/// The opening of a random run: something happens within seconds, so the console looks alive.
pub fn opening(start: Millis) -> Vec<Scripted> {
    use ServiceKind::{Application as App, Container};
    vec![
        at(start, 300, 1, App, Action::Deploy(Outcome::Ok)),
        at(start, 1_000, 2, App, Action::Deploy(Outcome::CrashLoop)),
        at(start, 2_000, 0, Container, Action::Deploy(Outcome::Ok)),
    ]
}
