//! The deployment log viewer against the real server: opened from a deployment label,
//! streaming a failing build, a permalink, and a resume across a server restart that must
//! leave every line id on the page exactly once.

use fantoccini::Locator;
use serde_json::Value;
use shipwatch_e2e::{wait_for, Browser, Server};
use std::time::Duration;

/// A build that fails after ~1,400 lines, played slowly enough to interrupt it mid-stream.
const FAILING_BUILD: [&str; 8] = [
    "--seed",
    "5",
    "--scenario",
    "build-error",
    "--log-lines",
    "3000",
    "--speed",
    "0.3",
];

/// The viewer's bookkeeping, from the region's data attributes.
#[derive(Debug, Clone, PartialEq)]
struct Counts {
    total: u64,
    kept: u64,
    duplicates: u64,
    gaps: u64,
    first: u64,
    last: u64,
    following: bool,
}

async fn counts(browser: &Browser) -> Option<Counts> {
    let v = browser
        .eval(
            "const r = document.querySelector('[role=region][aria-label=\"Deployment logs\"]');\
             if (!r) return null;\
             const n = k => Number(r.getAttribute('data-' + k));\
             return {total: n('lines-total'), kept: n('lines-kept'), duplicates: n('duplicates'),\
                     gaps: n('gaps'), first: n('first-line'), last: n('last-line'),\
                     following: r.getAttribute('data-following') === 'true'};",
        )
        .await;
    let g = |k: &str| v.get(k).and_then(Value::as_u64);
    Some(Counts {
        total: g("total")?,
        kept: g("kept")?,
        duplicates: g("duplicates")?,
        gaps: g("gaps")?,
        first: g("first")?,
        last: g("last")?,
        following: v.get("following")?.as_bool()?,
    })
}

/// The deployment status the page header shows.
async fn header_status(browser: &Browser) -> String {
    browser
        .eval(
            "const l = document.querySelector('.log-page__header a.label');\
             return l ? l.getAttribute('data-status') : '';",
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Opens production/api's logs by clicking its deployment label once the scripted
/// deployment has started; returns the logs path.
async fn open_api_logs_from_its_label(browser: &Browser, server: &Server) -> String {
    browser.open(&server.url("/env/production")).await;
    let css = "table a.label[href*='/service/api/deployments/']";
    wait_for(
        "api's deployment label to show the new deployment",
        Duration::from_secs(20),
        || async {
            let status = browser
                .eval(&format!(
                    "const l = document.querySelector(\"{css}\"); return l ? l.getAttribute('data-status') : null;"
                ))
                .await;
            matches!(status.as_str(), Some("BUILDING") | Some("QUEUED")).then_some(())
        },
    )
    .await;
    let label = browser.find(css).await;
    let href = label.attr("href").await.unwrap().unwrap();
    label.click().await.unwrap();
    wait_for("the logs page", Duration::from_secs(10), || async {
        let path = browser.eval("return location.pathname").await;
        (path.as_str() == Some(href.as_str())).then_some(())
    })
    .await;
    browser
        .find("[role=region][aria-label='Deployment logs']")
        .await;
    href
}

/// Scrolls the whole log from top to bottom and reports every line number seen, whether
/// any number was in the DOM twice at once, and whether neighbouring rows were ever not
/// consecutive lines.
async fn scan_every_row(browser: &Browser) -> Value {
    browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             (async () => {
               const sc = document.querySelector('.log-scroll');
               const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
               const seen = new Set(); let twiceInDom = 0; let holes = 0; let steps = 0; let peakRows = 0;
               sc.scrollTop = 0; await frame(); await frame();
               for (;;) {
                 const rows = [...sc.querySelectorAll('.log-row')].map(r => Number(r.dataset.line));
                 peakRows = Math.max(peakRows, rows.length);
                 if (new Set(rows).size !== rows.length) twiceInDom++;
                 for (let i = 1; i < rows.length; i++) if (rows[i] !== rows[i - 1] + 1) holes++;
                 rows.forEach(n => seen.add(n));
                 if (sc.scrollTop + sc.clientHeight >= sc.scrollHeight - 2 || steps++ > 5000) break;
                 sc.scrollTop += sc.clientHeight - 40;
                 await frame();
               }
               const nums = [...seen].sort((a, b) => a - b);
               done({count: nums.length, min: nums[0], max: nums[nums.length - 1], twiceInDom, holes, peakRows});
             })();",
            vec![],
        )
        .await
        .expect("the scan runs")
}

#[tokio::test]
async fn a_failing_build_streams_live_marks_its_errors_and_selects_the_failing_stage() {
    let server = Server::start(&FAILING_BUILD).await;
    let browser = Browser::start().await;
    open_api_logs_from_its_label(&browser, &server).await;

    // Live: lines keep arriving while the build runs, and the view follows them.
    let early = wait_for("the first lines", Duration::from_secs(20), || async {
        counts(&browser).await.filter(|c| c.last >= 50)
    })
    .await;
    assert!(early.following, "follows the tail by default: {early:?}");

    // Scrolling up pauses; the jump control counts what arrived meanwhile.
    browser
        .eval("const s = document.querySelector('.log-scroll'); s.scrollTop = 0; return true;")
        .await;
    let jump = wait_for(
        "the jump-to-latest control to count new lines",
        Duration::from_secs(20),
        || async {
            let n = browser
                .eval("const b = document.querySelector('button.log-jump'); return b ? Number(b.dataset.newLines) : 0;")
                .await
                .as_u64()?;
            (n > 0).then_some(n)
        },
    )
    .await;
    let top = browser
        .eval("return document.querySelector('.log-scroll').scrollTop")
        .await;
    assert_eq!(top.as_f64(), Some(0.0), "new lines did not move the view");
    let label = browser.find("button.log-jump").await.text().await.unwrap();
    assert!(label.contains("new line"), "{label} ({jump})");
    browser.find("button.log-jump").await.click().await.unwrap();
    wait_for("following again", Duration::from_secs(5), || async {
        counts(&browser).await.filter(|c| c.following)
    })
    .await;

    // The build fails: errors are marked, the failing stage is picked, the first error
    // is summarised with its hint.
    wait_for("BUILDING ERROR", Duration::from_secs(60), || async {
        (header_status(&browser).await == "BUILDING ERROR").then_some(())
    })
    .await;
    // The viewer takes new state at most every 50 ms while streaming: the selection follows
    // the failure within a moment, not in the same instant.
    wait_for(
        "the failing stage to be selected",
        Duration::from_secs(5),
        || async {
            let pressed = browser.find(".log-stage[aria-pressed='true']").await;
            (pressed.attr("data-stage").await.unwrap().as_deref() == Some("build")).then_some(())
        },
    )
    .await;
    let pressed = browser.find(".log-stage[aria-pressed='true']").await;
    assert!(pressed
        .text()
        .await
        .unwrap()
        .to_lowercase()
        .contains("failed"));
    let badge = browser.find(".log-row.log-row--error .log-badge").await;
    assert_eq!(badge.text().await.unwrap(), "ERROR");
    let summary = browser
        .find("[aria-label='First error']")
        .await
        .text()
        .await
        .unwrap();
    assert!(summary.contains("Hint"), "{summary}");
    std::fs::create_dir_all(screenshots()).unwrap();
    browser
        .screenshot(&screenshots().join("logs-build-error.png"))
        .await;

    // Search finds a line far from the DOM and scrolls to it.
    browser
        .eval("document.querySelector('.log-stages button').click(); return null;")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let in_dom = browser
        .eval("return !!document.querySelector(\".log-row[data-line='2']\")")
        .await;
    assert_eq!(in_dom, Value::Bool(false), "line 2 starts outside the DOM");
    let input = browser.find("input[type=search]").await;
    input.send_keys("waiting for an available").await.unwrap();
    wait_for(
        "the current match on screen",
        Duration::from_secs(10),
        || async {
            browser
                .client
                .find(Locator::Css(".log-row mark.log-mark--current"))
                .await
                .ok()
        },
    )
    .await;
    let row = browser
        .eval("return Number(document.querySelector('.log-row mark.log-mark--current').closest('.log-row').dataset.line)")
        .await;
    assert!(
        row.as_u64().unwrap() <= 5,
        "the match near the start ({row}) is on screen"
    );
    browser.close().await;
}

#[tokio::test]
async fn a_permalink_opens_at_its_line() {
    let server = Server::start(&["--seed", "5", "--scenario", "calm", "--log-lines", "3000"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url("/env/production")).await;
    let label = browser
        .find("table a.label[href*='/service/web/deployments/']")
        .await;
    let href = label.attr("href").await.unwrap().unwrap();
    browser.open(&server.url(&format!("{href}#L1234"))).await;
    let row = browser
        .find(".log-row[data-line='1234'].log-row--selected")
        .await;
    let visible = browser
        .eval(
            "const r = document.querySelector(\".log-row[data-line='1234']\").getBoundingClientRect();\
             const s = document.querySelector('.log-scroll').getBoundingClientRect();\
             return r.top >= s.top && r.bottom <= s.bottom;",
        )
        .await;
    assert_eq!(visible, Value::Bool(true), "line 1234 is on screen");
    assert!(row.text().await.unwrap().starts_with("1234"));
    let c = counts(&browser).await.unwrap();
    assert!(!c.following, "a permalink stops following: {c:?}");
    browser.close().await;
}

#[tokio::test]
async fn resuming_after_a_server_restart_keeps_every_line_exactly_once() {
    let mut server = Server::start(&FAILING_BUILD).await;
    let browser = Browser::start().await;
    open_api_logs_from_its_label(&browser, &server).await;
    let before = wait_for(
        "some lines before the restart",
        Duration::from_secs(30),
        || async { counts(&browser).await.filter(|c| c.last >= 100) },
    )
    .await;
    assert_ne!(
        header_status(&browser).await,
        "BUILDING ERROR",
        "still streaming"
    );

    server.restart().await;

    // The replayed history is deduplicated, the rest streams on, to the end of the build.
    wait_for(
        "BUILDING ERROR after the restart",
        Duration::from_secs(90),
        || async { (header_status(&browser).await == "BUILDING ERROR").then_some(()) },
    )
    .await;
    let after = wait_for("the log to settle", Duration::from_secs(10), || async {
        let a = counts(&browser).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let b = counts(&browser).await?;
        (a == b).then_some(b)
    })
    .await;
    assert!(after.last > before.last, "{before:?} -> {after:?}");
    assert_eq!(after.gaps, 0, "no gap: {after:?}");
    assert_eq!(after.first, 1);
    assert_eq!(after.total, after.last, "one stored line per id: {after:?}");
    assert_eq!(after.kept, after.last);

    // And on screen: every row of the whole log, scrolled through, top to bottom.
    browser
        .eval("document.querySelector('.log-stages button').click(); return null;")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let scan = scan_every_row(&browser).await;
    assert_eq!(scan["min"], 1, "{scan}");
    assert_eq!(scan["max"].as_u64(), Some(after.last), "{scan}");
    assert_eq!(
        scan["count"].as_u64(),
        Some(after.last),
        "every id seen: {scan}"
    );
    assert_eq!(scan["twiceInDom"], 0, "no id twice: {scan}");
    assert_eq!(scan["holes"], 0, "rows are consecutive lines: {scan}");
    assert!(
        scan["peakRows"].as_u64().unwrap() < 120,
        "virtualized: {scan}"
    );
    browser.close().await;
}

fn screenshots() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}

#[tokio::test]
async fn the_benchmark_hook_ingests_synthetic_lines_and_reports_timings() {
    let server = Server::start(&["--seed", "5", "--scenario", "calm"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url(
            "/env/production/deployments/bench/logs?bench-lines=300000&bench-rate=10000&bench-seconds=2",
        )).await;
    let report = wait_for("the bench to finish", Duration::from_secs(120), || async {
        let r = browser.eval("return window.__shipwatchBench || null").await;
        (r["phase"] == "done").then_some(r)
    })
    .await;
    for key in [
        "ingestMs",
        "firstRowMs",
        "readyMs",
        "maxFrameMs",
        "wasmMemoryBytes",
    ] {
        assert!(
            report[key].as_f64().is_some_and(|v| v > 0.0),
            "{key}: {report}"
        );
    }
    assert_eq!(report["lines"], 300_000, "{report}");
    assert!(report["streamed"].as_u64().unwrap() >= 10_000, "{report}");
    assert!(report["peakDomRows"].as_u64().unwrap() < 120, "{report}");
    // Every streamed line reaches the page (its screen catches up within a moment: it takes
    // new lines at most every 50 ms).
    let expected = 300_000 + report["streamed"].as_u64().unwrap();
    let c = wait_for("every streamed line", Duration::from_secs(5), || async {
        counts(&browser).await.filter(|c| c.last == expected)
    })
    .await;
    assert_eq!((c.total, c.duplicates, c.gaps), (expected, 0, 0), "{c:?}");
    assert!(c.following, "streaming while following: {c:?}");
    eprintln!("bench report: {report}");
    browser.close().await;
}
