//! The real binary with `--store postgres://...` on a real PostgreSQL: it serves what was
//! pushed, keeps it when killed and started again, and when PostgreSQL restarts under it,
//! writes fail loudly (health says "degraded" with the reason), the server keeps serving,
//! and what was published meanwhile is committed once PostgreSQL is back.

mod common;

use common::binary::Server;
use common::postgres::PgServer;
use common::{Client, Got};
use serde_json::{json, Value};
use shipwatch_model::protocol::{Change, ServerMessage, Topic};
use std::time::{Duration, Instant};

/// The server binary on the database `url`, with its data directory (and `server.log`) in
/// `dir`: no simulator, a pool that gives up on a connection after a second.
async fn start(url: &str, dir: &std::path::Path) -> Server {
    let flags = [
        "--store",
        url,
        "--no-simulator",
        "--store-acquire-timeout-ms",
        "1000",
    ];
    Server::start(&dir.join("data"), &flags).await
}

/// `path` on `s`.
fn at(s: &Server, path: &str) -> String {
    format!("http://{}{path}", s.addr)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn send(method: reqwest::Method, url: String, body: Value) -> (u16, Value) {
    let (name, value) = common::write_auth();
    let r = client()
        .request(method, url)
        .header(name, value)
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get_text(url: String) -> (u16, String) {
    let r = client().get(url).send().await.expect("the server answers");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

async fn health(s: &Server) -> Value {
    let (_, text) = get_text(at(s, "/api/health")).await;
    serde_json::from_str(&text).expect("health is JSON")
}

/// An environment, a service and a deployment, with `lines` numbered from 1.
async fn push_deployment(s: &Server, lines: u64) {
    let (st, _) = send(
        reqwest::Method::PUT,
        at(s, "/api/v1/environments/prod"),
        json!({"name": "Production"}),
    )
    .await;
    assert!(st == 201 || st == 200, "environment: {st}");
    let (st, _) = send(
        reqwest::Method::PUT,
        at(s, "/api/v1/environments/prod/services/api"),
        json!({"version": "v1"}),
    )
    .await;
    assert!(st == 201 || st == 200, "service: {st}");
    let (st, body) = send(
        reqwest::Method::POST,
        at(s, "/api/v1/deployments"),
        json!({"id": "release-1", "environment": "prod", "service": "api", "version": "v2"}),
    )
    .await;
    assert!(st == 201 || st == 200, "deployment: {st} {body}");
    let batch: Vec<Value> = (1..=lines)
        .map(|n| json!({"n": n, "text": format!("line {n}")}))
        .collect();
    let (st, body) = send(
        reqwest::Method::POST,
        at(s, "/api/v1/deployments/release-1/logs"),
        json!(batch),
    )
    .await;
    assert_eq!(st, 200, "lines: {body}");
}

/// The deployment's log as text lines.
async fn log_lines(s: &Server) -> Vec<String> {
    let (st, text) = get_text(at(s, "/api/deployments/release-1/log.txt")).await;
    assert_eq!(st, 200, "log.txt: {text}");
    text.lines()
        .filter(|l| l.contains("line "))
        .map(|l| l.to_string())
        .collect()
}

/// Reads `c`'s frames until the log's line `upto` arrived (or 10 s passed): the line numbers
/// seen, in order. Panics if the socket closes.
async fn lines_until(c: &mut Client, seen: &mut Vec<u64>, upto: u64) {
    let until = Instant::now() + Duration::from_secs(10);
    while seen.last() != Some(&upto) {
        let left = until.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "line {upto} reached the page: {seen:?}");
        match tokio::time::timeout(left, c.next()).await {
            Err(_) => continue,
            Ok(Got::Closed(why)) => panic!("the page's socket closed: {why:?}"),
            Ok(Got::Frame(f)) => {
                if let ServerMessage::Delta { changes, .. } = f.msg {
                    for ch in changes {
                        if let Change::Line(line) = ch {
                            seen.push(line.n);
                        }
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_on_postgres_keeps_its_history() {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let dir = tempfile::tempdir().unwrap();
    let s = start(&url, dir.path()).await;
    let h = health(&s).await;
    assert_eq!(h["store"]["backend"], "postgres", "{h}");
    assert!(
        h["store"]["file"]
            .as_str()
            .unwrap()
            .starts_with("postgres://"),
        "{h}"
    );
    push_deployment(&s, 5).await;
    assert_eq!(log_lines(&s).await.len(), 5);
    s.kill();

    // Nothing in the data directory: the history is in PostgreSQL.
    let other = tempfile::tempdir().unwrap();
    let s = start(&url, other.path()).await;
    let lines = log_lines(&s).await;
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines[4].contains("line 5"), "{lines:?}");
    let (st, body) = send(
        reqwest::Method::GET,
        at(&s, "/api/v1/deployments/release-1"),
        Value::Null,
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["next_line"], 6, "{body}");
    let (st, text) = get_text(at(&s, "/api/v1/environments/prod/deployments")).await;
    assert_eq!(st, 200, "{text}");
    assert!(text.contains("release-1"), "the history lists it: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_a_running_server_loses_nothing() {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let dir = tempfile::tempdir().unwrap();
    let s = start(&url, dir.path()).await;
    push_deployment(&s, 3).await;
    assert_eq!(health(&s).await["status"], "ok");
    // A page following the log.
    let mut page = Client::connect_to(s.addr).await;
    page.subscribe(
        "log",
        Topic::Logs {
            deployment: "release-1".into(),
        },
        None,
    )
    .await;
    let mut seen = Vec::new();
    lines_until(&mut page, &mut seen, 3).await;

    pg.stop();
    // A line published while the database is down: the push API cannot acknowledge it.
    let (st, body) = send(
        reqwest::Method::POST,
        at(&s, "/api/v1/deployments/release-1/logs"),
        json!([{"n": 4, "text": "line 4"}]),
    )
    .await;
    assert_eq!(st, 503, "not acknowledged while PostgreSQL is down: {body}");
    // Nothing new is shown while the store cannot commit (a page is shown only numbers that
    // are stored): the page keeps what it has, and gets the line once PostgreSQL is back.
    let shown =
        tokio::time::timeout(Duration::from_secs(2), lines_until(&mut page, &mut seen, 4)).await;
    assert!(shown.is_err(), "line 4 is not shown before it is stored");
    assert_eq!(seen, [1, 2, 3]);
    let h = health(&s).await;
    assert_eq!(h["status"], "degraded", "{h}");
    let reason = h["store"]["error"].as_str().unwrap_or_default().to_string();
    assert!(!reason.is_empty(), "health names the error: {h}");
    // The server still serves what it holds.
    let (st, _) = send(
        reqwest::Method::GET,
        at(&s, "/api/v1/deployments/release-1"),
        Value::Null,
    )
    .await;
    assert_eq!(st, 200, "the server keeps serving from memory");

    pg.start_again();
    let deadline = Instant::now() + Duration::from_secs(30);
    while health(&s).await["status"] != "ok" {
        assert!(
            Instant::now() < deadline,
            "writes resume within 30 s of PostgreSQL being back: {}",
            health(&s).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The refused line was kept in the writer's queue and committed once PostgreSQL was
    // back, then shown: the sender's retry is a resend, skipped.
    lines_until(&mut page, &mut seen, 4).await;
    let (st, body) = send(
        reqwest::Method::POST,
        at(&s, "/api/v1/deployments/release-1/logs"),
        json!([{"n": 4, "text": "line 4"}, {"n": 5, "text": "line 5"}]),
    )
    .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["skipped"], 1, "line 4 was already stored: {body}");
    assert_eq!(body["accepted"], 1, "{body}");
    lines_until(&mut page, &mut seen, 5).await;
    assert_eq!(
        seen,
        [1, 2, 3, 4, 5],
        "the page saw every line once, in order"
    );
    s.kill();

    let s = start(&url, dir.path()).await;
    let lines = log_lines(&s).await;
    let want: Vec<String> = (1..=5).map(|n| format!("line {n}")).collect();
    let got: Vec<String> = lines
        .iter()
        .map(|l| l[l.find("line ").unwrap()..].to_string())
        .collect();
    assert_eq!(got, want, "every line once, in order, after a kill -9");
}
