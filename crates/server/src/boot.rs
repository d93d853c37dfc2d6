//! Start-up and clean shutdown of the core: the store opened and loaded, the hub rebuilt from
//! it so that sequence numbers and log line numbers go on, and the sources started: the push
//! API on the environments it owns (its registry restored, so a reporter resumes from the
//! right line), and, unless `--no-simulator`, the simulator going on from its own stored
//! environments (or a new simulated world on a new or ephemeral store). At shutdown, where
//! each topic stands is recorded for the next start.

use crate::app::Clock;
use crate::config::Config;
use crate::hub::since::StatusChange;
use crate::hub::{GoneLog, Hub, HubConfig, KeptLog, LogLoader, RecentChange};
use crate::ingest::Ingest;
use crate::platform::{PlatformEvent, Sink};
use crate::push::core::SOURCE_NAME as PUSHED;
use crate::push::registry::Registry;
use crate::push::{PushConfig, PushCore};
use crate::sim::source::SimulatorSource;
use crate::sim::Simulator;
use crate::sources::Sources;
use crate::store::{self, Loaded, LogChange, Store, StoreError, StoredChange, TopicMark};
use shipwatch_model::entities::Millis;
use shipwatch_model::protocol::stream::seq_base;
use shipwatch_model::protocol::{Change, Topic};
use shipwatch_model::Environment;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The core, ready to serve.
pub struct Booted {
    /// The topics.
    pub hub: Arc<Hub>,
    /// Where events enter (with the store, unless ephemeral).
    pub ingest: Arc<Ingest>,
    /// The sources: the push API, and the simulator unless `--no-simulator`.
    pub source: Arc<Sources>,
    /// The push API.
    pub push: Arc<PushCore>,
    /// This server's part among replicas (see [`crate::replica`]).
    pub role: tokio::sync::watch::Receiver<crate::replica::Role>,
    /// Its lease and where it follows the change log (health, shutdown).
    pub replica: Arc<crate::replica::Replica>,
}

/// What the simulator starts from.
enum SimStart {
    /// No simulator.
    Off,
    /// A new world (a new or ephemeral store).
    New(Simulator),
    /// Its stored environments, going on, with the events that settle what the previous run
    /// left in flight.
    Resumed(Simulator, Vec<crate::sim::SimEvent>),
}

/// What the simulator starts from: nothing with `--no-simulator`, a new world when the store
/// holds none of its environments, else its stored environments going on.
fn plan_simulator(
    config: &Config,
    start: Millis,
    pushed: &HashSet<String>,
    sim_envs: &[Environment],
    deployments: &[store::StoredDeployment],
) -> SimStart {
    if config.no_simulator {
        SimStart::Off
    } else if sim_envs.is_empty() {
        let sim = Simulator::new(config.sim(start));
        match sim.environments().iter().find(|e| pushed.contains(&e.id)) {
            Some(taken) => {
                tracing::warn!(
                    env = %taken.id,
                    "the simulator's new world would take over an environment the push API \
                     owns: running without the simulator"
                );
                SimStart::Off
            }
            None => SimStart::New(sim),
        }
    } else {
        let in_flight: Vec<_> = deployments
            .iter()
            .filter(|d| !pushed.contains(&d.env) && d.deployment.status.in_progress())
            .map(|d| (d.deployment.clone(), d.log_lines))
            .collect();
        let next_deployment = deployments
            .iter()
            .filter_map(|d| d.deployment.id.strip_prefix("dep-")?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        let (sim, settle) = Simulator::resume(
            config.sim(start),
            sim_envs.to_vec(),
            &in_flight,
            next_deployment,
        );
        SimStart::Resumed(sim, settle)
    }
}

/// The environments the push API owns (the others are the simulator's).
async fn pushed_environments(store: &Store) -> Result<HashSet<String>, StoreError> {
    Ok(store
        .environment_sources()
        .await?
        .into_iter()
        .filter(|(_, source)| source == PUSHED)
        .map(|(env, _)| env)
        .collect())
}

/// Opens the store (unless ephemeral), builds the hub from it and starts the sources.
/// `start`: the wall clock at start, which `clock` reads now.
pub async fn start(
    config: &Config,
    start: Millis,
    clock: Clock,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<Booted, StoreError> {
    let base_seq = seq_base(start);
    // On PostgreSQL, the lease decides: its holder leads, the others follow (replica/).
    let election = crate::replica::elect(config, start, shutdown.clone()).await?;
    let follower = election.role() == crate::replica::Role::Follower;
    let (store, loaded, change_log_at) = match config.store(base_seq) {
        Some(cfg) if follower => {
            let (store, loaded, at) = Store::open_follower(cfg).await?;
            (Some(store), loaded, at)
        }
        Some(cfg) => {
            let (store, loaded) = Store::open(cfg).await?;
            (Some(store), loaded, 0)
        }
        None => (None, Loaded::default(), 0),
    };
    let pushed = match &store {
        Some(store) => pushed_environments(store).await?,
        None => HashSet::new(),
    };
    let Loaded {
        environments: stored,
        deployments,
        topics,
        clean,
        logged,
        ..
    } = loaded;
    let (pushed_envs, sim_envs): (Vec<Environment>, Vec<Environment>) =
        stored.iter().cloned().partition(|e| pushed.contains(&e.id));
    // A follower runs no simulator until it leads.
    let sim = if follower {
        SimStart::Off
    } else {
        plan_simulator(config, start, &pushed, &sim_envs, &deployments)
    };
    // The environments the hub starts with, in the order pages list them.
    let (hub_envs, mut births): (Vec<Environment>, Vec<StatusChange>) = match &sim {
        SimStart::New(sim) => {
            let (mut envs, births) = born(sim.environments(), start);
            envs.extend(pushed_envs.iter().cloned());
            (envs, births)
        }
        _ => (stored.clone(), Vec::new()),
    };
    let foreign = simulator_owns(&sim, &sim_envs);
    let services: usize = hub_envs.iter().map(|e| e.services.len()).sum();
    let cfg = HubConfig {
        replay: config.replay,
        max_logs: config.max_logs.max(services * 2),
        base_seq,
    };
    let hub = Arc::new(Hub::new(cfg, &hub_envs));
    // Each environment's own since: the store's timeline gives it back; a new world's hold
    // since its birth, and that starts their timeline.
    if let Some(store) = &store {
        for (env, since) in store.summary_since(&hub_envs).await? {
            hub.start_summary_since(&env, since.running, since.deployment);
        }
    }
    if let SimStart::New(sim) = &sim {
        for e in sim.environments() {
            births.extend(hub.start_summary_since(&e.id, Some(start), Some(start)));
        }
    }
    if follower {
        hub.unnumbered(&topics.iter().map(|m| m.topic.clone()).collect());
    }
    // Every topic stands where the store left it: at its last committed number with its
    // recent changes (the change log; or an older server's clean shutdown); a follower's
    // where the change log it follows does.
    {
        for mark in &topics {
            let topic = match mark.topic.strip_prefix("environment:") {
                Some(env) => Topic::Environment { env: env.into() },
                // A new simulated world changed the list: it starts afresh.
                None if mark.topic == "environments" && !matches!(sim, SimStart::New(_)) => {
                    Topic::Environments
                }
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
    if store.is_some() && !follower {
        // Topics the change log has no `open` row of get one in the writer's first batch.
        let unlogged: Vec<Topic> = std::iter::once(Topic::Environments)
            .chain(
                hub_envs
                    .iter()
                    .map(|e| Topic::Environment { env: e.id.clone() }),
            )
            .filter(|t| {
                let fresh_list = *t == Topic::Environments && matches!(sim, SimStart::New(_));
                fresh_list || !logged.contains(&store::topic_key(t))
            })
            .collect();
        hub.log_as_opened(&unlogged);
    }
    if let Some(store) = &store {
        // Only the logs of deployments still in progress (sources append to them, and pages
        // follow them live): any other kept log is read from the store when a page asks for
        // it (`Hub::load_log`), so a data directory of many deployments starts fast and small
        // (docs/store.md, "Start-up").
        let running: Vec<_> = deployments
            .iter()
            .filter(|d| d.deployment.status.in_progress())
            .collect();
        let newest = running.len().saturating_sub(cfg.max_logs);
        for d in &running[newest..] {
            let Some(log) = store.log_history(&d.deployment.id).await? else {
                continue;
            };
            let changes = log.changes.into_iter().map(|c| match c {
                LogChange::Line(line) => Change::Line(line),
                LogChange::Status(d) => Change::Deployment(d),
            });
            hub.restore_log(&log.env, log.service, log.header, log.base, changes);
        }
        if !stored.is_empty() {
            tracing::info!(
            file = %store.file().display(),
            backend = store.backend().word(),
            environments = stored.len(),
            pushed = pushed_envs.len(),
            deployments = deployments.len(),
            clean,
            "going on from the stored platform"
            );
        }
        attach_store(&hub, store);
    }
    let ingest = Arc::new(
        Ingest::new(hub.clone(), store.clone()).retaining(config.retain_deployments as usize),
    );
    // A new world's statuses start the timeline, so their since comes back after a restart.
    ingest.record_statuses(births).await;
    let registry = Registry::restore(
        pushed_envs,
        deployments
            .into_iter()
            .filter(|d| pushed.contains(&d.env))
            .collect(),
        foreign,
    );
    let push = Arc::new(PushCore::new(
        ingest.clone(),
        store.clone(),
        PushConfig {
            instance_ttl: config.instance_ttl,
            retain_deployments: config.retain_deployments.max(1) as usize,
        },
        registry,
    ));
    let sim = start_simulator(sim, config, clock.clone(), &ingest, store.is_some());
    let source = Arc::new(Sources::new(push.clone(), sim));
    let replica = match store {
        Some(store) => election.serve(crate::replica::Serving {
            config: config.clone(),
            clock,
            hub: hub.clone(),
            ingest: ingest.clone(),
            push: push.clone(),
            source: source.clone(),
            store,
            change_log_at,
            shutdown,
        }),
        None => election.serve_alone(),
    };
    Ok(Booted {
        role: replica.role(),
        replica,
        hub,
        ingest,
        source,
        push,
    })
}

/// The simulator's environments, for the push API to leave alone.
fn simulator_owns(sim: &SimStart, sim_envs: &[Environment]) -> HashMap<String, &'static str> {
    let ids: Vec<String> = match sim {
        SimStart::New(sim) => sim.environments().iter().map(|e| e.id.clone()).collect(),
        _ => sim_envs.iter().map(|e| e.id.clone()).collect(),
    };
    ids.into_iter().map(|id| (id, "simulator")).collect()
}

/// Starts the simulator as planned: a new world's first events (the world itself too, when
/// there is a store to keep it), or the events that settle what a previous run left in
/// flight.
fn start_simulator(
    sim: SimStart,
    config: &Config,
    clock: Clock,
    ingest: &Ingest,
    stored: bool,
) -> Option<Arc<SimulatorSource>> {
    match sim {
        SimStart::Off => None,
        SimStart::New(mut sim) => {
            // The world as built goes to the store as events (the hub already holds it, and
            // takes them as no change); then the initial deployments and their logs.
            let mut first: Vec<PlatformEvent> = Vec::new();
            if stored {
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
            let bootstrap = sim.take_bootstrap();
            let source = Arc::new(SimulatorSource::new(sim, clock, config.rate));
            first.extend(source.platform_events(bootstrap));
            // The one write taken whatever its size, into the empty queue (docs/store.md,
            // "Faults"): said when it passes the bound.
            let bytes: u64 = first.iter().map(store::event_bytes).sum();
            if stored && bytes > config.store_queue_bytes {
                tracing::warn!(
                    bytes,
                    max_bytes = config.store_queue_bytes,
                    "the new world's first write is larger than --store-queue-bytes: it is \
                     queued whole, and the simulator holds until it is stored"
                );
            }
            let first_write = ingest.publish(first);
            if stored {
                source.hold_until_stored(first_write);
            }
            Some(source)
        }
        SimStart::Resumed(sim, settle) => {
            let source = Arc::new(SimulatorSource::new(sim, clock, config.rate));
            ingest.publish(source.platform_events(settle));
            Some(source)
        }
    }
}

/// A follower taking over as leader (replica/): the sources a leader runs, from the platform
/// as the store holds it now. The push API's registry is rebuilt from the store, and the
/// simulator goes on from its stored environments, as after a restart.
pub(crate) async fn take_over(
    config: &Config,
    clock: Clock,
    store: &Store,
    ingest: &Ingest,
    push: &PushCore,
) -> Result<Option<Arc<SimulatorSource>>, StoreError> {
    let pushed = pushed_environments(store).await?;
    let loaded = store.reload().await?;
    let (pushed_envs, sim_envs): (Vec<Environment>, Vec<Environment>) = loaded
        .environments
        .into_iter()
        .partition(|e| pushed.contains(&e.id));
    let sim = plan_simulator(config, clock.now(), &pushed, &sim_envs, &loaded.deployments);
    push.restore(Registry::restore(
        pushed_envs,
        loaded
            .deployments
            .into_iter()
            .filter(|d| pushed.contains(&d.env))
            .collect(),
        simulator_owns(&sim, &sim_envs),
    ));
    Ok(start_simulator(sim, config, clock, ingest, true))
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

/// Reads a kept log from the store when a page subscribes to one the hub does not hold; the
/// hub awaits it (the socket's other subscriptions go on meanwhile).
fn log_loader(store: Store) -> LogLoader {
    Box::new(move |id| {
        let store = store.clone();
        Box::pin(async move {
            // Everything published so far committed first: lines the hub dropped while it
            // did not hold this log are in the store.
            let _ = store.flush().await;
            let log = match store.log_history(&id).await {
                Ok(Some(log)) if !log.removed => log,
                Ok(_) => {
                    return Err(store.removal(&id).await.ok().flatten().map(|r| GoneLog {
                        gone: r.gone,
                        message: r.message,
                    }))
                }
                Err(_) => return Err(None),
            };
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
    })
}

/// Commits what the store has queued, and where every environment topic stands, with the
/// mark of a clean shutdown; call once sources and sockets stopped.
pub async fn close(ingest: &Ingest, hub: &Hub) -> Result<(), StoreError> {
    // A follower wrote nothing: the leader records where topics stand.
    let Some(store) = ingest.store().filter(|s| !s.is_follower()) else {
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

/// A new simulated world's environments, each service's statuses held since it was born (its
/// last deployment's since by when that finished), and those statuses as the timeline's first
/// changes: the world has no history before `start`.
fn born(envs: &[Environment], start: Millis) -> (Vec<Environment>, Vec<StatusChange>) {
    let mut births = Vec::new();
    let envs = envs
        .iter()
        .map(|e| {
            let mut e = e.clone();
            for s in &mut e.services {
                births.extend(crate::hub::since::stamp_service(&e.id, None, s, start));
            }
            e
        })
        .collect();
    (envs, births)
}
