//! Headless Chromium through chromedriver's WebDriver HTTP API, plus its DevTools passthrough
//! (`goog/cdp/execute`) to install the page probe before any page script runs.

use super::http::request;
use crate::cmd::Result;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Chromium flags for headless runs as root in a container, with precise heap figures and
/// `gc()` so that heap samples hold live objects only.
const FLAGS: [&str; 12] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,860",
    "--enable-precise-memory-info",
    "--disable-renderer-backgrounding",
    "--js-flags=--expose-gc",
];

/// One browser session with a fresh profile; closed (and the driver stopped) on drop.
pub struct Browser {
    driver: Child,
    addr: String,
    session: String,
    /// How long a probe script may wait for the page's main thread before the page is
    /// declared unresponsive.
    script_wait: Duration,
    /// Chromium's own process, killed if closing the session fails.
    chromium_pid: Option<u64>,
    /// Chromium's DevTools `host:port`, for clients that need its events (heap snapshots).
    pub debugger_address: Option<String>,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium.
    pub fn start(chromium: &str, chromedriver: &str, script_wait: Duration) -> Result<Browser> {
        let port = free_port()?;
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {chromedriver}: {e}"))?;
        let profile = std::env::temp_dir().join(format!("shipwatch-bench-{port}"));
        let mut args: Vec<String> = FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args}
        }}});
        let mut b = Browser {
            driver,
            addr: format!("127.0.0.1:{port}"),
            session: String::new(),
            script_wait,
            chromium_pid: None,
            debugger_address: None,
            profile,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match b.call("POST", "/session", Some(&caps), Duration::from_secs(60)) {
                Ok(v) => {
                    b.session = v["sessionId"]
                        .as_str()
                        .ok_or("chromedriver gave no session id")?
                        .to_string();
                    b.chromium_pid = v["capabilities"]["goog:processID"].as_u64();
                    b.debugger_address = v["capabilities"]["goog:chromeOptions"]["debuggerAddress"]
                        .as_str()
                        .map(str::to_string);
                    // A page busy with updates may take long to run a probe script: the
                    // wait is itself a finding, so wait rather than fail at 30 s.
                    let path = format!("/session/{}/timeouts", b.session);
                    let wait = json!({"script": script_wait.as_millis() as u64});
                    b.call("POST", &path, Some(&wait), Duration::from_secs(10))?;
                    return Ok(b);
                }
                Err(e) if Instant::now() > deadline => {
                    return Err(format!("chromedriver did not start a session: {e}"))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Runs `source` in every new document before the page's own scripts.
    pub fn add_init_script(&self, source: &str) -> Result {
        self.cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": source }),
        )
        .map(|_| ())
    }

    /// Sends a DevTools command to the page.
    pub fn cdp(&self, cmd: &str, params: Value) -> Result<Value> {
        let path = format!("/session/{}/goog/cdp/execute", self.session);
        let body = json!({"cmd": cmd, "params": params});
        self.call("POST", &path, Some(&body), Duration::from_secs(30))
    }

    /// Navigates and waits for the load event.
    pub fn goto(&self, url: &str) -> Result {
        let path = format!("/session/{}/url", self.session);
        self.call(
            "POST",
            &path,
            Some(&json!({ "url": url })),
            Duration::from_secs(120),
        )
        .map(|_| ())
    }

    /// Evaluates a function body (`return ...;`) in the page and returns its value; fails
    /// when the page's main thread does not run it within the session's script wait.
    pub fn eval(&self, body: &str) -> Result<Value> {
        let path = format!("/session/{}/execute/sync", self.session);
        let body = json!({"script": body, "args": []});
        self.call(
            "POST",
            &path,
            Some(&body),
            self.script_wait + Duration::from_secs(5),
        )
        .map_err(|e| {
            if e.contains("os error 11") || e.contains("timeout") {
                format!(
                    "page unresponsive: its main thread ran no probe script within {} s",
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

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Value> {
        let bytes = body.map(|b| b.to_string().into_bytes());
        let r = request(&self.addr, method, path, &[], bytes.as_deref(), timeout)?;
        let v: Value = serde_json::from_slice(&r.body)
            .map_err(|e| format!("chromedriver answered {}: {e}", r.status))?;
        if r.status >= 300 {
            return Err(format!(
                "chromedriver {method} {path}: {}",
                v["value"]["message"].as_str().unwrap_or("error")
            ));
        }
        Ok(v.get("value").cloned().unwrap_or(Value::Null))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            if self
                .call("DELETE", &path, None, Duration::from_secs(10))
                .is_err()
            {
                if let Some(pid) = self.chromium_pid {
                    let _ = Command::new("kill").arg(pid.to_string()).status();
                }
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}
