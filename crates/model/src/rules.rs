//! The status rules: total functions from facts to a status, each with the rule that fired and
//! an explanation for the tooltip. Precedence and its reasons: `docs/status-rules.md`.

use crate::running_status::Scope;
use crate::{Deployment, DeploymentStatus, Environment, Instance, RunningStatus, Service};

/// Which rule decided a status; shown in tooltips and tested against the table in the docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Nothing to aggregate (no instances, no services) -> STOPPED.
    Empty,
    /// Every member in error -> ERROR.
    AllError,
    /// Some members in error or in warning, not all in ERROR -> WARNING.
    SomeError,
    /// At least one member starting -> STARTING.
    AnyStarting,
    /// At least one member stopping -> STOPPING.
    AnyStopping,
    /// At least one member with a status this app does not know -> UNKNOWN.
    AnyUnknown,
    /// Every member running -> RUNNING.
    AllRunning,
    /// Some running, the rest stopped or completed -> RUNNING.
    SomeRunning,
    /// Every member completed, or completed and stopped -> COMPLETED.
    Completed,
    /// Every member stopped -> STOPPED.
    AllStopped,
    /// The status of the last deployment (of the environment, or of the service).
    LastDeployment,
    /// No environment deployment: derived from the services' deployments.
    FromServices,
    /// No deployment at all.
    NeverDeployed,
}

impl Rule {
    /// The running-status rules in the order they are tried: the first that matches decides.
    pub const RUNNING_PRECEDENCE: [Rule; 10] = [
        Self::Empty,
        Self::AllError,
        Self::SomeError,
        Self::AnyStarting,
        Self::AnyStopping,
        Self::AnyUnknown,
        Self::AllRunning,
        Self::SomeRunning,
        Self::Completed,
        Self::AllStopped,
    ];

    /// Stable identifier, as used in `docs/status-rules.md` (e.g. `some_error`).
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::AllError => "all_error",
            Self::SomeError => "some_error",
            Self::AnyStarting => "any_starting",
            Self::AnyStopping => "any_stopping",
            Self::AnyUnknown => "any_unknown",
            Self::AllRunning => "all_running",
            Self::SomeRunning => "some_running",
            Self::Completed => "completed",
            Self::AllStopped => "all_stopped",
            Self::LastDeployment => "last_deployment",
            Self::FromServices => "from_services",
            Self::NeverDeployed => "never_deployed",
        }
    }

    /// The rule in words, for a tooltip's "why" line.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Empty => "Nothing to aggregate: shown as stopped.",
            Self::AllError => "All of them are in error.",
            Self::SomeError => "At least one is in error or warning, but not all are in error.",
            Self::AnyStarting => "At least one is starting (and none is in error).",
            Self::AnyStopping => "At least one is stopping (none in error, none starting).",
            Self::AnyUnknown => "At least one has a status this console does not know.",
            Self::AllRunning => "All of them are running.",
            Self::SomeRunning => "Some are running; the others are stopped or completed.",
            Self::Completed => "Jobs completed; the others are stopped.",
            Self::AllStopped => "All of them are stopped.",
            Self::LastDeployment => "The status of the last deployment.",
            Self::FromServices => {
                "No environment deployment: derived from the services' last deployments."
            }
            Self::NeverDeployed => "Never deployed.",
        }
    }
}

/// A computed status, the rule that fired and a one-line explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict<S> {
    /// The status.
    pub status: S,
    /// The rule that decided it.
    pub rule: Rule,
    /// Why, with counts and culprits, e.g. "1 of 3 instances in error: api-2 (CrashLoopBackOff);
    /// 2 still running".
    pub explanation: String,
}

impl<S: std::fmt::Display> Verdict<S> {
    /// The status word and the explanation, e.g. "WARNING: 1 of 3 instances in error: api-2
    /// (CrashLoopBackOff); 2 still running".
    #[must_use]
    pub fn headline(&self) -> String {
        format!("{}: {}", self.status, self.explanation)
    }
}

/// One thing being aggregated: an instance of a service, or a service of an environment.
#[derive(Clone, Copy, Debug)]
pub struct Member<'a> {
    /// Name shown in explanations.
    pub name: &'a str,
    /// Its status.
    pub status: RunningStatus,
    /// Why it is not healthy, if known.
    pub reason: Option<&'a str>,
}

/// Running status of a service from its instances (for jobs: its executions).
#[must_use]
pub fn service_running(service: &Service) -> Verdict<RunningStatus> {
    let members: Vec<Member<'_>> = service.instances.iter().map(instance_member).collect();
    let noun = if service.kind.is_job() {
        ("execution", "executions")
    } else {
        Scope::Service.members()
    };
    aggregate(&members, noun)
}

/// Running status of an environment from its services' computed statuses.
#[must_use]
pub fn environment_running(env: &Environment) -> Verdict<RunningStatus> {
    let verdicts: Vec<Verdict<RunningStatus>> = env.services.iter().map(service_running).collect();
    let members: Vec<Member<'_>> = env
        .services
        .iter()
        .zip(&verdicts)
        .map(|(s, v)| Member {
            name: &s.name,
            status: v.status,
            reason: None,
        })
        .collect();
    aggregate(&members, Scope::Environment.members())
}

/// Deployment status of a service: its last deployment's; none if it was never deployed.
#[must_use]
pub fn service_deployment(service: &Service) -> Option<Verdict<DeploymentStatus>> {
    service
        .deployment
        .as_ref()
        .map(|d| last_deployment(d, "Last deployment"))
}

/// Deployment status of an environment: its last deployment's (newer seed), else derived from
/// its services' last deployments (older seed); none if nothing was ever deployed.
#[must_use]
pub fn environment_deployment(env: &Environment) -> Option<Verdict<DeploymentStatus>> {
    if let Some(d) = &env.deployment {
        return Some(last_deployment(d, "Last environment deployment"));
    }
    let deployments: Vec<(&str, DeploymentStatus)> = env
        .services
        .iter()
        .filter_map(|s| s.deployment.as_ref().map(|d| (s.name.as_str(), d.status)))
        .collect();
    deployment_from_services(&deployments)
}

fn last_deployment(d: &Deployment, what: &str) -> Verdict<DeploymentStatus> {
    let version = match &d.previous_version {
        Some(prev) if *prev != d.version => format!("{prev} -> {}", d.version),
        _ => d.version.clone(),
    };
    let mut explanation = format!("{what} ({version}) is {}", d.status.word());
    if d.status.is_failure() && d.previous_version.is_some() {
        explanation.push_str("; the previous version may still be serving");
    }
    Verdict {
        status: d.status,
        rule: Rule::LastDeployment,
        explanation,
    }
}

/// Precedence among service deployment statuses when the environment has no deployment of its
/// own, first match wins: work in progress (the environment is still being deployed), then
/// failures, then unknown values, then cancels, then OK.
pub const DEPLOYMENT_PRECEDENCE: [DeploymentStatus; 9] = [
    DeploymentStatus::CancellingBuilding,
    DeploymentStatus::Deploying,
    DeploymentStatus::Building,
    DeploymentStatus::Queued,
    DeploymentStatus::DeploymentError,
    DeploymentStatus::BuildingError,
    DeploymentStatus::Unknown,
    DeploymentStatus::Cancelled,
    DeploymentStatus::DeploymentOk,
];

/// An environment's deployment status from its services' (name, last deployment status), by
/// [`DEPLOYMENT_PRECEDENCE`]; none when no service was ever deployed.
#[must_use]
pub fn deployment_from_services(
    deployments: &[(&str, DeploymentStatus)],
) -> Option<Verdict<DeploymentStatus>> {
    let status = DEPLOYMENT_PRECEDENCE
        .into_iter()
        .find(|o| deployments.iter().any(|(_, s)| s == o))?;
    let names: Vec<&str> = deployments
        .iter()
        .filter(|(_, s)| *s == status)
        .map(|(n, _)| *n)
        .collect();
    let total = deployments.len();
    let noun = if total == 1 { "service" } else { "services" };
    let explanation = if names.len() == total {
        format!(
            "No environment deployment; all {total} {noun} {}",
            status.word()
        )
    } else {
        format!(
            "No environment deployment; {} of {total} {noun} {}: {}",
            names.len(),
            status.word(),
            list(&names)
        )
    };
    Some(Verdict {
        status,
        rule: Rule::FromServices,
        explanation,
    })
}

fn instance_member(i: &Instance) -> Member<'_> {
    Member {
        name: &i.name,
        status: i.status,
        reason: i.reason.as_deref(),
    }
}

/// How each status reads in a count ("2 running", "1 in error"), in the order counts are listed.
const COUNT_WORDS: [(RunningStatus, &str); 8] = [
    (RunningStatus::Running, "running"),
    (RunningStatus::Starting, "starting"),
    (RunningStatus::Stopping, "stopping"),
    (RunningStatus::Error, "in error"),
    (RunningStatus::Warning, "in warning"),
    (RunningStatus::Unknown, "in an unknown status"),
    (RunningStatus::Completed, "completed"),
    (RunningStatus::Stopped, "stopped"),
];

fn count_word(status: RunningStatus) -> &'static str {
    COUNT_WORDS
        .iter()
        .find(|(s, _)| *s == status)
        .map_or("in an unknown status", |(_, w)| w)
}

/// The aggregation shared by services (over instances) and environments (over services), given
/// the members' noun (singular, plural). Total: every slice of members gives exactly one status.
/// Precedence (first match wins), as in `docs/status-rules.md`: empty -> STOPPED; all ERROR ->
/// ERROR; any ERROR or WARNING -> WARNING; any STARTING; any STOPPING; any UNKNOWN; all RUNNING;
/// some RUNNING (rest stopped or completed) -> RUNNING; any COMPLETED (rest stopped) ->
/// COMPLETED; else all STOPPED.
#[must_use]
pub fn aggregate(members: &[Member<'_>], (one, many): (&str, &str)) -> Verdict<RunningStatus> {
    use RunningStatus as S;
    let total = members.len();
    let noun = |n: usize| if n == 1 { one } else { many };
    let with = |s: S| -> Vec<&Member<'_>> { members.iter().filter(|m| m.status == s).collect() };
    let count = |s: S| members.iter().filter(|m| m.status == s).count();
    let verdict = |status, rule, explanation| Verdict {
        status,
        rule,
        explanation,
    };
    // "All 3 instances running" / "Its only instance is running".
    let all = |word: &str| {
        if total == 1 {
            format!("Its only {one} is {word}")
        } else {
            format!("All {total} {many} {word}")
        }
    };
    // "2 of 5 services starting: web, api" / "Its only instance is starting: api-1".
    let some = |hits: &[&Member<'_>], word: &str| {
        if total == 1 {
            format!("Its only {one} is {word}: {}", culprits(hits))
        } else {
            format!(
                "{} of {total} {} {word}: {}",
                hits.len(),
                noun(total),
                culprits(hits)
            )
        }
    };
    // "; 3 running, 1 stopped": counts of the members not already named.
    let others = |named: &[S], running_word: &str| {
        let parts: Vec<String> = COUNT_WORDS
            .iter()
            .filter(|(s, _)| !named.contains(s))
            .filter_map(|&(s, w)| {
                let n = count(s);
                let w = if s == S::Running { running_word } else { w };
                (n > 0).then(|| format!("{n} {w}"))
            })
            .collect();
        if parts.is_empty() {
            String::new()
        } else {
            format!("; {}", parts.join(", "))
        }
    };

    if total == 0 {
        return verdict(
            S::Stopped,
            Rule::Empty,
            format!("No {many}, so nothing is running"),
        );
    }
    let errors = with(S::Error);
    let warnings = with(S::Warning);
    if errors.len() == total {
        return verdict(
            S::Error,
            Rule::AllError,
            format!("{}: {}", all("in error"), culprits(&errors)),
        );
    }
    if !errors.is_empty() || !warnings.is_empty() {
        let mut parts = Vec::new();
        if !errors.is_empty() {
            parts.push(some(&errors, "in error"));
        }
        if !warnings.is_empty() {
            parts.push(some(&warnings, "in warning"));
        }
        let text = parts.join("; ") + &others(&[S::Error, S::Warning], "still running");
        return verdict(S::Warning, Rule::SomeError, text);
    }
    for (status, rule) in [
        (S::Starting, Rule::AnyStarting),
        (S::Stopping, Rule::AnyStopping),
        (S::Unknown, Rule::AnyUnknown),
    ] {
        let hits = with(status);
        if !hits.is_empty() {
            let text = some(&hits, count_word(status)) + &others(&[status], "running");
            return verdict(status, rule, text);
        }
    }
    let running = count(S::Running);
    let completed = count(S::Completed);
    if running == total {
        return verdict(S::Running, Rule::AllRunning, all("running"));
    }
    if running > 0 {
        let text = format!("{running} of {total} {} running", noun(total))
            + &others(&[S::Running], "running");
        return verdict(S::Running, Rule::SomeRunning, text);
    }
    if completed > 0 {
        let text = if completed == total {
            all("completed")
        } else {
            format!("{completed} of {total} {} completed", noun(total))
                + &others(&[S::Completed], "running")
        };
        return verdict(S::Completed, Rule::Completed, text);
    }
    verdict(S::Stopped, Rule::AllStopped, all("stopped"))
}

/// The status [`aggregate`] gives, from the members' statuses alone. No explanation is built,
/// so it is cheap enough to run for every service on every change (sorting, counting).
#[must_use]
pub fn aggregate_status(statuses: impl IntoIterator<Item = RunningStatus>) -> RunningStatus {
    use RunningStatus as S;
    let (mut total, mut error, mut warning, mut starting, mut stopping) = (0, 0, 0, 0, 0);
    let (mut unknown, mut running, mut completed) = (0, 0, 0);
    for s in statuses {
        total += 1;
        match s {
            S::Error => error += 1,
            S::Warning => warning += 1,
            S::Starting => starting += 1,
            S::Stopping => stopping += 1,
            S::Unknown => unknown += 1,
            S::Running => running += 1,
            S::Completed => completed += 1,
            S::Stopped => {}
        }
    }
    // The same precedence as `aggregate`, in the same order.
    match () {
        _ if total == 0 => S::Stopped,
        _ if error == total => S::Error,
        _ if error + warning > 0 => S::Warning,
        _ if starting > 0 => S::Starting,
        _ if stopping > 0 => S::Stopping,
        _ if unknown > 0 => S::Unknown,
        _ if running > 0 => S::Running,
        _ if completed > 0 => S::Completed,
        _ => S::Stopped,
    }
}

/// The running status of a service, as [`service_running`] computes it, without building its
/// explanation.
#[must_use]
pub fn service_running_status(service: &Service) -> RunningStatus {
    aggregate_status(service.instances.iter().map(|i| i.status))
}

/// "api-2 (CrashLoopBackOff), api-3" with at most three names.
fn culprits(members: &[&Member<'_>]) -> String {
    let names: Vec<String> = members
        .iter()
        .map(|m| match m.reason {
            Some(r) if !r.is_empty() => format!("{} ({r})", m.name),
            _ => m.name.to_string(),
        })
        .collect();
    list(&names)
}

/// "a, b, c and 2 more".
fn list<S: AsRef<str>>(names: &[S]) -> String {
    const SHOWN: usize = 3;
    let shown: Vec<&str> = names.iter().take(SHOWN).map(AsRef::as_ref).collect();
    let shown = shown.join(", ");
    if names.len() > SHOWN {
        format!("{shown} and {} more", names.len() - SHOWN)
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(
        name: &'static str,
        status: RunningStatus,
        reason: Option<&'static str>,
    ) -> Member<'static> {
        Member {
            name,
            status,
            reason,
        }
    }

    #[test]
    fn explanations_read_well() {
        use RunningStatus as S;
        let v = aggregate(
            &[
                m("api-1", S::Running, None),
                m("api-2", S::Error, Some("CrashLoopBackOff")),
                m("api-3", S::Running, None),
            ],
            ("instance", "instances"),
        );
        assert_eq!(
            v.headline(),
            "WARNING: 1 of 3 instances in error: api-2 (CrashLoopBackOff); 2 still running"
        );
        let v = aggregate(
            &[
                m("web", S::Starting, None),
                m("api", S::Starting, None),
                m("db", S::Running, None),
                m("cache", S::Running, None),
                m("queue", S::Stopped, None),
            ],
            ("service", "services"),
        );
        assert_eq!(
            v.headline(),
            "STARTING: 2 of 5 services starting: web, api; 2 running, 1 stopped"
        );
        let v = aggregate(
            &[m("api-1", S::Error, Some("OOMKilled"))],
            ("instance", "instances"),
        );
        assert_eq!(
            v.headline(),
            "ERROR: Its only instance is in error: api-1 (OOMKilled)"
        );
        let v = aggregate(&[], ("service", "services"));
        assert_eq!(v.headline(), "STOPPED: No services, so nothing is running");
        let names = ["a", "b", "c", "d", "e"];
        let ms: Vec<Member<'_>> = names.iter().map(|n| m(n, S::Error, None)).collect();
        let v = aggregate(&ms, ("instance", "instances"));
        assert_eq!(
            v.explanation,
            "All 5 instances in error: a, b, c and 2 more"
        );
    }
}
