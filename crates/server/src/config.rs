//! The command line: where to listen, what to serve, who may connect, and the simulator's
//! knobs. Every flag is documented in `--help`.

use crate::sim::{Scenario, SimConfig};
use crate::store::StoreConfig;
use clap::Parser;
use shipwatch_model::protocol::{Limits, MAX_SERVER_FRAME_BYTES, RESUME_BACKLOG};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Shipwatch feed server: serves the console app and a live websocket feed from an embedded
/// simulator of a cloud platform.
#[derive(Clone, Debug, Parser)]
#[command(name = "shipwatch-server", version, about)]
pub struct Config {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Directory of the built app (trunk's output) to serve.
    #[arg(long, default_value = "dist")]
    pub dist: PathBuf,

    /// Number of environments (production, staging, preview-pr-142, then more previews).
    #[arg(long, default_value_t = 3)]
    pub environments: u32,

    /// Services per environment, of mixed kinds (applications, containers, databases, cronjobs, lifecycle jobs).
    #[arg(long, default_value_t = 8)]
    pub services: u32,

    /// Instances of each application.
    #[arg(long, default_value_t = 3)]
    pub instances: u32,

    /// Random status events per second (ignored by scenarios, which play a script).
    #[arg(long, default_value_t = 4.0)]
    pub rate: f64,

    /// Log lines per deployment.
    #[arg(long, default_value_t = 400)]
    pub log_lines: u64,

    /// Seed of the simulator: the same seed gives the same platform and the same events.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Play a named scenario instead of random events.
    #[arg(long, value_enum)]
    pub scenario: Option<Scenario>,

    /// Speed of simulated time relative to real time (e.g. 10 plays a 10 s story in 1 s).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,

    /// Origin allowed to open the websocket, e.g. http://localhost:8080 (repeatable). Without
    /// any, only the server's own origin (Origin host equal to the Host header) is allowed.
    /// Requests without an Origin header (non-browser clients) are always allowed.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,

    /// Bearer token required on the websocket (`Authorization: Bearer X` or `?token=X`).
    #[arg(long, env = "SHIPWATCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Server heartbeat period, in milliseconds.
    #[arg(long, default_value_t = Limits::default().heartbeat_ms)]
    pub heartbeat_ms: u32,

    /// Silence after which a client is dropped (close 4000), in milliseconds.
    #[arg(long, default_value_t = Limits::default().idle_timeout_ms)]
    pub idle_timeout_ms: u32,

    /// Largest client frame read, in bytes; larger ones close the socket (1009).
    #[arg(long, default_value_t = Limits::default().max_client_frame_bytes)]
    pub max_client_frame_bytes: u32,

    /// Subscriptions one socket may hold.
    #[arg(long, default_value_t = Limits::default().max_subscriptions)]
    pub max_subscriptions: u32,

    /// Client frames per second before `rate_limited` errors; twice that closes (4029).
    #[arg(long, default_value_t = Limits::default().max_client_frames_per_sec)]
    pub max_client_frames_per_sec: u32,

    /// Changes kept per environment topic for resumes and slow clients.
    #[arg(long, default_value_t = RESUME_BACKLOG)]
    pub replay: usize,

    /// Socket send buffer per client, in bytes (0: the system's, which grows with the link).
    /// A small one caps a client's throughput at about twice this per round trip; what a slow
    /// client has in flight is bounded by the pong-paced window instead (docs/protocol.md,
    /// Heartbeats).
    #[arg(long, default_value_t = 0)]
    pub send_buffer_bytes: u32,

    /// Data written to a socket but not yet sent that the kernel holds before the writer waits
    /// (TCP_NOTSENT_LOWAT, Linux; 0: the system's): a heartbeat written now waits behind at
    /// most this much, whatever the link's bandwidth-delay product.
    #[arg(long, default_value_t = 128 * 1024)]
    pub unsent_buffer_bytes: u32,

    /// Time a client has to send a request's headers, counted from when the connection opens
    /// or the previous response was sent, in milliseconds: a half-sent request, or a kept-alive
    /// connection with no next request, is closed after it.
    #[arg(long, default_value_t = 10_000)]
    pub http_header_timeout_ms: u64,

    /// Time without a byte either way in the middle of an HTTP request (a stalled body, a
    /// response the client stopped reading) before the connection is closed, in milliseconds.
    /// Websockets have their own heartbeats and idle rule.
    #[arg(long, default_value_t = 60_000)]
    pub http_idle_timeout_ms: u64,

    /// Connections (HTTP and websocket) one client IP address may hold open at once; the next
    /// one is closed at once (0: no limit). A browser tab holds a websocket and up to six HTTP
    /// connections while it loads: the default leaves room for dozens of people behind one
    /// NAT address. A load test from one address needs 0 or more than its clients.
    #[arg(long, default_value_t = 256)]
    pub max_connections_per_ip: usize,

    // Behind a reverse proxy (trusted_proxy.rs).
    /// A reverse proxy (nginx, an ingress) in front of this server, as an address or a network
    /// (127.0.0.1, 10.0.0.0/8; repeatable): on connections from it the client's address is
    /// read from X-Forwarded-For, for the per-address limits (--max-connections-per-ip,
    /// --max-write-failures). From any other peer the header is ignored. deploy/README.md.
    #[arg(long = "trusted-proxy", value_name = "ADDR")]
    pub trusted_proxies: Vec<crate::trusted_proxy::ProxyNet>,

    /// Deployment logs kept in memory (older ones are forgotten).
    #[arg(long, default_value_t = 512)]
    pub max_logs: usize,

    /// Directory of the store (SQLite, created if missing): the platform, every deployment
    /// with its history and log, and where each topic's numbering stands, kept across
    /// restarts. `:memory:` is the same as `--ephemeral`.
    #[arg(long, default_value = "./shipwatch-data", value_name = "DIR")]
    pub data_dir: PathBuf,

    /// Keep nothing on disk: a new simulated world at every start (demos, tests).
    #[arg(long)]
    pub ephemeral: bool,

    /// Deployments kept in the store per service, with their logs (older ones are removed,
    /// oldest first).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub retain_deployments: u32,

    /// Bytes of log text kept in the store; past it the oldest deployments' logs are removed.
    #[arg(long, default_value_t = 2 << 30, value_name = "BYTES")]
    pub max_log_bytes: u64,

    /// Largest size of the store's file, in bytes (0: no limit but the disk). Past it writes
    /// fail as on a full disk: health says so, pages keep being served.
    #[arg(long, default_value_t = 0, value_name = "BYTES")]
    pub max_store_bytes: u64,

    /// Where the store lives instead of SQLite in --data-dir: `postgres://user@host:port/db`
    /// (PostgreSQL), or `sqlite://PATH` (a data directory, as --data-dir PATH). docs/store.md.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,

    /// Most connections the store's pool opens for reads (the writer has one of its own).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub store_max_connections: u32,

    /// Connections the store's pool keeps open when idle.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub store_min_connections: u32,

    /// How long a store read waits for a connection before it fails, in milliseconds.
    #[arg(long, default_value_t = 5_000, value_name = "MS")]
    pub store_acquire_timeout_ms: u64,

    /// An idle store connection above the minimum is closed after this long, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub store_idle_timeout_secs: u64,

    // The store's queue, durability and memory of removed logs (store/queue.rs,
    // store/retention_trim.rs, docs/store.md).
    /// Bytes of writes the store's queue may hold while they cannot be written (disk full,
    /// database down): a service or instance reported again replaces its queued report, log
    /// lines and deployments count. Once full, writes are refused (503) until the store catches
    /// up, and health says so.
    #[arg(long, default_value_t = crate::store::DEFAULT_QUEUE_BYTES, value_name = "BYTES")]
    pub store_queue_bytes: u64,

    // A clean stop's bound (lib.rs `ServerHandle::stop_within`, docs/store.md "Faults").
    /// Seconds a stop (SIGTERM, Ctrl-C) may take; past it the server exits anyway (status 1)
    /// and what the store had not acknowledged is lost, as after a crash.
    #[arg(long, default_value_t = 20, value_name = "SECONDS")]
    pub stop_timeout_secs: u64,

    /// What a SQLite commit waits for: `normal` (a power cut may lose the last commits, never
    /// the file) or `full` (an fsync per commit: a power cut loses nothing acknowledged). Both
    /// survive the process being killed.
    #[arg(long, value_enum, default_value_t = crate::store::Synchronous::Normal)]
    pub sqlite_synchronous: crate::store::Synchronous,

    /// Deployments removed by retention that the store remembers (the newest), so a page
    /// that asks for one's log is told why it is gone; older ones are forgotten.
    #[arg(long, default_value_t = crate::store::DEFAULT_KEEP_REMOVED, value_name = "N")]
    pub keep_removed_deployments: u64,

    // Replicas on one PostgreSQL database (replica/).
    /// How long the leader's lease lasts unless renewed, in milliseconds: a follower takes
    /// over at most this long (plus one renewal period) after the leader dies. With
    /// `--store postgres://...` only.
    #[arg(long, default_value_t = 5_000, value_name = "MS")]
    pub lease_ttl_ms: u64,

    /// How often the leader renews its lease and a follower tries to take it, in
    /// milliseconds (below --lease-ttl-ms).
    #[arg(long, default_value_t = 1_000, value_name = "MS")]
    pub lease_renew_ms: u64,

    /// For testing clients only: every N seconds, send every socket one malformed frame and
    /// one frame of an unknown type (0 = never). A correct client drops and counts them.
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    pub inject_garbage_every: u64,

    /// For testing clients only: on every socket, the first N snapshots (a snapshot sent in
    /// parts: its first part) are replaced by a malformed frame, as if lost (0 = none). A
    /// correct client asks again for the subscription's state.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub drop_snapshots: u64,

    // Time in state (stuck_flag.rs).
    /// How long a transitional status may last before the page marks a service or environment
    /// stuck, STATUS=DURATION (repeatable): STARTING, STOPPING, QUEUED, BUILDING, DEPLOYING,
    /// CANCELLING_BUILDING; durations like 90s, 20m, 1h (0: never). Defaults: STARTING and
    /// STOPPING 10m, QUEUED 15m, BUILDING 30m, DEPLOYING 15m, CANCELLING_BUILDING 5m.
    #[arg(long = "stuck-after", value_name = "STATUS=DURATION", value_parser = crate::stuck_flag::parse)]
    pub stuck_after: Vec<crate::stuck_flag::StuckFlag>,

    // The push API (push/).
    /// Run without the simulator: the platform is what the push API (and webhooks) report,
    /// empty until something is pushed.
    #[arg(long)]
    pub no_simulator: bool,

    /// How long a pushed instance counts as reported: one not reported again for this long
    /// becomes UNKNOWN, with the reason "no report for 60 s". Takes 60, 60s, 1500ms or 2m.
    #[arg(long, default_value = crate::push::ttl::DEFAULT_INSTANCE_TTL, value_parser = crate::push::ttl::parse, value_name = "DURATION")]
    pub instance_ttl: std::time::Duration,

    // Who may write (write_access.rs) and the forges' webhooks (webhooks/).
    /// A write token, NAME=TOKEN (repeatable; or SHIPWATCH_WRITE_TOKENS, comma-separated):
    /// every write (push API, actions) needs `Authorization: Bearer TOKEN`, and NAME says who
    /// wrote. At least 16 characters. Without any, the server makes one, named `local`, in
    /// <data-dir>/write-token (mode 0600; its path is logged at start); with --ephemeral and
    /// none, writes are refused.
    #[arg(
        long = "write-token",
        value_name = "NAME=TOKEN",
        env = "SHIPWATCH_WRITE_TOKENS",
        hide_env_values = true,
        value_delimiter = ',',
        value_parser = crate::write_access::WriteTokenParser
    )]
    pub write_tokens: Vec<crate::write_access::WriteToken>,

    /// Failed write attempts (missing or wrong token, bad webhook signature) one client address
    /// may make per minute; past it every write from it answers 429 with Retry-After until the
    /// minute is over (0: no limit).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub max_write_failures: u32,

    /// Secret of the GitHub webhook (POST /api/v1/webhooks/github), which signs every delivery
    /// (X-Hub-Signature-256). Without it, GitHub deliveries are refused.
    #[arg(
        long,
        env = "SHIPWATCH_GITHUB_WEBHOOK_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub github_webhook_secret: Option<crate::access::Secret>,

    /// Secret token of the GitLab webhook (POST /api/v1/webhooks/gitlab), sent by GitLab as
    /// X-Gitlab-Token. Without it, GitLab deliveries are refused.
    #[arg(
        long,
        env = "SHIPWATCH_GITLAB_WEBHOOK_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub gitlab_webhook_token: Option<crate::access::Secret>,

    // Writes on a follower replica (replica/inbox.rs).
    /// How long a follower replica waits for the leader to answer a write it handed over (push
    /// API, webhooks, actions), in ms; past it the client gets 503 saying whether anything was
    /// applied, and retries.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub forward_wait_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self::parse_from(["shipwatch-server"])
    }
}

impl Config {
    /// The limits announced in `hello` and enforced on every socket.
    pub fn limits(&self) -> Limits {
        Limits {
            max_client_frame_bytes: self.max_client_frame_bytes,
            max_server_frame_bytes: MAX_SERVER_FRAME_BYTES,
            max_subscriptions: self.max_subscriptions,
            max_client_frames_per_sec: self.max_client_frames_per_sec,
            heartbeat_ms: self.heartbeat_ms,
            idle_timeout_ms: self.idle_timeout_ms,
        }
    }

    /// Where the store lives and what it keeps, unless ephemeral; log topics of deployments
    /// created in this run start at `log_base`.
    pub fn store(&self, log_base: u64) -> Option<StoreConfig> {
        let ephemeral = self.ephemeral || self.data_dir.as_os_str() == ":memory:";
        let (dir, database) = match self.store.as_deref() {
            Some(url) if url.starts_with("sqlite:") => {
                let path = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                (PathBuf::from(path), None)
            }
            Some(url) => (self.data_dir.clone(), Some(url.to_string())),
            None => (self.data_dir.clone(), None),
        };
        (!ephemeral).then(|| StoreConfig {
            dir,
            database,
            pool: crate::store::PoolLimits {
                max_connections: self.store_max_connections.max(1),
                min_connections: self.store_min_connections,
                acquire_timeout: std::time::Duration::from_millis(
                    self.store_acquire_timeout_ms.max(1),
                ),
                idle_timeout: std::time::Duration::from_secs(self.store_idle_timeout_secs.max(1)),
            },
            retain_deployments: self.retain_deployments,
            max_log_bytes: self.max_log_bytes,
            log_base,
            max_file_bytes: self.max_store_bytes,
            queue: crate::store::QueueLimits {
                max_bytes: self.store_queue_bytes,
            },
            synchronous: self.sqlite_synchronous,
            keep_removed: self.keep_removed_deployments,
        })
    }

    /// The leader's lease (replica/lease.rs): renewed at most a third of its length apart.
    pub fn lease(&self) -> crate::replica::lease::LeaseConfig {
        let ttl = std::time::Duration::from_millis(self.lease_ttl_ms.max(300));
        let renew = std::time::Duration::from_millis(self.lease_renew_ms.max(50));
        crate::replica::lease::LeaseConfig {
            ttl,
            renew_every: renew.min(ttl / 3),
        }
    }

    /// How HTTP connections are served.
    pub fn conn_options(&self) -> crate::listener::ConnOptions {
        crate::listener::ConnOptions {
            header_timeout: std::time::Duration::from_millis(self.http_header_timeout_ms.max(1)),
            idle_timeout: std::time::Duration::from_millis(self.http_idle_timeout_ms.max(1)),
            unsent_bytes: self.unsent_buffer_bytes,
            trusted: std::sync::Arc::new(crate::trusted_proxy::TrustedProxies::new(
                self.trusted_proxies.clone(),
            )),
        }
    }

    /// The simulator's knobs, starting at simulated time `start`.
    pub fn sim(&self, start: u64) -> SimConfig {
        SimConfig {
            environments: self.environments,
            services: self.services,
            instances: self.instances,
            log_lines: self.log_lines,
            seed: self.seed,
            scenario: self.scenario,
            start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server announces the protocol's default limits unless told otherwise.
    #[test]
    fn default_limits_are_the_protocols() {
        assert_eq!(Config::default().limits(), Limits::default());
        assert_eq!(Config::default().replay, RESUME_BACKLOG);
    }
}
