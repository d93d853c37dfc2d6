//! The status rules: total functions from facts to a status, each with the rule that fired and
//! an explanation for the tooltip. Precedence and its reasons: `docs/status-rules.md`.

use crate::{Deployment, DeploymentStatus, Environment, Instance, RunningStatus, Service};

/// Which rule decided a status; shown in tooltips and tested against the table in the docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Nothing to aggregate (no instances, no services) -> STOPPED.
    Empty,
    /// Every member in error -> ERROR.
    AllError,
    /// Some members in error (or WARNING), not all in ERROR -> WARNING.
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
    /// The status of the environment's last deployment.
    LastDeployment,
    /// No environment deployment: derived from the services' deployments.
    FromServices,
    /// No deployment at all.
    NeverDeployed,
}

/// A computed status, the rule that fired and a one-line explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict<S> {
    /// The status.
    pub status: S,
    /// The rule that decided it.
    pub rule: Rule,
    /// Why, with counts and culprits, e.g. "1 of 3 instances in error: api-2 (CrashLoopBackOff)".
    pub explanation: String,
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

/// Running status of a service from its instances.
pub fn service_running(service: &Service) -> Verdict<RunningStatus> {
    let members: Vec<Member<'_>> = service.instances.iter().map(instance_member).collect();
    let noun = if service.kind.is_job() { ("execution", "executions") } else { ("instance", "instances") };
    aggregate(&members, noun)
}

/// Running status of an environment from its services' computed statuses.
pub fn environment_running(env: &Environment) -> Verdict<RunningStatus> {
    let verdicts: Vec<Verdict<RunningStatus>> = env.services.iter().map(service_running).collect();
    let members: Vec<Member<'_>> = env
        .services
        .iter()
        .zip(&verdicts)
        .map(|(s, v)| Member { name: &s.name, status: v.status, reason: None })
        .collect();
    aggregate(&members, ("service", "services"))
}

/// Deployment status of an environment: its last deployment's, else derived from its services'.
pub fn environment_deployment(env: &Environment) -> Option<Verdict<DeploymentStatus>> {
    if let Some(d) = &env.deployment {
        return Some(Verdict {
            status: d.status,
            rule: Rule::LastDeployment,
            explanation: format!("Last environment deployment ({}) is {}.", d.version, d.status.word()),
        });
    }
    let deployments: Vec<(&str, &Deployment)> = env
        .services
        .iter()
        .filter_map(|s| s.deployment.as_ref().map(|d| (s.name.as_str(), d)))
        .collect();
    from_services(&deployments)
}

/// Precedence among service deployments when the environment has none of its own: work in
/// progress first (the environment is being deployed), then failures, then cancels, then OK.
fn from_services(deployments: &[(&str, &Deployment)]) -> Option<Verdict<DeploymentStatus>> {
    const ORDER: [DeploymentStatus; 9] = [
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
    let status = ORDER
        .into_iter()
        .find(|o| deployments.iter().any(|(_, d)| d.status == *o))?;
    let names: Vec<&str> = deployments
        .iter()
        .filter(|(_, d)| d.status == status)
        .map(|(n, _)| *n)
        .collect();
    Some(Verdict {
        status,
        rule: Rule::FromServices,
        explanation: format!(
            "{} of {} service deployments {}: {}",
            names.len(),
            deployments.len(),
            status.word(),
            list(&names)
        ),
    })
}

fn instance_member(i: &Instance) -> Member<'_> {
    Member { name: &i.name, status: i.status, reason: i.reason.as_deref() }
}

/// The aggregation shared by services (over instances) and environments (over services).
/// Precedence: errors, then transitions, then unknown values, then running, completed, stopped.
pub fn aggregate(members: &[Member<'_>], (one, many): (&str, &str)) -> Verdict<RunningStatus> {
    use RunningStatus as S;
    let total = members.len();
    let noun = |n: usize| if n == 1 { one } else { many };
    let with = |s: S| -> Vec<&Member<'_>> { members.iter().filter(|m| m.status == s).collect() };
    let count = |s: S| members.iter().filter(|m| m.status == s).count();
    let verdict = |status, rule, explanation| Verdict { status, rule, explanation };

    if total == 0 {
        return verdict(S::Stopped, Rule::Empty, format!("No {many}: nothing is running."));
    }
    let errors = with(S::Error);
    let warnings = with(S::Warning);
    if errors.len() == total {
        return verdict(
            S::Error,
            Rule::AllError,
            format!("All {total} {} in error: {}", noun(total), culprits(&errors)),
        );
    }
    if !errors.is_empty() || !warnings.is_empty() {
        let mut parts = Vec::new();
        if !errors.is_empty() {
            parts.push(format!(
                "{} of {total} {} in error: {}",
                errors.len(),
                noun(total),
                culprits(&errors)
            ));
        }
        if !warnings.is_empty() {
            parts.push(format!(
                "{} of {total} {} in warning: {}",
                warnings.len(),
                noun(total),
                culprits(&warnings)
            ));
        }
        let serving = count(S::Running);
        if serving > 0 {
            parts.push(format!("{serving} still running"));
        }
        return verdict(S::Warning, Rule::SomeError, parts.join("; "));
    }
    for (status, rule, verb) in [
        (S::Starting, Rule::AnyStarting, "starting"),
        (S::Stopping, Rule::AnyStopping, "stopping"),
        (S::Unknown, Rule::AnyUnknown, "in an unknown status"),
    ] {
        let hits = with(status);
        if !hits.is_empty() {
            return verdict(
                status,
                rule,
                format!("{} of {total} {} {verb}: {}", hits.len(), noun(total), culprits(&hits)),
            );
        }
    }
    let running = count(S::Running);
    let completed = count(S::Completed);
    let stopped = count(S::Stopped);
    if running == total {
        return verdict(S::Running, Rule::AllRunning, format!("All {total} {} running.", noun(total)));
    }
    if running > 0 {
        return verdict(
            S::Running,
            Rule::SomeRunning,
            format!("{running} of {total} {} running; {}", noun(total), rest(completed, stopped)),
        );
    }
    if completed > 0 {
        let text = if completed == total {
            format!("All {total} {} completed.", noun(total))
        } else {
            format!("{completed} of {total} {} completed; {stopped} stopped.", noun(total))
        };
        return verdict(S::Completed, Rule::Completed, text);
    }
    verdict(S::Stopped, Rule::AllStopped, format!("All {total} {} stopped.", noun(total)))
}

fn rest(completed: usize, stopped: usize) -> String {
    match (completed, stopped) {
        (0, s) => format!("{s} stopped."),
        (c, 0) => format!("{c} completed."),
        (c, s) => format!("{c} completed, {s} stopped."),
    }
}

/// "api-2 (CrashLoopBackOff), api-3" with at most three names.
fn culprits(members: &[&Member<'_>]) -> String {
    let names: Vec<String> = members
        .iter()
        .map(|m| match m.reason {
            Some(r) => format!("{} ({r})", m.name),
            None => m.name.to_string(),
        })
        .collect();
    list(&names)
}

fn list<S: AsRef<str>>(names: &[S]) -> String {
    const SHOWN: usize = 3;
    let mut out: Vec<&str> = names.iter().take(SHOWN).map(AsRef::as_ref).collect();
    let more;
    if names.len() > SHOWN {
        more = format!("and {} more", names.len() - SHOWN);
        out.push(&more);
    }
    out.join(", ")
}
