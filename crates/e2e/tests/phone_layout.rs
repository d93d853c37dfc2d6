//! The console on a phone, measured in Chromium at 360 and 390 px wide against the real
//! server: no view scrolls sideways, every status word is on the screen whole (its text's
//! box inside the viewport and inside every ancestor that clips), the top bar's and the
//! cards' parts do not overlap, and log lines use the scroller's width.

use shipwatch_e2e::{Browser, DataDir, Server};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(40);

/// Returns a list of what is wrong with the page's layout (empty: nothing).
const MEASURE: &str = r#"
const problems = [];
const vw = document.documentElement.clientWidth;
const sw = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth);
if (sw > vw) problems.push(`the page scrolls sideways: ${sw} px wide in ${vw}`);
const name = el => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
const rendered = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
// The box of an element's text (a range: it spans the whole text even where it is clipped).
const textBox = el => { const r = document.createRange(); r.selectNodeContents(el); return r.getBoundingClientRect(); };
const inside = (a, b) => a.left >= b.left - 0.5 && a.right <= b.right + 0.5 && a.top >= b.top - 0.5 && a.bottom <= b.bottom + 0.5;
const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
const words = [...document.querySelectorAll('.dot__word, .label__word, .env-switcher__deploy, .log-stage__status')]
  .filter(el => rendered(el) && !el.closest('[role=tooltip]'));
for (const el of words) {
  const text = el.textContent.trim();
  const box = textBox(el);
  if (box.left < -0.5 || box.right > vw + 0.5) problems.push(`"${text}" (${name(el)}) is outside the screen: ${Math.round(box.left)}..${Math.round(box.right)} of ${vw}`);
  for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
    const s = getComputedStyle(a);
    if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
    const clip = a.getBoundingClientRect();
    if (!inside(box, clip)) {
      problems.push(`"${text}" (${name(el)}) is cut by ${name(a)}: text ${Math.round(box.left)}..${Math.round(box.right)} x ${Math.round(box.top)}..${Math.round(box.bottom)}, clip ${Math.round(clip.left)}..${Math.round(clip.right)} x ${Math.round(clip.top)}..${Math.round(clip.bottom)}`);
      break;
    }
  }
}
// The top bar's parts, and each card's, side by side without overlapping.
const groups = [[...document.querySelectorAll('.topbar .brand, .topbar .env-switcher__link, .topbar .notify-toggle, .topbar .conn')]];
for (const row of document.querySelectorAll('tr.service-row')) groups.push([...row.children].filter(rendered));
for (const g of groups) {
  const parts = g.filter(rendered);
  for (let i = 0; i < parts.length; i++) for (let j = i + 1; j < parts.length; j++) {
    if (overlap(parts[i].getBoundingClientRect(), parts[j].getBoundingClientRect())) problems.push(`${name(parts[i])} overlaps ${name(parts[j])}`);
  }
  for (const p of parts) {
    const b = p.getBoundingClientRect();
    if (b.left < -0.5 || b.right > vw + 0.5) problems.push(`${name(p)} is outside the screen: ${Math.round(b.left)}..${Math.round(b.right)} of ${vw}`);
  }
}
// Log lines reach the scroller's right edge (less a scrollbar): not cut short of it.
const scroller = document.querySelector('.log-scroll');
if (scroller) {
  const edge = scroller.getBoundingClientRect().left + scroller.clientLeft + scroller.clientWidth;
  const texts = [...scroller.querySelectorAll('.log-row__text')].filter(rendered);
  if (!texts.length) problems.push('no log lines shown');
  const short = texts.map(t => edge - t.getBoundingClientRect().right).filter(gap => gap > 4);
  if (short.length) problems.push(`${short.length} of ${texts.length} log lines end ${Math.round(Math.max(...short))} px before the scroller's edge`);
}
return {problems, words: words.length, cards: document.querySelectorAll('tr.service-row').length};
"#;

fn screenshots() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}

/// Measures the page as it is; fails naming every problem.
async fn measure(browser: &Browser, view: &str, width: u32) -> serde_json::Value {
    let found = browser.eval(MEASURE).await;
    let problems: Vec<String> = found["problems"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p.as_str().unwrap_or_default().to_string())
        .collect();
    browser
        .screenshot(&screenshots().join(format!("phone-{width}-{view}.png")))
        .await;
    assert!(
        problems.is_empty(),
        "{view} at {width} px:\n{}",
        problems.join("\n")
    );
    found
}

/// Makes the page a phone's screen, `width` x 844 CSS px (a headless window is 500 px wide at
/// least, so the viewport is emulated).
async fn phone(browser: &Browser, width: u32) {
    browser
        .cdp(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({"width": width, "height": 844, "deviceScaleFactor": 2, "mobile": true}),
        )
        .await
        .expect("phone viewport");
}

#[tokio::test]
async fn at_360_and_390_px_nothing_scrolls_sideways_and_every_status_word_is_readable() {
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
    for width in [360_u32, 390] {
        let browser = Browser::start().await;
        phone(&browser, width).await;
        browser.open(&server.url("/env/production")).await;
        let inner = browser.eval("return window.innerWidth").await;
        assert_eq!(inner.as_u64(), Some(u64::from(width)), "the window's width");
        browser
            .wait_js(
                "the failed rollout",
                LONG,
                "return !!document.querySelector(\"tr[data-service='api'] a.label\")?.getAttribute('aria-label')?.includes('DEPLOYMENT ERROR')",
            )
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let page = measure(&browser, "environment", width).await;
        assert!(
            page["cards"].as_u64().unwrap_or(0) >= 3,
            "the services show: {page}"
        );
        assert!(
            page["words"].as_u64().unwrap_or(0) >= 6,
            "status words measured: {page}"
        );

        // The environment's deployments, and a service's.
        for (view, path) in [
            ("deployments", "/env/production/deployments"),
            (
                "service-deployments",
                "/env/production/service/api/deployments",
            ),
        ] {
            browser.open(&server.url(path)).await;
            browser
                .wait_js(
                    "the deployments",
                    LONG,
                    "return document.querySelectorAll('.deployment-row .label__word').length > 0",
                )
                .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            measure(&browser, view, width).await;
        }

        browser
            .open(&server.url("/env/production/service/api"))
            .await;
        browser.find("table[aria-label='Instances of API']").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        measure(&browser, "expanded", width).await;

        let href = browser
            .find("tr[data-service='api'] a.label")
            .await
            .attr("href")
            .await
            .unwrap()
            .expect("the label links to its log");
        browser.open(&server.url(&href)).await;
        browser
            .wait_js(
                "log lines",
                LONG,
                "return document.querySelectorAll('.log-row__text').length > 10",
            )
            .await;
        // The stages start folded on a phone, and open on demand.
        let folded = browser
            .eval("return document.querySelector('.log-stages details').open")
            .await;
        assert_eq!(folded, false, "the stages start folded");
        measure(&browser, "logs", width).await;
        browser
            .eval("document.querySelector('.log-stages summary').click()")
            .await;
        browser
            .wait_js(
                "the stages to unfold",
                LONG,
                "return document.querySelector('.log-stages details').open && document.querySelectorAll('.log-stage__status').length > 0",
            )
            .await;
        measure(&browser, "logs-stages", width).await;
        browser.close().await;
    }
}
