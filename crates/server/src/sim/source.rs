//! The simulator as a source of the core: driven in real time (every tick it runs what is due
//! and adds random events at `--rate` per simulated second), it reports what happens as
//! platform events, and it can act (deploy, cancel, stop, restart) on the action API's behalf.

use super::{ActError as SimActError, Action as SimAction, Outcome, SimEvent, Simulator};
use crate::app::Clock;
use crate::platform::{ActError, Acted, Action, PlatformEvent, Sink, Source};
use shipwatch_model::entities::Millis;
use shipwatch_model::{Deployment, Instance};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often the simulator is advanced.
const TICK: Duration = Duration::from_millis(100);

impl From<SimEvent> for PlatformEvent {
    fn from(e: SimEvent) -> Self {
        match e {
            SimEvent::Service { env, service } => PlatformEvent::ServiceChanged { env, service },
            SimEvent::DeploymentCreated {
                env,
                service,
                deployment,
            } => PlatformEvent::DeploymentQueued {
                env,
                service,
                deployment,
            },
            SimEvent::DeploymentStatus { deployment } => {
                PlatformEvent::DeploymentStatus { deployment }
            }
            SimEvent::Log { deployment, lines } => PlatformEvent::LogAppended { deployment, lines },
        }
    }
}

/// The simulator, shared by its driver and the action API.
pub struct SimulatorSource {
    /// Events are published while this lock is held, so that the driver and the actions
    /// publish in the order the simulator made them.
    sim: Mutex<Simulator>,
    clock: Clock,
    /// Random events per simulated second.
    rate: f64,
    /// The stage each deployment in progress was last seen in: a line of another stage is
    /// reported as the deployment moving to that stage.
    stages: Mutex<HashMap<String, String>>,
    /// A new world's first write: the world runs once it is committed (see
    /// [`Self::hold_until_stored`]).
    first_write: Mutex<Option<crate::store::Ack>>,
}

impl SimulatorSource {
    /// A source around `sim`, whose time is `clock`.
    pub fn new(sim: Simulator, clock: Clock, rate: f64) -> Self {
        Self {
            sim: Mutex::new(sim),
            clock,
            rate: if rate.is_finite() { rate.max(0.0) } else { 0.0 },
            stages: Mutex::new(HashMap::new()),
            first_write: Mutex::new(None),
        }
    }

    /// The world holds still until `first_write` (the new world itself, hundreds of
    /// thousands of facts on 1,000 services) is committed. Events made meanwhile would pile
    /// up behind that one long commit into one batch of seconds' worth, which a page that
    /// subscribed at the start then reads on top of the live stream, and falls behind the
    /// replay buffer and is sent a second snapshot (docs/store.md, "Faults").
    pub fn hold_until_stored(&self, first_write: crate::store::Ack) {
        *self.first_write.lock().unwrap_or_else(|p| p.into_inner()) = Some(first_write);
    }

    /// The simulator, even if a panic poisoned its lock (its state stays usable).
    pub fn sim(&self) -> MutexGuard<'_, Simulator> {
        self.sim.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The simulator's events as platform events, with a stage event before the first line
    /// of each new stage of a deployment.
    pub fn platform_events(&self, events: Vec<SimEvent>) -> Vec<PlatformEvent> {
        let mut stages = self.stages.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::with_capacity(events.len() + 2);
        for mut e in events {
            self.to_wall(&mut e);
            match &e {
                SimEvent::Log { deployment, lines } => {
                    for line in lines {
                        if stages.get(deployment) != Some(&line.stage) {
                            stages.insert(deployment.clone(), line.stage.clone());
                            out.push(PlatformEvent::DeploymentStage {
                                deployment: deployment.clone(),
                                stage: line.stage.clone(),
                                at: line.ts,
                            });
                        }
                    }
                }
                SimEvent::DeploymentStatus { deployment } if deployment.status.has_ended() => {
                    stages.remove(&deployment.id);
                }
                _ => {}
            }
            out.push(e.into());
        }
        out
    }

    /// The event's times by the wall clock ([`Clock::wall`]).
    fn to_wall(&self, e: &mut SimEvent) {
        match e {
            SimEvent::Service { service, .. } => {
                if let Some(d) = &mut service.deployment {
                    self.deployment_to_wall(d);
                }
                for i in &mut service.instances {
                    self.instance_to_wall(i);
                }
            }
            SimEvent::DeploymentCreated { deployment, .. }
            | SimEvent::DeploymentStatus { deployment } => self.deployment_to_wall(deployment),
            SimEvent::Log { lines, .. } => {
                for line in lines {
                    line.ts = self.clock.wall(line.ts);
                }
            }
        }
    }

    fn deployment_to_wall(&self, d: &mut Deployment) {
        d.started_at = self.clock.wall(d.started_at);
        d.finished_at = d.finished_at.map(|t| self.clock.wall(t));
    }

    fn instance_to_wall(&self, i: &mut Instance) {
        let wall = |t: Millis| self.clock.wall(t);
        i.started_at = i.started_at.map(wall);
        i.last_restart_at = i.last_restart_at.map(wall);
        if let Some(t) = &mut i.last_termination {
            t.at = t.at.map(wall);
        }
        for ev in &mut i.events {
            ev.at = wall(ev.at);
        }
    }

    async fn drive(self: Arc<Self>, sink: Arc<dyn Sink>, mut shutdown: watch::Receiver<bool>) {
        let first_write = self
            .first_write
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(ack) = first_write {
            let held = Instant::now();
            tokio::select! {
                _ = shutdown.changed() => return,
                // An error (writes failing): the queue's bound holds the world still, below.
                stored = ack.committed() => tracing::info!(
                    held_ms = held.elapsed().as_millis() as u64,
                    stored = stored.is_ok(),
                    "the simulator runs: its new world is stored"
                ),
            }
        }
        // From here: the time held is no credit for random events.
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut credit = 0.0f64;
        let mut last = Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = tick.tick() => {}
            }
            if *shutdown.borrow() {
                break;
            }
            // The store's queue is full (writes have been failing): the world holds still
            // rather than show pages what the store cannot keep; it goes on from where it
            // stands once the store catches up.
            if sink.room().is_err() {
                last = Instant::now();
                continue;
            }
            let elapsed = last.elapsed().as_secs_f64();
            last = Instant::now();
            let now = self.clock.now();
            let mut sim = self.sim();
            let mut events = sim.advance(now);
            if sim.is_random() {
                // After a stall, do not burst more than a second's worth.
                credit =
                    (credit + self.rate * elapsed * self.clock.speed()).min(self.rate.max(1.0));
                while credit >= 1.0 {
                    credit -= 1.0;
                    events.extend(sim.random_event(now));
                }
            }
            if !events.is_empty() {
                sink.publish(self.platform_events(events));
            }
        }
    }
}

impl Source for SimulatorSource {
    fn name(&self) -> &'static str {
        "simulator"
    }

    fn run(
        self: Arc<Self>,
        sink: Arc<dyn Sink>,
        shutdown: watch::Receiver<bool>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self.drive(sink, shutdown))
    }

    fn act(
        &self,
        sink: &dyn Sink,
        env: &str,
        service: &str,
        action: &Action,
        actor: &str,
    ) -> Result<Acted, ActError> {
        let action = match action {
            Action::Deploy { outcome } => SimAction::Deploy(match outcome.as_deref() {
                None | Some("ok") => Outcome::Ok,
                Some("build-error") => Outcome::BuildError,
                Some("crash-loop") => Outcome::CrashLoop,
                Some("stall") => Outcome::Stall,
                Some(other) => {
                    let shown: String = other.chars().take(100).collect();
                    return Err(ActError::BadRequest(format!(
                        "unknown outcome `{shown}`: use ok, build-error, crash-loop or stall"
                    )));
                }
            }),
            Action::Stop => SimAction::Stop,
            Action::Restart => SimAction::Restart,
            Action::Cancel => SimAction::Cancel,
        };
        let now = self.clock.now();
        let mut sim = self.sim();
        let events = sim
            .act_as(env, service, action, now, Some(actor))
            .map_err(|e| match e {
                SimActError::UnknownEnvironment => ActError::UnknownEnvironment,
                SimActError::UnknownService => ActError::UnknownService,
                SimActError::Busy(m) | SimActError::NotCancellable(m) => ActError::Conflict(m),
            })?;
        let mut deployment = sim.service(env, service).and_then(|s| s.deployment.clone());
        if let Some(d) = &mut deployment {
            self.deployment_to_wall(d);
        }
        // Published under the simulator lock: same order as the driver's events.
        let ack = sink.publish(self.platform_events(events));
        Ok(Acted { deployment, ack })
    }
}
