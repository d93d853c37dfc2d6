//! State shared by every request and socket.

use crate::access;
use crate::config::Config;
use crate::hub::Hub;
use crate::ingest::Ingest;
use crate::platform::Source;
use axum::http::HeaderMap;
use shipwatch_model::entities::Millis;
use shipwatch_model::protocol::Limits;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{watch, Notify};

/// Simulated time: the wall clock at start, then real elapsed time times `speed`.
#[derive(Clone, Debug)]
pub struct Clock {
    start_real: Instant,
    start_sim: Millis,
    speed: f64,
}

impl Clock {
    /// A clock that reads `start_sim` now and runs `speed` times faster than real time.
    pub fn new(start_sim: Millis, speed: f64) -> Self {
        Self {
            start_real: Instant::now(),
            start_sim,
            speed: if speed.is_finite() && speed > 0.0 {
                speed
            } else {
                1.0
            },
        }
    }

    /// Simulated now.
    pub fn now(&self) -> Millis {
        self.start_sim + (self.start_real.elapsed().as_secs_f64() * 1000.0 * self.speed) as Millis
    }

    /// The speed factor.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// When a simulated time happened by the wall clock. Pages show real time: the
    /// simulator's stories run `speed` times faster (a 30 s build at `--speed 10` takes, and
    /// shows, 3 s), and its timestamps would otherwise run ahead of the wall clock (at
    /// `--speed 10`, six minutes ahead after 40 s). Times before the clock started are the
    /// world's past and stay as they are.
    pub fn wall(&self, sim: Millis) -> Millis {
        if sim <= self.start_sim || self.speed == 1.0 {
            return sim;
        }
        self.start_sim + ((sim - self.start_sim) as f64 / self.speed) as Millis
    }
}

/// Milliseconds since the Unix epoch, by the wall clock.
pub fn wall_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// Everything handlers need.
pub struct App {
    /// The command line.
    pub cfg: Config,
    /// Limits announced and enforced.
    pub limits: Limits,
    /// Topics.
    pub hub: Arc<Hub>,
    /// Where platform events enter (and the store, unless ephemeral).
    pub ingest: Arc<Ingest>,
    /// The sources that feed it (the simulator, the push API), which the action API asks to
    /// act.
    pub source: Arc<dyn Source>,
    /// The push API's operations (the HTTP handlers' and the webhooks').
    pub push: Arc<crate::push::PushCore>,
    /// Simulated time.
    pub clock: Clock,
    /// Becomes true at shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// Open websockets.
    pub clients: AtomicUsize,
    /// Signalled when a websocket closes.
    pub clients_changed: Notify,
    /// Numbers connections in logs (the next id; the first is 1).
    pub conn_ids: AtomicU64,
    /// Who may write: the write tokens and each address's failures.
    pub writers: crate::write_access::WriteAccess,
    /// This server's part among the replicas of its database ([`crate::replica::Role`]):
    /// `Single` on SQLite or ephemeral; on PostgreSQL `Follower` until it holds the lease.
    pub role: watch::Receiver<crate::replica::Role>,
    /// Its lease and where it follows the change log, for health and shutdown.
    pub replica: Arc<crate::replica::Replica>,
    /// Whether the store commits, for the sockets that asked (`/ws?status=1`).
    pub store_status: watch::Receiver<crate::store_status::StoreStatus>,
    /// On PostgreSQL, the way writes reach the leader from a follower, and the leader's
    /// executor of them ([`crate::replica::inbox`]); none on SQLite or ephemeral.
    pub inbox: Option<Arc<crate::replica::inbox::Inbox>>,
}

impl App {
    /// Whether a request with these headers and `?token=` may read the feed (origin and
    /// token, as configured): the websocket and the log download share the rule.
    pub fn check_access(
        &self,
        headers: &HeaderMap,
        query_token: Option<&str>,
    ) -> Result<(), access::Refusal> {
        access::check(
            headers,
            query_token,
            &self.cfg.allow_origins,
            self.cfg.token.as_deref(),
        )
    }
}
