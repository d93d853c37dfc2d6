//! The app's router against the real server and page (`src/router/`): links and the pages'
//! own URL changes stay in the page (no reload), back and forward follow them, the clicks a
//! browser keeps (new tab, other buttons, targets, the API's files) are left to it, ids are
//! read percent-decoded, and an unknown path says so. A navigation that stays on the page (a
//! row, a tab, a filter) keeps the window's scroll; another page starts at its top.

use shipwatch_e2e::{Browser, Server};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(40);

/// The page's path and query.
const HERE: &str = "return location.pathname + location.search";

/// Waits until the page is at `url` (path and query) and `ready` (a JS expression) holds,
/// then checks it was not reloaded since the marker was set.
async fn arrive(browser: &Browser, url: &str, ready: &str) {
    let url_json = serde_json::to_string(url).unwrap();
    browser
        .wait_js(
            &format!("{url} with {ready}"),
            LONG,
            &format!("return location.pathname + location.search === {url_json} && ({ready})"),
        )
        .await;
    assert_eq!(
        browser
            .eval("return window.__shipwatchMarker || null")
            .await,
        1,
        "{url} was reached in the page, without a reload"
    );
}

const SERVICES_TAB: &str = "document.querySelector('table.services') !== null \
     && document.querySelector('.deployments__table') === null";
const HISTORY_TAB: &str = "document.querySelector('.deployments__table[aria-busy=false]') !== null";

#[tokio::test]
async fn links_filters_back_and_forward_stay_in_the_page() {
    let server = Server::start(&["--scenario", "calm", "--seed", "3"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url("/env/production")).await;
    browser.find("table.services tr.service-row").await;
    browser.eval("window.__shipwatchMarker = 1").await;

    // A tab link: a real click.
    browser
        .find("a.env-tabs__link[href='/env/production/deployments']")
        .await
        .click()
        .await
        .unwrap();
    arrive(&browser, "/env/production/deployments", HISTORY_TAB).await;

    // The status filter writes the query.
    browser
        .eval(
            "const s = document.querySelector('select[name=status]'); s.value = 'failed'; \
             s.dispatchEvent(new Event('change', { bubbles: true }))",
        )
        .await;
    let failed = "document.querySelector('select[name=status]').value === 'failed'";
    arrive(
        &browser,
        "/env/production/deployments?status=failed",
        failed,
    )
    .await;

    // Back: the filter goes, then the tab; forward brings both again.
    let any = "document.querySelector('select[name=status]').value === ''";
    browser.client.back().await.unwrap();
    arrive(
        &browser,
        "/env/production/deployments",
        &format!("{HISTORY_TAB} && {any}"),
    )
    .await;
    browser.client.back().await.unwrap();
    arrive(&browser, "/env/production", SERVICES_TAB).await;
    browser.client.forward().await.unwrap();
    arrive(&browser, "/env/production/deployments", HISTORY_TAB).await;
    browser.client.forward().await.unwrap();
    arrive(
        &browser,
        "/env/production/deployments?status=failed",
        &format!("{HISTORY_TAB} && {failed}"),
    )
    .await;

    // The Services tab again, then a row's disclosure (the page's own navigation).
    browser
        .find("a.env-tabs__link[href='/env/production']")
        .await
        .click()
        .await
        .unwrap();
    arrive(&browser, "/env/production", SERVICES_TAB).await;
    browser
        .click_css("tr[data-service='api'] button.disclosure[aria-expanded='false']")
        .await;
    let open = "document.querySelector(\"table[aria-label='Instances of API']\") !== null";
    arrive(&browser, "/env/production/service/api", open).await;
    browser.client.back().await.unwrap();
    arrive(
        &browser,
        "/env/production",
        &format!("{SERVICES_TAB} && !({open})"),
    )
    .await;
    browser.client.forward().await.unwrap();
    arrive(&browser, "/env/production/service/api", open).await;
    assert_eq!(
        browser.eval(HERE).await,
        "/env/production/service/api",
        "forward to the expanded row"
    );
    browser.close().await;
}

#[tokio::test]
async fn the_browser_keeps_new_tabs_other_buttons_targets_and_the_api() {
    let server = Server::start(&["--scenario", "calm", "--seed", "3"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url("/env/production")).await;
    browser.find("table.services tr.service-row").await;
    // Clicks made in the page: a listener added after the app's sees whether the app took
    // the click (`defaultPrevented`), then cancels it so that the browser opens nothing.
    let taken = browser
        .eval(
            "let seen = null; \
             window.addEventListener('click', (e) => { seen = e.defaultPrevented; e.preventDefault(); }); \
             const link = (href, attrs) => { const a = document.createElement('a'); a.href = href; \
               for (const [k, v] of Object.entries(attrs || {})) a.setAttribute(k, v); \
               a.textContent = 'x'; document.body.appendChild(a); return a; }; \
             const click = (a, init) => { seen = null; \
               a.dispatchEvent(new MouseEvent('click', Object.assign({ bubbles: true, cancelable: true }, init))); \
               a.remove(); return seen; }; \
             const page = '/env/production/deployments'; \
             return { \
               ctrl: click(link(page), { ctrlKey: true }), \
               meta: click(link(page), { metaKey: true }), \
               shift: click(link(page), { shiftKey: true }), \
               middle: click(link(page), { button: 1 }), \
               blank: click(link(page, { target: '_blank' })), \
               download: click(link(page, { download: '' })), \
               api: click(link('/api/deployments/x/log.txt')), \
               unknown: click(link('/env/production/nothing')), \
               other_origin: click(link('https://example.com/env/production')), \
               here_fragment: click(link('/env/production#top')), \
               plain: click(link(page)), \
             };",
        )
        .await;
    let expect = serde_json::json!({
        "ctrl": false, "meta": false, "shift": false, "middle": false, "blank": false,
        "download": false, "api": false, "unknown": false, "other_origin": false,
        "here_fragment": false, "plain": true,
    });
    assert_eq!(taken, expect, "which clicks the app takes");
    // The plain click was followed in the page.
    browser
        .wait_js(
            "the plain click's page",
            LONG,
            &format!("return location.pathname === '/env/production/deployments' && {HISTORY_TAB}"),
        )
        .await;
    browser.close().await;
}

#[tokio::test]
async fn ids_are_read_percent_decoded_and_an_unknown_path_says_so() {
    let server = Server::start(&["--scenario", "calm", "--seed", "3"]).await;
    let browser = Browser::start().await;
    // `%69` is `i`: the service is api.
    browser
        .open(&server.url("/env/production/service/ap%69"))
        .await;
    browser.find("table[aria-label='Instances of API']").await;

    browser
        .open(&server.url("/env/production/no/such/page"))
        .await;
    let notice = browser.find("main p.notice").await.text().await.unwrap();
    assert_eq!(notice, "No such page.");
    browser.eval("window.__shipwatchMarker = 1").await;
    // The brand link leads home, which opens the first environment in place of itself.
    browser.click_css("a.brand").await;
    browser
        .wait_js(
            "the first environment",
            LONG,
            "return location.pathname.startsWith('/env/') && document.querySelector('table.services') !== null",
        )
        .await;
    assert_eq!(browser.eval("return window.__shipwatchMarker").await, 1);
    browser.client.back().await.unwrap();
    browser
        .wait_js(
            "back to the unknown page, past the replaced home",
            LONG,
            "return location.pathname === '/env/production/no/such/page' \
             && document.querySelector('main p.notice') !== null",
        )
        .await;
    browser.close().await;
}

/// The window's scroll, once the frame after a navigation (where the router scrolls) is done.
async fn scroll_after_frames(browser: &Browser) -> f64 {
    browser
        .eval(
            "window.__framesDone = false; \
             requestAnimationFrame(() => requestAnimationFrame(() => { window.__framesDone = true; }))",
        )
        .await;
    browser
        .wait_js("two frames", LONG, "return window.__framesDone === true")
        .await;
    browser
        .eval("return window.scrollY")
        .await
        .as_f64()
        .unwrap()
}

/// Scrolls the window to `y` and waits until it is there.
async fn scroll_to(browser: &Browser, y: u32) {
    browser
        .wait_js(
            &format!("the window scrolled to {y}"),
            LONG,
            &format!("window.scrollTo(0, {y}); return Math.abs(window.scrollY - {y}) < 1"),
        )
        .await;
}

fn assert_kept(what: &str, before: f64, after: f64) {
    assert!(
        (after - before).abs() <= 3.0,
        "{what}: the window scrolled from {before} to {after}"
    );
}

#[tokio::test]
async fn a_row_a_tab_or_a_filter_keeps_the_scroll_and_another_page_starts_at_the_top() {
    // Statuses hold still (--rate 0), so rows do not re-sort under the test.
    let server = Server::start(&[
        "--environments",
        "2",
        "--services",
        "60",
        "--seed",
        "3",
        "--rate",
        "0",
    ])
    .await;
    let browser = Browser::start().await;
    browser.open(&server.url("/env/production")).await;
    browser.find("table.services tr.service-row").await;
    browser.eval("window.__shipwatchMarker = 1").await;
    // Clicks are made in scripts (`click_css`): a WebDriver click would scroll the element
    // into view first.

    // Expand a row well down the page, then fold it again.
    scroll_to(&browser, 309).await;
    let service = browser
        .wait_js(
            "a row in the middle of the window",
            LONG,
            "const r = [...document.querySelectorAll('tr.service-row')] \
               .find((r) => { const t = r.getBoundingClientRect().top; return t > 250 && t < 450; }); \
             return r ? r.dataset.service : null",
        )
        .await;
    let service = service.as_str().unwrap().to_owned();
    browser
        .click_css(&format!(
            "tr[data-service='{service}'] button.disclosure[aria-expanded='false']"
        ))
        .await;
    let open = format!(
        "document.querySelector(\"tr[data-service='{service}'] button.disclosure[aria-expanded='true']\") !== null \
         && document.querySelector(\"tbody.service--open table[aria-label^='Instances of']\") !== null"
    );
    arrive(
        &browser,
        &format!("/env/production/service/{service}"),
        &open,
    )
    .await;
    assert_kept("a row expanded", 309.0, scroll_after_frames(&browser).await);

    // Further down, another row: expanding it folds the first, above the window, and the
    // page gets shorter above it; it stays in view (a click focuses the button, as a
    // pointer's does). Rows may re-sort by a row's height meanwhile: the check is that it
    // shows below the table's header, not its exact place.
    scroll_to(&browser, 900).await;
    let other = browser
        .wait_js(
            "a row in the middle of the window",
            LONG,
            "const r = [...document.querySelectorAll('tr.service-row')] \
               .find((r) => { const t = r.getBoundingClientRect().top; return t > 200 && t < 300; }); \
             return r ? r.dataset.service : null",
        )
        .await;
    let other = other.as_str().unwrap().to_owned();
    assert_ne!(other, service);
    browser
        .wait_js(
            "the other row's disclosure, focused and clicked",
            LONG,
            &format!(
                "const b = document.querySelector(\"tr[data-service='{other}'] button.disclosure\"); \
                 if (!b) return null; b.focus(); b.click(); return true"
            ),
        )
        .await;
    let other_open = format!(
        "document.querySelector(\"tbody.service--open tr[data-service='{other}']\") !== null"
    );
    arrive(
        &browser,
        &format!("/env/production/service/{other}"),
        &other_open,
    )
    .await;
    let y = scroll_after_frames(&browser).await;
    let shown = browser
        .eval(&format!(
            "const r = document.querySelector(\"tr[data-service='{other}']\").getBoundingClientRect(); \
             const head = document.querySelector('table.services thead th').getBoundingClientRect().bottom; \
             return {{ top: r.top, bottom: r.bottom, head, view: innerHeight }}"
        ))
        .await;
    let top = shown["top"].as_f64().unwrap();
    assert!(
        top >= shown["head"].as_f64().unwrap() - 1.0
            && shown["bottom"].as_f64().unwrap() <= shown["view"].as_f64().unwrap(),
        "the expanded row is in view below the table's header: {shown}"
    );
    browser
        .click_css(&format!(
            "tr[data-service='{other}'] button.disclosure[aria-expanded='true']"
        ))
        .await;
    arrive(&browser, "/env/production", &format!("!({other_open})")).await;
    assert_kept("the row folded", y, scroll_after_frames(&browser).await);

    // The Deployments tab, near the top (where its link shows under the top bar).
    scroll_to(&browser, 60).await;
    browser
        .click_css("a.env-tabs__link[href='/env/production/deployments']")
        .await;
    arrive(&browser, "/env/production/deployments", HISTORY_TAB).await;
    assert_kept(
        "the Deployments tab",
        60.0,
        scroll_after_frames(&browser).await,
    );

    // A filter of that tab.
    browser
        .eval(
            "const s = document.querySelector('select[name=status]'); s.value = 'succeeded'; \
             s.dispatchEvent(new Event('change', { bubbles: true }))",
        )
        .await;
    arrive(
        &browser,
        "/env/production/deployments?status=succeeded",
        &format!(
            "{HISTORY_TAB} && document.querySelector('select[name=status]').value === 'succeeded'"
        ),
    )
    .await;
    assert_kept("a filter", 60.0, scroll_after_frames(&browser).await);

    // Another environment starts at its top.
    browser
        .click_css("a.env-tabs__link[href='/env/production']")
        .await;
    arrive(&browser, "/env/production", SERVICES_TAB).await;
    scroll_to(&browser, 309).await;
    browser
        .click_css("a.env-switcher__link[href='/env/staging']")
        .await;
    arrive(
        &browser,
        "/env/staging",
        &format!("{SERVICES_TAB} && document.documentElement.scrollHeight > 2 * innerHeight"),
    )
    .await;
    assert_eq!(
        scroll_after_frames(&browser).await,
        0.0,
        "another environment"
    );

    // A log page starts at its top (it is the window's height, its viewer scrolls inside, so
    // the window can be nowhere else: the check above, on another environment, is the one
    // that sees the router scroll to the top); back returns to the list where it was left.
    scroll_to(&browser, 309).await;
    let logs = browser
        .wait_js(
            "a row's log link in the window",
            LONG,
            "const a = [...document.querySelectorAll('tr.service-row a[href*=\"/logs\"]')] \
               .find((a) => { const t = a.getBoundingClientRect().top; return t > 100 && t < 600; }); \
             return a ? a.getAttribute('href') : null",
        )
        .await;
    let logs = logs.as_str().unwrap().to_owned();
    browser
        .click_css(&format!("tr.service-row a[href='{logs}']"))
        .await;
    arrive(
        &browser,
        &logs,
        "document.querySelector('.log-viewer') !== null",
    )
    .await;
    assert_eq!(scroll_after_frames(&browser).await, 0.0, "the log page");
    // Back: the list, where it was left, though the page loads the environment again.
    browser.client.back().await.unwrap();
    arrive(&browser, "/env/staging", SERVICES_TAB).await;
    assert_kept(
        "back to the list",
        309.0,
        scroll_after_frames(&browser).await,
    );
    browser.client.forward().await.unwrap();
    arrive(
        &browser,
        &logs,
        "document.querySelector('.log-viewer') !== null",
    )
    .await;
    assert_eq!(
        scroll_after_frames(&browser).await,
        0.0,
        "forward to the log page"
    );
    browser.client.back().await.unwrap();
    arrive(&browser, "/env/staging", SERVICES_TAB).await;
    assert_kept(
        "back to the list again",
        309.0,
        scroll_after_frames(&browser).await,
    );

    // A reload comes back to the same place, once the list is there again.
    browser.client.refresh().await.unwrap();
    browser
        .wait_js(
            "the list after a reload",
            LONG,
            &format!(
                "return location.pathname === '/env/staging' && window.__shipwatchMarker === undefined \
                 && {SERVICES_TAB} && document.querySelector('tr.service-row') !== null"
            ),
        )
        .await;
    assert_kept("a reload", 309.0, scroll_after_frames(&browser).await);
    browser.close().await;
}
