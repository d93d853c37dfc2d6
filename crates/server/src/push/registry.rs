//! What the push API has been told, as it stands now: its environments with their services
//! and instances, its deployments with their stage and next line number, when each instance
//! last reported, and which environment ids other sources own. Rebuilt from the store at
//! start, so a reporter resumes from the right line after a restart.

use crate::store::StoredDeployment;
use shipwatch_model::entities::Millis;
use shipwatch_model::{Deployment, Environment, Instance, RunningStatus, Service, ServiceKind};
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

/// Lines whose text the registry remembers (a hash of it) per deployment in progress, to
/// tell a resent line from a conflicting one without reading the store: a retry resends
/// the last batch, and older lines are checked against the store. 16 KiB a deployment.
pub const RECENT_LINES: usize = 1_024;

/// A pushed environment.
#[derive(Clone, Debug)]
pub struct PushedEnv {
    /// Display name.
    pub name: String,
    /// Its services, in order of creation.
    pub services: Vec<Service>,
    /// Its last environment-wide deployment.
    pub deployment: Option<Deployment>,
}

impl PushedEnv {
    /// The environment as the model has it.
    pub fn model(&self, id: &str) -> Environment {
        Environment {
            id: id.to_string(),
            name: self.name.clone(),
            services: self.services.clone(),
            deployment: self.deployment.clone(),
        }
    }

    /// One of its services.
    pub fn service_mut(&mut self, id: &str) -> Option<&mut Service> {
        self.services.iter_mut().find(|s| s.id == id)
    }
}

/// A pushed deployment.
#[derive(Debug)]
pub struct PushedDeployment {
    /// Environment id.
    pub env: String,
    /// Service id; none for an environment-wide deployment.
    pub service: Option<String>,
    /// The deployment as it is now.
    pub deployment: Deployment,
    /// The stage it is in, if one was reported.
    pub stage: Option<String>,
    /// The number the sender's next new line has.
    pub next_line: u64,
    /// Hashes of the texts of its most recent lines, by number (while in progress).
    pub recent: VecDeque<(u64, u64)>,
    /// Held while a batch of lines is checked, applied and committed: batches of one
    /// deployment go one at a time.
    pub append: Arc<tokio::sync::Mutex<()>>,
}

impl PushedDeployment {
    /// A deployment at line `next_line` (1 for a new one).
    pub fn new(
        env: String,
        service: Option<String>,
        deployment: Deployment,
        stage: Option<String>,
        next_line: u64,
    ) -> Self {
        Self {
            env,
            service,
            deployment,
            stage,
            next_line,
            recent: VecDeque::new(),
            append: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Remembers a stored line's text (by hash), forgetting the oldest past [`RECENT_LINES`].
    pub fn remember(&mut self, n: u64, text: &str) {
        if self.recent.len() == RECENT_LINES {
            self.recent.pop_front();
        }
        self.recent.push_back((n, text_hash(text)));
    }

    /// Whether line `n` is remembered, and with `text`: None if it is not remembered.
    pub fn remembered(&self, n: u64, text: &str) -> Option<bool> {
        let (first, _) = *self.recent.front()?;
        if n < first {
            return None;
        }
        // Numbers rise (with gaps): a binary search finds n.
        let i = self.recent.binary_search_by_key(&n, |&(k, _)| k).ok()?;
        Some(self.recent[i].1 == text_hash(text))
    }
}

/// A text's hash, to recognise a resent line.
pub fn text_hash(text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// Where an instance of a pushed service stands for its time-to-live.
pub type InstanceKey = (String, String, String);

/// Everything the push API holds.
#[derive(Debug, Default)]
pub struct Registry {
    /// Pushed environments, by id.
    pub envs: HashMap<String, PushedEnv>,
    /// Environment ids another source owns (the simulator's), with its name.
    pub foreign: HashMap<String, &'static str>,
    /// Pushed deployments kept, by id.
    pub deployments: HashMap<String, PushedDeployment>,
    /// Deployment ids of each (environment, service or ""), oldest first, to forget what the
    /// store's retention removes.
    pub by_service: HashMap<(String, String), VecDeque<String>>,
    /// When each reported instance last reported; an instance past its time-to-live is taken
    /// out (and marked UNKNOWN) until it reports again.
    pub seen: HashMap<InstanceKey, Instant>,
    /// The last generated deployment id's time part, to keep generated ids unique.
    pub last_generated: Millis,
}

impl Registry {
    /// The registry of a platform loaded from the store: `envs`, the pushed environments;
    /// `deployments`, their deployments, oldest first, with stage and last line number;
    /// `foreign`, the ids other sources own. Every instance that can expire (not UNKNOWN,
    /// STOPPED or COMPLETED) starts its time-to-live now (when it last reported before the
    /// restart is not kept).
    pub fn restore(
        envs: Vec<Environment>,
        deployments: Vec<StoredDeployment>,
        foreign: HashMap<String, &'static str>,
    ) -> Self {
        let now = Instant::now();
        let mut reg = Registry {
            foreign,
            ..Registry::default()
        };
        for env in envs {
            for svc in &env.services {
                for i in &svc.instances {
                    let expires = !matches!(
                        i.status,
                        RunningStatus::Unknown | RunningStatus::Stopped | RunningStatus::Completed
                    );
                    if expires {
                        let key = (env.id.clone(), svc.id.clone(), i.name.clone());
                        reg.seen.insert(key, now);
                    }
                }
            }
            reg.envs.insert(
                env.id,
                PushedEnv {
                    name: env.name,
                    services: env.services,
                    deployment: env.deployment,
                },
            );
        }
        for d in deployments {
            let key = (d.env.clone(), d.service.clone().unwrap_or_default());
            reg.by_service
                .entry(key)
                .or_default()
                .push_back(d.deployment.id.clone());
            let id = d.deployment.id.clone();
            let d = PushedDeployment::new(d.env, d.service, d.deployment, d.stage, d.log_lines + 1);
            reg.deployments.insert(id, d);
        }
        reg
    }

    /// Records a new deployment, and forgets the oldest of its service past `retain` (the
    /// store removes them in the same way).
    pub fn add_deployment(&mut self, d: PushedDeployment, retain: usize) {
        let key = (d.env.clone(), d.service.clone().unwrap_or_default());
        let ids = self.by_service.entry(key).or_default();
        ids.push_back(d.deployment.id.clone());
        while ids.len() > retain.max(1) {
            if let Some(old) = ids.pop_front() {
                self.deployments.remove(&old);
            }
        }
        self.deployments.insert(d.deployment.id.clone(), d);
    }

    /// A deployment id of the form `push-<unix ms>`, unique in this registry.
    pub fn generate_id(&mut self, now: Millis) -> String {
        let mut t = now.max(self.last_generated + 1);
        while self.deployments.contains_key(&format!("push-{t}")) {
            t += 1;
        }
        self.last_generated = t;
        format!("push-{t}")
    }

    /// Instances whose last report is older than `ttl`: taken out of the time-to-live list.
    pub fn expired(&mut self, ttl: std::time::Duration) -> Vec<InstanceKey> {
        let now = Instant::now();
        let stale: Vec<InstanceKey> = self
            .seen
            .iter()
            .filter(|(_, at)| now.duration_since(**at) >= ttl)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &stale {
            self.seen.remove(k);
        }
        stale
    }
}

/// A new service as the push API creates it. Built from its wire form, so the model's
/// optional fields take their defaults whatever fields the model grows.
pub fn new_service(id: &str, name: String, kind: ServiceKind, version: String) -> Service {
    let wire = serde_json::json!({ "id": id, "name": name, "kind": kind, "version": version });
    serde_json::from_value(wire).expect("a service's required fields make a service")
}

/// A new instance as the push API creates it, before its report is applied (built like
/// [`new_service`]).
pub fn new_instance(name: &str, status: RunningStatus, version: String) -> Instance {
    let wire = serde_json::json!({ "name": name, "status": status, "version": version });
    serde_json::from_value(wire).expect("an instance's required fields make an instance")
}

#[cfg(test)]
mod tests {
    use super::*;
    use shipwatch_model::DeploymentStatus;

    fn dep(id: &str) -> Deployment {
        Deployment {
            id: id.into(),
            status: DeploymentStatus::Queued,
            version: "v1".into(),
            previous_version: None,
            started_at: 0,
            finished_at: None,
            triggered_by: None,
            url: None,
        }
    }

    #[test]
    fn resent_lines_are_recognised_by_their_text() {
        let mut d = PushedDeployment::new("e".into(), None, dep("d"), None, 1);
        d.remember(1, "one");
        d.remember(2, "two");
        d.remember(5, "five");
        assert_eq!(d.remembered(2, "two"), Some(true));
        assert_eq!(d.remembered(2, "TWO"), Some(false));
        // A number in the gap is not remembered as any text.
        assert_eq!(d.remembered(3, "three"), None);
        for n in 6..(6 + RECENT_LINES as u64) {
            d.remember(n, "x");
        }
        assert_eq!(d.remembered(1, "one"), None, "forgotten past the window");
    }

    #[test]
    fn the_registry_forgets_what_retention_removes() {
        let mut reg = Registry::default();
        for k in 0..4 {
            let d = PushedDeployment::new(
                "e".into(),
                Some("api".into()),
                dep(&format!("d{k}")),
                None,
                1,
            );
            reg.add_deployment(d, 3);
        }
        assert!(!reg.deployments.contains_key("d0"));
        assert!(reg.deployments.contains_key("d3"));
        assert_eq!(reg.deployments.len(), 3);
    }

    #[test]
    fn new_services_and_instances_take_the_defaults() {
        let s = new_service("api", "API".into(), ServiceKind::Database, "v2".into());
        assert_eq!(
            (s.id.as_str(), s.kind, s.version.as_str()),
            ("api", ServiceKind::Database, "v2")
        );
        assert!(s.instances.is_empty() && s.deployment.is_none());
        let i = new_instance("api-1", RunningStatus::Running, "v2".into());
        assert_eq!(
            (i.name.as_str(), i.status, i.restarts),
            ("api-1", RunningStatus::Running, 0)
        );
    }

    #[test]
    fn generated_ids_are_unique() {
        let mut reg = Registry::default();
        let a = reg.generate_id(1000);
        let b = reg.generate_id(1000);
        assert_eq!(a, "push-1000");
        assert_eq!(b, "push-1001");
    }
}
