//! The shared browser client (`shipwatch_e2e::Browser`: chromedriver and headless Chromium)
//! for the bench's and the profiler's straight-line code: each call waits for its answer.

use super::page::Tools;
use crate::cmd::Result;
use serde_json::Value;
use shipwatch_e2e::browser::Options;
use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Chromium flags of the bench besides the headless ones: precise heap figures, `gc()` so that
/// heap samples hold live objects only, and a page that keeps its pace when hidden.
const FLAGS: [&str; 3] = [
    "--enable-precise-memory-info",
    "--disable-renderer-backgrounding",
    "--js-flags=--expose-gc",
];

/// Runs `f` to completion on the xtask's runtime (two worker threads, so the WebDriver
/// session's own task runs while a caller waits).
pub fn block_on<F: Future>(f: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime")
        })
        .block_on(f)
}

/// One browser session with a fresh profile; closed (and the driver stopped) on drop.
pub struct Browser {
    inner: Option<shipwatch_e2e::Browser>,
    /// How long a probe script may wait for the page's main thread before the page is
    /// declared unresponsive.
    script_wait: Duration,
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium.
    pub fn start(tools: &Tools) -> Result<Browser> {
        let options = Options {
            chromium: tools.chromium.clone().into(),
            chromedriver: tools.driver.clone().into(),
            flags: FLAGS.iter().map(|s| s.to_string()).collect(),
            // A page busy with updates may take long to run a probe script: the wait is
            // itself a finding, so wait rather than fail at 30 s.
            script_timeout: Some(tools.script_wait),
        };
        let inner = block_on(shipwatch_e2e::Browser::launch(&options))?;
        Ok(Browser {
            inner: Some(inner),
            script_wait: tools.script_wait,
        })
    }

    fn b(&self) -> &shipwatch_e2e::Browser {
        self.inner.as_ref().expect("open until dropped")
    }

    /// Runs `source` in every new document before the page's own scripts.
    pub fn add_init_script(&self, source: &str) -> Result {
        block_on(self.b().try_add_init_script(source))
    }

    /// Sends a DevTools command to the page.
    pub fn cdp(&self, cmd: &str, params: Value) -> Result<Value> {
        block_on(self.b().cdp(cmd, params))
    }

    /// Navigates and waits for the load event.
    pub fn goto(&self, url: &str) -> Result {
        block_on(self.b().try_goto(url))
    }

    /// Evaluates a function body (`return ...;`) in the page and returns its value; fails
    /// when the page's main thread does not run it within the session's script wait.
    pub fn eval(&self, body: &str) -> Result<Value> {
        block_on(self.b().try_eval(body)).map_err(|e| {
            if e.contains("timeout") {
                format!(
                    "page unresponsive: its main thread ran no probe script within {} s ({e})",
                    self.script_wait.as_secs()
                )
            } else {
                e
            }
        })
    }

    /// Polls `body` until it returns something other than null/false, or fails after `limit`.
    pub fn wait_for(&self, what: &str, body: &str, limit: Duration) -> Result<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let v = self.eval(body)?;
            if !(v.is_null() || v == Value::Bool(false)) {
                return Ok(v);
            }
            if Instant::now() > deadline {
                return Err(format!("timed out after {limit:?} waiting for {what}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Chromium's DevTools `host:port`, for clients that need its events (heap snapshots).
    pub fn debugger_address(&self) -> Option<String> {
        self.b().debugger_address()
    }

    /// Chromium's renderer processes with their resident memory in KiB.
    pub fn renderers(&self) -> Vec<(u32, u64)> {
        self.b().renderers()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(b) = self.inner.take() {
            // Closing the session ends Chromium; the harness kills what a failed close leaves.
            let _ = block_on(async {
                tokio::time::timeout(Duration::from_secs(10), b.client.clone().close()).await
            });
        }
    }
}
