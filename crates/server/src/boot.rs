//! Start-up and clean shutdown of the core: the store opened and loaded, the hub rebuilt from
//! it so that sequence numbers and log line numbers go on (or, on a new or ephemeral store, a
//! new simulated world), the simulator going on from the stored platform; at shutdown, where
//! each topic stands recorded for the next start.

use crate::app::Clock;
use crate::config::Config;
use crate::hub::{GoneLog, Hub, HubConfig, KeptLog, LogLoader, RecentChange};
use crate::ingest::Ingest;
use crate::platform::{PlatformEvent, Sink};
use crate::sim::source::SimulatorSource;
use crate::sim::Simulator;
use crate::store::{self, Loaded, LogChange, Store, StoreError, StoredChange, TopicMark};
use shipwatch_model::entities::Millis;
use shipwatch_model::protocol::stream::seq_base;
use shipwatch_model::protocol::{Change, Topic};
use std::sync::Arc;

/// The core, ready to serve.
pub struct Booted {
    /// The topics.
    pub hub: Arc<Hub>,
    /// Where events enter (with the store, unless ephemeral).
    pub ingest: Arc<Ingest>,
    /// The simulator.
    pub source: Arc<SimulatorSource>,
}

/// Opens the store (unless ephemeral) and builds the hub and the simulator from it. `start`:
/// the wall clock at start, which `clock` reads now.
pub async fn start(config: &Config, start: Millis, clock: Clock) -> Result<Booted, StoreError> {
    let base_seq = seq_base(start);
    let (store, loaded) = match config.store(base_seq) {
        Some(cfg) => {
            let (store, loaded) = Store::open(cfg).await?;
            (Some(store), loaded)
        }
        None => (None, Loaded::default()),
    };
    let hub_cfg = |services: usize| HubConfig {
        replay: config.replay,
        max_logs: config.max_logs.max(services * 2),
        base_seq,
    };
    let store = match store {
        Some(store) if !loaded.environments.is_empty() => store,
        // Ephemeral, or a new data directory: a new world.
        store => {
            let mut sim = Simulator::new(config.sim(start));
            let services = sim.environments().iter().map(|e| e.services.len()).sum();
            let hub = Arc::new(Hub::new(hub_cfg(services), sim.environments()));
            let ingest = Arc::new(Ingest::new(hub.clone(), store.clone()));
            // The world as built goes to the store as events (the hub already holds it, and
            // takes them as no change); then the initial deployments and their logs.
            let mut first: Vec<PlatformEvent> = Vec::new();
            if store.is_some() {
                for env in sim.environments() {
                    first.push(PlatformEvent::EnvironmentChanged {
                        id: env.id.clone(),
                        name: env.name.clone(),
                    });
                    first.extend(env.services.iter().map(|s| PlatformEvent::ServiceChanged {
                        env: env.id.clone(),
                        service: s.clone(),
                    }));
                }
            }
            if let Some(store) = &store {
                attach_store(&hub, store);
            }
            let bootstrap = sim.take_bootstrap();
            let source = Arc::new(SimulatorSource::new(sim, clock, config.rate));
            first.extend(source.platform_events(bootstrap));
            ingest.publish(first);
            return Ok(Booted {
                hub,
                ingest,
                source,
            });
        }
    };
    let services = loaded.environments.iter().map(|e| e.services.len()).sum();
    let cfg = hub_cfg(services);
    let hub = Arc::new(Hub::new(cfg, &loaded.environments));
    if loaded.clean {
        for mark in &loaded.topics {
            let topic = match mark.topic.strip_prefix("environment:") {
                Some(env) => Topic::Environment { env: env.into() },
                None if mark.topic == "environments" => Topic::Environments,
                None => continue,
            };
            let changes = mark
                .changes
                .iter()
                .map(|c| RecentChange {
                    seq: c.seq,
                    json: c.json.as_str().into(),
                    compact: c.compact.as_deref().map(Into::into),
                })
                .collect();
            hub.resume_topic(&topic, mark.seq, changes);
        }
    }
    // The logs the hub held: the newest deployments', as many as it keeps.
    let newest = loaded.deployments.len().saturating_sub(cfg.max_logs);
    for d in &loaded.deployments[newest..] {
        let Some(log) = store.log_history(&d.deployment.id).await? else {
            continue;
        };
        let changes = log.changes.into_iter().map(|c| match c {
            LogChange::Line(line) => Change::Line(line),
            LogChange::Status(d) => Change::Deployment(d),
        });
        hub.restore_log(&log.env, log.service, log.header, log.base, changes);
    }
    let in_flight: Vec<_> = loaded
        .deployments
        .iter()
        .filter(|d| d.deployment.status.in_progress())
        .map(|d| (d.deployment.clone(), d.log_lines))
        .collect();
    let next_deployment = loaded
        .deployments
        .iter()
        .filter_map(|d| d.deployment.id.strip_prefix("dep-")?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    tracing::info!(
        file = %store.file().display(),
        environments = loaded.environments.len(),
        deployments = loaded.deployments.len(),
        clean = loaded.clean,
        "going on from the stored platform"
    );
    let (sim, settle) = Simulator::resume(
        config.sim(start),
        loaded.environments,
        &in_flight,
        next_deployment,
    );
    attach_store(&hub, &store);
    let ingest = Arc::new(Ingest::new(hub.clone(), Some(store)));
    let source = Arc::new(SimulatorSource::new(sim, clock, config.rate));
    ingest.publish(source.platform_events(settle));
    Ok(Booted {
        hub,
        ingest,
        source,
    })
}

/// The hub reads from `store` the logs it does not hold, and forgets those the store removes.
fn attach_store(hub: &Arc<Hub>, store: &Store) {
    hub.set_log_loader(log_loader(store.clone()));
    if let Some(mut removed) = store.removed_logs() {
        let hub = Arc::downgrade(hub);
        tokio::spawn(async move {
            while let Some(id) = removed.recv().await {
                let Some(hub) = hub.upgrade() else { break };
                hub.forget_log(&id);
            }
        });
    }
}

/// Reads a kept log from the store when a page subscribes to one the hub does not hold. The
/// hub asks from a socket's task: the read blocks that task's thread, which the runtime
/// replaces meanwhile (on a runtime of one thread, which only tests use, nothing is loaded).
fn log_loader(store: Store) -> LogLoader {
    Box::new(move |id| {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| None)?;
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return Err(None);
        }
        // Everything published so far committed first: lines the hub dropped while it did not
        // hold this log are in the store.
        let read = async {
            let _ = store.flush().await;
            match store.log_history(id).await {
                Ok(Some(log)) if !log.removed => Ok(log),
                Ok(_) => Err(store.removal(id).await.ok().flatten()),
                Err(_) => Err(None),
            }
        };
        let log = tokio::task::block_in_place(|| handle.block_on(read)).map_err(|removal| {
            removal.map(|r| GoneLog {
                gone: r.gone,
                message: r.message,
            })
        })?;
        Ok(KeptLog {
            env: log.env,
            service: log.service,
            header: log.header,
            base: log.base,
            changes: log
                .changes
                .into_iter()
                .map(|c| match c {
                    LogChange::Line(line) => Change::Line(line),
                    LogChange::Status(d) => Change::Deployment(d),
                })
                .collect(),
        })
    })
}

/// Commits what the store has queued, and where every environment topic stands, with the
/// mark of a clean shutdown; call once sources and sockets stopped.
pub async fn close(ingest: &Ingest, hub: &Hub) -> Result<(), StoreError> {
    let Some(store) = ingest.store() else {
        return Ok(());
    };
    let marks = hub
        .recent_changes()
        .into_iter()
        .map(|(topic, seq, changes)| TopicMark {
            topic: store::topic_key(&topic),
            seq,
            changes: changes
                .into_iter()
                .map(|c| StoredChange {
                    seq: c.seq,
                    json: c.json.to_string(),
                    compact: c.compact.map(|c| c.to_string()),
                })
                .collect(),
        })
        .collect();
    store.close(marks).await
}
