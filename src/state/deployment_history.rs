//! Deployment history, as the Deployments tab holds it: pages fetched from the server
//! (`GET /api/v1/environments/{env}/deployments`, newest first) merged with what the
//! environment topic shows live (each service's last deployment changing id or status).
//! Pure: no signals, no DOM, so `tests/deployment_history.rs` checks it directly.

use serde::Deserialize;
use shipwatch_model::entities::Millis;
use shipwatch_model::{Deployment, DeploymentStatus};

/// Deployments a page asks for.
pub const PAGE_SIZE: u32 = 30;

/// One deployment in the list.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct HistoryEntry {
    /// Environment id.
    pub environment: String,
    /// Service id; none for an environment-wide deployment.
    #[serde(default)]
    pub service: Option<String>,
    /// The deployment as last seen.
    pub deployment: Deployment,
    /// The stages it went through (known once fetched).
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// Whether its log's lines were removed (the log-bytes cap).
    #[serde(default)]
    pub log_removed: bool,
    /// Its place in creation order; none for one seen live and not fetched yet.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// One stage of a deployment.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Stage {
    /// Its name.
    pub name: String,
    /// When it began.
    pub started_at: Millis,
    /// When it ended, if it did.
    #[serde(default)]
    pub finished_at: Option<Millis>,
    /// How it went.
    pub outcome: StageOutcome,
}

/// How a stage went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageOutcome {
    /// Still running.
    Running,
    /// Done, and the deployment went on.
    Passed,
    /// The deployment failed in it.
    Failed,
    /// The deployment was cancelled in it.
    Cancelled,
    /// A word this app does not know (a newer server).
    #[serde(other)]
    Unknown,
}

impl StageOutcome {
    /// The outcome of a deployment's last stage, from the deployment's status (the server's
    /// rule, for stages seen live between fetches).
    pub fn of_last(status: DeploymentStatus) -> Self {
        match status {
            DeploymentStatus::DeploymentOk => Self::Passed,
            DeploymentStatus::BuildingError | DeploymentStatus::DeploymentError => Self::Failed,
            DeploymentStatus::Cancelled => Self::Cancelled,
            _ => Self::Running,
        }
    }

    /// The word shown.
    pub fn word(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Unknown => "unknown",
        }
    }
}

/// A page as the server sends it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct HistoryPage {
    /// Newest first.
    pub deployments: Vec<HistoryEntry>,
    /// The cursor of the next, older page.
    #[serde(default)]
    pub next: Option<String>,
    /// Set by a server without a store: its history is kept in memory since then (Unix ms).
    #[serde(default)]
    pub in_memory_since: Option<u64>,
}

/// A deployment with those of its service just before and after it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Neighbours {
    /// The one asked about.
    pub deployment: HistoryEntry,
    /// The one before, if kept.
    #[serde(default)]
    pub previous: Option<HistoryEntry>,
    /// The one after, if any.
    #[serde(default)]
    pub next: Option<HistoryEntry>,
}

/// Groups of statuses the list filters by (a user asks "what failed", not for a wire word).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StatusFilter {
    /// Every deployment.
    #[default]
    Any,
    /// Queued, building, deploying, cancelling.
    InProgress,
    /// The new version is live.
    Succeeded,
    /// The build or the rollout failed.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl StatusFilter {
    /// Every filter, in the order the select lists them.
    pub const ALL: [StatusFilter; 5] = [
        Self::Any,
        Self::InProgress,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
    ];

    /// Its word in the page's URL.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Any => "",
            Self::InProgress => "in-progress",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Its label in the select.
    pub fn label(self) -> &'static str {
        match self {
            Self::Any => "Any status",
            Self::InProgress => "In progress",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Cancelled => "Cancelled",
        }
    }

    /// From its URL word; anything else is no filter.
    pub fn from_slug(s: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|f| f.slug() == s)
            .unwrap_or_default()
    }

    /// The statuses it lets through (empty: all).
    pub fn statuses(self) -> &'static [DeploymentStatus] {
        use DeploymentStatus as S;
        match self {
            Self::Any => &[],
            Self::InProgress => &[S::Queued, S::Building, S::Deploying, S::CancellingBuilding],
            Self::Succeeded => &[S::DeploymentOk],
            Self::Failed => &[S::BuildingError, S::DeploymentError],
            Self::Cancelled => &[S::Cancelled],
        }
    }

    /// Whether `status` passes.
    pub fn admits(self, status: DeploymentStatus) -> bool {
        self == Self::Any || self.statuses().contains(&status)
    }
}

/// What the list shows: its filters, from the page's URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    /// Only this service's deployments.
    pub service: Option<String>,
    /// Only these statuses.
    pub status: StatusFilter,
}

impl Filters {
    /// From a URL's query (`?service=api&status=failed`); unknown keys are ignored.
    pub fn from_query(query: &str) -> Self {
        let mut f = Filters::default();
        for (k, v) in pairs(query) {
            match k.as_str() {
                "service" if !v.is_empty() => f.service = Some(v),
                "status" => f.status = StatusFilter::from_slug(&v),
                _ => {}
            }
        }
        f
    }

    /// The page URL's query for these filters (`?service=api&status=failed`, or empty). A
    /// list fixed to one service keeps the service out of its URL.
    pub fn to_query(&self, fixed_service: bool) -> String {
        let mut parts = Vec::new();
        if let (Some(s), false) = (&self.service, fixed_service) {
            parts.push(format!("service={}", encode(s)));
        }
        if self.status != StatusFilter::Any {
            parts.push(format!("status={}", self.status.slug()));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }

    /// The API's query for a page of these filters, older than `before` if given.
    pub fn api_query(&self, before: Option<&str>, limit: u32) -> String {
        let mut q = format!("limit={limit}");
        if let Some(s) = &self.service {
            q.push_str(&format!("&service={}", encode(s)));
        }
        let words: Vec<&str> = self.status.statuses().iter().map(|s| wire(*s)).collect();
        if !words.is_empty() {
            q.push_str(&format!("&status={}", words.join(",")));
        }
        if let Some(b) = before {
            q.push_str(&format!("&before={}", encode(b)));
        }
        q
    }

    /// Whether a deployment of `service` in `status` belongs in the list.
    pub fn admits(&self, service: Option<&str>, status: DeploymentStatus) -> bool {
        self.service.as_deref().is_none_or(|s| Some(s) == service) && self.status.admits(status)
    }
}

/// A status's wire word (its serde name).
fn wire(s: DeploymentStatus) -> &'static str {
    use DeploymentStatus as S;
    match s {
        S::Queued => "QUEUED",
        S::Building => "BUILDING",
        S::BuildingError => "BUILDING_ERROR",
        S::Deploying => "DEPLOYING",
        S::DeploymentError => "DEPLOYMENT_ERROR",
        S::CancellingBuilding => "CANCELLING_BUILDING",
        S::Cancelled => "CANCELLED",
        S::DeploymentOk => "DEPLOYMENT_OK",
        S::Unknown => "UNKNOWN",
    }
}

/// Percent-encodes a query value (ids are plain in practice; this keeps `&` and `=` safe).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Key-value pairs of a query, decoded.
fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// What [`History::observe`] did with a deployment seen live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observed {
    /// Not listed before: now at the top.
    New,
    /// Listed: its status or times changed in place.
    Changed,
    /// Listed, and nothing changed.
    Same,
    /// Not for this list (another service, a status filtered out).
    Ignored,
}

/// The list: fetched pages and deployments seen live, newest first, each once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Newest first.
    pub entries: Vec<HistoryEntry>,
    /// The cursor of the next older page; none once the oldest kept one is listed.
    pub next: Option<String>,
    /// Whether the first page has arrived.
    pub loaded: bool,
}

/// Where an entry sorts: fetched ones by creation order, ones only seen live above them all
/// (they are newer than what was fetched), by start.
fn order_key(e: &HistoryEntry) -> (u64, Millis) {
    let ordinal = e
        .cursor
        .as_deref()
        .and_then(|c| c.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    (ordinal, e.deployment.started_at)
}

impl History {
    /// The newest page, fetched (first or again): its entries replace their older copies
    /// (stages and cursors come with them); entries seen live and not in it stay.
    pub fn merge_head(&mut self, page: HistoryPage) {
        let first_time = !self.loaded;
        for entry in page.deployments {
            self.upsert(entry);
        }
        if first_time {
            self.next = page.next;
        }
        self.loaded = true;
        self.sort();
    }

    /// An older page (fetched with `before` = [`History::next`]): appended below.
    pub fn merge_older(&mut self, page: HistoryPage) {
        for entry in page.deployments {
            self.upsert(entry);
        }
        self.next = page.next;
        self.sort();
    }

    /// A deployment the environment topic shows (a service's last, or the environment's own):
    /// updated in place if listed, else added on top if the filters admit it.
    pub fn observe(
        &mut self,
        env: &str,
        service: Option<&str>,
        d: &Deployment,
        filters: &Filters,
    ) -> Observed {
        if let Some(e) = self.entries.iter_mut().find(|e| e.deployment.id == d.id) {
            if e.deployment == *d {
                return Observed::Same;
            }
            e.deployment = d.clone();
            if let Some(last) = e.stages.last_mut() {
                last.outcome = StageOutcome::of_last(d.status);
                last.finished_at = d.finished_at;
            }
            return Observed::Changed;
        }
        if !filters.admits(service, d.status) {
            return Observed::Ignored;
        }
        self.entries.push(HistoryEntry {
            environment: env.to_string(),
            service: service.map(str::to_string),
            deployment: d.clone(),
            stages: Vec::new(),
            log_removed: false,
            cursor: None,
        });
        self.sort();
        Observed::New
    }

    fn upsert(&mut self, entry: HistoryEntry) {
        match self
            .entries
            .iter_mut()
            .find(|e| e.deployment.id == entry.deployment.id)
        {
            Some(e) => *e = entry,
            None => self.entries.push(entry),
        }
    }

    fn sort(&mut self) {
        self.entries
            .sort_by_key(|e| std::cmp::Reverse(order_key(e)));
    }
}

/// What was deployed, for a row: the service, or the environment as a whole.
pub fn subject(entry: &HistoryEntry) -> String {
    match &entry.service {
        Some(s) => s.clone(),
        None => "Whole environment".into(),
    }
}

/// How long a deployment took, or has been running (with `now`): `42s`, `3m 05s`, `1h 02m`.
pub fn duration_text(d: &Deployment, now: f64) -> String {
    let end = d
        .finished_at
        .unwrap_or(now.max(d.started_at as f64) as Millis);
    human_duration(end.saturating_sub(d.started_at))
}

/// A duration for people: `42s`, `3m 05s`, `1h 02m`.
pub fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

/// A deployment's link, if it is one a page may follow: only `http(s)` (a source could send
/// `javascript:`).
pub fn safe_link(url: &str) -> Option<&str> {
    let lower = url.trim_start().get(..8).unwrap_or("").to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(url.trim_start())
}
