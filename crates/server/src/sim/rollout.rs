//! What a service is busy with, as a state machine advanced in simulated time: a deployment
//! (queue, build, rolling update one slot at a time), a stop, a restart, a crashed instance
//! recovering, a job execution. Each step mutates the service and reports what changed.

use super::instance_life;
use super::logs::{self, LogWriter};
use super::rng::Rng;
use super::world::slot_name;
use super::{Outcome, SimEvent};
use shipwatch_model::entities::Millis;
use shipwatch_model::{
    Deployment, DeploymentStatus, Instance, LogLine, RunningStatus, Service, ServiceKind,
};

/// Steps of a build, each writing a chunk of output.
pub const BUILD_CHUNKS: u32 = 16;
/// Crashes of a new instance before the rollout is declared failed.
pub const CRASHES_BEFORE_FAILURE: u32 = 3;
/// Job executions kept in a job's instance list.
pub const EXECUTIONS_KEPT: usize = 3;

/// A pending piece of work on one service and when its next step is due.
#[derive(Clone, Debug)]
pub struct Task {
    /// When the next step runs (simulated time).
    pub next_at: Millis,
    /// What the work is.
    pub kind: TaskKind,
}

/// The kinds of work.
#[derive(Clone, Debug)]
pub enum TaskKind {
    /// A deployment in progress.
    Deploy(Box<Rollout>),
    /// Instances stopping.
    Stop,
    /// Instances starting again.
    Restart,
    /// A job execution outside a deployment (cron schedule or restart).
    Execute(Execution),
}

/// A job execution in progress.
#[derive(Clone, Debug)]
pub struct Execution {
    /// Instance name of the execution.
    pub name: String,
    /// Whether it will succeed.
    pub ok: bool,
    /// 0: created, 1: running, 2: finished.
    pub phase: u8,
}

/// Where a deployment stands inside the simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for a deployer.
    Queued,
    /// Building, `chunk` of [`BUILD_CHUNKS`] written.
    Building,
    /// A cancel is stopping the build.
    Cancelling,
    /// About to start the new version of the current slot.
    StartSlot,
    /// The new instance of the current slot is starting.
    SlotStarting,
    /// The new instance of the current slot crashed.
    Crashed,
    /// The old instance of the current slot is stopping.
    RemoveOld,
    /// A job's execution runs as the deployment's last step.
    Job(u8),
}

/// A deployment being carried out.
#[derive(Clone, Debug)]
pub struct Rollout {
    /// The deployment as clients see it.
    pub dep: Deployment,
    /// How it will end.
    pub outcome: Outcome,
    /// Where it stands.
    pub phase: Phase,
    /// Its log.
    pub log: LogWriter,
    /// Build chunks written.
    pub chunk: u32,
    /// Current slot, from 1.
    pub slot: u32,
    /// Slots to roll.
    pub slots: u32,
    /// Crashes of the new instance so far.
    pub crashes: u32,
    /// Total lines the log should have (its volume knob).
    pub budget: u64,
}

impl Rollout {
    /// Whether a cancel is still possible (only while queued or building, per the seed's
    /// CANCELLING BUILDING).
    pub fn cancellable(&self) -> bool {
        matches!(self.phase, Phase::Queued | Phase::Building)
    }
}

/// What a step needs besides the service.
pub struct Ctx<'a> {
    /// The simulator's randomness.
    pub rng: &'a mut Rng,
    /// Environment id, for events.
    pub env: &'a str,
    /// Events produced.
    pub out: &'a mut Vec<SimEvent>,
}

impl Ctx<'_> {
    fn lines(&mut self, dep: &str, lines: Vec<LogLine>) {
        if !lines.is_empty() {
            self.out.push(SimEvent::Log {
                deployment: dep.to_string(),
                lines,
            });
        }
    }
}

fn builds_from_source(kind: ServiceKind) -> bool {
    matches!(
        kind,
        ServiceKind::Application | ServiceKind::Cronjob | ServiceKind::LifecycleJob
    )
}

/// The reason a crashing new instance shows.
fn crash_reason(kind: ServiceKind) -> (&'static str, &'static str) {
    match kind {
        ServiceKind::Container => (
            "ImagePullBackOff",
            "Back-off pulling image: manifest unknown",
        ),
        _ => (
            "CrashLoopBackOff",
            "back-off 10s restarting failed container (exit code 1)",
        ),
    }
}

/// Sets the deployment's status, mirrors it on the service and reports it.
fn set_status(
    r: &mut Rollout,
    svc: &mut Service,
    status: DeploymentStatus,
    now: Millis,
    ctx: &mut Ctx<'_>,
) {
    r.dep.status = status;
    if status.has_ended() {
        r.dep.finished_at = Some(now);
    }
    svc.deployment = Some(r.dep.clone());
    ctx.out.push(SimEvent::DeploymentStatus {
        deployment: r.dep.clone(),
    });
}

fn find_new<'a>(svc: &'a mut Service, name: &str, version: &str) -> Option<&'a mut Instance> {
    svc.instances
        .iter_mut()
        .find(|i| i.name == name && i.version == version)
}

fn jitter(rng: &mut Rng, lo: Millis, hi: Millis) -> Millis {
    rng.range(lo, hi)
}

/// A deployment to start.
pub struct Order {
    /// Its id.
    pub id: String,
    /// The version it deploys.
    pub version: String,
    /// How it ends.
    pub outcome: Outcome,
    /// Who asked for it (a write token's name), if someone did.
    pub triggered_by: Option<String>,
}

/// Starts a deployment: creates its record and log and returns the task that carries it out.
pub fn begin(
    svc: &mut Service,
    order: Order,
    (desired, budget): (u32, u64),
    now: Millis,
    ctx: &mut Ctx<'_>,
) -> Task {
    let Order {
        id,
        version,
        outcome,
        triggered_by,
    } = order;
    let dep = Deployment {
        id: id.clone(),
        status: DeploymentStatus::Queued,
        version: version.clone(),
        previous_version: Some(svc.version.clone()),
        started_at: now,
        finished_at: None,
        triggered_by,
        url: None,
    };
    // Leftovers of an earlier failed rollout (other versions in error) are replaced now.
    let current = svc.version.clone();
    svc.instances
        .retain(|i| !(i.version != current && i.status == RunningStatus::Error));
    svc.deployment = Some(dep.clone());
    ctx.out.push(SimEvent::DeploymentCreated {
        env: ctx.env.to_string(),
        service: Some(svc.id.clone()),
        deployment: dep.clone(),
    });
    let mut log = LogWriter::default();
    let lines = logs::queued(&mut log, now, &id, &svc.name, &version, Some(&current));
    ctx.lines(&id, lines);
    let slots = desired.max(
        svc.instances
            .iter()
            .filter(|i| i.version == current && !svc.kind.is_job())
            .count() as u32,
    );
    let rollout = Rollout {
        dep,
        outcome,
        phase: Phase::Queued,
        log,
        chunk: 0,
        slot: 1,
        slots: slots.max(1),
        crashes: 0,
        budget,
    };
    Task {
        next_at: now + jitter(ctx.rng, 800, 2_000),
        kind: TaskKind::Deploy(Box::new(rollout)),
    }
}

/// Asks a deployment to cancel: CANCELLING BUILDING now, CANCELLED at the next step.
pub fn cancel(r: &mut Rollout, svc: &mut Service, now: Millis, ctx: &mut Ctx<'_>) -> Millis {
    r.phase = Phase::Cancelling;
    set_status(r, svc, DeploymentStatus::CancellingBuilding, now, ctx);
    let lines = logs::cancelling(&mut r.log, now);
    ctx.lines(&r.dep.id, lines);
    now + jitter(ctx.rng, 1_000, 2_000)
}

/// Runs the step due at `now`; returns the task to keep, if any.
pub fn step(task: Task, svc: &mut Service, now: Millis, ctx: &mut Ctx<'_>) -> Option<Task> {
    match task.kind {
        TaskKind::Deploy(r) => step_rollout(r, svc, now, ctx),
        TaskKind::Stop => {
            for i in svc
                .instances
                .iter_mut()
                .filter(|i| i.status == RunningStatus::Stopping)
            {
                i.status = RunningStatus::Stopped;
                i.reason = None;
                i.message = None;
            }
            None
        }
        TaskKind::Restart => {
            for i in svc
                .instances
                .iter_mut()
                .filter(|i| i.status == RunningStatus::Starting)
            {
                i.status = RunningStatus::Running;
            }
            None
        }
        TaskKind::Execute(e) => step_execution(e, svc, now, ctx),
    }
}

/// Starts a job execution (cron schedule or restart).
pub fn execute(svc: &mut Service, ok: bool, now: Millis, rng: &mut Rng) -> Task {
    let name = format!("{}-{}", svc.id, rng.hex(5));
    push_execution(svc, &name, now);
    Task {
        next_at: now + jitter(rng, 800, 1_500),
        kind: TaskKind::Execute(Execution { name, ok, phase: 1 }),
    }
}

fn push_execution(svc: &mut Service, name: &str, now: Millis) {
    let version = svc
        .deployment
        .as_ref()
        .map_or(svc.version.clone(), |d| d.version.clone());
    svc.instances.push(Instance {
        name: name.to_string(),
        status: RunningStatus::Starting,
        version,
        restarts: 0,
        reason: None,
        message: None,
        started_at: Some(now),
        last_termination: None,
        last_restart_at: None,
        events: Vec::new(),
    });
    let extra = svc.instances.len().saturating_sub(EXECUTIONS_KEPT);
    svc.instances.drain(..extra);
}

/// Moves an execution on; returns whether it finished, and whether it succeeded.
fn advance_execution(e: &mut Execution, svc: &mut Service, now: Millis) -> Option<bool> {
    let inst = svc.instances.iter_mut().find(|i| i.name == e.name)?;
    match e.phase {
        1 => {
            inst.status = RunningStatus::Running;
            e.phase = 2;
            None
        }
        _ => {
            if e.ok {
                inst.status = RunningStatus::Completed;
            } else {
                inst.status = RunningStatus::Error;
                inst.reason = Some("BackoffLimitExceeded".into());
                inst.message = Some("Job has reached the specified backoff limit".into());
                inst.restarts = 6;
            }
            let _ = now;
            Some(e.ok)
        }
    }
}

fn step_execution(
    mut e: Execution,
    svc: &mut Service,
    now: Millis,
    ctx: &mut Ctx<'_>,
) -> Option<Task> {
    match advance_execution(&mut e, svc, now) {
        None if svc.instances.iter().any(|i| i.name == e.name) => Some(Task {
            next_at: now + jitter(ctx.rng, 2_000, 4_000),
            kind: TaskKind::Execute(e),
        }),
        _ => None,
    }
}

fn step_rollout(
    mut r: Box<Rollout>,
    svc: &mut Service,
    now: Millis,
    ctx: &mut Ctx<'_>,
) -> Option<Task> {
    let id = r.dep.id.clone();
    let version = r.dep.version.clone();
    let build_lines = r.budget * 7 / 10;
    let per_slot = (r.budget.saturating_sub(build_lines) / u64::from(r.slots.max(1))).max(2);
    let next = match r.phase {
        Phase::Queued => {
            if builds_from_source(svc.kind) {
                set_status(&mut r, svc, DeploymentStatus::Building, now, ctx);
                let lines = logs::build_start(&mut r.log, now, &svc.name, &version);
                ctx.lines(&id, lines);
                r.phase = Phase::Building;
                now + jitter(ctx.rng, 250, 450)
            } else {
                start_deploying(&mut r, svc, now, ctx)
            }
        }
        Phase::Building => {
            let fail_at = BUILD_CHUNKS * 2 / 3;
            if r.outcome == Outcome::BuildError && r.chunk >= fail_at {
                let lines = logs::build_failed(&mut r.log, now, &svc.name);
                ctx.lines(&id, lines);
                set_status(&mut r, svc, DeploymentStatus::BuildingError, now, ctx);
                return None;
            }
            if r.chunk < BUILD_CHUNKS {
                let count = (build_lines / u64::from(BUILD_CHUNKS)).max(1);
                let lines = logs::build_chunk(&mut r.log, ctx.rng, now, r.chunk, count);
                ctx.lines(&id, lines);
                r.chunk += 1;
                now + jitter(ctx.rng, 250, 450)
            } else {
                let lines = logs::build_done(&mut r.log, now, &svc.name, &version);
                ctx.lines(&id, lines);
                start_deploying(&mut r, svc, now, ctx)
            }
        }
        Phase::Cancelling => {
            set_status(&mut r, svc, DeploymentStatus::Cancelled, now, ctx);
            let lines = logs::cancelled(&mut r.log, now, &svc.name);
            ctx.lines(&id, lines);
            return None;
        }
        Phase::StartSlot => {
            let name = slot_name(&svc.id, r.slot);
            svc.instances.push(Instance {
                name: name.clone(),
                status: RunningStatus::Starting,
                version: version.clone(),
                restarts: 0,
                reason: None,
                message: None,
                started_at: Some(now),
                last_termination: None,
                last_restart_at: None,
                events: Vec::new(),
            });
            let mut lines = vec![logs::instance_starting(&mut r.log, now, &name, &version)];
            lines.extend(logs::deploy_chatter(
                &mut r.log,
                ctx.rng,
                now,
                &name,
                per_slot / 2,
            ));
            ctx.lines(&id, lines);
            r.phase = Phase::SlotStarting;
            now + jitter(ctx.rng, 1_500, 3_000)
        }
        Phase::SlotStarting => {
            let name = slot_name(&svc.id, r.slot);
            if r.outcome == Outcome::Stall && r.slot == 1 {
                // Never ready: the deployment holds in DEPLOYING, saying so now and then.
                if let Some(inst) = find_new(svc, &name, &version) {
                    instance_life::not_ready(inst, now);
                }
                let line = logs::instance_not_ready(&mut r.log, now, &name);
                ctx.lines(&id, vec![line]);
                now + jitter(ctx.rng, 20_000, 40_000)
            } else if r.outcome == Outcome::CrashLoop && r.slot == 1 {
                let (reason, message) = crash_reason(svc.kind);
                let restarts = match find_new(svc, &name, &version) {
                    Some(inst) => {
                        inst.status = RunningStatus::Error;
                        inst.reason = Some(reason.into());
                        inst.message = Some(message.into());
                        if reason == "CrashLoopBackOff" {
                            inst.restarts += 1;
                            // The application exits with its own error code.
                            instance_life::terminated(inst, "Error", 1, now);
                        }
                        inst.restarts
                    }
                    None => 0,
                };
                r.crashes += 1;
                let line = logs::instance_crashed(&mut r.log, now, &name, reason, restarts);
                ctx.lines(&id, vec![line]);
                r.phase = Phase::Crashed;
                now + jitter(ctx.rng, 1_500, 2_500)
            } else {
                if let Some(inst) = find_new(svc, &name, &version) {
                    inst.status = RunningStatus::Running;
                }
                let mut lines = vec![logs::instance_ready(&mut r.log, now, &name)];
                // The new version of this slot runs: only now is the old one killed.
                if let Some(old) = svc
                    .instances
                    .iter_mut()
                    .find(|i| i.name == name && i.version != version)
                {
                    old.status = RunningStatus::Stopping;
                    lines.push(logs::instance_killed(
                        &mut r.log,
                        now,
                        &name,
                        &old.version.clone(),
                    ));
                }
                ctx.lines(&id, lines);
                r.phase = Phase::RemoveOld;
                now + jitter(ctx.rng, 800, 1_500)
            }
        }
        Phase::Crashed => {
            let name = slot_name(&svc.id, r.slot);
            if r.crashes >= CRASHES_BEFORE_FAILURE {
                let (reason, _) = crash_reason(svc.kind);
                let serving = svc
                    .instances
                    .iter()
                    .filter(|i| i.version != version && i.status == RunningStatus::Running)
                    .count();
                let lines = logs::rollout_failed(&mut r.log, now, &name, reason, serving);
                ctx.lines(&id, lines);
                set_status(&mut r, svc, DeploymentStatus::DeploymentError, now, ctx);
                return None;
            }
            // Kubernetes restarts it after a back-off; it will crash again.
            if let Some(inst) = find_new(svc, &name, &version) {
                inst.status = RunningStatus::Starting;
                if inst.last_termination.is_some() {
                    instance_life::restarted(inst, now);
                }
            }
            r.phase = Phase::SlotStarting;
            now + jitter(ctx.rng, 1_000, 2_000)
        }
        Phase::RemoveOld => {
            let name = slot_name(&svc.id, r.slot);
            svc.instances
                .retain(|i| !(i.name == name && i.version != version));
            let lines =
                logs::deploy_chatter(&mut r.log, ctx.rng, now, &name, per_slot - per_slot / 2);
            ctx.lines(&id, lines);
            r.slot += 1;
            if r.slot > r.slots {
                svc.version = version.clone();
                let lines = logs::rollout_done(&mut r.log, now, &svc.name, &version);
                ctx.lines(&id, lines);
                set_status(&mut r, svc, DeploymentStatus::DeploymentOk, now, ctx);
                return None;
            }
            r.phase = Phase::StartSlot;
            now + jitter(ctx.rng, 300, 700)
        }
        Phase::Job(stage) => return step_job(r, stage, svc, now, ctx),
    };
    Some(Task {
        next_at: next,
        kind: TaskKind::Deploy(r),
    })
}

fn start_deploying(r: &mut Rollout, svc: &mut Service, now: Millis, ctx: &mut Ctx<'_>) -> Millis {
    set_status(r, svc, DeploymentStatus::Deploying, now, ctx);
    let image_only = !builds_from_source(svc.kind);
    let lines = logs::deploy_start(&mut r.log, now, &svc.name, r.slots, image_only);
    ctx.lines(&r.dep.id, lines);
    r.phase = if svc.kind.is_job() {
        Phase::Job(0)
    } else {
        Phase::StartSlot
    };
    // A stopped service is redeployed fresh: its stopped instances go away.
    svc.instances
        .retain(|i| i.status != RunningStatus::Stopped || svc.kind.is_job());
    now + jitter(ctx.rng, 500, 1_000)
}

/// The deploy stage of a job: a cronjob just gets its new schedule; a lifecycle job runs.
fn step_job(
    mut r: Box<Rollout>,
    stage: u8,
    svc: &mut Service,
    now: Millis,
    ctx: &mut Ctx<'_>,
) -> Option<Task> {
    let id = r.dep.id.clone();
    let ok = r.outcome == Outcome::Ok;
    if svc.kind == ServiceKind::Cronjob && ok {
        svc.version = r.dep.version.clone();
        let line = r.log.info(
            now,
            "deploy",
            format!(
                "Cronjob {} scheduled: 0 3 * * * (next run at 03:00 UTC)",
                svc.name
            ),
        );
        ctx.lines(&id, vec![line]);
        set_status(&mut r, svc, DeploymentStatus::DeploymentOk, now, ctx);
        return None;
    }
    let name = format!(
        "{}-{}",
        svc.id,
        &r.dep.version[..r.dep.version.len().min(5)]
    );
    match stage {
        0 => {
            push_execution(svc, &name, now);
            let line = r.log.info(now, "deploy", format!("Job {name}: created"));
            ctx.lines(&id, vec![line]);
            r.phase = Phase::Job(1);
            Some(Task {
                next_at: now + jitter(ctx.rng, 800, 1_500),
                kind: TaskKind::Deploy(r),
            })
        }
        1 => {
            if let Some(i) = svc.instances.iter_mut().find(|i| i.name == name) {
                i.status = RunningStatus::Running;
            }
            r.phase = Phase::Job(2);
            Some(Task {
                next_at: now + jitter(ctx.rng, 2_000, 3_500),
                kind: TaskKind::Deploy(r),
            })
        }
        _ => {
            let mut e = Execution {
                name: name.clone(),
                ok,
                phase: 2,
            };
            advance_execution(&mut e, svc, now);
            let lines = logs::job_run(&mut r.log, now, &name, ok);
            ctx.lines(&id, lines);
            if ok {
                svc.version = r.dep.version.clone();
            }
            let status = if ok {
                DeploymentStatus::DeploymentOk
            } else {
                DeploymentStatus::DeploymentError
            };
            set_status(&mut r, svc, status, now, ctx);
            None
        }
    }
}
