//! A page that moves to a follower behind it, with real processes: a real PostgreSQL, replica
//! A leading and replica B following it, B's reads of the change log made slow by a proxy
//! in front of PostgreSQL (`slow_reads`: its answers to queries naming `change_log` are held
//! back a few seconds, every other query is answered at once, so B says the database answers),
//! the reporter streaming a deployment's log through A, and the page in headless Chromium
//! through nginx.
//!
//! The page reads the log live on A. Then nginx is replaced by one in front of B alone (the
//! page's socket is cut, as when a load balancer drops a replica): the page resumes on B from
//! a number B has not reached. B holds the subscription up to its wait, then answers `behind`;
//! the page shows itself recovering and asks again, and once B caught up it resumes there:
//! live again, every line once, and never a snapshot older than what the page showed.

use shipwatch_e2e::connection::{self, RECORD_STATES};
use shipwatch_e2e::log_page::{log_counts, shows_line};
use shipwatch_e2e::nginx::Nginx;
use shipwatch_e2e::postgres::PgServer;
use shipwatch_e2e::replica_set::{self, RECORD_LOG_FRAMES};
use shipwatch_e2e::slow_reads::SlowReads;
use shipwatch_e2e::{Browser, DataDir};
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
const LINES: u64 = 120;
const LINE_EVERY_S: &str = "0.2";
const DEPLOYMENT: &str = "behind-1";
/// How long B's reads of the change log are held: past the server's 2 s wait for a page
/// ahead of it.
const LAG: Duration = Duration::from_secs(4);

#[tokio::test]
async fn a_page_moved_to_a_follower_behind_it_recovers_there_and_loses_nothing() {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let slow = SlowReads::start(([127, 0, 0, 1], pg.port()).into(), "change_log")
        .expect("the proxy listens");
    let work = DataDir::new("replica-behind-e2e");
    std::fs::create_dir_all(work.path()).unwrap();
    let work_dir = Path::new(work.path());
    let (dir_a, dir_b) = (DataDir::new("behind-a"), DataDir::new("behind-b"));
    let (mut a, mut b) =
        replica_set::leader_then_follower([&url, &slow.url_for(&url)], [&dir_a, &dir_b], work_dir)
            .await;
    let to_a = Nginx::start(&[a.addr()]).unwrap_or_else(|e| panic!("{e}"));
    let port = to_a.port;

    let script = replica_set::numbered_script(work_dir, LINES, LINE_EVERY_S);
    let run = replica_set::report_deployment(&a, DEPLOYMENT, &script).await;

    // The page reads the log live on A.
    let browser = Browser::start().await;
    browser.add_init_script(RECORD_STATES).await;
    browser.add_init_script(RECORD_LOG_FRAMES).await;
    let page = format!("/env/production/service/api/deployments/{DEPLOYMENT}/logs");
    browser.open(&to_a.url(&page)).await;
    browser
        .find("[data-testid=connection][data-state=live]")
        .await;
    shows_line(&browser, 1, "the log's first lines on the page", LONG).await;
    replica_set::shows_more_lines(&browser, 3, "more lines, live, on the page on A").await;
    assert_eq!(a.clients().await, Some(1));

    // B's reads of the change log slow down: the page on A gets ahead of it.
    slow.set_delay(LAG);
    replica_set::shows_more_lines(&browser, 5, "the page getting ahead of B").await;

    // nginx now fronts B alone: the page's socket is cut and it resumes on B, from a number B
    // has not reached.
    connection::forget_states(&browser).await;
    drop(to_a);
    let to_b = Nginx::start_at(port, &[b.addr()], "").unwrap_or_else(|e| panic!("{e}"));
    let held = log_counts(&browser).await;
    let recovering = tokio::time::timeout(
        LONG,
        browser.wait_js(
            "the page to say it is recovering",
            LONG * 2,
            "return window.__states.includes('recovering') ? window.__states : null",
        ),
    )
    .await;
    let Ok(states) = recovering else {
        panic!(
            "the page never said it was recovering: {} {}\nB's log ends: {}",
            browser.eval("return window.__states").await,
            browser.eval("return window.__frames").await,
            log_end(&work_dir.join("replica-b.log"))
        );
    };
    let frames = browser.eval("return window.__frames").await;
    assert!(
        frames["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "behind"),
        "B answered behind: {frames}"
    );
    assert_eq!(b.clients().await, Some(1), "the page is on B: {states}");
    assert!(
        log_counts(&browser).await["last"].as_u64() >= held["last"].as_u64(),
        "what the page had stays while it recovers"
    );

    // B catches up: the page resumes there and is live again.
    slow.set_delay(Duration::ZERO);
    let states = browser
        .wait_js(
            "the page to be live again after recovering",
            LONG,
            "const s = window.__states; const r = s.indexOf('recovering'); \
             return r >= 0 && s.indexOf('live', r) > r ? s : null",
        )
        .await;
    shows_line(
        &browser,
        held["last"].as_u64().unwrap() + 3,
        "lines after the recovery, live on B",
        LONG,
    )
    .await;

    shipwatch_e2e::reporter::ends_with(run, 0, Duration::from_secs(120)).await;
    replica_set::shows_each_line_once(&browser, LINES, LONG).await;
    let frames = browser.eval("return window.__frames").await;
    assert_eq!(
        frames["backwards"],
        serde_json::json!([]),
        "never a state older than one the page showed: {frames}"
    );
    assert_eq!(
        frames["logSnapshots"], 1,
        "the log was not sent again: {frames}"
    );
    assert!(
        frames["logResumed"].as_u64() >= Some(1),
        "B resumed the log: {frames} {states}"
    );
    replica_set::stored_each_line_once(
        &to_b.url(&format!("/api/deployments/{DEPLOYMENT}/log.txt")),
        LINES,
    )
    .await;
    browser.close().await;
    b.stop().await;
    a.stop().await;
}

/// The last lines of a replica's log, for a failure's message.
fn log_end(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
