//! The push API's operations as plain Rust methods: the HTTP handlers and the webhooks call
//! them. Each checks everything before it applies anything, publishes what happened as
//! platform events through the core's [`Sink`], and returns once the store has committed them
//! (the acknowledgement). The push API is a [`Source`]: its own task marks instances that
//! stopped reporting UNKNOWN.

pub use super::messages::{
    Appended, DeploymentView, EnvironmentUpsert, InstanceReport, NewDeployment, ServiceUpsert,
    Upserted,
};

use super::error::PushError;
use super::lines::{self, PushedLine};
use super::registry::{new_instance, new_service, PushedDeployment, Registry};
use super::validate::{self, MAX_LONG_TEXT_BYTES, MAX_SHORT_TEXT_BYTES};
use crate::app::wall_millis;
use crate::platform::{PlatformEvent, Sink, Source};
use crate::store::{Ack, Store};
use serde::Serialize;
use shipwatch_model::protocol::cut_line_text;
use shipwatch_model::{
    Deployment, DeploymentStatus, Environment, Instance, LogLevel, LogLine, RunningStatus, Service,
    ServiceKind,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// The source name environments are marked with in the store.
pub const SOURCE_NAME: &str = "push";

/// Deployment ids of this form are the simulator's: a client may not choose one.
const SIMULATOR_ID_PREFIX: &str = "dep-";
/// Deployment ids the push API generates start with this: a client may not choose one.
const GENERATED_ID_PREFIX: &str = "push-";

/// How the push API is set up.
#[derive(Clone, Debug)]
pub struct PushConfig {
    /// An instance not reported for this long becomes UNKNOWN.
    pub instance_ttl: Duration,
    /// Deployments kept per service (the store's retention), so the registry forgets the
    /// ones the store removes.
    pub retain_deployments: usize,
}

/// The push API's operations.
pub struct PushCore {
    sink: Arc<dyn Sink>,
    store: Option<Store>,
    cfg: PushConfig,
    /// What was pushed. Events are published while it is held, so the core sees them in the
    /// order the registry applied them.
    reg: Mutex<Registry>,
    /// This server's part among replicas, once known: a follower's registry is not kept
    /// current, so it expires nothing (the leader does, and the follower mirrors it).
    role: std::sync::OnceLock<watch::Receiver<crate::replica::Role>>,
}

impl PushCore {
    /// The push API over `registry` (restored from the store, or empty), publishing into
    /// `sink` and marking new environments as its own in `store`.
    pub fn new(
        sink: Arc<dyn Sink>,
        store: Option<Store>,
        cfg: PushConfig,
        registry: Registry,
    ) -> Self {
        Self {
            sink,
            store,
            cfg,
            reg: Mutex::new(registry),
            role: std::sync::OnceLock::new(),
        }
    }

    /// Follows this server's part among replicas: instances expire only where writes are.
    pub fn follow_role(&self, role: watch::Receiver<crate::replica::Role>) {
        let _ = self.role.set(role);
    }

    fn writes(&self) -> bool {
        self.role.get().is_none_or(|r| r.borrow().writes())
    }

    /// Replaces what the push API knows with `registry` (a follower that took over reads it
    /// from the store as it is now).
    pub fn restore(&self, registry: Registry) {
        *self.reg() = registry;
    }

    fn reg(&self) -> MutexGuard<'_, Registry> {
        self.reg.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An ack for a call that changed nothing: it resolves once everything published before
    /// is committed, so a retry answered "already done" is acknowledged like the first call
    /// (whose own answer may have been a 503 while the store could not write).
    fn settled(&self) -> Ack {
        self.sink.publish(Vec::new())
    }

    /// Refuses a write at once, before anything is applied, while the store's queue is full
    /// (writes have been failing): a 503 saying so.
    fn room(&self) -> Result<(), PushError> {
        self.sink.room().map_err(PushError::queue_full)
    }

    /// Publishes `event` when the call changed something, else answers [`Self::settled`].
    fn publish_if(&self, changed: bool, event: impl FnOnce() -> PlatformEvent) -> Ack {
        if changed {
            self.sink.publish(vec![event()])
        } else {
            self.settled()
        }
    }

    /// Whether `env` is a pushed environment.
    pub fn owns(&self, env: &str) -> bool {
        self.reg().envs.contains_key(env)
    }

    /// The reason an instance that stopped reporting is UNKNOWN: "no report for 60 s".
    pub fn ttl_reason(&self) -> String {
        format!(
            "no report for {}",
            super::ttl::for_people(self.cfg.instance_ttl)
        )
    }

    /// Creates or renames an environment.
    pub async fn upsert_environment(
        &self,
        env: &str,
        req: EnvironmentUpsert,
    ) -> Result<Upserted<Environment>, PushError> {
        self.room()?;
        validate::id("environment", env)?;
        if let Some(name) = &req.name {
            validate::non_empty_text("name", name, MAX_SHORT_TEXT_BYTES)?;
        }
        let known = {
            let reg = self.reg();
            check_not_foreign(&reg, env)?;
            reg.envs.contains_key(env)
        };
        if !known {
            // Marked before it exists, so that after a crash the store never holds a pushed
            // environment the simulator would take for its own.
            if let Some(store) = &self.store {
                store
                    .mark_environment_source(env, SOURCE_NAME)
                    .await
                    .map_err(PushError::not_stored)?;
            }
        }
        let (ack, value, created) = {
            let mut reg = self.reg();
            check_not_foreign(&reg, env)?;
            let created = !reg.envs.contains_key(env);
            let e = reg
                .envs
                .entry(env.to_string())
                .or_insert_with(|| super::registry::PushedEnv {
                    name: String::new(),
                    services: Vec::new(),
                    deployment: None,
                });
            let name = req.name.clone().unwrap_or_else(|| {
                if created {
                    env.to_string()
                } else {
                    e.name.clone()
                }
            });
            let changed = created || e.name != name;
            e.name.clone_from(&name);
            let ack = self.publish_if(changed, || PlatformEvent::EnvironmentChanged {
                id: env.to_string(),
                name,
            });
            (ack, e.model(env), created)
        };
        committed(ack).await?;
        Ok(Upserted { value, created })
    }

    /// Creates or changes a service of a pushed environment.
    pub async fn upsert_service(
        &self,
        env: &str,
        svc: &str,
        req: ServiceUpsert,
    ) -> Result<Upserted<Service>, PushError> {
        self.room()?;
        validate::id("environment", env)?;
        validate::id("service", svc)?;
        if let Some(name) = &req.name {
            validate::non_empty_text("name", name, MAX_SHORT_TEXT_BYTES)?;
        }
        if req.kind == Some(ServiceKind::Unknown) {
            return Err(PushError::bad("kind", kinds_sentence("kind")));
        }
        if let Some(v) = &req.version {
            validate::text("version", v, MAX_SHORT_TEXT_BYTES)?;
        }
        let (ack, value, created) = {
            let mut reg = self.reg();
            let e = pushed_env(&mut reg, env)?;
            let created = e.service_mut(svc).is_none();
            if created {
                e.services.push(new_service(
                    svc,
                    req.name.clone().unwrap_or_else(|| svc.to_string()),
                    req.kind.unwrap_or(ServiceKind::Application),
                    req.version.clone().unwrap_or_default(),
                ));
            }
            let s = e.service_mut(svc).expect("present");
            let before = s.clone();
            if let Some(name) = req.name {
                s.name = name;
            }
            if let Some(kind) = req.kind {
                s.kind = kind;
            }
            if let Some(version) = req.version {
                s.version = version;
            }
            let s = s.clone();
            let ack = self.publish_if(created || s != before, || PlatformEvent::ServiceChanged {
                env: env.to_string(),
                service: s.clone(),
            });
            (ack, s, created)
        };
        committed(ack).await?;
        Ok(Upserted { value, created })
    }

    /// Reports an instance's state; unless STOPPED or COMPLETED, it must be reported again
    /// within `--instance-ttl` or it becomes UNKNOWN.
    pub async fn report_instance(
        &self,
        env: &str,
        svc: &str,
        name: &str,
        req: InstanceReport,
    ) -> Result<Upserted<Instance>, PushError> {
        self.room()?;
        validate::id("environment", env)?;
        validate::id("service", svc)?;
        validate::id("instance", name)?;
        if !INSTANCE_STATUSES.contains(&req.status) {
            return Err(PushError::bad("status", instance_statuses_sentence()));
        }
        for (field, v, max) in [
            ("reason", &req.reason, MAX_SHORT_TEXT_BYTES),
            ("message", &req.message, MAX_LONG_TEXT_BYTES),
            ("version", &req.version, MAX_SHORT_TEXT_BYTES),
        ] {
            if let Some(v) = v {
                validate::text(field, v, max)?;
            }
        }
        let (ack, value, created) = {
            let mut reg = self.reg();
            let e = pushed_env(&mut reg, env)?;
            let s = e.service_mut(svc).ok_or_else(|| no_service(env, svc))?;
            let created = !s.instances.iter().any(|i| i.name == name);
            if created {
                let version = req.version.clone().unwrap_or_else(|| s.version.clone());
                s.instances.push(new_instance(name, req.status, version));
            }
            let i = s
                .instances
                .iter_mut()
                .find(|i| i.name == name)
                .expect("present");
            let before = i.clone();
            i.status = req.status;
            i.reason = req.reason;
            i.message = req.message;
            if let Some(r) = req.restarts {
                i.restarts = r;
            }
            if let Some(v) = req.version {
                i.version = v;
            }
            if req.started_at.is_some() {
                i.started_at = req.started_at;
            }
            let i = i.clone();
            let key = (env.to_string(), svc.to_string(), name.to_string());
            // A stopped instance or a finished job has nothing left to report: only the
            // states of something running expire.
            if matches!(i.status, RunningStatus::Stopped | RunningStatus::Completed) {
                reg.seen.remove(&key);
            } else {
                reg.seen.insert(key, std::time::Instant::now());
            }
            let changed = created || i != before || req.exit_code.is_some();
            let ack = self.publish_if(changed, || PlatformEvent::InstanceChanged {
                env: env.to_string(),
                service: svc.to_string(),
                instance: i.clone(),
                exit_code: req.exit_code,
            });
            (ack, i, created)
        };
        committed(ack).await?;
        Ok(Upserted { value, created })
    }

    /// Queues a deployment. `reporter`: the name of the write token used, its `triggered_by`
    /// unless the request names one. With a client-chosen id, the same request again answers
    /// the deployment as it is now (`created: false`); another request with that id is a 409.
    pub async fn create_deployment(
        &self,
        reporter: &str,
        req: NewDeployment,
    ) -> Result<Upserted<DeploymentView>, PushError> {
        self.create_deployment_as(reporter, req, None).await
    }

    /// Picks the id of a deployment created without one, as [`Self::create_deployment`]
    /// would: the leader picks it before it runs a forwarded creation and keeps it with the
    /// request, so running that request again finds the deployment instead of making another
    /// (`replica/inbox.rs`).
    pub fn pick_id(&self) -> String {
        self.reg().generate_id(wall_millis())
    }

    /// [`Self::create_deployment`], under `picked` (from [`Self::pick_id`]) when the request
    /// names no id.
    pub async fn create_deployment_as(
        &self,
        reporter: &str,
        mut req: NewDeployment,
        picked: Option<String>,
    ) -> Result<Upserted<DeploymentView>, PushError> {
        self.room()?;
        let picked = picked.filter(|_| req.id.is_none());
        if let Some(id) = &req.id {
            validate::id("id", id)?;
            for prefix in [SIMULATOR_ID_PREFIX, GENERATED_ID_PREFIX] {
                if id.starts_with(prefix) {
                    return Err(PushError::bad(
                        "id",
                        format!(
                            "ids beginning `{prefix}` are the server's own: choose another, or \
                             leave `id` out and the server picks one"
                        ),
                    ));
                }
            }
        }
        validate::id("environment", &req.environment)?;
        if let Some(svc) = &req.service {
            validate::id("service", svc)?;
        }
        validate::non_empty_text("version", &req.version, MAX_SHORT_TEXT_BYTES)?;
        if let Some(v) = &req.previous_version {
            validate::text("previous_version", v, MAX_SHORT_TEXT_BYTES)?;
        }
        if let Some(v) = &req.triggered_by {
            validate::non_empty_text("triggered_by", v, MAX_SHORT_TEXT_BYTES)?;
        }
        if let Some(v) = &req.url {
            validate::url("url", v)?;
        }
        // A picked id is looked up like a chosen one: a second run answers what the first
        // created. It is the server's own, so it is not held to the rules of chosen ids.
        let generated = picked.is_some();
        if generated {
            req.id = picked;
        }
        let (ack, answer) = 'apply: {
            let mut reg = self.reg();
            if let Some(d) = req.id.as_ref().and_then(|id| reg.deployments.get(id)) {
                match same_request(d, &req) {
                    Ok(()) => {
                        // Under a picked id it is this very request's deployment, created by
                        // a run whose answer was lost: answered as that run would have been.
                        let again = Upserted {
                            value: view(d),
                            created: generated,
                        };
                        break 'apply (self.settled(), again);
                    }
                    Err(field) => {
                        return Err(PushError::conflict(
                            "id",
                            format!(
                                "deployment `{}` exists with another `{field}`: a retried request \
                             must be the same, a new deployment needs a new id",
                                d.deployment.id
                            ),
                        ))
                    }
                }
            }
            let now = wall_millis();
            let id = match &req.id {
                Some(id) => id.clone(),
                None => reg.generate_id(now),
            };
            let e = pushed_env(&mut reg, &req.environment)?;
            let previous = match &req.service {
                Some(svc) => {
                    let s = e
                        .service_mut(svc)
                        .ok_or_else(|| no_service(&req.environment, svc))?;
                    Some(s.version.clone()).filter(|v| !v.is_empty() && *v != req.version)
                }
                None => None,
            };
            let deployment = Deployment {
                id: id.clone(),
                status: DeploymentStatus::Queued,
                version: req.version.clone(),
                previous_version: req.previous_version.clone().or(previous),
                started_at: now,
                finished_at: None,
                triggered_by: Some(req.triggered_by.clone().unwrap_or_else(|| reporter.into())),
                url: req.url.clone(),
            };
            let mut events = vec![PlatformEvent::DeploymentQueued {
                env: req.environment.clone(),
                service: req.service.clone(),
                deployment: deployment.clone(),
            }];
            match &req.service {
                Some(svc) => {
                    let s = e.service_mut(svc).expect("checked above");
                    s.deployment = Some(deployment.clone());
                    events.push(PlatformEvent::ServiceChanged {
                        env: req.environment.clone(),
                        service: s.clone(),
                    });
                }
                None => e.deployment = Some(deployment.clone()),
            }
            let d = PushedDeployment::new(
                req.environment.clone(),
                req.service.clone(),
                deployment,
                None,
                1,
            );
            let created = Upserted {
                value: view(&d),
                created: true,
            };
            reg.add_deployment(d, self.cfg.retain_deployments);
            (self.sink.publish(events), created)
        };
        committed(ack).await?;
        Ok(answer)
    }

    /// Where a pushed deployment stands.
    pub fn deployment(&self, id: &str) -> Result<DeploymentView, PushError> {
        let reg = self.reg();
        reg.deployments
            .get(id)
            .map(view)
            .ok_or_else(|| no_deployment(id))
    }

    /// Moves a deployment to `status` (and to `stage`, if given, first). The same status
    /// again changes nothing; a move the lifecycle does not allow is a 409 naming it.
    pub async fn set_status(
        &self,
        id: &str,
        status: DeploymentStatus,
        stage: Option<String>,
    ) -> Result<DeploymentView, PushError> {
        self.room()?;
        if status == DeploymentStatus::Unknown {
            return Err(PushError::bad("status", deployment_statuses_sentence()));
        }
        if let Some(stage) = &stage {
            validate::non_empty_text("stage", stage, lines::MAX_STAGE_BYTES)?;
        }
        let (ack, v) = 'apply: {
            let mut reg = self.reg();
            let d = reg
                .deployments
                .get_mut(id)
                .ok_or_else(|| no_deployment(id))?;
            let from = d.deployment.status;
            if from == status {
                break 'apply (self.settled(), view(d));
            }
            if !from.can_move(status) {
                return Err(PushError::conflict(
                    "status",
                    format!(
                        "{} -> {} is not a transition a deployment can make",
                        wire(&from),
                        wire(&status)
                    ),
                ));
            }
            let now = wall_millis();
            let mut events = Vec::new();
            if let Some(stage) = stage.filter(|s| d.stage.as_ref() != Some(s)) {
                d.stage = Some(stage.clone());
                events.push(PlatformEvent::DeploymentStage {
                    deployment: id.to_string(),
                    stage,
                    at: now,
                });
            }
            d.deployment.status = status;
            if status.has_ended() {
                d.deployment.finished_at = Some(now);
                // Lines after the end are rare: what the registry remembers of them can go.
                d.recent = Default::default();
            }
            let deployment = d.deployment.clone();
            let (env, service) = (d.env.clone(), d.service.clone());
            let v = view(d);
            events.push(PlatformEvent::DeploymentStatus {
                deployment: deployment.clone(),
            });
            if let Some(e) = reg.envs.get_mut(&env) {
                match &service {
                    Some(svc) => {
                        if let Some(s) = e.service_mut(svc) {
                            // A newer deployment of the service keeps its place on the label.
                            if s.deployment.as_ref().is_none_or(|x| x.id == deployment.id) {
                                s.deployment = Some(deployment.clone());
                                if status == DeploymentStatus::DeploymentOk {
                                    s.version.clone_from(&deployment.version);
                                }
                                events.push(PlatformEvent::ServiceChanged {
                                    env: env.clone(),
                                    service: s.clone(),
                                });
                            }
                        }
                    }
                    None => {
                        if e.deployment.as_ref().is_none_or(|x| x.id == deployment.id) {
                            e.deployment = Some(deployment);
                        }
                    }
                }
            }
            (self.sink.publish(events), v)
        };
        committed(ack).await?;
        Ok(v)
    }

    /// Moves a deployment in progress to another stage (`build`, `deploy`, ...): lines pushed
    /// without a stage of their own are this stage's.
    pub async fn set_stage(&self, id: &str, stage: String) -> Result<DeploymentView, PushError> {
        self.room()?;
        validate::non_empty_text("stage", &stage, lines::MAX_STAGE_BYTES)?;
        let (ack, v) = 'apply: {
            let mut reg = self.reg();
            let d = reg
                .deployments
                .get_mut(id)
                .ok_or_else(|| no_deployment(id))?;
            if d.stage.as_ref() == Some(&stage) {
                break 'apply (self.settled(), view(d));
            }
            if d.deployment.status.has_ended() {
                return Err(PushError::conflict(
                    "stage",
                    format!(
                        "deployment `{id}` has ended ({}): its stage no longer changes",
                        wire(&d.deployment.status)
                    ),
                ));
            }
            d.stage = Some(stage.clone());
            let ack = self.sink.publish(vec![PlatformEvent::DeploymentStage {
                deployment: id.to_string(),
                stage,
                at: wall_millis(),
            }]);
            (ack, view(d))
        };
        committed(ack).await?;
        Ok(v)
    }

    /// Appends a batch of lines numbered by their sender, all or nothing: lines already
    /// stored with the same text are skipped, one stored with another text (or in a gap the
    /// log recorded) refuses the batch with a 409 naming it, and numbers past the next one
    /// leave a gap.
    pub async fn append_lines(
        &self,
        id: &str,
        batch: Vec<PushedLine>,
    ) -> Result<Appended, PushError> {
        self.room()?;
        let gate = {
            let reg = self.reg();
            let d = reg.deployments.get(id).ok_or_else(|| no_deployment(id))?;
            d.append.clone()
        };
        // One batch of a deployment at a time, from its check to its commit: the next one
        // is checked against a log that holds this one.
        let _turn = gate.lock().await;
        // Texts as the core keeps them (cut where lines enter), to compare with stored ones.
        let batch: Vec<PushedLine> = batch
            .into_iter()
            .map(|mut l| {
                cut_line_text(&mut l.text);
                l
            })
            .collect();
        let (plan, unverified) = {
            let reg = self.reg();
            let d = reg.deployments.get(id).ok_or_else(|| no_deployment(id))?;
            let plan = lines::plan(d.next_line, &batch)?;
            let mut unverified = Vec::new();
            for &i in &plan.resent {
                match d.remembered(batch[i].n, &batch[i].text) {
                    Some(true) => {}
                    Some(false) => return Err(conflicting_line(i, batch[i].n)),
                    None => unverified.push(i),
                }
            }
            (plan, unverified)
        };
        self.check_stored(id, &batch, &unverified).await?;
        let ack = {
            let mut reg = self.reg();
            let d = reg
                .deployments
                .get_mut(id)
                .ok_or_else(|| no_deployment(id))?;
            let now = wall_millis();
            let stage = d.stage.clone().unwrap_or_default();
            let in_progress = !d.deployment.status.has_ended();
            let new: Vec<LogLine> = plan
                .fresh
                .iter()
                .map(|&i| {
                    let l = &batch[i];
                    LogLine {
                        n: l.n,
                        ts: l.ts.unwrap_or(now),
                        stage: l.stage.clone().unwrap_or_else(|| stage.clone()),
                        level: l.level.unwrap_or(LogLevel::Info),
                        text: l.text.clone(),
                        hint: None,
                    }
                })
                .collect();
            // Lines fill the store's queue: they are queued whole and only if they fit in its
            // bound, before the registry takes them, so a refused batch is not applied.
            let ack = if new.is_empty() {
                self.settled()
            } else {
                self.sink
                    .try_publish(vec![PlatformEvent::LogAppended {
                        deployment: id.to_string(),
                        lines: new,
                    }])
                    .map_err(PushError::not_queued)?
            };
            if in_progress {
                for &i in &plan.fresh {
                    d.remember(batch[i].n, &batch[i].text);
                }
            }
            d.next_line = plan.next_line;
            ack
        };
        committed(ack).await?;
        Ok(Appended {
            accepted: plan.fresh.len(),
            skipped: plan.resent.len(),
            gaps: plan.gaps,
            next_line: plan.next_line,
        })
    }

    /// Checks resent lines the registry does not remember against the store: each must be
    /// stored with the same text. Without a store (ephemeral), they cannot be checked and
    /// count as resent.
    async fn check_stored(
        &self,
        id: &str,
        batch: &[PushedLine],
        indexes: &[usize],
    ) -> Result<(), PushError> {
        let (Some(store), Some(&first)) = (&self.store, indexes.first()) else {
            return Ok(());
        };
        // Every line published so far committed first.
        store.flush().await.map_err(PushError::not_stored)?;
        let from = batch[first].n;
        let to = batch[*indexes.last().expect("not empty")].n;
        let span = u32::try_from(to - from + 1).unwrap_or(u32::MAX);
        let stored = store
            .log_lines(id, from - 1, span)
            .await
            .map_err(PushError::not_stored)?;
        for &i in indexes {
            let l = &batch[i];
            match stored.binary_search_by_key(&l.n, |s| s.n) {
                Ok(k) if stored[k].text == l.text => {}
                Ok(_) => return Err(conflicting_line(i, l.n)),
                Err(_) => {
                    let path = format!("lines[{i}].n");
                    return Err(PushError::conflict(
                        &path,
                        format!(
                            "line {} was never received and the log records it as a gap: \
                             lines after it are stored",
                            l.n
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Marks every instance past its time-to-live UNKNOWN ("no report for 60 s").
    pub fn expire_instances(&self) -> Ack {
        let reason = self.ttl_reason();
        let mut reg = self.reg();
        let mut events = Vec::new();
        for (env, svc, name) in reg.expired(self.cfg.instance_ttl) {
            let Some(s) = reg.envs.get_mut(&env).and_then(|e| e.service_mut(&svc)) else {
                continue;
            };
            let Some(i) = s.instances.iter_mut().find(|i| i.name == name) else {
                continue;
            };
            i.status = RunningStatus::Unknown;
            i.reason = Some(reason.clone());
            i.message = None;
            events.push(PlatformEvent::InstanceChanged {
                env,
                service: svc,
                instance: i.clone(),
                exit_code: None,
            });
        }
        if events.is_empty() {
            Ack::none()
        } else {
            self.sink.publish(events)
        }
    }
}

impl Source for PushCore {
    fn name(&self) -> &'static str {
        "push API"
    }

    /// Pushes arrive through the API; the task only marks silent instances UNKNOWN.
    fn run(
        self: Arc<Self>,
        _sink: Arc<dyn Sink>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            let period = super::ttl::check_period(self.cfg.instance_ttl);
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.changed() => break,
                    _ = tick.tick() => {}
                }
                if *shutdown.borrow() {
                    break;
                }
                if self.writes() {
                    drop(self.expire_instances());
                }
            }
        })
    }
}

/// The statuses an instance can be reported in (WARNING is a service's, UNKNOWN the server's).
const INSTANCE_STATUSES: [RunningStatus; 6] = [
    RunningStatus::Running,
    RunningStatus::Error,
    RunningStatus::Starting,
    RunningStatus::Stopping,
    RunningStatus::Stopped,
    RunningStatus::Completed,
];

/// A status or kind as the wire spells it.
pub fn wire<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// What an unknown instance status is told.
pub fn instance_statuses_sentence() -> String {
    let words: Vec<String> = INSTANCE_STATUSES.iter().map(wire).collect();
    format!("`status` must be one of {}", words.join(", "))
}

/// What an unknown deployment status is told.
pub fn deployment_statuses_sentence() -> String {
    let words: Vec<String> = DeploymentStatus::ALL.iter().map(wire).collect();
    format!("`status` must be one of {}", words.join(", "))
}

/// What an unknown kind is told.
pub fn kinds_sentence(field: &str) -> String {
    let words: Vec<String> = ServiceKind::ALL.iter().map(wire).collect();
    format!("`{field}` must be one of {}", words.join(", "))
}

fn check_not_foreign(reg: &Registry, env: &str) -> Result<(), PushError> {
    match reg.foreign.get(env) {
        Some(owner) => Err(PushError::conflict(
            "environment",
            format!(
                "environment `{env}` belongs to the {owner}: the push API cannot change it; \
                 push to another environment id"
            ),
        )),
        None => Ok(()),
    }
}

fn pushed_env<'a>(
    reg: &'a mut Registry,
    env: &str,
) -> Result<&'a mut super::registry::PushedEnv, PushError> {
    check_not_foreign(reg, env)?;
    reg.envs.get_mut(env).ok_or_else(|| {
        PushError::not_found(
            "environment",
            format!("no environment `{env}`: create it first with PUT /api/v1/environments/{env}"),
        )
    })
}

fn no_service(env: &str, svc: &str) -> PushError {
    PushError::not_found(
        "service",
        format!(
            "environment `{env}` has no service `{svc}`: create it first with \
             PUT /api/v1/environments/{env}/services/{svc}"
        ),
    )
}

fn no_deployment(id: &str) -> PushError {
    let shown: String = id.chars().take(100).collect();
    PushError::not_found(
        "id",
        format!("no deployment `{shown}` was pushed to this server (or retention removed it)"),
    )
}

fn conflicting_line(index: usize, n: u64) -> PushError {
    let path = format!("lines[{index}].n");
    PushError::conflict(
        &path,
        format!("line {n} is already stored with another text"),
    )
}

fn view(d: &PushedDeployment) -> DeploymentView {
    DeploymentView {
        deployment: d.deployment.clone(),
        environment: d.env.clone(),
        service: d.service.clone(),
        stage: d.stage.clone(),
        next_line: d.next_line,
    }
}

/// Whether a creation request is the one that created `d` (a retry): the field that differs.
fn same_request(d: &PushedDeployment, req: &NewDeployment) -> Result<(), &'static str> {
    let dep = &d.deployment;
    if d.env != req.environment {
        return Err("environment");
    }
    if d.service != req.service {
        return Err("service");
    }
    if dep.version != req.version {
        return Err("version");
    }
    // Fields the request left to their defaults match whatever they became.
    if req.previous_version.is_some() && dep.previous_version != req.previous_version {
        return Err("previous_version");
    }
    if req.triggered_by.is_some() && dep.triggered_by != req.triggered_by {
        return Err("triggered_by");
    }
    if dep.url != req.url {
        return Err("url");
    }
    Ok(())
}

/// Waits for the store to commit: the acknowledgement.
async fn committed(ack: Ack) -> Result<(), PushError> {
    ack.committed().await.map_err(PushError::not_stored)
}
