//! Several replicas on one PostgreSQL database (issue 19): one at a time is the **leader**,
//! holding a lease row in the database; it runs the store's writer, the simulator and every
//! source that publishes. The others are **followers**: their hub is loaded from the store and
//! kept current by tailing the change log the leader's writer commits, so every replica serves
//! the same topics at the same sequence numbers. When the leader dies its lease expires and a
//! follower takes over (docs/store.md, "Several replicas").

pub mod follower;
pub mod inbox;
pub mod lease;
pub mod listener;
pub mod role;
pub mod writes;

pub use role::Role;

use crate::app::Clock;
use crate::config::Config;
use crate::hub::Hub;
use crate::ingest::Ingest;
use crate::platform::Sink;
use crate::push::PushCore;
use crate::sources::Sources;
use crate::store::{schema, Store, StoreError};
use follower::Position;
use lease::{Holder, LeaseConfig};
use shipwatch_model::entities::Millis;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// The outcome of the lease at start: this server's role, and what it needs to keep it.
pub struct Election {
    replica: Arc<Replica>,
    url: Option<String>,
}

/// Takes the lease if it is free (PostgreSQL), and from then on renews it while this server
/// leads; `Single` on SQLite or ephemeral.
pub async fn elect(
    config: &Config,
    start: Millis,
    shutdown: watch::Receiver<bool>,
) -> Result<Election, StoreError> {
    let id = lease::replica_id(start);
    let lease = config.lease();
    let replica = |role, pool, holder| {
        Arc::new(Replica {
            id: id.clone(),
            role: watch::channel(role).0,
            lease,
            pool,
            holder: Mutex::new(holder),
            position: Arc::new(Position::default()),
            longest_renewal_gap_ms: AtomicU64::new(0),
        })
    };
    let url = match config.store(0).and_then(|c| c.database) {
        Some(url) => url,
        None => {
            return Ok(Election {
                replica: replica(Role::Single, None, None),
                url: None,
            })
        }
    };
    sqlx::any::install_default_drivers();
    let shown = std::path::PathBuf::from(crate::store::redact(&url));
    let open = |e: &dyn std::fmt::Display| StoreError::Open {
        file: shown.clone(),
        reason: e.to_string(),
    };
    let pool = AnyPoolOptions::new()
        .min_connections(1)
        .max_connections(1)
        .acquire_timeout(lease.ttl)
        .connect(&url)
        .await
        .map_err(|e| open(&e))?;
    // The lease's table may not exist yet: the migrations first (one replica applies them,
    // the others wait on sqlx's lock).
    schema::migrator(schema::Backend::Postgres)
        .run(&pool)
        .await
        .map_err(|e| open(&e))?;
    let leads = lease::take(&pool, &id, lease.ttl)
        .await
        .map_err(|e| open(&e))?;
    let role = if leads {
        // A previous leader whose lease expired may still hold the writer's lock.
        Store::fence_writer(&pool).await.map_err(|e| open(&e))?;
        Role::Leader
    } else {
        Role::Follower
    };
    let holder = lease::holder(&pool).await.map_err(|e| open(&e))?;
    tracing::info!(replica = %id, role = role.word(), "replica role");
    let replica = replica(role, Some(pool), holder);
    if role == Role::Leader {
        // Renewed from now on: loading a large store may take longer than the lease.
        replica.clone().keep_lease(url.clone(), shutdown);
    }
    Ok(Election {
        replica,
        url: Some(url),
    })
}

/// What a replica serves with, to follow and to take over.
pub struct Serving {
    /// The command line.
    pub config: Config,
    /// Simulated time.
    pub clock: Clock,
    /// The topics.
    pub hub: Arc<Hub>,
    /// Where events enter.
    pub ingest: Arc<Ingest>,
    /// The push API.
    pub push: Arc<PushCore>,
    /// The sources (the simulator starts there on taking over).
    pub source: Arc<Sources>,
    /// The store.
    pub store: Store,
    /// The last change-log row the hub was loaded with.
    pub change_log_at: u64,
    /// Becomes true at shutdown.
    pub shutdown: watch::Receiver<bool>,
}

/// This server among the replicas of its database.
pub struct Replica {
    id: String,
    role: watch::Sender<Role>,
    lease: LeaseConfig,
    pool: Option<AnyPool>,
    /// Who held the lease at the last look.
    holder: Mutex<Option<Holder>>,
    /// Where a follower's hub stands in the change log.
    position: Arc<Position>,
    /// The longest time between two renewals of the lease while leading (0: none yet): how
    /// close a busy leader came to losing it.
    longest_renewal_gap_ms: AtomicU64,
}

/// What health says of replicas.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ReplicaHealth {
    /// `single`, `leader` or `follower`.
    pub role: &'static str,
    /// This replica's id.
    pub id: String,
    /// Who holds the lease (none on a single server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease: Option<Holder>,
    /// Change-log rows committed and not yet applied here (a follower's lag).
    pub lag: u64,
    /// The last change-log row applied here (a follower).
    pub applied: u64,
    /// The longest time between two renewals of the lease while this replica led (its
    /// margin under load is the lease's time to live less this).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longest_renewal_gap_ms: Option<u64>,
}

impl Election {
    /// The role the lease gave.
    pub fn role(&self) -> Role {
        *self.replica.role.borrow()
    }

    /// A server without a store (ephemeral).
    pub fn serve_alone(self) -> Arc<Replica> {
        self.replica
    }

    /// Starts what a follower needs: it follows the change log and tries the lease every
    /// [`LeaseConfig::renew_every`], taking over when it gets it. (A leader already renews.)
    pub fn serve(self, serving: Serving) -> Arc<Replica> {
        let replica = self.replica;
        let Some(url) = self.url else {
            return replica;
        };
        if *replica.role.borrow() == Role::Follower {
            replica
                .position
                .applied
                .store(serving.change_log_at, Ordering::Relaxed);
            tokio::spawn(replica.clone().follow(url, serving));
        }
        replica
    }
}

impl Replica {
    /// The role, as it changes.
    pub fn role(&self) -> watch::Receiver<Role> {
        self.role.subscribe()
    }

    /// This replica's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What health reports.
    pub fn health(&self) -> ReplicaHealth {
        ReplicaHealth {
            role: self.role.borrow().word(),
            id: self.id.clone(),
            lease: self
                .holder
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            lag: self.position.lag(),
            applied: self.position.applied.load(Ordering::Relaxed),
            longest_renewal_gap_ms: match self.longest_renewal_gap_ms.load(Ordering::Relaxed) {
                0 => None,
                ms => Some(ms),
            },
        }
    }

    /// Gives the lease up at a clean stop (once the store closed), so a follower takes over
    /// at once rather than when it expires.
    pub async fn release(&self) {
        if *self.role.borrow() != Role::Leader {
            return;
        }
        if let Some(pool) = &self.pool {
            if let Err(e) = lease::release(pool, &self.id).await {
                tracing::warn!(error = %e, "the lease could not be given up; it expires");
            }
        }
    }

    /// Looks at who holds the lease, for health.
    async fn look(&self, pool: &AnyPool) {
        if let Ok(h) = lease::holder(pool).await {
            *self.holder.lock().unwrap_or_else(|p| p.into_inner()) = h;
        }
    }

    /// The leader renews its lease until shutdown, on a thread of its own with its own
    /// runtime and connection: on the server's runtime, ten thousand busy sockets delayed a
    /// renewal past the lease (4.6 s) and the leader lost it under load.
    fn keep_lease(self: Arc<Self>, url: String, shutdown: watch::Receiver<bool>) {
        let spawned = std::thread::Builder::new()
            .name("lease".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(self.renew(url, shutdown)),
                    Err(e) => {
                        tracing::error!(error = %e, "the lease's runtime did not start: stopping");
                        std::process::exit(75);
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "the lease's thread did not start: stopping");
            std::process::exit(75);
        }
    }

    /// Renews the lease every `renew_every`. If another replica holds it (this one could not
    /// renew it in time), this process stops at once: two leaders would each run a
    /// simulator, and the writer's lock already keeps this one from writing.
    async fn renew(self: Arc<Self>, url: String, mut shutdown: watch::Receiver<bool>) {
        let mut pool: Option<AnyPool> = None;
        let mut failing = false;
        let mut renewed: Option<Instant> = None;
        loop {
            if pool.is_none() {
                pool = AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(self.lease.ttl)
                    .connect(&url)
                    .await
                    .map_err(|e| {
                        if !failing {
                            tracing::warn!(error = %e, "the lease's connection failed; retrying");
                        }
                        failing = true;
                    })
                    .ok();
            }
            if let Some(pool) = &pool {
                match lease::take(pool, &self.id, self.lease.ttl).await {
                    Ok(true) => {
                        failing = false;
                        let now = Instant::now();
                        if let Some(last) = renewed.replace(now) {
                            self.renewed_after(now - last);
                        }
                    }
                    Ok(false) => {
                        tracing::error!(
                            replica = %self.id,
                            "another replica took the lease (this one could not renew it in \
                             time): stopping, so that one leader runs"
                        );
                        std::process::exit(75);
                    }
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %e, "renewing the lease failed; retrying");
                    }
                    Err(_) => {}
                }
                self.look(pool).await;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.lease.renew_every) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Notes the time since the previous renewal; one that came late (twice the period or
    /// more) is logged with the margin it left.
    fn renewed_after(&self, gap: Duration) {
        let ms = gap.as_millis() as u64;
        self.longest_renewal_gap_ms.fetch_max(ms, Ordering::Relaxed);
        if gap >= self.lease.renew_every * 2 {
            tracing::warn!(
                gap_ms = ms,
                margin_ms = self.lease.ttl.as_millis() as i64 - ms as i64,
                "the lease was renewed late"
            );
        }
    }

    /// A follower: keeps its hub current from the change log and takes the lease over when
    /// it is free, then leads.
    async fn follow(self: Arc<Self>, url: String, s: Serving) {
        let Some(pool) = self.pool.clone() else {
            return;
        };
        let wake = Arc::new(Notify::new());
        let stop_tail = Arc::new(Notify::new());
        let (stop_listening, listening) = watch::channel(false);
        tokio::spawn(listener::run(url.clone(), wake.clone(), listening));
        let tail = tokio::spawn(follower::tail(
            s.store.clone(),
            s.hub.clone(),
            self.position.clone(),
            wake,
            stop_tail.clone(),
        ));
        let mut shutdown = s.shutdown.clone();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.lease.renew_every) => {}
                _ = shutdown.changed() => {
                    stop_tail.notify_one();
                    let _ = stop_listening.send(true);
                    return;
                }
            }
            let took = lease::take(&pool, &self.id, self.lease.ttl)
                .await
                .unwrap_or(false);
            self.look(&pool).await;
            if took {
                break;
            }
        }
        tracing::info!(replica = %self.id, "took the lease over: catching up, then leading");
        stop_tail.notify_one();
        let _ = tail.await;
        let _ = stop_listening.send(true);
        // The lease is ours from here: renewed while the writer's lock is awaited.
        self.clone().keep_lease(url, s.shutdown.clone());
        loop {
            let caught_up = catch_up_fully(&s.store, &s.hub, &self.position);
            match s.store.lead(caught_up).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "starting the writer failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        match crate::boot::take_over(&s.config, s.clock.clone(), &s.store, &s.ingest, &s.push).await
        {
            Ok(Some(sim)) => {
                let sink: Arc<dyn Sink> = s.ingest.clone();
                s.source.start_simulator(sim, sink, s.shutdown.clone());
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "the simulator could not go on"),
        }
        let _ = self.role.send(Role::Leader);
        tracing::info!(
            replica = %self.id,
            applied = self.position.applied.load(Ordering::Relaxed),
            "leading"
        );
    }
}

/// Applies what the change log holds past the hub's position, retrying until it can.
async fn catch_up_fully(store: &Store, hub: &Hub, position: &Position) {
    while let Err(e) = follower::catch_up(store, hub, position).await {
        tracing::warn!(error = %e, "catching up failed; retrying");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
