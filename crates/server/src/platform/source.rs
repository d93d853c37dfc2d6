//! Sources: what feeds the core with platform events. The simulator is one; the push API and
//! webhooks are others. A source that can act on the platform (deploy, cancel, stop,
//! restart a service) says so through [`Source::act`]; one that cannot answers that it cannot,
//! with its reason (HTTP 405).

use super::event::PlatformEvent;
use crate::store::Ack;
use shipwatch_model::Deployment;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::watch;

/// Where a source puts what it saw: the core, which writes it to the store and the hub.
pub trait Sink: Send + Sync {
    /// Applies `events`, in order after everything published before. Returns once the hub
    /// has them (pages see them); the [`Ack`] resolves when the store has committed them.
    fn publish(&self, events: Vec<PlatformEvent>) -> Ack;

    /// `Err` while the store cannot take more (its queue is full: writes have been failing);
    /// a source asks before it applies anything, and holds or refuses meanwhile.
    fn room(&self) -> Result<(), crate::store::StoreError> {
        Ok(())
    }

    /// [`Sink::publish`], only if the store's queue takes the write whole within its bound
    /// (`Store::try_write`); else nothing is published, and a source that asks this before it
    /// applies the write to its own state refuses it.
    fn try_publish(&self, events: Vec<PlatformEvent>) -> Result<Ack, crate::store::StoreError> {
        Ok(self.publish(events))
    }
}

/// An action on a service, as asked through the action API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Deploy a new version; `outcome` is the simulator's way of choosing how it ends
    /// (`ok`, `build-error`, `crash-loop`), meaningless to other sources.
    Deploy {
        /// How the deployment should end, if the source can be told.
        outcome: Option<String>,
    },
    /// Stop every instance.
    Stop,
    /// Restart every instance (or run a job now).
    Restart,
    /// Cancel the deployment in progress.
    Cancel,
}

impl Action {
    /// The action named in the URL, with its options.
    pub fn parse(name: &str, outcome: Option<String>) -> Option<Action> {
        Some(match name {
            "deploy" => Action::Deploy { outcome },
            "stop" => Action::Stop,
            "restart" => Action::Restart,
            "cancel" => Action::Cancel,
            _ => return None,
        })
    }
}

/// Why an action was refused; each maps to one HTTP status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActError {
    /// No such environment (404).
    UnknownEnvironment,
    /// No such service in that environment (404).
    UnknownService,
    /// The service is busy with something else, or there is nothing to cancel (409).
    Conflict(String),
    /// The request is malformed, e.g. an unknown outcome (400).
    BadRequest(String),
    /// This source cannot act on the platform (405), and why.
    NotSupported(String),
}

impl std::fmt::Display for ActError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownEnvironment => f.write_str("no such environment"),
            Self::UnknownService => f.write_str("no such service"),
            Self::Conflict(m) | Self::BadRequest(m) | Self::NotSupported(m) => f.write_str(m),
        }
    }
}

/// What an accepted action did.
#[derive(Debug)]
pub struct Acted {
    /// The service's deployment after the action, if it has one.
    pub deployment: Option<Deployment>,
    /// Resolves when the events the action caused are committed to the store.
    pub ack: Ack,
}

/// A running source.
pub trait Source: Send + Sync + 'static {
    /// Its name, for logs and health.
    fn name(&self) -> &'static str;

    /// Feeds `sink` until `shutdown` becomes true.
    fn run(
        self: Arc<Self>,
        sink: Arc<dyn Sink>,
        shutdown: watch::Receiver<bool>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>>;

    /// Acts on a service for `actor` (the name of the write token that asked), publishing
    /// what follows into `sink`; a deployment it starts is triggered by `actor`. The default:
    /// this source cannot act.
    fn act(
        &self,
        sink: &dyn Sink,
        env: &str,
        service: &str,
        action: &Action,
        actor: &str,
    ) -> Result<Acted, ActError> {
        let _ = (sink, env, service, action, actor);
        Err(ActError::NotSupported(format!(
            "the {} source reports what a platform does and cannot act on it",
            self.name()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that only reports, like a webhook receiver.
    struct Reporter;

    impl Source for Reporter {
        fn name(&self) -> &'static str {
            "push API"
        }

        fn run(
            self: Arc<Self>,
            _: Arc<dyn Sink>,
            _: watch::Receiver<bool>,
        ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
            Box::pin(async {})
        }
    }

    struct NoSink;

    impl Sink for NoSink {
        fn publish(&self, _: Vec<PlatformEvent>) -> Ack {
            Ack::none()
        }
    }

    #[test]
    fn a_source_that_cannot_act_says_so_and_why() {
        let refused = Reporter
            .act(&NoSink, "production", "api", &Action::Stop, "ci")
            .unwrap_err();
        assert_eq!(
            refused,
            ActError::NotSupported(
                "the push API source reports what a platform does and cannot act on it".into()
            )
        );
    }

    #[test]
    fn actions_are_named_in_the_url() {
        assert_eq!(
            Action::parse("deploy", Some("crash-loop".into())),
            Some(Action::Deploy {
                outcome: Some("crash-loop".into())
            })
        );
        assert_eq!(Action::parse("cancel", None), Some(Action::Cancel));
        assert_eq!(Action::parse("delete", None), None);
    }
}
