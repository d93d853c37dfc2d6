//! Issue 19's whole shape with real processes: a real PostgreSQL, two replicas of the server
//! binary on it (A leads: it holds the lease; B follows the change log), the repository's
//! nginx in front of both, the `shipwatch` reporter writing through replica A, and the page in
//! headless Chromium through nginx, its websocket on replica B.
//!
//! - The page on B sees every line live while they are written through A.
//! - B is killed (SIGKILL): the page reconnects through nginx to A and resumes (`resumed`, no
//!   new snapshot of the log), and no line comes twice or goes missing.
//! - PostgreSQL is stopped in the middle of the stream: the page's indicator says "Database
//!   unavailable, retrying"; once it is started again, the page is live, the reporter ends
//!   well and every line is there once, on the page and in the stored log. In that state,
//!   and in the one after (every replica gone: reconnecting, with its countdown), the page
//!   fits a 360 px phone.

use serde_json::Value;
use shipwatch_e2e::connection::{self, RECORD_STATES};
use shipwatch_e2e::log_page::{log_counts, shows_line};
use shipwatch_e2e::nginx::Nginx;
use shipwatch_e2e::postgres::PgServer;
use shipwatch_e2e::replica_set::{self, RECORD_LOG_FRAMES};
use shipwatch_e2e::screenshots::{self, DESKTOP, PHONE, SMALL_PHONE};
use shipwatch_e2e::server;
use shipwatch_e2e::{http, wait_for, Browser, DataDir};
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
/// Lines the deploy script prints, one every [`LINE_EVERY_S`]: long enough for a replica
/// killed and PostgreSQL restarted in the middle on a loaded machine.
const LINES: u64 = 150;
const LINE_EVERY_S: &str = "0.2";
const DEPLOYMENT: &str = "rep-1";

#[tokio::test]
async fn two_replicas_behind_nginx_on_one_postgres_a_killed_replica_and_a_restarted_database() {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let work = DataDir::new("replicas-e2e");
    std::fs::create_dir_all(work.path()).unwrap();
    let work_dir = Path::new(work.path());
    let (dir_a, dir_b) = (DataDir::new("replica-a"), DataDir::new("replica-b"));
    let (mut a, mut b) =
        replica_set::leader_then_follower([&url, &url], [&dir_a, &dir_b], work_dir).await;
    let nginx = Nginx::start(&[a.addr(), b.addr()]).unwrap_or_else(|e| panic!("{e}"));

    // The team's environment exists (written to A); the reporter creates the service and the
    // deployment on A and streams its lines there.
    let script = replica_set::numbered_script(work_dir, LINES, LINE_EVERY_S);
    let run = replica_set::report_deployment(&a, DEPLOYMENT, &script).await;
    // Its first lines are on B too (the change log), before the page opens the log there.
    let log_url = format!("/api/deployments/{DEPLOYMENT}/log.txt");
    wait_for(
        "the deployment's first lines on replica B",
        LONG,
        || async {
            let res = http::get(&b.url(&log_url), &[], Duration::from_secs(5))
                .await
                .ok()?;
            (res.status == 200 && String::from_utf8_lossy(&res.body).contains("line 2 of"))
                .then_some(())
        },
    )
    .await;

    // The page through nginx, its websocket on B: nginx spreads sockets (least_conn), so the
    // page is opened again until its socket lands there.
    let browser = Browser::start().await;
    browser.add_init_script(RECORD_STATES).await;
    browser.add_init_script(RECORD_LOG_FRAMES).await;
    let page = format!("/env/production/service/api/deployments/{DEPLOYMENT}/logs");
    let mut on_b = false;
    for _ in 0..16 {
        browser.open(&nginx.url(&page)).await;
        browser
            .find("[data-testid=connection][data-state=live]")
            .await;
        let (on_a, at_b) = server::one_socket_on(&a, &b, LONG).await;
        if at_b == 1 && on_a == 0 {
            on_b = true;
            break;
        }
    }
    assert!(on_b, "nginx never put the page's socket on replica B");

    // Lines written through A reach the page on B as they are printed.
    let first = shows_line(&browser, 1, "the log's first lines on the page", LONG).await;
    let later = shows_line(
        &browser,
        first["last"].as_u64().unwrap() + 3,
        "more lines, live, on the page on B",
        LONG,
    )
    .await;
    assert!(
        later["last"].as_u64() < Some(LINES),
        "live, not all at once: {later}"
    );
    assert_eq!(b.role().await.as_deref(), Some("follower"));
    let before = browser.eval("return window.__frames").await;
    assert_eq!(before["logSnapshots"], 1, "{before}");

    // B is killed under the page: it reconnects through nginx to A and resumes there.
    connection::forget_states(&browser).await;
    b.stop().await;
    let states = connection::reconnected(&browser, LONG).await;
    assert_eq!(a.clients().await, Some(1), "the page is on A: {states}");
    replica_set::shows_more_lines(&browser, 3, "lines after the failover").await;
    let after = browser.eval("return window.__frames").await;
    assert_eq!(
        after["logSnapshots"], 1,
        "the log was not sent again: {after}"
    );
    assert_eq!(
        after["logResumed"], 1,
        "A resumed the log where B left it: {after}"
    );

    // PostgreSQL stops in the middle of the stream: the page says so, and keeps what it has.
    let held = log_counts(&browser).await;
    connection::forget_states(&browser).await;
    pg.stop();
    wait_for(
        "the page to say the database is unavailable",
        LONG,
        || async { (connection::state(&browser).await == "database-unavailable").then_some(()) },
    )
    .await;
    let text = browser
        .eval("return document.querySelector('[data-testid=connection] .conn__text').textContent")
        .await;
    assert_eq!(text, "Database unavailable, retrying");
    let title = browser
        .eval("return document.querySelector('[data-testid=connection]').title")
        .await;
    assert!(
        title
            .as_str()
            .unwrap_or_default()
            .contains("changes are held"),
        "{title}"
    );
    assert!(
        log_counts(&browser).await["last"].as_u64() >= held["last"].as_u64(),
        "what the page had stays"
    );
    fits_a_small_phone_then_screenshots(
        &browser,
        "database unavailable",
        "screenshot-database-unavailable",
    )
    .await;
    pg.start_again();
    wait_for("the page to be live again", LONG, || async {
        (connection::state(&browser).await == "live").then_some(())
    })
    .await;

    // The reporter ends well, and every line is there once.
    shipwatch_e2e::reporter::ends_with(run, 0, Duration::from_secs(120)).await;
    replica_set::shows_each_line_once(&browser, LINES, LONG).await;
    assert!(
        browser
            .eval("return !document.querySelector('.conn__dropped')")
            .await
            == Value::Bool(true),
        "no frame was dropped"
    );
    let states = browser.eval("return window.__states").await;
    assert!(
        states.to_string().contains("database-unavailable"),
        "{states}"
    );
    replica_set::stored_each_line_once(&nginx.url(&log_url), LINES).await;

    // Every replica gone: the page counts down to its next try, and still fits a phone.
    a.stop().await;
    wait_for("the page to count down to its next try", LONG, || async {
        let text = browser
            .eval("return document.querySelector('[data-testid=connection] .conn__text')?.textContent || ''")
            .await;
        (connection::state(&browser).await == "reconnecting"
            && text.as_str().unwrap_or_default().contains("next try in"))
        .then_some(())
    })
    .await;
    fits_a_small_phone_then_screenshots(&browser, "reconnecting", "screenshot-reconnecting").await;
    browser.close().await;
}

/// At 360 px wide, the indicator's longer words stay on the screen: no sideways scroll, the
/// indicator within the width (`state` says which state, for the message). Then, with
/// `SHIPWATCH_SCREENSHOTS=DIR`, the page as `{stem}*.png` on a desktop and two phones, light
/// and dark (how the ones in docs/ are taken).
async fn fits_a_small_phone_then_screenshots(browser: &Browser, state: &str, stem: &str) {
    browser.set_viewport(360, 740).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fit = browser
        .eval(
            "const c = document.querySelector('[data-testid=connection]').getBoundingClientRect(); \
             return {scroll: document.documentElement.scrollWidth, width: innerWidth, left: c.left, right: c.right}",
        )
        .await;
    // A page wider than the screen widens the layout viewport (innerWidth) with it.
    assert!(
        fit["scroll"].as_f64() <= Some(360.0)
            && fit["width"].as_f64() <= Some(360.0)
            && fit["right"].as_f64() <= Some(360.0)
            && fit["left"].as_f64() >= Some(0.0),
        "the indicator fits 360 px while {state}: {fit}"
    );
    browser.reset_viewport().await;
    screenshots::take(
        browser,
        stem,
        &[DESKTOP, PHONE, SMALL_PHONE],
        Duration::from_millis(400),
    )
    .await;
}
