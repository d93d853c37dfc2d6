//! Headless Chromium driven through chromedriver (WebDriver): the one browser client of the
//! end-to-end tests, the benchmark and the profiler.

use crate::{env_path, free_port, procs, wait_for};
use fantoccini::{Client, ClientBuilder, Locator};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// Chromium flags for headless runs as root in a container (see /work/shared/TOOLCHAIN.md).
const FLAGS: [&str; 9] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,860",
];

/// How to start a browser.
#[derive(Clone, Debug)]
pub struct Options {
    /// The Chromium binary.
    pub chromium: PathBuf,
    /// The matching chromedriver.
    pub chromedriver: PathBuf,
    /// Chromium flags besides the headless ones.
    pub flags: Vec<String>,
    /// How long a script may run in the page (WebDriver's script timeout); None: the
    /// driver's default (30 s).
    pub script_timeout: Option<Duration>,
}

impl Options {
    /// The browser `cargo xtask test` installed (`CHROMIUM`, `CHROMEDRIVER`).
    pub fn from_env() -> Options {
        Options {
            chromium: env_path("CHROMIUM"),
            chromedriver: env_path("CHROMEDRIVER"),
            flags: Vec::new(),
            script_timeout: None,
        }
    }
}

/// A browser session; the driver is killed when dropped.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    driver: Child,
    profile: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        // chromedriver dies with its handle, but the Chromium it started does not when a test
        // panics before closing the session: end the processes of this unique profile.
        let profile = format!("--user-data-dir={}", self.0.display());
        for pid in procs::with_argument(&profile) {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium profile.
    pub async fn start() -> Browser {
        Self::start_with(&[]).await
    }

    /// Same, with extra Chromium flags (e.g. `--force-prefers-reduced-motion`).
    pub async fn start_with(extra: &[&str]) -> Browser {
        let mut options = Options::from_env();
        options.flags = extra.iter().map(|s| s.to_string()).collect();
        Self::launch(&options)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts chromedriver and a fresh headless Chromium profile, or says why not.
    pub async fn launch(options: &Options) -> Result<Browser, String> {
        let port = free_port();
        let driver = Command::new(&options.chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", options.chromedriver.display()))?;
        let profile =
            std::env::temp_dir().join(format!("shipwatch-browser-{port}-{}", std::process::id()));
        let profile = TempDir(profile);
        let mut args: Vec<String> = FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.0.display()));
        args.extend(options.flags.iter().cloned());
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": options.chromium, "args": args }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => {
                    return Err(format!("chromedriver did not start a session: {e}"))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        if let Some(script) = options.script_timeout {
            let timeouts = fantoccini::wd::TimeoutConfiguration::new(
                Some(script),
                Some(Duration::from_secs(120)),
                Some(Duration::ZERO),
            );
            client
                .update_timeouts(timeouts)
                .await
                .map_err(|e| format!("script timeout: {e}"))?;
        }
        Ok(Browser {
            client,
            driver,
            profile,
        })
    }

    /// Chromium's DevTools `host:port` (for clients of its own websocket), as chromedriver
    /// reports it.
    pub fn debugger_address(&self) -> Option<String> {
        let options = self.client.capabilities()?.get("goog:chromeOptions")?;
        options.get("debuggerAddress")?.as_str().map(str::to_string)
    }

    /// Chromium's renderer processes (`--type=renderer` below the driver), with their
    /// resident memory in KiB.
    pub fn renderers(&self) -> Vec<(u32, u64)> {
        let Some(driver) = self.driver.id() else {
            return Vec::new();
        };
        procs::descendants(driver)
            .into_iter()
            .filter(|(_, cmd)| cmd.contains("--type=renderer"))
            .filter_map(|(pid, _)| Some((pid, procs::rss_kib(pid)?)))
            .collect()
    }

    /// The profile directory of this session.
    pub fn profile_dir(&self) -> &std::path::Path {
        &self.profile.0
    }

    /// Navigates and waits for the load event, or says why not.
    pub async fn try_goto(&self, url: &str) -> Result<(), String> {
        self.client
            .goto(url)
            .await
            .map_err(|e| format!("cannot open {url}: {e}"))
    }

    /// Runs a script (a function body: `return ...;`) and returns its JSON result, or why not.
    pub async fn try_eval(&self, script: &str) -> Result<serde_json::Value, String> {
        self.client
            .execute(script, vec![])
            .await
            .map_err(|e| e.to_string())
    }

    /// Sends a DevTools command to the page (through chromedriver) and returns its result.
    pub async fn cdp(
        &self,
        cmd: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        self.client
            .issue_cmd(Cdp {
                cmd: cmd.to_string(),
                params,
            })
            .await
            .map_err(|e| format!("DevTools {cmd}: {e}"))
    }

    /// Opens a page (a URL of the server under test).
    pub async fn open(&self, url: &str) {
        self.try_goto(url).await.unwrap_or_else(|e| panic!("{e}"));
    }

    /// Waits for an element matching a CSS selector.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let c = &self.client;
        wait_for(
            &format!("element `{css}`"),
            Duration::from_secs(20),
            || async move { c.find(Locator::Css(css)).await.ok() },
        )
        .await
    }

    /// Waits for an element matching a CSS selector and clicks it, found and clicked in one
    /// script: a live update can replace the element between a WebDriver find and its click.
    pub async fn click_css(&self, css: &str) {
        let css_json = serde_json::to_string(css).expect("a selector");
        self.wait_js(
            &format!("element `{css}` to click"),
            Duration::from_secs(20),
            &format!(
                "const e = document.querySelector({css_json}); if (!e) return null; \
                 e.click(); return true;"
            ),
        )
        .await;
    }

    /// Runs a script and returns its JSON result.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.try_eval(script)
            .await
            .unwrap_or_else(|e| panic!("script runs: {e}"))
    }

    /// Moves the mouse pointer over an element (a real hover: `mouseenter` and `:hover`).
    pub async fn hover(&self, el: &fantoccini::elements::Element) {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction};
        let moves = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
            element: el.clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        });
        self.client
            .perform_actions(moves)
            .await
            .expect("pointer moves");
    }

    /// Moves the mouse pointer to a corner of the page, away from everything.
    pub async fn unhover(&self) {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction};
        let moves = MouseActions::new("mouse".into()).then(PointerAction::MoveTo {
            duration: None,
            x: 2.0,
            y: 2.0,
        });
        self.client
            .perform_actions(moves)
            .await
            .expect("pointer moves");
    }

    /// Presses Escape on an element (which must be focusable).
    pub async fn press_escape(&self, el: &fantoccini::elements::Element) {
        el.send_keys("\u{e00c}").await.expect("keys sent");
    }

    /// Waits until a script returns something other than `null`, `false` or `""`, and returns it.
    pub async fn wait_js(&self, what: &str, timeout: Duration, script: &str) -> serde_json::Value {
        wait_for(what, timeout, || async move {
            let v = self.eval(script).await;
            let empty = v.is_null() || v == serde_json::Value::Bool(false) || v == "";
            (!empty).then_some(v)
        })
        .await
    }

    /// Runs `source` in every page this session opens from now on, before the page's own
    /// scripts (DevTools `Page.addScriptToEvaluateOnNewDocument`, through chromedriver).
    pub async fn add_init_script(&self, source: &str) {
        self.try_add_init_script(source)
            .await
            .expect("init script added");
    }

    /// Same, or says why not.
    pub async fn try_add_init_script(&self, source: &str) -> Result<(), String> {
        self.cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            serde_json::json!({ "source": source }),
        )
        .await
        .map(|_| ())
    }

    /// Asks the page to reconnect now (its retry button) rather than after its backoff, and
    /// waits until its connection indicator says live.
    pub async fn retry_until_live(&self, timeout: Duration) {
        let _ = self
            .eval("document.querySelector('button.conn__retry')?.click()")
            .await;
        self.wait_js(
            "the connection to be live again",
            timeout,
            "return !!document.querySelector('[data-testid=connection][data-state=live]')",
        )
        .await;
    }

    /// Stops a service through the server's action API and waits until its row's status dot
    /// says STOPPING or STOPPED: the page's feed is live and current.
    pub async fn stop_service_and_see_it(&self, env: &str, service: &str, timeout: Duration) {
        let stopped = self
            .eval(&format!(
                "return fetch('/api/environments/{env}/services/{service}/stop', \
                 {{method: 'POST', headers: {{Authorization: 'Bearer {token}'}}}}).then(r => r.status)",
                token = crate::server::WRITE_TOKEN
            ))
            .await;
        assert!(stopped.as_u64().is_some_and(|s| s < 300), "{stopped}");
        self.wait_js(
            &format!("{service} to stop on the page"),
            timeout,
            &format!(
                "const l = document.querySelector(\"tr.service-row[data-service='{service}'] [role=img]\")?.getAttribute('aria-label'); \
                 return l === 'Running status: STOPPING' || l === 'Running status: STOPPED'"
            ),
        )
        .await;
    }

    /// Lays the page out as on a window `width` x `height` CSS pixels (a phone's below 600
    /// px wide: a mobile viewport, scale 1).
    pub async fn set_viewport(&self, width: u32, height: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}),
        )
        .await
        .expect("window size");
    }

    /// Back to the browser's own window size.
    pub async fn reset_viewport(&self) {
        self.cdp(
            "Emulation.clearDeviceMetricsOverride",
            serde_json::json!({}),
        )
        .await
        .expect("window size back");
    }

    /// Emulates `prefers-color-scheme: dark` (or light).
    pub async fn set_dark(&self, dark: bool) {
        let scheme = if dark { "dark" } else { "light" };
        self.cdp(
            "Emulation.setEmulatedMedia",
            serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        )
        .await
        .expect("colour scheme");
    }

    /// Saves a PNG screenshot of the page.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(path, png).expect("screenshot written");
    }

    /// Ends the session.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// A DevTools command, sent through chromedriver's `goog/cdp/execute` endpoint.
#[derive(Debug)]
struct Cdp {
    cmd: String,
    params: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}
