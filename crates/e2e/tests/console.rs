//! The console against the real server: explaining tooltips, mixed instances, rolling
//! deployments, reconnects, bad frames, deep links, and a screenshot of every view.

use fantoccini::Locator;
use serde_json::Value;
use shipwatch_e2e::{wait_for, Browser, Server};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(40);

/// The running-status dot of a service's row.
fn row_dot(service: &str) -> String {
    format!("tr.service-row[data-service='{service}'] [role=img][aria-label^='Running status:']")
}

/// A script returning the text of the open tooltip of the element matching `css`, or null.
fn open_tooltip_js(css: &str) -> String {
    format!(
        "const el = document.querySelector(\"{css}\"); if (!el) return null; \
         const t = document.getElementById(el.getAttribute('aria-describedby')); \
         return t && !t.hidden && t.getAttribute('role') === 'tooltip' ? t.textContent : null;"
    )
}

fn attr_js(css: &str, attr: &str) -> String {
    format!("const el = document.querySelector(\"{css}\"); return el ? el.getAttribute('{attr}') : null;")
}

fn text_js(css: &str) -> String {
    format!("const el = document.querySelector(\"{css}\"); return el ? el.textContent : null;")
}

fn screenshots() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}

#[tokio::test]
async fn hovering_and_focusing_a_dot_explains_it_and_escape_closes_it() {
    let server = Server::start(&["--scenario", "calm", "--seed", "3"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url("/env/production")).await;
    let dot = browser.find(&row_dot("api")).await;
    let name = dot.attr("aria-label").await.unwrap().unwrap();
    let word = name.trim_start_matches("Running status: ").to_string();

    browser.hover(&dot).await;
    let text = browser
        .wait_js(
            "the tooltip to open on hover",
            LONG,
            &open_tooltip_js(&row_dot("api")),
        )
        .await;
    let text = text.as_str().unwrap();
    assert!(text.contains(&word), "names the status {word}: {text}");
    assert!(
        text.contains("instances running") || text.contains("instance is running"),
        "explains why from the instances: {text}"
    );
    browser.unhover().await;
    browser
        .wait_js(
            "the tooltip to close when the pointer leaves",
            LONG,
            &format!("return ({})() === null", open_tooltip_fn(&row_dot("api"))),
        )
        .await;

    // Keyboard: focus opens it, Escape closes it and keeps the focus.
    browser
        .eval(&format!(
            "document.querySelector(\"{}\").focus()",
            row_dot("api")
        ))
        .await;
    let text = browser
        .wait_js(
            "the tooltip to open on focus",
            LONG,
            &open_tooltip_js(&row_dot("api")),
        )
        .await;
    assert!(text.as_str().unwrap().contains(&word));
    browser.press_escape(&dot).await;
    browser
        .wait_js(
            "Escape to close the tooltip",
            LONG,
            &format!("return ({})() === null", open_tooltip_fn(&row_dot("api"))),
        )
        .await;
    let focused = browser
        .eval(&format!(
            "return document.activeElement === document.querySelector(\"{}\")",
            row_dot("api")
        ))
        .await;
    assert_eq!(focused, Value::Bool(true), "Escape does not move the focus");
    browser.close().await;
}

fn open_tooltip_fn(css: &str) -> String {
    format!("() => {{ {} }}", open_tooltip_js(css))
}

#[tokio::test]
async fn a_crash_looping_rollout_shows_warning_with_the_failing_instance_and_the_old_version_serving(
) {
    let server = Server::start(&["--scenario", "crash-loop", "--seed", "3", "--speed", "4"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url("/env/production")).await;
    browser
        .wait_js(
            "api to turn WARNING",
            LONG,
            &format!(
                "return document.querySelector(\"{}\")?.getAttribute('aria-label') === 'Running status: WARNING'",
                row_dot("api")
            ),
        )
        .await;
    browser
        .wait_js(
            "the deployment to fail",
            LONG,
            "return document.querySelector(\"tr[data-service='api'] a.label\")?.getAttribute('aria-label').includes('DEPLOYMENT ERROR')",
        )
        .await;
    // The dot's tooltip says which instance fails and why, and that the old version serves.
    browser
        .eval(&format!(
            "document.querySelector(\"{}\").focus()",
            row_dot("api")
        ))
        .await;
    let tip = browser
        .wait_js("the tooltip", LONG, &open_tooltip_js(&row_dot("api")))
        .await;
    let tip = tip.as_str().unwrap().to_string();
    assert!(tip.contains("WARNING"), "{tip}");
    assert!(
        tip.contains("in error") && tip.contains("CrashLoopBackOff"),
        "{tip}"
    );
    assert!(tip.contains("still serving"), "{tip}");
    let note = browser
        .eval(&text_js("tr[data-service='api'] .serving-note"))
        .await;
    assert_eq!(note, "old version still serving", "the row says it too");

    // Trouble first: api leads the table sorted by status.
    let first = browser
        .eval(
            "return document.querySelector('table.services tbody tr.service-row').dataset.service",
        )
        .await;
    assert_eq!(first, "api");
    let sort = browser
        .eval(&attr_js(
            "table.services thead th:nth-child(2)",
            "aria-sort",
        ))
        .await;
    assert_eq!(sort, "ascending");

    // The tab and the live region tell it too.
    browser
        .wait_js(
            "the tab title to warn",
            LONG,
            "return document.title.startsWith('⚠ Production')",
        )
        .await;
    let icon = browser
        .eval("return document.querySelector(\"link[rel~='icon']\").getAttribute('href')")
        .await;
    assert!(
        icon.as_str().unwrap().starts_with("data:image/svg+xml"),
        "{icon}"
    );
    let said = browser
        .wait_js(
            "the live region to announce the failure",
            LONG,
            "const r = document.querySelector('[role=status]'); return r && r.textContent.includes('API: DEPLOYMENT ERROR') ? r.textContent : null",
        )
        .await;
    assert!(said.as_str().unwrap().contains("Production"), "{said}");

    // Expanded: the failing new instance with its reason, the old version still serving.
    browser
        .find("tr[data-service='api'] button.disclosure")
        .await
        .click()
        .await
        .unwrap();
    browser.find("table[aria-label='Instances of API']").await;
    let groups = browser
        .eval("return Array.from(document.querySelectorAll('.instances__heading')).map(h => h.textContent)")
        .await;
    let groups: Vec<String> = serde_json::from_value(groups).unwrap();
    assert!(
        groups
            .iter()
            .any(|g| g.starts_with("New version") && g.contains("deployment failed")),
        "{groups:?}"
    );
    assert!(
        groups
            .iter()
            .any(|g| g.starts_with("Old version") && g.ends_with("still serving")),
        "{groups:?}"
    );
    let reasons = browser
        .eval("return Array.from(document.querySelectorAll('.instances__group--new .instance__reason')).map(r => r.textContent).join('|')")
        .await;
    assert!(
        reasons.as_str().unwrap().contains("CrashLoopBackOff"),
        "{reasons}"
    );
    assert!(browser
        .client
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/env/production/service/api"));
    browser.unhover().await;
    browser
        .screenshot(&screenshots().join("instances-light.png"))
        .await;
    browser.close().await;
}

#[tokio::test]
async fn a_rolling_deployment_lists_both_versions_side_by_side() {
    let server = Server::start(&["--scenario", "rolling", "--seed", "3", "--speed", "2"]).await;
    let browser = Browser::start().await;
    // The service URL opens its instances directly.
    browser
        .open(&server.url("/env/production/service/api"))
        .await;
    let expanded = browser
        .find("tr[data-service='api'] button.disclosure[aria-expanded='true']")
        .await;
    assert!(expanded.attr("aria-controls").await.unwrap().is_some());
    let both = browser
        .wait_js(
            "old and new versions listed together",
            LONG,
            "const n = document.querySelector('.instances__group--new .instances__heading'); \
             const o = document.querySelector('.instances__group--old .instances__heading'); \
             return n && o ? [n.textContent, o.textContent] : null",
        )
        .await;
    let both: Vec<String> = serde_json::from_value(both).unwrap();
    assert!(both[0].starts_with("New version"), "{both:?}");
    assert!(both[1].starts_with("Old version"), "{both:?}");
    let versions = browser
        .eval("return Array.from(document.querySelectorAll('.instances tbody[data-version]')).map(g => g.dataset.version)")
        .await;
    let versions: Vec<String> = serde_json::from_value(versions).unwrap();
    assert_eq!(versions.len(), 2, "two versions: {versions:?}");
    assert_ne!(versions[0], versions[1]);
    // Old and new instances of one slot share its name.
    let names = browser
        .eval("return Array.from(document.querySelectorAll('.instances .instance')).map(r => r.dataset.instance)")
        .await;
    let names: Vec<String> = serde_json::from_value(names).unwrap();
    assert!(
        names
            .iter()
            .any(|n| names.iter().filter(|m| *m == n).count() == 2),
        "{names:?}"
    );
    browser.close().await;
}

#[tokio::test]
async fn a_server_restart_brings_the_page_back_live_without_a_reload() {
    let mut server = Server::start(&["--scenario", "calm", "--seed", "5"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url("/env/production")).await;
    browser
        .find("[data-testid=connection][data-state=live]")
        .await;
    browser.find(&row_dot("api")).await;
    browser.eval("window.__shipwatchMarker = 'same page'").await;

    server.stop().await;
    let text = browser
        .wait_js(
            "the indicator to say reconnecting",
            LONG,
            "const c = document.querySelector('[data-testid=connection][data-state=reconnecting]'); return c ? c.textContent : null",
        )
        .await;
    assert!(text.as_str().unwrap().contains("attempt"), "{text}");
    browser.find(".stale-banner").await;
    browser.find("button.conn__retry").await;
    browser
        .screenshot(&screenshots().join("reconnecting-light.png"))
        .await;

    server.restart().await;
    browser.retry_until_live(LONG).await;
    let marker = browser.eval("return window.__shipwatchMarker").await;
    assert_eq!(marker, "same page", "no page reload");
    browser
        .wait_js(
            "the stale banner to go",
            LONG,
            "return !document.querySelector('.stale-banner')",
        )
        .await;

    // Current statuses: a change made on the new server shows up.
    browser
        .stop_service_and_see_it("production", "api", LONG)
        .await;
    browser.close().await;
}

/// Counts, in `window.__received`, the instance updates and snapshots the page's sockets get.
const COUNT_RECEIVED: &str = r#"
(() => {
  const Native = window.WebSocket;
  window.__received = { instanceUpdates: 0, snapshots: 0 };
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        const r = window.__received;
        r.instanceUpdates += e.data.split('"op":"instance_update"').length - 1;
        r.snapshots += e.data.startsWith('{"v":1,"type":"snapshot"') ? 1 : 0;
      });
    }
  };
})();
"#;

#[tokio::test]
async fn instance_changes_arrive_as_instance_updates_and_the_page_applies_every_one() {
    let server = Server::start(&["--seed", "11", "--rate", "60"]).await;
    let browser = Browser::start().await;
    browser.add_init_script(COUNT_RECEIVED).await;
    browser.open(&server.url("/env/production")).await;
    browser.find("table tbody tr.service-row").await;
    let snapshots = browser.eval("return window.__received.snapshots").await;
    browser
        .wait_js(
            "40 instance updates on the page's socket",
            LONG,
            "return window.__received.instanceUpdates >= 40 || null",
        )
        .await;
    // Every one applied: one that did not fit would count as a dropped frame and bring a
    // fresh snapshot.
    let dropped = browser
        .eval("const d = document.querySelector('.conn__dropped'); return d ? d.textContent : ''")
        .await;
    assert_eq!(dropped, "", "no frame dropped");
    assert_eq!(
        browser.eval("return window.__received.snapshots").await,
        snapshots,
        "no snapshot after the first ones"
    );
    browser.close().await;
}

#[tokio::test]
async fn malformed_frames_are_dropped_counted_and_the_page_keeps_working() {
    let server = Server::start(&["--seed", "11", "--inject-garbage-every", "1"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url("/env/production")).await;
    browser.find("table tbody tr.service-row").await;
    let dropped = browser
        .wait_js(
            "dropped frames to be counted",
            LONG,
            "const d = document.querySelector('[data-testid=connection] .conn__dropped'); \
             return d && parseInt(d.textContent) >= 4 ? d.textContent : null",
        )
        .await;
    assert!(
        dropped.as_str().unwrap().contains("frames dropped"),
        "{dropped}"
    );
    let snapshot =
        "return Array.from(document.querySelectorAll('table tbody tr.service-row')).map(r => \
        r.querySelector('[role=img]').getAttribute('aria-label') + '|' + \
        (r.querySelector('a.label') || {textContent: ''}).textContent + '|' + \
        r.querySelector('.service-row__instances').textContent).join('\\n')";
    let before = browser.eval(snapshot).await;
    wait_for("a status to change despite the garbage", LONG, || async {
        let now = browser.eval(snapshot).await;
        (now != before).then_some(())
    })
    .await;
    let state = browser
        .eval(&attr_js("[data-testid=connection]", "data-state"))
        .await;
    assert_eq!(state, "live", "bad frames do not break the connection");
    browser.close().await;
}

#[tokio::test]
async fn service_and_logs_urls_open_their_views_and_back_works() {
    let server = Server::start(&["--scenario", "calm", "--seed", "3"]).await;
    let browser = Browser::start().await;
    browser
        .open(&server.url("/env/production/service/api"))
        .await;
    browser.find("table[aria-label='Instances of API']").await;
    // Collapsing changes the URL; Back expands it again, without resubscribing.
    browser.eval("window.__shipwatchMarker = 1").await;
    browser
        .find("tr[data-service='api'] button.disclosure[aria-expanded='true']")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_js("collapsed", LONG, "return location.pathname === '/env/production' && !document.querySelector('.instances')")
        .await;
    browser.client.back().await.unwrap();
    browser.find("table[aria-label='Instances of API']").await;
    assert_eq!(browser.eval("return window.__shipwatchMarker").await, 1);

    // The deployment label links to the logs; that URL opens the log view on a fresh load.
    let href = browser
        .find("tr[data-service='api'] a.label")
        .await
        .attr("href")
        .await
        .unwrap()
        .expect("api was deployed once");
    assert!(
        href.contains("/deployments/") && href.ends_with("/logs"),
        "{href}"
    );
    browser.open(&server.url(&href)).await;
    browser
        .client
        .wait()
        .at_most(LONG)
        .for_element(Locator::Css("[role=region][aria-label='Deployment logs']"))
        .await
        .expect("the log view opens directly");
    browser.close().await;
}

/// Screenshots of every view, light and dark (copied to docs/ by hand when they change).
#[tokio::test]
async fn screenshots_of_every_view_in_both_themes() {
    let server = Server::start(&["--scenario", "crash-loop", "--seed", "3", "--speed", "4"]).await;
    for (theme, flags) in [("light", &[][..]), ("dark", &["--force-dark-mode"][..])] {
        let browser = Browser::start_with(flags).await;
        browser.open(&server.url("/env/production")).await;
        browser
            .wait_js(
                "the failed rollout",
                LONG,
                "return document.querySelector(\"tr[data-service='api'] a.label\")?.getAttribute('aria-label').includes('DEPLOYMENT ERROR')",
            )
            .await;
        let dark = browser
            .eval("return matchMedia('(prefers-color-scheme: dark)').matches")
            .await;
        assert_eq!(dark, Value::Bool(theme == "dark"), "theme {theme}");
        browser.unhover().await;
        browser
            .screenshot(&screenshots().join(format!("environment-{theme}.png")))
            .await;
        // A tooltip open, as a user hovering the warning sees it.
        let dot = browser.find(&row_dot("api")).await;
        browser.hover(&dot).await;
        browser
            .wait_js("the tooltip", LONG, &open_tooltip_js(&row_dot("api")))
            .await;
        browser
            .screenshot(&screenshots().join(format!("tooltip-{theme}.png")))
            .await;
        browser.unhover().await;
        browser
            .open(&server.url("/env/production/service/api"))
            .await;
        browser.find("table[aria-label='Instances of API']").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        browser
            .screenshot(&screenshots().join(format!("instances-{theme}.png")))
            .await;
        let href = browser
            .find("tr[data-service='api'] a.label")
            .await
            .attr("href")
            .await
            .unwrap()
            .unwrap();
        browser.open(&server.url(&href)).await;
        browser
            .find("[role=region][aria-label='Deployment logs']")
            .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        browser
            .screenshot(&screenshots().join(format!("logs-{theme}.png")))
            .await;
        browser.close().await;
    }
}
