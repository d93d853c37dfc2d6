//! Triage: which services are in trouble and come first when sorting by status, and which
//! changes matter enough to be announced (a service entering ERROR, a deployment finishing).

use crate::entities::Millis;
use crate::rules::{service_running, service_running_status};
use crate::stuck::{Stuck, StuckAfter};
use crate::{DeploymentStatus, RunningStatus, Service};

/// The rank of a stuck service: first of all (see [`crate::stuck`]). A stuck service is
/// moving, so nothing else flags it, and it is what nobody is watching: an ERROR has been seen
/// already; a deployment held in DEPLOYING for an hour has not.
pub const STUCK_RANK: u8 = 0;

/// The last rank of a service in trouble.
const LAST_TROUBLE_RANK: u8 = 4;

/// Sort rank of a service, lower first: ERROR, WARNING, a failed last deployment, an unknown
/// status, then transitions (starting, stopping, deployments in progress), then the calm ones
/// (stopped, running, completed). A stuck service ranks before all ([`STUCK_RANK`],
/// [`stuck_rank`]).
#[must_use]
pub fn trouble_rank(running: RunningStatus, deployment: Option<DeploymentStatus>) -> u8 {
    use RunningStatus as R;
    let failed = deployment.is_some_and(DeploymentStatus::is_failure);
    let deploying = deployment.is_some_and(DeploymentStatus::in_progress);
    match running {
        R::Error => 1,
        R::Warning => 2,
        _ if failed => 3,
        R::Unknown => 4,
        R::Starting => 5,
        R::Stopping => 6,
        _ if deploying => 7,
        R::Stopped => 8,
        R::Running => 9,
        R::Completed => 10,
    }
}

/// The rank of a service that may be stuck.
#[must_use]
pub fn stuck_rank(running: RunningStatus, deployment: Option<DeploymentStatus>, stuck: bool) -> u8 {
    if stuck {
        STUCK_RANK
    } else {
        trouble_rank(running, deployment)
    }
}

/// Whether a service needs a look: ERROR, WARNING, a failed last deployment or an unknown
/// status (or stuck, see [`ServiceTriage::in_trouble`]).
#[must_use]
pub fn in_trouble(running: RunningStatus, deployment: Option<DeploymentStatus>) -> bool {
    trouble_rank(running, deployment) <= LAST_TROUBLE_RANK
}

/// What sorting, filtering and the environment's summary need to know of a service, computed
/// once when it changes, so that a thousand services can be re-sorted and counted on every
/// frame without re-running the rules or building explanations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceTriage {
    /// Display name.
    pub name: String,
    /// The name lower-cased, the sort key.
    pub sort_name: String,
    /// Its computed running status.
    pub running: RunningStatus,
    /// Its last deployment, if any.
    pub deployment: Option<DeploymentBrief>,
    /// Its [`trouble_rank`], or [`STUCK_RANK`] while it is stuck.
    pub rank: u8,
    /// Since when its running status holds, as the server says.
    pub running_since: Option<Millis>,
    /// Since when its deployment status holds, as the server says.
    pub deployment_since: Option<Millis>,
    /// Whether it is stuck (see [`ServiceTriage::restuck`]).
    pub stuck: bool,
}

/// The facts of a last deployment that the environment's header needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeploymentBrief {
    /// Deployment id (for its logs).
    pub id: String,
    /// Where it stands.
    pub status: DeploymentStatus,
    /// When it was queued.
    pub started_at: Millis,
    /// When it finished, if it did.
    pub finished_at: Option<Millis>,
}

impl ServiceTriage {
    /// The triage facts of a service.
    #[must_use]
    pub fn of(service: &Service) -> Self {
        Self::of_folded(service, str::to_lowercase)
    }

    /// [`Self::of`] with the name's sort key lowercased by `lower`, which must lowercase as
    /// `str::to_lowercase` does: the app passes the browser's, so that `core`'s Unicode case
    /// tables stay out of its first chunk.
    #[must_use]
    pub fn of_folded(service: &Service, lower: fn(&str) -> String) -> Self {
        let running = service_running_status(service);
        let deployment = service.deployment.as_ref().map(|d| DeploymentBrief {
            id: d.id.clone(),
            status: d.status,
            started_at: d.started_at,
            finished_at: d.finished_at,
        });
        let rank = trouble_rank(running, deployment.as_ref().map(|d| d.status));
        Self {
            name: service.name.clone(),
            sort_name: lower(&service.name),
            running,
            deployment,
            rank,
            running_since: service.running_since,
            deployment_since: service.deployment_since,
            stuck: false,
        }
    }

    /// The triage facts of a service, stuck or not at `now` by `limits`.
    #[must_use]
    pub fn at(service: &Service, limits: &StuckAfter, now: Millis) -> Self {
        let mut t = Self::of(service);
        t.restuck(limits, now);
        t
    }

    /// What is stuck of it at `now`, if anything.
    #[must_use]
    pub fn stuck_now(&self, limits: &StuckAfter, now: Millis) -> Option<Stuck> {
        limits.stuck(
            (self.running, self.running_since),
            self.deployment
                .as_ref()
                .map(|d| (d.status, self.deployment_since)),
            now,
        )
    }

    /// When it becomes stuck if nothing changes, if ever (the page re-triages then).
    #[must_use]
    pub fn stuck_at(&self, limits: &StuckAfter) -> Option<Millis> {
        limits.stuck_at(
            (self.running, self.running_since),
            self.deployment
                .as_ref()
                .map(|d| (d.status, self.deployment_since)),
        )
    }

    /// Re-decides whether it is stuck at `now`; whether that changed.
    pub fn restuck(&mut self, limits: &StuckAfter, now: Millis) -> bool {
        let stuck = self.stuck_now(limits, now).is_some();
        let changed = stuck != self.stuck;
        self.stuck = stuck;
        self.rank = stuck_rank(
            self.running,
            self.deployment.as_ref().map(|d| d.status),
            stuck,
        );
        changed
    }

    /// Whether it needs a look (see [`in_trouble`]); a stuck service does.
    #[must_use]
    pub fn in_trouble(&self) -> bool {
        self.rank <= LAST_TROUBLE_RANK
    }
}

/// The services stuck among `triage`, in `order`.
#[must_use]
pub fn stuck_count(
    order: &[String],
    triage: &std::collections::HashMap<String, ServiceTriage>,
) -> usize {
    order
        .iter()
        .filter(|id| triage.get(*id).is_some_and(|t| t.stuck))
        .count()
}

/// The notice of a service that became stuck: "api: stuck in DEPLOYING for 16 min".
#[must_use]
pub fn stuck_notice(name: &str, stuck: &Stuck, now: Millis) -> Notice {
    Notice {
        text: format!(
            "{name}: stuck in {} for {}",
            stuck.word,
            crate::time_in_state::duration_words(now.saturating_sub(stuck.since))
        ),
        deployment_finished: false,
    }
}

/// A change worth announcing to someone not looking at the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// "api: DEPLOYMENT ERROR", "api: ERROR".
    pub text: String,
    /// Whether a deployment finished (or failed, or was cancelled): worth a notification.
    pub deployment_finished: bool,
}

/// What matters in the change from `old` to `new` of one service: its last deployment
/// reaching a final or cancelled status, or the service entering ERROR. At most one notice;
/// a finished deployment wins (it says more).
#[must_use]
pub fn notable_change(old: &Service, new: &Service) -> Option<Notice> {
    let was = old.deployment.as_ref().map(|d| (d.id.as_str(), d.status));
    if let Some(d) = &new.deployment {
        let done = d.status.has_ended();
        if done && was != Some((d.id.as_str(), d.status)) {
            return Some(Notice {
                text: format!("{}: {}", new.name, d.status.word()),
                deployment_finished: true,
            });
        }
    }
    // Statuses first, without explanations: this runs for every change received.
    if service_running_status(new) != RunningStatus::Error
        || service_running_status(old) == RunningStatus::Error
    {
        return None;
    }
    let after = service_running(new);
    Some(Notice {
        text: format!(
            "{}: {} ({})",
            new.name,
            after.status.word(),
            after.explanation
        ),
        deployment_finished: false,
    })
}

/// What the service table is sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// Trouble first: ERROR, WARNING, failed deployments, transitions, then the calm ones.
    Status,
    /// Alphabetical.
    Name,
}

/// How the table shows the services: sort, direction and filters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableQuery {
    /// Sort key.
    pub key: SortKey,
    /// Ascending (for status: trouble first).
    pub ascending: bool,
    /// Only the services in trouble.
    pub only_trouble: bool,
    /// Only the services whose name contains this, ignoring case (empty: all).
    pub name: String,
}

/// The table's rows in display order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableRows {
    /// Service ids, in display order, filtered.
    pub ids: Vec<String>,
}

/// Services in trouble and all services, for the table's toolbar (whatever the filters show).
#[must_use]
pub fn trouble_count(
    order: &[String],
    triage: &std::collections::HashMap<String, ServiceTriage>,
) -> (usize, usize) {
    let trouble = order
        .iter()
        .filter(|id| triage.get(*id).is_some_and(ServiceTriage::in_trouble))
        .count();
    (trouble, order.len())
}

/// Sorts and filters services for the table. `order` is the server's order; ties keep it
/// stable by name. O(n log n) over the precomputed facts, no rules run.
#[must_use]
pub fn table_rows(
    order: &[String],
    triage: &std::collections::HashMap<String, ServiceTriage>,
    query: &TableQuery,
) -> TableRows {
    table_rows_folded(order, triage, query, str::to_lowercase)
}

/// [`table_rows`] with the name filter lowercased by `lower` (see [`ServiceTriage::of_folded`]).
#[must_use]
pub fn table_rows_folded(
    order: &[String],
    triage: &std::collections::HashMap<String, ServiceTriage>,
    query: &TableQuery,
    lower: fn(&str) -> String,
) -> TableRows {
    let mut rows: Vec<(&String, &ServiceTriage)> = order
        .iter()
        .filter_map(|id| triage.get(id).map(|t| (id, t)))
        .collect();
    match query.key {
        SortKey::Status => {
            rows.sort_by(|a, b| (a.1.rank, &a.1.sort_name).cmp(&(b.1.rank, &b.1.sort_name)))
        }
        SortKey::Name => rows.sort_by(|a, b| a.1.sort_name.cmp(&b.1.sort_name)),
    }
    if !query.ascending {
        rows.reverse();
    }
    let needle = lower(query.name.trim());
    let ids = rows
        .into_iter()
        .filter(|(_, t)| !query.only_trouble || t.in_trouble())
        .filter(|(_, t)| needle.is_empty() || t.sort_name.contains(&needle))
        .map(|(id, _)| id.clone())
        .collect();
    TableRows { ids }
}
