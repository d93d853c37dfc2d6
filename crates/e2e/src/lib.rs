//! The harness of the end-to-end tests, the benchmark and the profiler (`cargo xtask bench`
//! and `profile` use this library): starts the real server binary and a headless Chromium
//! through chromedriver, and waits for things the way a user would.

pub mod actions;
pub mod browser;
pub mod connection;
pub mod data_dir;
pub mod http;
pub mod log_page;
pub mod nginx;
pub mod postgres;
pub mod procs;
pub mod replica_set;
pub mod reporter;
pub mod screenshots;
pub mod server;
pub mod slow_reads;

pub use browser::Browser;
pub use data_dir::DataDir;
pub use server::Server;

use std::future::Future;
use std::time::{Duration, Instant};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The path of a variable the xtask sets, with a clear message when run by hand.
pub fn env_path(name: &str) -> std::path::PathBuf {
    std::env::var_os(name).map(Into::into).unwrap_or_else(|| {
        panic!("{name} is not set: run the end-to-end tests through `cargo xtask test`")
    })
}
