//! Instance details, time in state and stuck detection on the real page and server: a
//! crash-looping instance's exit code and reason, the status timeline strip, a deployment
//! held in DEPLOYING past its threshold marked stuck and announced once; screenshots of the
//! expanded row and of a stuck service, light and dark, desktop and phone.

use serde_json::Value;
use shipwatch_e2e::{Browser, Server};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(45);

fn screenshots() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Records every paragraph added to the live region, in `window.__said`.
const SAID: &str = r#"
window.__said = [];
new MutationObserver(records => {
  for (const r of records) for (const n of r.addedNodes) {
    if (n.classList && n.classList.contains('announcements__item')) window.__said.push(n.textContent);
  }
}).observe(document, {childList: true, subtree: true});
"#;

fn text_js(css: &str) -> String {
    format!("const el = document.querySelector(\"{css}\"); return el ? el.textContent : null;")
}

/// The browser at a viewport size (emulated: a headless window is 500 px wide at least).
async fn sized(browser: &Browser, width: u64, height: u64, mobile: bool) {
    browser
        .cdp(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await
        .expect("viewport");
}

#[tokio::test]
async fn instance_details_show_a_crash_looping_instance_s_exit_code_and_reason() {
    // A store, for the timeline.
    let data = std::env::temp_dir().join(format!("shipwatch-e2e-details-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let data_arg = data.display().to_string();
    let server = Server::start(&[
        "--scenario",
        "crash-loop",
        "--seed",
        "3",
        "--speed",
        "4",
        "--data-dir",
        &data_arg,
    ])
    .await;
    let browser = Browser::start().await;
    browser
        .open(&server.url("/env/production/service/api"))
        .await;
    let details = browser
        .wait_js(
            "the crash-looping instance's last termination",
            LONG,
            "const d = [...document.querySelectorAll('tr.instance-details')].find(r => r.textContent.includes('exit code 1')); return d ? d.textContent : null;",
        )
        .await;
    let details = details.as_str().unwrap();
    assert!(details.contains("Last termination"), "{details}");
    assert!(
        details.contains("Error"),
        "the termination's reason: {details}"
    );
    assert!(
        details.contains("the application's own error"),
        "what exit code 1 means: {details}"
    );
    assert!(details.contains("BackOff"), "its recent events: {details}");
    let name = browser
        .eval("const d = [...document.querySelectorAll('tr.instance-details')].find(r => r.textContent.includes('exit code 1')); return d.dataset.instanceDetails;")
        .await;
    let name = name.as_str().unwrap().to_string();
    let row = browser
        .eval(&text_js(&format!(
            "tr.instance[data-instance='{name}'] .instance__reason"
        )))
        .await;
    assert!(
        row.as_str().unwrap().contains("CrashLoopBackOff"),
        "the status reason beside it: {row}"
    );
    // Restarted after its back-off: when, beside the count.
    browser
        .wait_js(
            "the time of its last restart",
            LONG,
            &format!("return document.querySelector(\"tr.instance[data-instance='{name}'] .instance__restarted\")?.textContent"),
        )
        .await;
    // The timeline strip: segments with their status words for screen readers.
    let words = browser
        .wait_js(
            "a timeline with a WARNING segment",
            LONG,
            "const s = [...document.querySelectorAll('.timeline__strip li[data-status]')].map(l => l.querySelector('.sr-only').textContent); return s.some(t => t.startsWith('WARNING from')) ? s : null;",
        )
        .await;
    let words: Vec<String> = serde_json::from_value(words).unwrap();
    assert!(
        words.iter().any(|w| w.starts_with("RUNNING from")),
        "{words:?}"
    );
    assert!(words.last().unwrap().ends_with("to now"), "{words:?}");
    for theme in ["light", "dark"] {
        if theme == "dark" {
            browser
                .cdp(
                    "Emulation.setEmulatedMedia",
                    serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
                )
                .await
                .expect("dark");
        }
        for (size, w, h, mobile) in [("desktop", 1280, 800, false), ("phone", 390, 844, true)] {
            sized(&browser, w, h, mobile).await;
            browser
                .eval("document.querySelector('.timeline').scrollIntoView({block: 'end'}); return true;")
                .await;
            tokio::time::sleep(Duration::from_millis(400)).await;
            browser
                .screenshot(&screenshots().join(format!("instance-details-{theme}-{size}.png")))
                .await;
        }
    }
    browser.close().await;
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn a_deployment_held_in_deploying_past_its_threshold_is_stuck_and_announced_once() {
    let server = Server::start(&[
        "--scenario",
        "stuck",
        "--seed",
        "3",
        "--stuck-after",
        "DEPLOYING=4s",
    ])
    .await;
    let browser = Browser::start().await;
    browser.add_init_script(SAID).await;
    browser.open(&server.url("/env/production")).await;
    let badge = browser
        .wait_js(
            "api marked stuck",
            LONG,
            &text_js("tr.service-row[data-service='api'] .stuck-badge"),
        )
        .await;
    let badge = badge.as_str().unwrap();
    assert!(badge.contains("STUCK"), "in words: {badge}");
    assert!(
        badge.contains("stuck: DEPLOYING for") && badge.contains("(longer than 4 s)"),
        "what is stuck, since when, past what: {badge}"
    );
    let count = browser
        .wait_js(
            "the header's stuck count",
            LONG,
            &text_js(".env-header__stuck"),
        )
        .await;
    assert_eq!(count.as_str().unwrap().trim(), "1 stuck");
    let first = browser
        .eval("return document.querySelector('tr.service-row')?.dataset.service")
        .await;
    assert_eq!(first, Value::String("api".into()), "stuck comes first");
    // Announced once, however often it is re-decided: the clock ticks every 5 s, and the
    // stalled instance reports a failed readiness probe every 20 to 40 s (a service change,
    // whose triage is rebuilt). Every paragraph the live region ever got is counted (it keeps
    // only the last few).
    let said = "return window.__said.filter(t => t.includes('API: stuck in DEPLOYING')).length";
    browser
        .wait_js(
            "the announcement",
            LONG,
            &format!("{}  || null", said.trim_end_matches(';')),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(45)).await;
    let all = browser.eval("return window.__said").await;
    assert_eq!(browser.eval(said).await, Value::from(1), "said once: {all}");
    // The label's tooltip says since when.
    let label = browser
        .find("tr.service-row[data-service='api'] a.label")
        .await;
    browser.hover(&label).await;
    let tip = browser
        .wait_js(
            "the label's tooltip",
            LONG,
            "const el = document.querySelector(\"tr.service-row[data-service='api'] a.label\"); const t = document.getElementById(el.getAttribute('aria-describedby')); return t && !t.hidden ? t.textContent : null;",
        )
        .await;
    let tip = tip.as_str().unwrap();
    assert!(
        tip.contains("DEPLOYING for") && tip.contains(", since "),
        "{tip}"
    );
    browser.unhover().await;
    for theme in ["light", "dark"] {
        if theme == "dark" {
            browser
                .cdp(
                    "Emulation.setEmulatedMedia",
                    serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
                )
                .await
                .expect("dark");
        }
        for (size, w, h, mobile) in [("desktop", 1280, 800, false), ("phone", 390, 844, true)] {
            sized(&browser, w, h, mobile).await;
            tokio::time::sleep(Duration::from_millis(400)).await;
            browser
                .screenshot(&screenshots().join(format!("stuck-{theme}-{size}.png")))
                .await;
        }
    }
    browser.close().await;
}
