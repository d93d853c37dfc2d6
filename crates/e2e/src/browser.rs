//! Headless Chromium driven through chromedriver (WebDriver).

use crate::{env_path, free_port, wait_for};
use fantoccini::{Client, ClientBuilder, Locator};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// A browser session; the driver is killed when dropped.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    _driver: Child,
    _profile: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        // chromedriver dies with its handle, but the Chromium it started does not when a test
        // panics before closing the session: end every process of this unique profile.
        let _ = std::process::Command::new("pkill")
            .args(["-f", "--"])
            .arg(format!("--user-data-dir={}", self.0.display()))
            .status();
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
        let port = free_port();
        let driver = Command::new(env_path("CHROMEDRIVER"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let profile =
            std::env::temp_dir().join(format!("shipwatch-e2e-{port}-{}", std::process::id()));
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--window-size=1280,860".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": env_path("CHROMIUM"), "args": args }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let client = wait_for(
            "chromedriver to accept a session",
            Duration::from_secs(30),
            || {
                let caps = caps.clone();
                let url = url.clone();
                async move {
                    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
                    ClientBuilder::new(connector)
                        .capabilities(caps)
                        .connect(&url)
                        .await
                        .ok()
                }
            },
        )
        .await;
        Browser {
            client,
            _driver: driver,
            _profile: TempDir(profile),
        }
    }

    /// Opens a page (a URL of the server under test).
    pub async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
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

    /// Runs a script and returns its JSON result.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, vec![])
            .await
            .expect("script runs")
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
        self.client
            .issue_cmd(Cdp {
                cmd: "Page.addScriptToEvaluateOnNewDocument",
                params: serde_json::json!({ "source": source }),
            })
            .await
            .expect("init script added");
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
                "return fetch('/api/environments/{env}/services/{service}/stop', {{method: 'POST'}}).then(r => r.status)"
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
    cmd: &'static str,
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
