//! The simulator: a pure, deterministic engine that plays a platform's life (deployments,
//! rolling updates, crashes, jobs) in simulated time and reports every change as a
//! [`SimEvent`]. It has no clock and no I/O: the caller passes the time in, so tests run a
//! whole story without sleeping and the same seed always gives the same events.

pub mod instance_life;
pub mod logs;
pub mod rng;
pub mod rollout;
pub mod scenario;
pub mod source;
pub mod world;

use rng::Rng;
use rollout::{Ctx, Task, TaskKind};
pub use scenario::{Scenario, Scripted};
use serde::Deserialize;
use shipwatch_model::entities::Millis;
use shipwatch_model::{Deployment, Environment, LogLine, RunningStatus, Service, ServiceKind};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// How a deployment will end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Builds, rolls out, DEPLOYMENT OK.
    Ok,
    /// The build fails: BUILDING ERROR, the old version keeps running.
    BuildError,
    /// The new version crash-loops: the rollout stalls, DEPLOYMENT ERROR.
    CrashLoop,
    /// The new version never becomes ready: the deployment holds in DEPLOYING (until
    /// cancelled or replaced), so it shows as stuck once past its threshold.
    Stall,
}

/// Something a user (or a script) asks of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Deploy a new version.
    Deploy(Outcome),
    /// Stop every instance.
    Stop,
    /// Restart every instance (or run a job now).
    Restart,
    /// Cancel the deployment while it is queued or building.
    Cancel,
}

/// Why an action was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActError {
    /// No such environment.
    UnknownEnvironment,
    /// No such service in that environment.
    UnknownService,
    /// The service is busy with something else.
    Busy(String),
    /// Nothing to cancel, or too late to cancel.
    NotCancellable(String),
}

impl std::fmt::Display for ActError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownEnvironment => f.write_str("no such environment"),
            Self::UnknownService => f.write_str("no such service"),
            Self::Busy(m) | Self::NotCancellable(m) => f.write_str(m),
        }
    }
}

/// One change the simulator made, in the order it made them.
#[derive(Clone, Debug, PartialEq)]
pub enum SimEvent {
    /// A service changed; sent whole.
    Service {
        /// Environment id.
        env: String,
        /// The service as it is now.
        service: Service,
    },
    /// A deployment was created; its log begins (emitted before the service refers to it).
    DeploymentCreated {
        /// Environment id.
        env: String,
        /// Service id, none for an environment deployment.
        service: Option<String>,
        /// The deployment as created.
        deployment: Deployment,
    },
    /// A deployment's status changed.
    DeploymentStatus {
        /// The deployment as it is now.
        deployment: Deployment,
    },
    /// Lines were appended to a deployment's log.
    Log {
        /// Deployment id.
        deployment: String,
        /// The lines, numbered on from the previous ones.
        lines: Vec<LogLine>,
    },
}

/// The simulator's knobs.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Number of environments.
    pub environments: u32,
    /// Services per environment.
    pub services: u32,
    /// Instances of each application.
    pub instances: u32,
    /// Log lines per deployment.
    pub log_lines: u64,
    /// Seed of all randomness.
    pub seed: u64,
    /// A scripted story instead of random events.
    pub scenario: Option<Scenario>,
    /// Simulated time at creation.
    pub start: Millis,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            environments: 3,
            services: 8,
            instances: 3,
            log_lines: 400,
            seed: 1,
            scenario: None,
            start: 1_700_000_000_000,
        }
    }
}

/// Total log lines the initial (already finished) deployments may hold together, so that a
/// large platform with long logs still starts quickly and in bounded memory. One deployment
/// may use all of it: the benchmark's 1,000,000-line log is one service's
/// (`--services 1 --log-lines 1000000`).
pub const BOOTSTRAP_LINE_BUDGET: u64 = 1_000_000;

/// The `triggered_by` of the deployments the simulator starts by itself (its world's last
/// deployments, its random and scenario rollouts), so the page says who started each one.
pub const SIMULATOR_TRIGGER: &str = "simulator";

/// Lines of each initial deployment's log: `--log-lines`, shared out within
/// [`BOOTSTRAP_LINE_BUDGET`] among `deployments`, and at least 8.
fn bootstrap_lines_per_log(log_lines: u64, deployments: u64) -> u64 {
    log_lines
        .min(BOOTSTRAP_LINE_BUDGET / deployments.max(1))
        .max(8)
}

/// The engine.
pub struct Simulator {
    cfg: SimConfig,
    rng: Rng,
    envs: Vec<Environment>,
    tasks: Vec<Vec<Option<Task>>>,
    next_deployment: u64,
    script: VecDeque<Scripted>,
    /// Crashed instances coming back, by (due time, crash number): a heap-like order, so that
    /// thousands of pending recoveries cost a lookup, not a scan, per step. They do not keep
    /// the service busy, so other events can still happen to it.
    recoveries: BTreeMap<RecoveryKey, Crashed>,
    /// The pending recovery of each crashed instance, so that a random event can bring it back
    /// early; a due entry whose key is no longer here was superseded and does nothing.
    pending: HashMap<Crashed, RecoveryKey>,
    /// Crashes so far: orders recoveries due at the same millisecond.
    crashes: u64,
    bootstrap: Vec<SimEvent>,
}

impl Simulator {
    /// A platform where everything runs, with the scenario's script (or a lively opening).
    pub fn new(cfg: SimConfig) -> Self {
        let mut rng = Rng::new(cfg.seed);
        let mut next_deployment = 0;
        let envs = world::build(
            &mut rng,
            cfg.environments,
            cfg.services,
            cfg.instances,
            cfg.start,
            &mut next_deployment,
        );
        let opening = scenario::opening(cfg.start);
        let mut sim = Self::on(cfg, rng, envs, next_deployment, opening);
        sim.bootstrap = sim.initial_logs();
        sim
    }

    /// A simulator of `envs` with nothing in progress; its script is the scenario's, else
    /// `unscripted`.
    fn on(
        cfg: SimConfig,
        rng: Rng,
        envs: Vec<Environment>,
        next_deployment: u64,
        unscripted: Vec<Scripted>,
    ) -> Self {
        let tasks = envs.iter().map(|e| vec![None; e.services.len()]).collect();
        let mut script: Vec<Scripted> = match cfg.scenario {
            Some(s) => s.script(cfg.start),
            None => unscripted,
        };
        script.sort_by_key(|s| s.at);
        Self {
            cfg,
            rng,
            envs,
            tasks,
            next_deployment,
            script: script.into(),
            recoveries: BTreeMap::new(),
            pending: HashMap::new(),
            crashes: 0,
            bootstrap: Vec::new(),
        }
    }

    /// A simulator that goes on from a platform a previous run left (loaded from the store)
    /// instead of building a new world, and the events that settle what that run left in
    /// flight: its deployments in progress end CANCELLED with a line saying why (their steps
    /// were in that run's memory), instances starting or stopping finish doing so, and crashed
    /// instances come back a few seconds later, as they would have. `in_flight`: each
    /// deployment in progress, with its last line number; `next_deployment`: the highest
    /// deployment number used so far.
    pub fn resume(
        cfg: SimConfig,
        envs: Vec<Environment>,
        in_flight: &[(Deployment, u64)],
        next_deployment: u64,
    ) -> (Self, Vec<SimEvent>) {
        let now = cfg.start;
        // Another stream than the first run's, so a resumed run does not replay it.
        let rng = Rng::new(cfg.seed ^ next_deployment.rotate_left(32));
        let mut sim = Self::on(cfg, rng, envs, next_deployment, Vec::new());
        let mut out = Vec::new();
        for (dep, lines) in in_flight {
            let ended = Deployment {
                status: shipwatch_model::DeploymentStatus::Cancelled,
                finished_at: Some(now),
                triggered_by: None,
                url: None,
                ..dep.clone()
            };
            let mut w = logs::LogWriter::starting_at(lines + 1);
            out.push(SimEvent::Log {
                deployment: dep.id.clone(),
                lines: vec![w.line(
                    now,
                    "deploy",
                    shipwatch_model::LogLevel::Warning,
                    "Deployment interrupted: the server stopped while it ran, and its steps \
                     were not kept. Deploy again to retry."
                        .into(),
                )],
            });
            out.push(SimEvent::DeploymentStatus {
                deployment: ended.clone(),
            });
            for env in &mut sim.envs {
                for svc in &mut env.services {
                    if svc.deployment.as_ref().is_some_and(|d| d.id == dep.id) {
                        svc.deployment = Some(ended.clone());
                    }
                }
            }
        }
        let in_flight: Vec<&str> = in_flight.iter().map(|(d, _)| d.id.as_str()).collect();
        for e in 0..sim.envs.len() {
            for s in 0..sim.envs[e].services.len() {
                let svc = &mut sim.envs[e].services[s];
                let mut changed = svc
                    .deployment
                    .as_ref()
                    .is_some_and(|d| in_flight.contains(&d.id.as_str()));
                let mut crashed = Vec::new();
                for i in &mut svc.instances {
                    match i.status {
                        RunningStatus::Starting => i.status = RunningStatus::Running,
                        RunningStatus::Stopping => i.status = RunningStatus::Stopped,
                        RunningStatus::Error
                            if i.reason.as_deref() != Some("BackoffLimitExceeded") =>
                        {
                            crashed.push(i.name.clone());
                            continue;
                        }
                        _ => continue,
                    }
                    changed = true;
                }
                for name in crashed {
                    sim.crashes += 1;
                    let key = (now + sim.rng.range(2_000, 5_000), sim.crashes);
                    sim.recoveries.insert(key, (e, s, name.clone()));
                    sim.pending.insert((e, s, name), key);
                }
                if changed {
                    out_service(&mut out, &sim.envs[e].id, &sim.envs[e].services[s]);
                }
            }
        }
        (sim, out)
    }

    /// The environments as they are now.
    pub fn environments(&self) -> &[Environment] {
        &self.envs
    }

    /// One service, by ids.
    pub fn service(&self, env: &str, service: &str) -> Option<&Service> {
        self.envs
            .iter()
            .find(|e| e.id == env)?
            .services
            .iter()
            .find(|s| s.id == service)
    }

    /// Events describing the initial deployments and their logs; taken once, at start.
    pub fn take_bootstrap(&mut self) -> Vec<SimEvent> {
        std::mem::take(&mut self.bootstrap)
    }

    /// Whether random events are on (off in scenarios, which tell one story).
    pub fn is_random(&self) -> bool {
        self.cfg.scenario.is_none()
    }

    /// Full logs of the initial deployments, so a click on any label shows something.
    fn initial_logs(&mut self) -> Vec<SimEvent> {
        let total: u64 = self.envs.iter().map(|e| e.services.len() as u64).sum();
        let per = bootstrap_lines_per_log(self.cfg.log_lines, total);
        let mut out = Vec::new();
        for env in &self.envs {
            for svc in &env.services {
                let Some(dep) = svc.deployment.clone() else {
                    continue;
                };
                out.push(SimEvent::DeploymentCreated {
                    env: env.id.clone(),
                    service: Some(svc.id.clone()),
                    deployment: dep.clone(),
                });
                let mut w = logs::LogWriter::default();
                let t0 = dep.started_at;
                let mut lines = logs::queued(
                    &mut w,
                    t0,
                    &dep.id,
                    &svc.name,
                    &dep.version,
                    dep.previous_version.as_deref(),
                );
                lines.extend(logs::build_start(
                    &mut w,
                    t0 + 1_000,
                    &svc.name,
                    &dep.version,
                ));
                let chunk = (per * 7 / 10 / u64::from(rollout::BUILD_CHUNKS)).max(1);
                for c in 0..rollout::BUILD_CHUNKS {
                    lines.extend(logs::build_chunk(
                        &mut w,
                        &mut self.rng,
                        t0 + 2_000 + u64::from(c) * 4_000,
                        c,
                        chunk,
                    ));
                }
                let t1 = t0 + 70_000;
                lines.extend(logs::build_done(&mut w, t1, &svc.name, &dep.version));
                lines.extend(logs::deploy_start(
                    &mut w,
                    t1,
                    &svc.name,
                    svc.instances.len() as u32,
                    false,
                ));
                let rest = per.saturating_sub(w.written() + 1);
                lines.extend(logs::deploy_chatter(
                    &mut w,
                    &mut self.rng,
                    t1 + 10_000,
                    &world::slot_name(&svc.id, 1),
                    rest,
                ));
                lines.extend(logs::rollout_done(
                    &mut w,
                    dep.finished_at.unwrap_or(t1),
                    &svc.name,
                    &dep.version,
                ));
                out.push(SimEvent::Log {
                    deployment: dep.id.clone(),
                    lines,
                });
            }
        }
        out
    }

    /// Runs everything due up to `now` (script actions and service steps), each at its own
    /// due time, so the result does not depend on how often this is called.
    pub fn advance(&mut self, now: Millis) -> Vec<SimEvent> {
        let mut out = Vec::new();
        loop {
            let task_due = self.earliest_task();
            let script_due = self.script.front().map(|s| s.at);
            if let Some(key) = self.recoveries.first_key_value().map(|(k, _)| *k) {
                let at = key.0;
                let before_others =
                    script_due.is_none_or(|s| at < s) && task_due.is_none_or(|(t, _, _)| at < t);
                if at <= now && before_others {
                    if let Some(who) = self.recoveries.remove(&key) {
                        if self.pending.get(&who) == Some(&key) {
                            self.pending.remove(&who);
                            let _ = self.recover(who.0, who.1, &who.2, at, &mut out);
                        }
                    }
                    continue;
                }
            }
            match (script_due, task_due) {
                (Some(s), t) if s <= now && t.is_none_or(|(t, _, _)| s <= t) => {
                    let Some(item) = self.script.pop_front() else {
                        break;
                    };
                    if let Some((e, s)) = self.find_kind(item.env, item.kind) {
                        // A scripted action that no longer fits (busy service) is skipped.
                        let _ = self.act_at(e, s, item.action, item.at, None, &mut out);
                    }
                }
                (_, Some((t, e, s))) if t <= now => self.run_task(e, s, t, &mut out),
                _ => break,
            }
        }
        out
    }

    /// The earliest due task: (time, env index, service index); ties go to the lowest indexes.
    fn earliest_task(&self) -> Option<(Millis, usize, usize)> {
        let mut best: Option<(Millis, usize, usize)> = None;
        for (e, tasks) in self.tasks.iter().enumerate() {
            for (s, task) in tasks.iter().enumerate() {
                if let Some(t) = task {
                    if best.is_none_or(|(b, _, _)| t.next_at < b) {
                        best = Some((t.next_at, e, s));
                    }
                }
            }
        }
        best
    }

    fn run_task(&mut self, e: usize, s: usize, at: Millis, out: &mut Vec<SimEvent>) {
        let Some(task) = self.tasks[e][s].take() else {
            return;
        };
        let env = &mut self.envs[e];
        let svc = &mut env.services[s];
        let mut ctx = Ctx {
            rng: &mut self.rng,
            env: &env.id,
            out,
        };
        self.tasks[e][s] = rollout::step(task, svc, at, &mut ctx);
        out.push(SimEvent::Service {
            env: env.id.clone(),
            service: svc.clone(),
        });
    }

    fn find_kind(&self, env: usize, kind: ServiceKind) -> Option<(usize, usize)> {
        let s = self
            .envs
            .get(env)?
            .services
            .iter()
            .position(|s| s.kind == kind)?;
        Some((env, s))
    }

    /// Performs a user action on a service at simulated time `now`.
    pub fn act(
        &mut self,
        env: &str,
        service: &str,
        action: Action,
        now: Millis,
    ) -> Result<Vec<SimEvent>, ActError> {
        self.act_as(env, service, action, now, None)
    }

    /// [`Self::act`] for `actor` (who asked: a write token's name), the `triggered_by` of
    /// the deployment it starts.
    pub fn act_as(
        &mut self,
        env: &str,
        service: &str,
        action: Action,
        now: Millis,
        actor: Option<&str>,
    ) -> Result<Vec<SimEvent>, ActError> {
        let e = self
            .envs
            .iter()
            .position(|x| x.id == env)
            .ok_or(ActError::UnknownEnvironment)?;
        let s = self.envs[e]
            .services
            .iter()
            .position(|x| x.id == service)
            .ok_or(ActError::UnknownService)?;
        // Due work first, so that the action lands on the current state.
        let mut out = self.advance(now);
        self.act_at(e, s, action, now, actor, &mut out)?;
        Ok(out)
    }

    fn act_at(
        &mut self,
        e: usize,
        s: usize,
        action: Action,
        now: Millis,
        actor: Option<&str>,
        out: &mut Vec<SimEvent>,
    ) -> Result<(), ActError> {
        let busy = match &self.tasks[e][s] {
            None => None,
            Some(Task {
                kind: TaskKind::Deploy(r),
                ..
            }) => Some(format!(
                "deployment {} is {}",
                r.dep.id,
                r.dep.status.word()
            )),
            Some(Task {
                kind: TaskKind::Stop,
                ..
            }) => Some("the service is stopping".to_string()),
            Some(Task {
                kind: TaskKind::Restart,
                ..
            }) => Some("the service is restarting".to_string()),
            Some(Task {
                kind: TaskKind::Execute(_),
                ..
            }) => Some("a job execution is running".to_string()),
        };
        let env = &mut self.envs[e];
        let svc = &mut env.services[s];
        let mut ctx = Ctx {
            rng: &mut self.rng,
            env: &env.id,
            out,
        };
        let task = match action {
            Action::Cancel => match self.tasks[e][s].as_mut() {
                Some(Task {
                    kind: TaskKind::Deploy(r),
                    next_at,
                }) if r.cancellable() => {
                    *next_at = rollout::cancel(r, svc, now, &mut ctx);
                    out_service(ctx.out, &env.id, svc);
                    return Ok(());
                }
                Some(Task {
                    kind: TaskKind::Deploy(r),
                    ..
                }) => {
                    return Err(ActError::NotCancellable(format!("deployment {} is {}: only a queued or building deployment can be cancelled", r.dep.id, r.dep.status.word())));
                }
                _ => return Err(ActError::NotCancellable("no deployment in progress".into())),
            },
            _ if busy.is_some() => return Err(ActError::Busy(busy.unwrap_or_default())),
            Action::Deploy(outcome) => {
                self.next_deployment += 1;
                let id = format!("dep-{}", self.next_deployment);
                let version = ctx.rng.hex(7);
                let desired = world::desired_instances(svc.kind, self.cfg.instances);
                let order = rollout::Order {
                    id,
                    version,
                    outcome,
                    triggered_by: Some(actor.unwrap_or(SIMULATOR_TRIGGER).to_owned()),
                };
                rollout::begin(svc, order, (desired, self.cfg.log_lines), now, &mut ctx)
            }
            Action::Stop => {
                for i in svc.instances.iter_mut().filter(|i| {
                    matches!(
                        i.status,
                        RunningStatus::Running | RunningStatus::Starting | RunningStatus::Error
                    )
                }) {
                    i.status = RunningStatus::Stopping;
                }
                Task {
                    next_at: now + ctx.rng.range(1_000, 2_000),
                    kind: TaskKind::Stop,
                }
            }
            Action::Restart if svc.kind.is_job() => rollout::execute(svc, true, now, ctx.rng),
            Action::Restart => {
                for i in svc.instances.iter_mut() {
                    i.status = RunningStatus::Starting;
                    i.reason = None;
                    i.message = None;
                    i.started_at = Some(now);
                }
                Task {
                    next_at: now + ctx.rng.range(2_000, 3_500),
                    kind: TaskKind::Restart,
                }
            }
        };
        self.tasks[e][s] = Some(task);
        out_service(out, &self.envs[e].id, &self.envs[e].services[s]);
        Ok(())
    }

    /// Number of deployments in progress.
    fn deployments_in_progress(&self) -> usize {
        self.tasks
            .iter()
            .flatten()
            .filter(|t| {
                matches!(
                    t,
                    Some(Task {
                        kind: TaskKind::Deploy(_),
                        ..
                    })
                )
            })
            .count()
    }

    /// One random event at `now`: an instance crash or an early restart, a deployment, a cron
    /// run, a stop or a start. Services that are busy (deploying, stopping, running a job) are
    /// left alone: another one is picked, so that every call makes one status event as long as
    /// any service can take one, and `--rate` is the rate delivered, however busy the platform.
    pub fn random_event(&mut self, now: Millis) -> Vec<SimEvent> {
        let mut out = self.advance(now);
        let total: usize = self.envs.iter().map(|e| e.services.len()).sum();
        if total == 0 {
            return out;
        }
        for _ in 0..8 {
            let i = self.rng.below(total as u64) as usize;
            let (e, s) = self.locate(i);
            if self.tasks[e][s].is_none() && self.random_on(e, s, now, &mut out) {
                return out;
            }
        }
        // A busy platform: the next service from a random point on that can take an event.
        let from = self.rng.below(total as u64) as usize;
        for k in 0..total {
            let (e, s) = self.locate((from + k) % total);
            if self.tasks[e][s].is_none() && self.random_on(e, s, now, &mut out) {
                break;
            }
        }
        out
    }

    /// (environment, service) indexes of the `i`-th service of the platform.
    fn locate(&self, mut i: usize) -> (usize, usize) {
        for (e, env) in self.envs.iter().enumerate() {
            if i < env.services.len() {
                return (e, i);
            }
            i -= env.services.len();
        }
        (0, 0)
    }

    fn random_on(&mut self, e: usize, s: usize, now: Millis, out: &mut Vec<SimEvent>) -> bool {
        let svc = &self.envs[e].services[s];
        let kind = svc.kind;
        let all_stopped = !svc.instances.is_empty()
            && svc
                .instances
                .iter()
                .all(|i| i.status == RunningStatus::Stopped);
        let max_deploys = (self.tasks.iter().map(Vec::len).sum::<usize>() / 6).max(2);
        let roll = self.rng.below(100);
        let action = if all_stopped {
            Some(Action::Restart)
        } else if kind == ServiceKind::Cronjob && roll < 70 {
            let ok = self.rng.chance(90);
            let svc = &mut self.envs[e].services[s];
            self.tasks[e][s] = Some(rollout::execute(svc, ok, now, &mut self.rng));
            out_service(out, &self.envs[e].id, &self.envs[e].services[s]);
            return true;
        } else if roll < 35 && self.deployments_in_progress() < max_deploys {
            let r = self.rng.below(100);
            Some(Action::Deploy(if r < 70 {
                Outcome::Ok
            } else if r < 85 {
                Outcome::BuildError
            } else {
                Outcome::CrashLoop
            }))
        } else if roll < 40 && self.envs[e].id.starts_with("preview") && !kind.is_job() {
            Some(Action::Stop)
        } else if !kind.is_job() {
            return self.crash_or_restart(e, s, now, out);
        } else {
            None
        };
        match action {
            Some(a) => self.act_at(e, s, a, now, None, out).is_ok(),
            None => false,
        }
    }

    /// A running instance crashes (and comes back a few seconds later), or one that crashed
    /// comes back now: so a service keeps taking events at any rate, even with every instance
    /// down.
    fn crash_or_restart(
        &mut self,
        e: usize,
        s: usize,
        now: Millis,
        out: &mut Vec<SimEvent>,
    ) -> bool {
        // (status reason, message, how the container ended: reason and exit code)
        const REASONS: [(&str, &str, &str, i32); 3] = [
            (
                "OOMKilled",
                "Container exceeded its memory limit (512Mi)",
                "OOMKilled",
                137,
            ),
            (
                "CrashLoopBackOff",
                "back-off 20s restarting failed container (exit code 1)",
                "Error",
                1,
            ),
            (
                "Error",
                "Liveness probe failed: GET /health -> 500",
                "Error",
                143,
            ),
        ];
        let instances = &self.envs[e].services[s].instances;
        let running: Vec<usize> = instances
            .iter()
            .enumerate()
            .filter(|(_, i)| i.status == RunningStatus::Running)
            .map(|(k, _)| k)
            .collect();
        let crashed: Vec<Crashed> = instances
            .iter()
            .filter(|i| i.status == RunningStatus::Error)
            .map(|i| (e, s, i.name.clone()))
            .filter(|who| self.pending.contains_key(who))
            .collect();
        if running.is_empty() && crashed.is_empty() {
            return false;
        }
        if running.is_empty() || (!crashed.is_empty() && self.rng.chance(50)) {
            let who = self.rng.pick(&crashed).clone();
            if let Some(key) = self.pending.remove(&who) {
                self.recoveries.remove(&key);
            }
            return self.recover(e, s, &who.2, now, out);
        }
        let k = *self.rng.pick(&running);
        let (reason, message, ended, exit_code) = *self.rng.pick(&REASONS);
        let back = now + self.rng.range(2_000, 5_000);
        let inst = &mut self.envs[e].services[s].instances[k];
        inst.status = RunningStatus::Error;
        inst.reason = Some(reason.into());
        inst.message = Some(message.into());
        inst.restarts += 1;
        instance_life::terminated(inst, ended, exit_code, now);
        let who = (e, s, inst.name.clone());
        self.crashes += 1;
        let key = (back, self.crashes);
        if let Some(old) = self.pending.insert(who.clone(), key) {
            self.recoveries.remove(&old);
        }
        self.recoveries.insert(key, who);
        out_service(out, &self.envs[e].id, &self.envs[e].services[s]);
        true
    }

    /// A crashed instance runs again (unless something else happened to it meanwhile).
    /// Whether it did (something else may have happened to it meanwhile).
    fn recover(
        &mut self,
        e: usize,
        s: usize,
        name: &str,
        at: Millis,
        out: &mut Vec<SimEvent>,
    ) -> bool {
        let svc = &mut self.envs[e].services[s];
        let Some(i) = svc
            .instances
            .iter_mut()
            .find(|i| i.name == name && i.status == RunningStatus::Error && i.reason.is_some())
        else {
            return false;
        };
        if i.reason.as_deref() == Some("BackoffLimitExceeded") {
            return false;
        }
        i.status = RunningStatus::Running;
        i.reason = None;
        i.message = None;
        i.started_at = Some(at);
        instance_life::restarted(i, at);
        out_service(out, &self.envs[e].id, &self.envs[e].services[s]);
        true
    }
}

/// When a crashed instance comes back: (due time, crash number).
type RecoveryKey = (Millis, u64);

/// A crashed instance: (environment index, service index, instance name).
type Crashed = (usize, usize, String);

fn out_service(out: &mut Vec<SimEvent>, env: &str, svc: &Service) {
    out.push(SimEvent::Service {
        env: env.to_string(),
        service: svc.clone(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of each bootstrap log of a platform of `services` services (one environment).
    fn bootstrap_log_sizes(services: u32, log_lines: u64) -> Vec<usize> {
        let mut sim = Simulator::new(SimConfig {
            environments: 1,
            services,
            log_lines,
            scenario: Some(Scenario::Calm),
            ..SimConfig::default()
        });
        sim.take_bootstrap()
            .into_iter()
            .filter_map(|e| match e {
                SimEvent::Log { lines, .. } => Some(lines.len()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_initial_log_holds_the_lines_asked() {
        assert_eq!(bootstrap_log_sizes(1, 5_000), vec![5_000]);
    }

    #[test]
    fn one_deployment_may_hold_a_million_lines_and_many_share_the_budget() {
        assert_eq!(bootstrap_lines_per_log(1_000_000, 1), 1_000_000);
        assert_eq!(bootstrap_lines_per_log(5_000_000, 1), BOOTSTRAP_LINE_BUDGET);
        assert_eq!(bootstrap_lines_per_log(1_000_000, 1_000), 1_000);
        assert_eq!(bootstrap_lines_per_log(1_000_000, 1_000_000), 8);
        assert_eq!(bootstrap_lines_per_log(400_000, 4), 250_000);
    }
}
