//! The server's sources together: the push API always, the simulator unless `--no-simulator`.
//! They run side by side, each on its own environments, and the action API asks the one that
//! owns the environment to act.

use crate::platform::{ActError, Acted, Action, Sink, Source};
use crate::push::PushCore;
use crate::sim::source::SimulatorSource;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::watch;

/// Every source of this server.
pub struct Sources {
    /// The push API.
    pub push: Arc<PushCore>,
    /// The simulator, unless the server runs without it (or follows another replica: it
    /// starts when this one takes over, [`Sources::start_simulator`]).
    sim: std::sync::Mutex<Option<Arc<SimulatorSource>>>,
}

impl Sources {
    /// The push API, and the simulator if any.
    pub fn new(push: Arc<PushCore>, sim: Option<Arc<SimulatorSource>>) -> Self {
        Self {
            push,
            sim: std::sync::Mutex::new(sim),
        }
    }

    /// The simulator, if it runs here.
    pub fn simulator(&self) -> Option<Arc<SimulatorSource>> {
        self.sim.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Starts `sim` on a server that ran without one (a follower that took over).
    pub fn start_simulator(
        &self,
        sim: Arc<SimulatorSource>,
        sink: Arc<dyn Sink>,
        shutdown: watch::Receiver<bool>,
    ) {
        *self.sim.lock().unwrap_or_else(|p| p.into_inner()) = Some(sim.clone());
        tokio::spawn(sim.run(sink, shutdown));
    }
}

impl Source for Sources {
    fn name(&self) -> &'static str {
        "sources"
    }

    fn run(
        self: Arc<Self>,
        sink: Arc<dyn Sink>,
        shutdown: watch::Receiver<bool>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let push = self.push.clone().run(sink.clone(), shutdown.clone());
        let sim = self.simulator().map(|s| s.run(sink, shutdown));
        Box::pin(async move {
            match sim {
                Some(sim) => {
                    futures_util::future::join(push, sim).await;
                }
                None => push.await,
            }
        })
    }

    fn act(
        &self,
        sink: &dyn Sink,
        env: &str,
        service: &str,
        action: &Action,
        actor: &str,
    ) -> Result<Acted, ActError> {
        if self.push.owns(env) {
            return Err(ActError::NotSupported(format!(
                "environment `{env}` is reported through the push API: Shipwatch shows what \
                 its platform does and cannot act on it"
            )));
        }
        match self.simulator() {
            Some(sim) => sim.act(sink, env, service, action, actor),
            None => Err(ActError::UnknownEnvironment),
        }
    }
}
