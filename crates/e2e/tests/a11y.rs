//! axe-core (the npm package, installed under `.tools/` by the xtask's build step) scans every
//! view of the console against the real server, light and dark, on a desktop window and on a
//! phone: any serious or critical violation fails, named with its rule and elements. Besides
//! axe's default rules, `target-size` (WCAG 2.2's 2.5.8: a control at least 24 x 24 px, or
//! spaced as if it were) is on: the log's line-number links were 20 px rows apart.
//!
//! Highlighted rows (a row whose status just changed is tinted for 1.2 s) are scanned by
//! giving every rendered row the highlight class, so the tint meets every label and note.

use serde_json::Value;
use shipwatch_e2e::{Browser, DataDir, Server};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(40);

/// The axe-core script: `AXE_CORE`, else the one the xtask installed.
fn axe_source() -> String {
    let path = std::env::var_os("AXE_CORE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../.tools/node_modules/axe-core/axe.min.js")
        });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is not at {} ({e}): `cargo xtask build` installs it (npm axe-core)",
            path.display()
        )
    })
}

/// Runs axe on the page as it is and returns the serious and critical violations, one line
/// each (rule, impact, what it says, the first elements with axe's summary of the failure).
async fn serious_violations(browser: &Browser, axe: &str) -> Vec<String> {
    // A WebDriver script is not subject to the page's Content-Security-Policy.
    let loaded = browser
        .eval(&format!("{axe}\n;return typeof window.axe"))
        .await;
    assert_eq!(loaded, "object", "axe-core loads in the page");
    let found = browser
        .eval(
            "return window.axe.run(document, {resultTypes: ['violations'], rules: {'target-size': {enabled: true}}}).then(r => \
               r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => \
                 v.id + ' (' + v.impact + '): ' + v.help + ' | ' + v.nodes.slice(0, 4).map(n => \
                   n.target.join(' ') + ' => ' + (n.failureSummary || '').replace(/\\s+/g, ' ')).join(' || ')))",
        )
        .await;
    found
        .as_array()
        .expect("axe answers a list")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

/// Opens `path` and waits for `ready` (a script returning true once the view is there).
async fn open(browser: &Browser, server: &Server, path: &str, ready: &str) {
    browser.open(&server.url(path)).await;
    browser
        .wait_js(&format!("{path} to be ready"), LONG, ready)
        .await;
    // Tooltips and flashes of the first changes settle.
    tokio::time::sleep(Duration::from_millis(400)).await;
}

/// Saves a screenshot of the view as scanned, `target/screenshots/a11y-<setting>-<view>.png`
/// (copied to docs/ by hand when they change).
async fn shoot(browser: &Browser, setting: &str, view: &str) {
    let name = format!("a11y-{setting}-{view}.png").replace([' ', ','], "");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    browser.screenshot(&dir.join(name)).await;
}

const ENV_READY: &str = "return !!document.querySelector(\"tr[data-service='api'] a.label\")?.getAttribute('aria-label')?.includes('DEPLOYMENT ERROR')";

/// Every view, scanned in one theme and window size; returns what failed, by view.
async fn scan_views(browser: &Browser, server: &Server, axe: &str, setting: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let mut check = |view: &str, found: Vec<String>| {
        failures.extend(
            found
                .into_iter()
                .map(|f| format!("[{setting}] {view}: {f}")),
        );
    };

    open(
        browser,
        server,
        "/",
        "return !!document.querySelector('.env-switcher a')",
    )
    .await;
    check("home", serious_violations(browser, axe).await);

    open(browser, server, "/env/production", ENV_READY).await;
    shoot(browser, setting, "environment").await;
    check("environment", serious_violations(browser, axe).await);

    // Every rendered row highlighted, as a row whose status just changed is.
    browser
        .eval("document.querySelectorAll('tr.service-row').forEach(r => r.classList.add('service-row--flash'))")
        .await;
    check(
        "environment, highlighted rows",
        serious_violations(browser, axe).await,
    );

    // A status mark's tooltip open (focus opens it).
    browser
        .eval("document.querySelector(\"tr[data-service='api'] [role=img]\").focus()")
        .await;
    browser
        .wait_js(
            "the tooltip",
            LONG,
            "return !!document.querySelector('[role=tooltip]:not([hidden])')",
        )
        .await;
    // Whole: no cell or other box that clips its content cuts it.
    let cut = browser
        .eval(
            "const t = document.querySelector('[role=tooltip]:not([hidden])'); const b = t.getBoundingClientRect(); \
             for (let a = t.parentElement; a && a !== document.body; a = a.parentElement) { \
               const s = getComputedStyle(a); if (s.overflowX === 'visible' && s.overflowY === 'visible') continue; \
               const c = a.getBoundingClientRect(); \
               if (b.left < c.left - 0.5 || b.right > c.right + 0.5 || b.top < c.top - 0.5 || b.bottom > c.bottom + 0.5) \
                 return `${a.tagName.toLowerCase()}.${a.className} clips it to ${Math.round(c.width)} x ${Math.round(c.height)} of ${Math.round(b.width)} x ${Math.round(b.height)}`; } \
             return null",
        )
        .await;
    assert_eq!(cut, Value::Null, "[{setting}] the status tooltip is cut");
    shoot(browser, setting, "tooltip").await;
    check(
        "environment, tooltip open",
        serious_violations(browser, axe).await,
    );

    open(
        browser,
        server,
        "/env/production/service/api",
        "return !!document.querySelector(\"table[aria-label='Instances of API']\")",
    )
    .await;
    shoot(browser, setting, "expanded").await;
    check("expanded row", serious_violations(browser, axe).await);

    // The environment's deployments, and a service's.
    for path in [
        "/env/production/deployments",
        "/env/production/service/api/deployments",
    ] {
        open(
            browser,
            server,
            path,
            "return document.querySelectorAll('.deployment-row .label__word').length > 0",
        )
        .await;
        check(path, serious_violations(browser, axe).await);
    }

    open(browser, server, "/env/production", ENV_READY).await;
    let logs = browser
        .eval("return document.querySelector(\"tr[data-service='api'] a.label\").getAttribute('href')")
        .await;
    open(
        browser,
        server,
        logs.as_str().expect("a logs link"),
        "return document.querySelectorAll('.log-row').length > 10",
    )
    .await;
    shoot(browser, setting, "logs").await;
    check("logs", serious_violations(browser, axe).await);

    // On a phone, the environments unfolded over the log page.
    let unfolded = browser
        .eval(
            "const t = document.querySelector('.env-switcher__toggle'); \
             if (!t || !t.getClientRects().length) return false; t.click(); return true",
        )
        .await;
    if unfolded == serde_json::Value::Bool(true) {
        browser
            .wait_js(
                "the environments unfolded",
                LONG,
                "return [...document.querySelectorAll('.env-switcher__link')].some(a => a.getClientRects().length)",
            )
            .await;
        shoot(browser, setting, "logs-environments").await;
        check(
            "logs, environments unfolded",
            serious_violations(browser, axe).await,
        );
    }
    failures
}

#[tokio::test]
async fn no_view_has_a_serious_or_critical_axe_violation_light_or_dark_desktop_or_phone() {
    let axe = axe_source();
    // A store, so that the deployment lists have their history.
    let data = DataDir::new(env!("CARGO_CRATE_NAME"));
    let server = Server::start(&[
        "--scenario",
        "crash-loop",
        "--seed",
        "3",
        "--speed",
        "4",
        "--data-dir",
        data.path(),
    ])
    .await;
    let mut failures = Vec::new();
    for (theme, dark) in [("light", false), ("dark", true)] {
        for (size, width, height, mobile) in
            [("desktop", 1280, 800, false), ("phone", 390, 844, true)]
        {
            let browser =
                Browser::start_with(if dark { &["--force-dark-mode"] } else { &[] }).await;
            // Emulated: a headless window is 500 px wide at least.
            browser
                .cdp(
                    "Emulation.setDeviceMetricsOverride",
                    serde_json::json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
                )
                .await
                .expect("viewport");
            browser.open(&server.url("/")).await;
            let inner = browser.eval("return window.innerWidth").await;
            assert_eq!(inner.as_u64(), Some(width), "the viewport's width");
            let is_dark = browser
                .eval("return matchMedia('(prefers-color-scheme: dark)').matches")
                .await;
            assert_eq!(is_dark, Value::Bool(dark), "theme {theme}");
            failures.extend(scan_views(&browser, &server, &axe, &format!("{theme}, {size}")).await);
            browser.close().await;
        }
    }
    assert!(
        failures.is_empty(),
        "{} serious or critical axe violations:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
