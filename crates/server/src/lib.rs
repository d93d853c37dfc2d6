//! Shipwatch feed server: serves the built app and the websocket API (protocol v1 of
//! `shipwatch_model::protocol`), fed by an embedded, deterministic simulator.
//!
//! [`serve`] starts everything on a listener and returns a [`ServerHandle`]; `main.rs` only
//! parses the command line and waits for Ctrl-C.

pub mod access;
pub mod app;
pub mod boot;
pub mod config;
pub mod conn_limits;
pub mod csp;
pub mod flow;
pub mod frames;
pub mod history_api;
pub mod http;
pub mod hub;
pub mod ingest;
pub mod listener;
pub mod memory_history;
pub mod platform;
pub mod push;
pub mod replica;
pub mod sim;
pub mod sources;
pub mod store;
pub mod store_status;
pub mod stuck_flag;
pub mod subscription;
pub mod timeline_api;
pub mod trusted_proxy;
pub mod webhooks;
pub mod write_access;
pub mod ws;

pub use config::Config;

use app::{App, Clock};
use conn_limits::ConnLimits;
use platform::Source;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// A running server.
pub struct ServerHandle {
    addr: SocketAddr,
    app: Arc<App>,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    driver: JoinHandle<()>,
    conn_limits: Arc<ConnLimits>,
}

impl ServerHandle {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Shared state (source, hub, store), for tests and tools.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Connections refused since start because their address had too many open.
    pub fn refused_connections(&self) -> u64 {
        self.conn_limits.refused()
    }

    /// Asks everything to stop: sockets get close 1001, the listener closes.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits until the server stopped and sockets closed (at most a few seconds for those).
    pub async fn stopped(self) {
        self.finish().await;
    }

    /// Waits until the server stopped, for at most `limit`: a stop finishes in a bounded
    /// time whatever the store does (a full disk, a database that does not answer).
    pub async fn stop_within(self, limit: Duration) -> Stopped {
        match tokio::time::timeout(limit, self.finish()).await {
            Ok(stopped) => stopped,
            Err(_) => Stopped::TimedOut(limit),
        }
    }

    async fn finish(self) -> Stopped {
        let _ = self.server.await;
        let _ = self.driver.await;
        let wait = async {
            loop {
                let changed = self.app.clients_changed.notified();
                if self.app.clients.load(Ordering::Relaxed) == 0 {
                    break;
                }
                changed.await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(3), wait).await;
        let stopped = match boot::close(&self.app.ingest, &self.app.hub).await {
            Ok(()) => Stopped::Clean,
            Err(e) => {
                tracing::error!(error = %e, "the store did not close cleanly");
                Stopped::StoreNotClosed(e.to_string())
            }
        };
        // Given up at once when the database does not answer (it expires anyway): a stop
        // does not wait on it.
        let release = self.app.replica.release();
        if tokio::time::timeout(Duration::from_secs(2), release)
            .await
            .is_err()
        {
            tracing::warn!("the lease could not be given up within 2 s; it expires");
        }
        self.app.hub.close_all();
        stopped
    }
}

/// How a stop ended ([`ServerHandle::stop_within`]); said as a sentence unless clean.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Everything queued was committed, with the mark of a clean stop.
    Clean,
    /// The store could not commit what was queued (why): what it had not acknowledged is
    /// lost, and the next start goes on as after a crash.
    StoreNotClosed(String),
    /// The stop took longer than its bound, and was cut short.
    TimedOut(Duration),
}

impl Stopped {
    /// The process's exit status: 0 only for a clean stop.
    pub fn exit_code(&self) -> i32 {
        match self {
            Stopped::Clean => 0,
            Stopped::StoreNotClosed(_) | Stopped::TimedOut(_) => 1,
        }
    }
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stopped::Clean => f.write_str("stopped cleanly"),
            Stopped::StoreNotClosed(why) => write!(f, "stopped without a clean close: {why}"),
            Stopped::TimedOut(limit) => write!(
                f,
                "did not stop within {} s (--stop-timeout-secs): exiting anyway; what the \
                 store had not acknowledged is lost, and the next start goes on as after a \
                 crash",
                limit.as_secs()
            ),
        }
    }
}

/// Binds `config.addr`, opens the store (or, ephemeral, builds a new simulated platform) and
/// serves it. Returns once listening; an unusable data file is an error naming it.
pub async fn serve(config: Config) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let listener = listen(&config)?;
    let addr = listener.local_addr()?;
    let start = app::wall_millis();
    // The clock starts now, with the wall clock it reads: building a large platform takes a
    // while, and a clock started after it would stamp every event that much in the past.
    let clock = Clock::new(start, config.speed);
    let (stop, shutdown) = watch::channel(false);
    let booted = boot::start(&config, start, clock.clone(), shutdown.clone())
        .await
        .map_err(std::io::Error::other)?;
    let writers = write_access::WriteAccess::new(&config)?;
    let inbox = replica::inbox::for_config(&config)?;
    let app = Arc::new(App {
        limits: config.limits(),
        clock,
        cfg: config,
        hub: booted.hub,
        ingest: booted.ingest.clone(),
        source: booted.source.clone(),
        push: booted.push.clone(),
        shutdown: shutdown.clone(),
        clients: AtomicUsize::new(0),
        clients_changed: Notify::new(),
        conn_ids: AtomicU64::new(1),
        writers,
        role: booted.role.clone(),
        replica: booted.replica.clone(),
        store_status: store_status::follow(booted.ingest.store().cloned(), shutdown.clone()),
        inbox,
    });
    replica::inbox::start(&app);
    let driver = tokio::spawn(booted.source.run(booted.ingest, shutdown.clone()));
    let router = http::router(app.clone());
    let conn_limits = ConnLimits::new(app.cfg.max_connections_per_ip);
    let server = tokio::spawn(listener::run(
        listener,
        router,
        app.cfg.conn_options(),
        conn_limits.clone(),
        shutdown,
    ));
    tracing::info!(%addr, "shipwatch-server listening");
    Ok((
        addr,
        ServerHandle {
            addr,
            app,
            stop,
            server,
            driver,
            conn_limits,
        },
    ))
}

/// The listening socket (accepted sockets inherit its send buffer size, when one is set). The
/// backlog admits thousands of clients connecting at once.
fn listen(config: &Config) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match config.addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    if config.send_buffer_bytes > 0 {
        socket.set_send_buffer_size(config.send_buffer_bytes)?;
    }
    socket.bind(config.addr)?;
    socket.listen(4096)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
