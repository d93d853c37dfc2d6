//! The environment page's tabs and deployment history, on the real server with a store and
//! the real page: a deployment started through the simulator's action API shows at the top
//! of the Deployments tab within a second, its status and duration change live, its label
//! opens its log; an older deployment's log opens after a newer one replaced it; both tabs'
//! dots and tooltips say what the header says as the environment changes; among 2,000
//! services, the service filter finds one by typing part of its name and picking it with the
//! keyboard, and the URL and the list follow; without a store the history comes from the
//! server's memory and the page says so.

use shipwatch_e2e::actions::start_deployment_with;
use shipwatch_e2e::{screenshots, Browser, Server};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(30);

/// A server with a store of its own (removed when the guard drops).
struct Stored {
    server: Server,
    data: std::path::PathBuf,
}

impl Drop for Stored {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

async fn stored_server(name: &str, speed: &str) -> Stored {
    stored_server_with(name, speed, &[]).await
}

/// A server with a store of its own and `more` flags.
async fn stored_server_with(name: &str, speed: &str, more: &[&str]) -> Stored {
    let data = std::env::temp_dir().join(format!("shipwatch-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let data_arg = data.display().to_string();
    let mut args = vec![
        "--data-dir",
        &data_arg,
        "--rate",
        "0",
        "--speed",
        speed,
        "--log-lines",
        "40",
    ];
    args.extend_from_slice(more);
    let server = Server::start(&args).await;
    Stored { server, data }
}

/// Opens a deployment list and waits for its first page.
async fn open_history(browser: &Browser, s: &Stored, path: &str) {
    browser.open(&s.server.url(path)).await;
    browser
        .wait_js(
            &format!("the history at {path}"),
            LONG,
            "return document.querySelector('.deployments__table[aria-busy=false]') !== null",
        )
        .await;
}

/// Deploys production/`svc` from the page; the new deployment's id and when its 202 came.
async fn deploy(browser: &Browser, svc: &str) -> (String, f64) {
    let started = start_deployment_with(browser, "production", svc, "").await;
    (started.id, started.acked_at)
}

/// A row's attribute, or null.
fn row_attr(id: &str, attr: &str) -> String {
    format!(
        "return document.querySelector(\"tr.deployment-row[data-deployment='{id}']\")?.getAttribute('{attr}') ?? null"
    )
}

fn row_text(id: &str, css: &str) -> String {
    format!(
        "return document.querySelector(\"tr.deployment-row[data-deployment='{id}'] {css}\")?.textContent ?? null"
    )
}

/// Waits until the deployment `id` has ended, as the page shows it.
async fn wait_ended(browser: &Browser, id: &str) -> String {
    browser
        .wait_js(
            &format!("{id} to end on the page"),
            Duration::from_secs(60),
            &format!(
                "const s = document.querySelector(\"tr.deployment-row[data-deployment='{id}']\")?.getAttribute('data-status'); \
                 return ['DEPLOYMENT OK', 'BUILDING ERROR', 'DEPLOYMENT ERROR', 'CANCELLED'].includes(s) ? s : null"
            ),
        )
        .await
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_deployments_tab_shows_a_new_deployment_live_and_opens_its_log() {
    // At speed 1 the simulator's times are the wall clock's, which the page counts with.
    let s = stored_server("tab-live", "1").await;
    let browser = Browser::start().await;
    browser
        .open(&s.server.url("/env/production/deployments"))
        .await;
    // The history of the start (every service deployed once) is listed.
    browser
        .wait_js(
            "the first page of history",
            LONG,
            "return document.querySelector('.deployments__table[aria-busy=false]') \
             && document.querySelectorAll('tr.deployment-row').length > 0",
        )
        .await;
    // The tab is the current one.
    let current = browser
        .eval("return document.querySelector('.env-tabs__link[aria-current=page]')?.textContent")
        .await;
    assert_eq!(current, "Deployments");

    let (id, acked_at) = deploy(&browser, "api").await;
    // Within a second of the action's 202, it is the first row.
    let seen_at = browser
        .wait_js(
            "the new deployment's row",
            Duration::from_secs(5),
            &format!(
                "const first = document.querySelector('tr.deployment-row'); \
                 return first?.getAttribute('data-deployment') === '{id}' ? performance.now() : null"
            ),
        )
        .await
        .as_f64()
        .unwrap();
    eprintln!(
        "the new deployment's row came {:.0} ms after the 202",
        seen_at - acked_at
    );
    assert!(
        seen_at - acked_at <= 1_000.0,
        "the row came {:.0} ms after the 202",
        seen_at - acked_at
    );
    let first_status = browser.eval(&row_attr(&id, "data-status")).await;
    let first_status = first_status.as_str().unwrap().to_string();
    assert!(
        ["QUEUED", "BUILDING"].contains(&first_status.as_str()),
        "{first_status}"
    );
    // What it shows: the service, the version it replaces, stages once the server has them.
    let what = browser.eval(&row_text(&id, ".deployment-row__what")).await;
    assert_eq!(what, "api");
    assert!(browser
        .eval(&row_text(&id, ".deployment-row__previous"))
        .await
        .as_str()
        .is_some_and(|t| t.contains("was")));

    // While it runs, its duration counts up in place, and its status moves on.
    let d1 = browser
        .wait_js(
            "a running duration",
            LONG,
            &row_text(&id, ".deployment-row__duration--running"),
        )
        .await;
    let d2 = browser
        .wait_js(
            "the running duration to count up",
            Duration::from_secs(5),
            &format!(
                "const d = document.querySelector(\"tr.deployment-row[data-deployment='{id}'] .deployment-row__duration--running\")?.textContent; \
                 return d && d !== {d1} ? d : null"
            ),
        )
        .await;
    assert!(d2.as_str().unwrap().ends_with("so far"), "{d2}");
    browser
        .wait_js(
            "the status to change in place",
            LONG,
            &format!(
                "const s = document.querySelector(\"tr.deployment-row[data-deployment='{id}']\")?.getAttribute('data-status'); \
                 return s && s !== '{first_status}'"
            ),
        )
        .await;
    let last = wait_ended(&browser, &id).await;
    assert_eq!(last, "DEPLOYMENT OK");
    let took = browser
        .eval(&row_text(&id, ".deployment-row__duration"))
        .await;
    assert!(
        took.as_str().is_some_and(|t| !t.contains("so far")),
        "{took}"
    );
    // Its stages came with the next fetch, all passed.
    let stages = browser
        .wait_js(
            "its stages",
            LONG,
            &format!(
                "const l = [...document.querySelectorAll(\"tr.deployment-row[data-deployment='{id}'] .stage\")]; \
                 return l.length ? l.map(s => s.className) : null"
            ),
        )
        .await;
    assert!(
        stages
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c.as_str().unwrap().contains("stage--passed")),
        "{stages}"
    );

    // Its label opens its log.
    browser
        .eval(&format!(
            "document.querySelector(\"tr.deployment-row[data-deployment='{id}'] a.label\").click()"
        ))
        .await;
    let path = browser
        .wait_js(
            "the log page",
            LONG,
            "return location.pathname.endsWith('/logs') ? location.pathname : null",
        )
        .await;
    assert_eq!(
        path,
        format!("/env/production/service/api/deployments/{id}/logs").as_str()
    );
    browser
        .wait_js(
            "its log lines",
            LONG,
            "return document.querySelectorAll('.log-row').length > 0",
        )
        .await;
    browser.close().await;
}

#[tokio::test]
async fn an_older_deployments_log_opens_after_a_newer_one_replaced_it() {
    let s = stored_server("tab-older", "50").await;
    let browser = Browser::start().await;
    open_history(&browser, &s, "/env/production/service/api/deployments").await;
    let heading = browser
        .eval("return document.querySelector('#deployments-title')?.textContent")
        .await;
    assert_eq!(heading, "Deployments of API");
    let (older, _) = deploy(&browser, "api").await;
    wait_ended(&browser, &older).await;
    let (newer, _) = deploy(&browser, "api").await;
    wait_ended(&browser, &newer).await;
    let order = browser
        .eval(
            "return [...document.querySelectorAll('tr.deployment-row')].slice(0, 2)\
             .map(r => r.getAttribute('data-deployment'))",
        )
        .await;
    assert_eq!(order, serde_json::json!([newer, older]));
    // Only api's deployments are listed here.
    let others = browser
        .eval(
            "return [...document.querySelectorAll('.deployment-row__what')]\
             .filter(c => c.textContent !== 'api').length",
        )
        .await;
    assert_eq!(others, 0);

    // A failed build, then the status filter: it goes into the URL, the server filters, and
    // the URL alone gives the same list.
    let failed = start_deployment_with(&browser, "production", "api", "?outcome=build-error")
        .await
        .id;
    assert_eq!(wait_ended(&browser, &failed).await, "BUILDING ERROR");
    browser
        .eval(
            "const s = document.querySelector('select[name=status]'); s.value = 'failed'; \
             s.dispatchEvent(new Event('change', {bubbles: true}))",
        )
        .await;
    let filtered = "return location.search === '?status=failed' \
         && document.querySelector('.deployments__table[aria-busy=false]') \
         && [...document.querySelectorAll('tr.deployment-row')].map(r => r.getAttribute('data-status'))";
    let shown = browser.wait_js("the failed ones", LONG, filtered).await;
    let only_failed = |v: &serde_json::Value| {
        let rows = v.as_array().expect("rows");
        !rows.is_empty()
            && rows
                .iter()
                .all(|s| s == "BUILDING ERROR" || s == "DEPLOYMENT ERROR")
    };
    assert!(only_failed(&shown), "{shown}");
    browser.eval("location.reload()").await;
    let shown = browser
        .wait_js("the failed ones after a reload", LONG, filtered)
        .await;
    assert!(only_failed(&shown), "{shown}");
    let rows = browser
        .eval("return [...document.querySelectorAll('tr.deployment-row')].map(r => r.getAttribute('data-deployment'))")
        .await;
    assert!(
        rows.as_array()
            .unwrap()
            .contains(&serde_json::json!(failed)),
        "{rows}"
    );
    browser
        .open(&s.server.url("/env/production/service/api/deployments"))
        .await;
    browser
        .wait_js(
            "the older one listed",
            LONG,
            &row_attr(&older, "data-status"),
        )
        .await;

    // The older one's label opens the older one's log, which is all there.
    browser
        .eval(&format!(
            "document.querySelector(\"tr.deployment-row[data-deployment='{older}'] a.label\").click()"
        ))
        .await;
    browser
        .wait_js(
            "the older log page",
            LONG,
            &format!("return location.pathname.includes('/{older}/logs')"),
        )
        .await;
    let shown = browser
        .wait_js(
            "the older deployment's header and lines",
            LONG,
            "const id = document.querySelector('.log-page__id')?.textContent; \
             const n = document.querySelectorAll('.log-row').length; \
             return id && n > 0 ? id : null",
        )
        .await;
    assert_eq!(shown, older.as_str());
    // It leads to the next deployment of api, the newer one.
    let next = browser
        .wait_js(
            "a link to the next deployment",
            LONG,
            "return document.querySelector('.log-page__neighbours a[rel=next]')?.getAttribute('href') ?? null",
        )
        .await;
    assert_eq!(
        next,
        format!("/env/production/service/api/deployments/{newer}/logs").as_str()
    );
    browser.close().await;
}

/// The service filter as the page shows it: whether its list is open, the options, the
/// active one, the box's text, the list's status line, the URL's query.
const SERVICE_FILTER: &str = "
const input = document.getElementById('deployments-service');
const list = document.getElementById('deployments-service-list');
const active = input.getAttribute('aria-activedescendant');
return {
  expanded: input.getAttribute('aria-expanded'),
  shown: !list.closest('.service-filter__popup').hidden,
  options: [...list.querySelectorAll('[role=option]')].map(o => o.textContent),
  active: active ? document.getElementById(active)?.textContent ?? 'missing' : null,
  selected: [...list.querySelectorAll('[role=option][aria-selected=true]')].map(o => o.id),
  activeId: active,
  value: input.value,
  status: document.querySelector('.service-filter__status').textContent,
  query: location.search,
};
";

/// A script that returns the service filter's state `f` once `cond` holds of it, else null.
fn filter_when(cond: &str) -> String {
    format!("const f = (() => {{{SERVICE_FILTER}}})(); return ({cond}) ? f : null")
}

/// Waits until `cond` holds of the service filter's state `f` (see [`SERVICE_FILTER`]), and
/// returns the state.
async fn filter_once(browser: &Browser, what: &str, cond: &str) -> serde_json::Value {
    browser.wait_js(what, LONG, &filter_when(cond)).await
}

/// Keys as WebDriver sends them.
const DOWN: &str = "\u{e015}";
const ENTER: &str = "\u{e007}";
const ESCAPE: &str = "\u{e00c}";
const BACKSPACE: &str = "\u{e003}";
const END: &str = "\u{e010}";

#[tokio::test]
async fn the_service_filter_finds_one_of_thousands_by_typing_and_the_keyboard() {
    let s = stored_server_with(
        "tab-filter",
        "50",
        &["--environments", "1", "--services", "2000"],
    )
    .await;
    let browser = Browser::start().await;
    open_history(&browser, &s, "/env/production/deployments").await;
    // One of 167 API services deploys.
    let (deployed, _) = deploy(&browser, "api-120").await;
    wait_ended(&browser, &deployed).await;

    let input = browser.find("#deployments-service").await;
    assert_eq!(
        input.attr("role").await.unwrap().as_deref(),
        Some("combobox")
    );
    input.click().await.unwrap();
    let f = filter_once(&browser, "the list open", "f.shown").await;
    assert_eq!(f["expanded"], "true", "{f}");
    assert_eq!(f["options"][0], "All services (current)", "{f}");

    // Part of a name: the best 50 of 167, the count said.
    input.send_keys("api").await.unwrap();
    let f = filter_once(&browser, "the API services", "f.options[0] === 'API'").await;
    assert_eq!(f["options"].as_array().unwrap().len(), 50, "{f}");
    assert_eq!(
        f["status"], "50 of 167 services: type more of the name",
        "{f}"
    );
    assert_eq!(f["options"][1], "API 2", "numbers in their order: {f}");

    // More of it: "API 12" and "API 120" to "API 129"; two steps down, Enter.
    input.send_keys(" 12").await.unwrap();
    let f = filter_once(&browser, "the API 12x services", "f.options.length === 11").await;
    assert_eq!(f["options"][0], "API 12", "{f}");
    assert_eq!(f["status"], "11 services", "{f}");
    input.send_keys(&format!("{DOWN}{DOWN}")).await.unwrap();
    let f = filter_once(&browser, "the filter", "true").await;
    assert_eq!(f["active"], "API 120", "{f}");
    assert_eq!(f["selected"], serde_json::json!([f["activeId"]]), "{f}");
    // For docs/ (with SHIPWATCH_SCREENSHOTS): the list open, an option active.
    screenshots::take(
        &browser,
        "screenshot-service-filter",
        &[screenshots::DESKTOP, screenshots::PHONE],
        Duration::from_millis(300),
    )
    .await;
    input.send_keys(ENTER).await.unwrap();

    // The URL and the list follow; the box says what is shown.
    let rows = browser
        .wait_js(
            "the list of api-120",
            LONG,
            "return location.search === '?service=api-120' \
             && document.querySelector('.deployments__table[aria-busy=false]') \
             && [...document.querySelectorAll('.deployment-row__what')].map(c => c.textContent)",
        )
        .await;
    let rows = rows.as_array().expect("rows");
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r == "api-120"),
        "{rows:?}"
    );
    let listed = browser.eval(&row_attr(&deployed, "data-status")).await;
    assert!(!listed.is_null(), "the deployment of api-120 is listed");
    let f = filter_once(&browser, "the filter", "true").await;
    assert_eq!(
        (f["value"].as_str(), f["shown"].as_bool()),
        (Some("API 120"), Some(false)),
        "{f}"
    );

    // Text that matches nothing: the list says so; Escape closes it, a second Escape puts
    // back the service shown, and the URL stays.
    input.send_keys("zz").await.unwrap();
    let f = filter_once(&browser, "no match", "f.status === 'No service matches'").await;
    assert_eq!(f["options"], serde_json::json!([]), "{f}");
    input.send_keys(ESCAPE).await.unwrap();
    let f = filter_once(&browser, "the filter", "true").await;
    assert_eq!(
        (f["shown"].as_bool(), f["value"].as_str()),
        (Some(false), Some("API 120zz")),
        "{f}"
    );
    input.send_keys(ESCAPE).await.unwrap();
    let f = filter_once(&browser, "the filter", "true").await;
    assert_eq!(
        (f["value"].as_str(), f["query"].as_str()),
        (Some("API 120"), Some("?service=api-120")),
        "{f}"
    );

    // The URL alone gives the same filter.
    browser.eval("location.reload()").await;
    browser
        .wait_js(
            "the filter from the URL",
            LONG,
            "return document.getElementById('deployments-service')?.value === 'API 120'",
        )
        .await;

    // Emptied, Enter: every service again.
    let input = browser.find("#deployments-service").await;
    input.click().await.unwrap();
    input
        .send_keys(&format!("{END}{}", BACKSPACE.repeat(7)))
        .await
        .unwrap();
    input.send_keys(ENTER).await.unwrap();
    browser
        .wait_js(
            "every service",
            LONG,
            "return location.search === '' && document.getElementById('deployments-service').value === ''",
        )
        .await;
    browser.close().await;
}

/// The tabs' dots as `[services, deployments]` status words, and the header's.
const DOTS: &str = "
const tab = (i) => document.querySelectorAll('.env-tabs__tab [role=img]')[i]?.getAttribute('data-status');
const head = document.querySelector('.env-header__title .dot')?.getAttribute('data-status');
const label = document.querySelector('.env-header__title .label')?.getAttribute('data-status');
return [tab(0), tab(1), head, label];
";

/// Hovers the tab dot `i` and returns its tooltip's title.
async fn tooltip_of(browser: &Browser, i: usize) -> String {
    let dots = browser
        .client
        .find_all(fantoccini::Locator::Css(".env-tabs__tab [role=img]"))
        .await
        .expect("tab dots");
    browser.hover(&dots[i]).await;
    let title = browser
        .wait_js(
            "the tab dot's tooltip",
            Duration::from_secs(5),
            "return [...document.querySelectorAll('.env-tabs .tooltip--open .tooltip__title')]\
             .map(t => t.textContent)[0] ?? null",
        )
        .await;
    browser.unhover().await;
    title.as_str().unwrap().to_string()
}

/// Hovers tab `i` and checks its tooltip names the status its dot shows. The environment
/// moves live (a deployment goes from QUEUED to BUILDING in a moment), so the dots are read
/// before and after the hover, and again when they moved in between.
async fn tooltip_names_its_dot(browser: &Browser, i: usize) {
    for _ in 0..5 {
        let before = browser.eval(DOTS).await;
        let tip = tooltip_of(browser, i).await;
        if browser.eval(DOTS).await == before {
            let word = before[i].as_str().expect("a status word");
            assert_eq!(tip, format!("{word} · Production"), "tab {i}'s tooltip");
            return;
        }
    }
    panic!("the environment moved during each of 5 hovers of tab {i}");
}

#[tokio::test]
async fn both_tabs_dots_and_tooltips_follow_the_environment() {
    let s = stored_server("tab-dots", "2").await;
    let browser = Browser::start().await;
    browser.open(&s.server.url("/env/production")).await;
    browser.find(".env-tabs").await;
    let current = browser
        .eval("return document.querySelector('.env-tabs__link[aria-current=page]')?.textContent")
        .await;
    assert_eq!(current, "Services");
    let before = browser.eval(DOTS).await;
    assert_eq!(
        before[0], before[2],
        "Services dot = header's running dot: {before}"
    );
    assert_eq!(
        before[1], before[3],
        "Deployments dot = header's label: {before}"
    );
    let word = |v: &serde_json::Value| v.as_str().expect("a status word").to_string();
    tooltip_names_its_dot(&browser, 0).await;
    tooltip_names_its_dot(&browser, 1).await;

    // A service stops: the running status changes, in the header and on the tab.
    browser
        .stop_service_and_see_it("production", "worker", LONG)
        .await;
    browser
        .wait_js(
            "the Services dot to follow the header",
            LONG,
            &format!(
                "const d = (() => {{ {DOTS} }})(); return d[2] !== '{}' && d[0] === d[2] ? d : null", word(&before[2])
            ),
        )
        .await;
    tooltip_names_its_dot(&browser, 0).await;

    // A deployment starts: the deployment status changes, on the tab too.
    deploy(&browser, "api").await;
    browser
        .wait_js(
            "the Deployments dot to follow the header's label",
            LONG,
            &format!(
                "const d = (() => {{ {DOTS} }})(); return d[3] !== '{}' && d[1] === d[3] ? d : null", word(&before[3])
            ),
        )
        .await;
    tooltip_names_its_dot(&browser, 1).await;

    // The tabs are links the keyboard reaches; the Deployments one opens its URL.
    browser
        .eval("document.querySelectorAll('.env-tabs__link')[1].click()")
        .await;
    browser
        .wait_js(
            "the Deployments tab",
            LONG,
            "return location.pathname === '/env/production/deployments' \
             && document.querySelector('.env-tabs__link[aria-current=page]')?.textContent === 'Deployments'",
        )
        .await;
    // Dots stay the header's on this tab as well.
    let dots = browser.eval(DOTS).await;
    assert_eq!(dots[0], dots[2], "{dots}");
    assert_eq!(dots[1], dots[3], "{dots}");
    browser.close().await;
}

/// Whether the page scrolls sideways, and its widths.
const SIDEWAYS: &str = "const vw = document.documentElement.clientWidth; \
    const sw = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth); \
    return [sw > vw, sw, vw]";

#[tokio::test]
async fn on_a_phone_the_history_and_the_log_links_do_not_scroll_sideways() {
    let s = stored_server("tab-phone", "50").await;
    let browser = Browser::start().await;
    browser
        .cdp(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({"width": 360, "height": 800, "deviceScaleFactor": 2, "mobile": true}),
        )
        .await
        .expect("phone viewport");
    browser.open(&s.server.url("/env/production")).await;
    browser.find(".env-tabs").await;
    let (older, _) = deploy(&browser, "api").await;
    let (newer, _) = deploy(&browser, "api").await;
    for path in [
        "/env/production/deployments".to_string(),
        "/env/production/service/api/deployments".to_string(),
    ] {
        browser.open(&s.server.url(&path)).await;
        browser
            .wait_js(
                "the history",
                LONG,
                &format!(
                    "return document.querySelector(\"tr.deployment-row[data-deployment='{newer}']\") !== null \
                     && document.getElementById('deployment-history-style') !== null"
                ),
            )
            .await;
        let wide = browser.eval(SIDEWAYS).await;
        assert_eq!(wide[0], false, "{path} scrolls sideways: {wide}");
    }
    browser
        .open(&s.server.url(&format!(
            "/env/production/service/api/deployments/{older}/logs"
        )))
        .await;
    browser
        .wait_js(
            "the link to the next deployment",
            LONG,
            "return document.querySelector('.log-page__neighbours a[rel=next]') !== null",
        )
        .await;
    let wide = browser.eval(SIDEWAYS).await;
    assert_eq!(wide[0], false, "the log page scrolls sideways: {wide}");
    browser.close().await;
}

/// Without a store, the history comes from the server's memory: deployments made before the
/// page opened are listed, and the page says the list lives only as long as the server.
#[tokio::test]
async fn without_a_store_the_history_is_read_from_memory_and_says_so() {
    let server = Server::start(&["--rate", "0", "--speed", "50", "--log-lines", "40"]).await;
    let browser = Browser::start().await;
    browser.open(&server.url("/env/production")).await;
    browser.find(".env-tabs").await;
    let (id, _) = deploy(&browser, "api").await;
    // A fresh page: only the server's memory can know of that deployment.
    browser.close().await;
    let browser = Browser::start().await;
    browser
        .open(&server.url("/env/production/deployments"))
        .await;
    let notice = browser
        .wait_js(
            "the deployment made before the page opened, and the in-memory notice",
            LONG,
            &format!(
                "const n = document.querySelector('.deployments__notice'); \
                 return document.querySelector(\"tr.deployment-row[data-deployment='{id}']\") !== null \
                   && n !== null && n.textContent"
            ),
        )
        .await;
    let notice = notice.as_str().unwrap_or_default().to_string();
    assert!(
        notice.contains("kept in memory since it started"),
        "the notice says where the history comes from: {notice}"
    );
    browser.close().await;
}
