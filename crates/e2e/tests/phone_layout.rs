//! The console on a phone, measured in Chromium at 360 x 740 and 390 x 844 against the real
//! server: no view scrolls sideways, every status word is on the screen whole (its text's
//! box inside the viewport and inside every ancestor that clips), the top bar's and the
//! cards' parts do not overlap, and log lines use the scroller's width. The log page fits
//! the screen (no page scroll, the lines take most of it from the first look, its controls
//! on screen and at least 24 px each way), on a phone and on a desktop window.

use shipwatch_e2e::{screenshots, Browser, DataDir, Server};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(40);

/// Returns a list of what is wrong with the page's layout (empty: nothing).
const MEASURE: &str = r#"
const problems = [];
const vw = document.documentElement.clientWidth;
const sw = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth);
if (sw > vw) problems.push(`the page scrolls sideways: ${sw} px wide in ${vw}`);
const name = el => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
// Shown: laid out, visible, and not in a folded disclosure (Chromium lays its content out).
const rendered = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden'
  && !el.closest('details:not([open]) > :not(summary)');
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
const groups = [[...document.querySelectorAll('.topbar .brand, .topbar .env-switcher__toggle, .topbar .env-switcher__link, .topbar .notify-toggle, .topbar .conn')]];
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

/// Returns what keeps the log page from fitting the screen (empty: nothing): the page
/// scrolls, the lines get less than half the height or start below the screen, a control of
/// the page (a line number too) is off the screen, smaller than 24 x 24 px, or overlaps
/// another.
const LOG_FIT: &str = r#"
const problems = [];
const vw = document.documentElement.clientWidth, vh = window.innerHeight;
const se = document.scrollingElement;
if (se.scrollHeight > se.clientHeight + 1) problems.push(`the page scrolls: ${se.scrollHeight} px tall in ${se.clientHeight}`);
const name = el => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '') + ` "${el.textContent.trim().slice(0, 30)}"`;
const rendered = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden'
  && !el.closest('details:not([open]) > :not(summary)');
const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
const scroller = document.querySelector('.log-scroll');
const s = scroller.getBoundingClientRect();
if (s.height < vh / 2) problems.push(`the lines get ${Math.round(s.height)} px of the screen's ${vh}`);
if (s.bottom > vh + 0.5) problems.push(`the scroller ends ${Math.round(s.bottom - vh)} px below the screen`);
const whole = [...scroller.querySelectorAll('.log-row')].filter(r => { const b = r.getBoundingClientRect(); return b.top >= s.top - 0.5 && b.bottom <= Math.min(s.bottom, vh) + 0.5; });
if (whole.length < 10) problems.push(`${whole.length} whole lines on the screen`);
// The page's controls, those in the lines' scroller aside (line numbers are the log's text).
const controls = [...document.querySelectorAll('.log-page a, .log-page button, .log-page input, .log-page summary')]
  .filter(el => rendered(el) && !el.closest('.log-scroll'));
for (const c of controls) {
  const b = c.getBoundingClientRect();
  if (b.top < -0.5 || b.bottom > vh + 0.5 || b.left < -0.5 || b.right > vw + 0.5) problems.push(`${name(c)} is off the screen: ${Math.round(b.left)}..${Math.round(b.right)} x ${Math.round(b.top)}..${Math.round(b.bottom)}`);
  if (b.width < 24 || b.height < 24) problems.push(`${name(c)} is ${Math.round(b.width)} x ${Math.round(b.height)} px, under 24 x 24`);
}
// The line numbers are links (a line's address): 24 px each way too, whatever the spacing
// (rows are one under the other, so WCAG 2.5.8's spacing exception cannot hold under 24 px).
const numbers = [...scroller.querySelectorAll('.log-row__n')].filter(rendered);
if (!numbers.length) problems.push('no line numbers shown');
const small = numbers.map(n => n.getBoundingClientRect()).filter(b => b.width < 24 || b.height < 24);
if (small.length) problems.push(`${small.length} of ${numbers.length} line-number links are under 24 x 24 px, e.g. ${Math.round(small[0].width)} x ${Math.round(small[0].height)}`);
// The follow state and the jump-to-latest button sit over the lines on purpose.
const flat = controls.filter(c => !c.closest('.log-viewer__follow'));
for (let i = 0; i < flat.length; i++) for (let j = i + 1; j < flat.length; j++) {
  if (flat[i].contains(flat[j]) || flat[j].contains(flat[i])) continue;
  if (overlap(flat[i].getBoundingClientRect(), flat[j].getBoundingClientRect())) problems.push(`${name(flat[i])} overlaps ${name(flat[j])}`);
}
for (const css of ['#log-search-input', '.log-viewer__follow > *']) {
  const el = document.querySelector(css);
  const b = el && el.getBoundingClientRect();
  if (!el || !rendered(el) || b.top < -0.5 || b.bottom > vh + 0.5 || b.left < -0.5 || b.right > vw + 0.5) problems.push(`${css} is not on the screen`);
}
return {problems, lines: whole.length, scroller: Math.round(s.height), height: vh};
"#;

/// The problems a measuring script found.
fn problems(found: &serde_json::Value) -> Vec<String> {
    found["problems"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| p.as_str().unwrap_or_default().to_string())
        .collect()
}

/// Checks that the log page fits the screen (see [`LOG_FIT`]); fails naming every problem.
async fn fits(browser: &Browser, view: &str) -> serde_json::Value {
    let found = browser.eval(LOG_FIT).await;
    let problems = problems(&found);
    assert!(
        problems.is_empty(),
        "the log page ({view}) does not fit:\n{}",
        problems.join("\n")
    );
    found
}

fn screenshots() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}

/// Measures the page as it is; fails naming every problem.
async fn measure(browser: &Browser, view: &str, width: u32) -> serde_json::Value {
    let found = browser.eval(MEASURE).await;
    let problems = problems(&found);
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

/// Opens a log page at `url` and waits for its lines.
async fn open_log(browser: &Browser, url: &str) {
    browser.open(url).await;
    browser
        .wait_js(
            "log lines",
            LONG,
            "return document.querySelectorAll('.log-row__text').length > 10",
        )
        .await;
}

/// Makes the page a phone's screen, `width` x `height` CSS px (a headless window is 500 px
/// wide at least, so the viewport is emulated).
async fn phone(browser: &Browser, width: u32, height: u32) {
    browser
        .cdp(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({"width": width, "height": height, "deviceScaleFactor": 2, "mobile": true}),
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
    // The failed rollout's log page, once found.
    let mut logs = String::new();
    for (width, height) in [(360_u32, 740_u32), (390, 844)] {
        let browser = Browser::start().await;
        phone(&browser, width, height).await;
        browser.open(&server.url("/env/production")).await;
        let inner = browser
            .eval("return [window.innerWidth, window.innerHeight]")
            .await;
        assert_eq!(
            inner,
            serde_json::json!([width, height]),
            "the window's size"
        );
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
        open_log(&browser, &server.url(&href)).await;
        logs = href;
        // The first error and the stages start folded on a phone, and open on demand.
        browser
            .wait_js(
                "the first error",
                LONG,
                "return document.querySelector('.log-first-error') !== null",
            )
            .await;
        let folded = browser
            .eval(
                "return [document.querySelector('.log-stages details').open, \
                 document.querySelector('.log-first-error details')?.open ?? 'no fold']",
            )
            .await;
        assert_eq!(
            folded,
            serde_json::json!([false, false]),
            "the stages and the first error start folded"
        );
        measure(&browser, "logs", width).await;
        fits(&browser, &format!("{width} x {height}")).await;
        // For docs/ (with SHIPWATCH_SCREENSHOTS): the page as it opens on this phone.
        let size = if width == 360 {
            screenshots::SMALL_PHONE
        } else {
            screenshots::PHONE
        };
        screenshots::take(
            &browser,
            "screenshot-logs",
            &[size],
            Duration::from_millis(300),
        )
        .await;
        phone(&browser, width, height).await;

        // Search and follow are at hand: a search finds lines, and scrolling up the lines
        // shows the way back to the newest ones, which follows again.
        browser
            .eval(
                "const i = document.getElementById('log-search-input'); i.value = 'api-1'; \
                 i.dispatchEvent(new Event('input', {bubbles: true}))",
            )
            .await;
        browser
            .wait_js(
                "search matches",
                LONG,
                "return /\\d+ (of|matches)/.test(document.getElementById('log-search-status').textContent)",
            )
            .await;
        // Every stage's lines (the failing stage's alone may fit the screen), then up.
        browser
            .eval("document.querySelector('.log-stages button.log-stage').click()")
            .await;
        browser
            .wait_js(
                "every stage's lines",
                LONG,
                "const s = document.querySelector('.log-scroll'); return s.scrollHeight > 2 * s.clientHeight",
            )
            .await;
        browser
            .eval("const s = document.querySelector('.log-scroll'); s.scrollTop = 0; s.dispatchEvent(new Event('scroll'))")
            .await;
        browser
            .wait_js(
                "the jump to the newest lines",
                LONG,
                "return document.querySelector('.log-jump') !== null",
            )
            .await;
        fits(&browser, &format!("{width} x {height}, scrolled up")).await;
        browser
            .eval("document.querySelector('.log-jump').click()")
            .await;
        browser
            .wait_js(
                "following again",
                LONG,
                "return document.querySelector('.log-viewer')?.dataset.following === 'true'",
            )
            .await;

        // "Options" unfolds the other controls, on the screen; the first error unfolds too.
        browser
            .eval(
                "document.querySelector('.log-toolbar__more').click(); \
                 document.querySelector('.log-first-error summary').click()",
            )
            .await;
        let unfolded = browser
            .wait_js(
                "the options and the first error unfolded",
                LONG,
                "const wrap = [...document.querySelectorAll('.log-toolbar button')].find(b => b.textContent === 'Wrap lines'); \
                 const b = wrap && wrap.getClientRects().length ? wrap.getBoundingClientRect() : null; \
                 return document.querySelector('.log-first-error details').open && b \
                   && [document.querySelector('.log-toolbar__more').getAttribute('aria-expanded'), b.bottom <= innerHeight, b.height >= 24]",
            )
            .await;
        assert_eq!(unfolded, serde_json::json!(["true", true, true]));
        measure(&browser, "logs-unfolded", width).await;
        if width == 390 {
            screenshots::take(
                &browser,
                "screenshot-logs-unfolded",
                &[screenshots::PHONE],
                Duration::from_millis(300),
            )
            .await;
            phone(&browser, width, height).await;
        }
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
        // The log page as it opens (folded), to switch environments from.
        open_log(&browser, &server.url(&logs)).await;
        other_environment_from_the_log_page(&browser, width, height).await;
        browser.close().await;
    }

    // A desktop window: the same page fits it too, the first error and the stages open.
    let browser = Browser::start().await;
    browser.set_viewport(1280, 800).await;
    browser.open(&server.url(&logs)).await;
    browser
        .wait_js(
            "log lines and the first error",
            LONG,
            "return document.querySelectorAll('.log-row__text').length > 10 \
             && document.querySelector('.log-first-error') !== null",
        )
        .await;
    let open = browser
        .eval(
            "return [document.querySelector('.log-stages details').open, \
             document.querySelector('.log-first-error details')?.open ?? 'no fold']",
        )
        .await;
    assert_eq!(open, serde_json::json!([true, true]), "open on a desktop");
    fits(&browser, "1280 x 800").await;
    screenshots::take(
        &browser,
        "screenshot-logs",
        &[screenshots::DESKTOP],
        Duration::from_millis(300),
    )
    .await;
    browser.close().await;
}

/// On a phone the log page's top bar has the environment switcher as one button that names
/// the environment; it unfolds the environments over the page, each on the screen and at
/// least 24 px high, and one of them opens that environment.
async fn other_environment_from_the_log_page(browser: &Browser, width: u32, height: u32) {
    let view = format!("the log page at {width} x {height}");
    let toggle = browser
        .eval(
            "const t = document.querySelector('.topbar .env-switcher__toggle'); \
             const b = t && t.getClientRects().length ? t.getBoundingClientRect() : null; \
             return b && [t.textContent.trim(), t.getAttribute('aria-expanded'), b.width >= 24 && b.height >= 24, \
               b.top >= 0 && b.bottom <= innerHeight && b.right <= innerWidth]",
        )
        .await;
    assert_eq!(
        toggle,
        serde_json::json!(["Environment: Production", "false", true, true]),
        "{view}: the environment switcher's button"
    );
    browser
        .eval("document.querySelector('.topbar .env-switcher__toggle').click()")
        .await;
    let links = browser
        .wait_js(
            "the environments unfolded",
            LONG,
            "const links = [...document.querySelectorAll('.topbar .env-switcher__link')].filter(a => a.getClientRects().length); \
             return links.length >= 3 && links.map(a => { const b = a.getBoundingClientRect(); \
               return [a.querySelector('.env-switcher__name').textContent, b.height >= 24 && b.top >= 0 && b.bottom <= innerHeight && b.left >= 0 && b.right <= innerWidth]; })",
        )
        .await;
    assert_eq!(
        links,
        serde_json::json!([
            ["Production", true],
            ["Staging", true],
            ["Preview PR #142", true]
        ]),
        "{view}: every environment, whole on the screen"
    );
    // The open list lies over the page: the lines keep their room.
    let found = browser.eval(LOG_FIT).await;
    assert_eq!(
        problems(&found),
        Vec::<String>::new(),
        "{view}, environments unfolded"
    );
    if width == 390 {
        screenshots::take(
            browser,
            "screenshot-logs-environments",
            &[screenshots::PHONE],
            Duration::from_millis(300),
        )
        .await;
        phone(browser, width, height).await;
    }
    browser
        .eval("[...document.querySelectorAll('.topbar .env-switcher__link')].find(a => a.textContent.includes('Staging')).click()")
        .await;
    browser
        .wait_js(
            "the staging environment",
            LONG,
            "return location.pathname === '/env/staging' && !!document.querySelector('tr.service-row') \
             && document.querySelector('.topbar .env-switcher__toggle').getAttribute('aria-expanded') === 'false'",
        )
        .await;
}
