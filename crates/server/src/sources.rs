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
    /// The simulator, unless the server runs without it.
    pub sim: Option<Arc<SimulatorSource>>,
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
        let sim = self.sim.clone().map(|s| s.run(sink, shutdown));
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
        match &self.sim {
            Some(sim) => sim.act(sink, env, service, action, actor),
            None => Err(ActError::UnknownEnvironment),
        }
    }
}
