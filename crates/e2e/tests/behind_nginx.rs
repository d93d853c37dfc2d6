//! The console through a real nginx (the repository's deploy/nginx.conf) in front of two
//! server processes: the page, its websocket and writes go through nginx; a replica killed
//! under the page's websocket leaves the page live on the other one, which resumes it.
//!
//! The failover test runs two replicas on one PostgreSQL (one leads and runs the simulator,
//! the other follows the change log), so the page's environment resumes on the other replica
//! with `resumed`; the tests of nginx's own settings run ephemeral servers.

use serde_json::Value;
use shipwatch_e2e::connection::{self, RECORD_STATES};
use shipwatch_e2e::nginx::Nginx;
use shipwatch_e2e::postgres::PgServer;
use shipwatch_e2e::server::{self, WRITE_TOKEN};
use shipwatch_e2e::{http, wait_for, Browser, DataDir, Server};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LONG: Duration = Duration::from_secs(40);

/// Two replicas of one seed, trusting nginx's address for X-Forwarded-For.
const REPLICA: [&str; 6] = [
    "--trusted-proxy",
    "127.0.0.1",
    "--seed",
    "5",
    "--scenario",
    "calm",
];

/// Counts, in `window.__frames`, the snapshot and resumed frames the page's sockets get (all,
/// and those of the environment's subscription).
const COUNT_FRAMES: &str = r#"
(() => {
  const Native = window.WebSocket;
  const f = window.__frames = { snapshots: 0, resumed: 0, envSnapshots: 0, envResumed: 0 };
  const envSubs = {};
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        const kind = /^\{"v":1,"type":"(snapshot|snapshot_part|resumed)"/.exec(e.data);
        if (!kind) return;
        const m = JSON.parse(e.data);
        const env = m.data && m.data.kind === "environment";
        if (env) envSubs[m.sub] = true;
        if (kind[1] === "snapshot" || (kind[1] === "snapshot_part" && m.part === 0)) {
          f.snapshots += 1;
          if (env) f.envSnapshots += 1;
        }
        if (kind[1] === "resumed") {
          f.resumed += 1;
          if (envSubs[m.sub]) f.envResumed += 1;
        }
      });
    }
  };
})();
"#;

fn start_nginx(replicas: &[&Server]) -> Nginx {
    let addrs: Vec<String> = replicas.iter().map(|s| s.addr()).collect();
    Nginx::start(&addrs).unwrap_or_else(|e| panic!("{e}"))
}

/// A replica of the database `url`: [`REPLICA`]'s flags, with a short lease (a follower takes
/// over within about two seconds of the leader's death).
fn replica_on(url: &str, dir: &DataDir) -> Server {
    let mut args = REPLICA.to_vec();
    args.extend([
        "--store",
        url,
        "--data-dir",
        dir.path(),
        "--lease-ttl-ms",
        "2000",
        "--lease-renew-ms",
        "200",
    ]);
    let launch = shipwatch_e2e::server::Launch::from_env(&args);
    Server::launch(&launch).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn the_console_through_nginx_stays_live_when_its_replica_is_killed() {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let (dir_a, dir_b) = (DataDir::new("nginx-a"), DataDir::new("nginx-b"));
    let mut a = replica_on(&url, &dir_a);
    wait_for("the first replica to lead", LONG, || async {
        (a.role().await.as_deref() == Some("leader")).then_some(())
    })
    .await;
    let mut b = replica_on(&url, &dir_b);
    wait_for("the second replica to follow", LONG, || async {
        (b.role().await.as_deref() == Some("follower")).then_some(())
    })
    .await;
    let nginx = start_nginx(&[&a, &b]);

    // The replicas' security headers come through unchanged, and nginx tells no version.
    let page = http::get(&nginx.url("/env/production"), &[], Duration::from_secs(10))
        .await
        .expect("the page through nginx");
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("server"), Some("nginx"));

    let browser = Browser::start().await;
    // Every state the indicator shows is recorded: a reconnection quicker than a poll is
    // still seen.
    browser.add_init_script(RECORD_STATES).await;
    browser.add_init_script(COUNT_FRAMES).await;
    browser.open(&nginx.url("/env/production")).await;
    browser
        .find("[data-testid=connection][data-state=live]")
        .await;
    browser.find("tr.service-row[data-service='api']").await;

    // A log through nginx: a deployment label opens it, and its lines arrive.
    let label = browser.find("table a.label[href*='/deployments/']").await;
    label.click().await.expect("the label opens its log");
    browser
        .wait_js(
            "the log's lines through nginx",
            LONG,
            "const r = document.querySelector('[role=region][aria-label=\"Deployment logs\"]'); \
             return r && Number(r.getAttribute('data-lines-total')) > 0",
        )
        .await;
    browser
        .client
        .back()
        .await
        .expect("back to the environment");
    browser.find("tr.service-row[data-service='api']").await;

    // The page holds one websocket, on one replica: that one is killed (SIGKILL).
    let (on_a, on_b) = server::one_socket_on(&a, &b, LONG).await;
    let before = browser.eval("return window.__frames").await;
    let (dead, alive) = if on_a == 1 {
        (&mut a, &mut b)
    } else {
        assert_eq!(on_b, 1);
        (&mut b, &mut a)
    };
    connection::forget_states(&browser).await;
    dead.stop().await;
    // The page retries by itself (0.5 s, then doubling): nginx skips the dead replica.
    let states = connection::reconnected(&browser, LONG).await;
    assert!(
        !states.to_string().contains("offline"),
        "never offline: {states}"
    );
    assert_eq!(
        alive.clients().await,
        Some(1),
        "the page is on the other replica"
    );
    // The other replica serves the same topic at the same numbers: the environment resumes
    // where the dead one left it, without a new snapshot.
    let after = browser.eval("return window.__frames").await;
    assert_eq!(
        after["envResumed"].as_u64(),
        before["envResumed"].as_u64().map(|n| n + 1),
        "the environment resumed on the other replica: {before} -> {after}"
    );
    assert_eq!(
        after["envSnapshots"], before["envSnapshots"],
        "no new snapshot of the environment: {before} -> {after}"
    );
    // Current on the other replica: a write through nginx from the page (same origin, with
    // the write token) is accepted, and its change comes back over the websocket.
    browser
        .stop_service_and_see_it("production", "api", LONG)
        .await;
    // The dead replica was skipped: no request got nginx's 502 (a reconnection that tried it
    // first went on to the other one, logged as `upstream=dead, alive`).
    let log = nginx.access_log();
    assert!(!log.contains("\" 502 "), "{log}");
    assert!(log.contains(&alive.addr()), "{log}");
    browser.close().await;
}

/// A request through nginx with these headers and a JSON body `{}`: the status, and the
/// answer's body as JSON (Null if none).
async fn send(nginx: &Nginx, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let body = ("application/json", &b"{}"[..]);
    send_from("127.0.0.1", nginx, method, path, headers, body).await
}

/// A request through nginx from a given loopback address, with a body of a content type.
/// The body is written while the answer is read: a replica may answer (413) before it has
/// read all of it.
async fn send_from(
    source: &str,
    nginx: &Nginx,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    (content_type, body): (&str, &[u8]),
) -> (u16, Value) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("a source address"))
        .expect("bind the source address");
    let target = nginx.addr().parse().expect("nginx's address");
    let s = socket.connect(target).await.expect("connect to nginx");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        nginx.addr(),
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    let (mut rx, mut tx) = s.into_split();
    let writer = tokio::spawn(async move {
        let _ = tx.write_all(&bytes).await;
        tx
    });
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    // Until the end of the answer (or a reset after it).
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, rx.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    writer.abort();
    let text = String::from_utf8_lossy(&got);
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, body)
}

/// An upsert of a pushed environment through nginx (the same write may be made again), with
/// this `Origin` and bearer token.
async fn put(nginx: &Nginx, origin: Option<&str>, token: Option<&str>) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = Vec::new();
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    if let Some(o) = origin {
        headers.push(("Origin", o));
    }
    send(nginx, "PUT", "/api/v1/environments/pushed", &headers).await
}

/// The upsert of [`put`], with `token`, from a loopback address.
async fn put_from(nginx: &Nginx, source: &str, token: &str) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let headers = [("Authorization", auth.as_str())];
    let body = ("application/json", &b"{}"[..]);
    let path = "/api/v1/environments/pushed";
    send_from(source, nginx, "PUT", path, &headers, body).await
}

#[tokio::test]
async fn a_replica_behind_nginx_counts_each_client_by_its_own_address() {
    // One replica (each replica counts failures of its own), two failed writes a minute.
    let mut args = REPLICA.to_vec();
    args.extend(["--max-write-failures", "2"]);
    let replica = Server::start(&args).await;
    let nginx = start_nginx(&[&replica]);
    // Clients from two loopback addresses, both through nginx (which listens on 127.0.0.1).
    let from = |source: &'static str, token: &'static str| {
        let nginx = &nginx;
        async move { put_from(nginx, source, token).await.0 }
    };
    assert_eq!(from("127.0.0.2", "wrong-token-guess-0001").await, 401);
    assert_eq!(from("127.0.0.2", "wrong-token-guess-0002").await, 401);
    assert_eq!(
        from("127.0.0.2", WRITE_TOKEN).await,
        429,
        "the client that failed is locked out"
    );
    let other = from("127.0.0.3", WRITE_TOKEN).await;
    assert!(
        other == 200 || other == 201,
        "another client behind the same nginx may write: {other}"
    );
}

#[tokio::test]
async fn writes_through_nginx_need_the_token_and_the_consoles_origin() {
    let a = Server::start(&REPLICA).await;
    let b = Server::start(&REPLICA).await;
    let nginx = start_nginx(&[&a, &b]);
    let own = format!("http://{}", nginx.addr());
    let token = Some(WRITE_TOKEN);
    // Each round goes to both replicas (nginx spreads requests), each answering by the same
    // rules.
    for _ in 0..2 {
        let (status, body) = put(&nginx, None, token).await;
        assert!(
            status == 200 || status == 201,
            "a write with the token (no Origin: curl, CI): {status} {body}"
        );
        // The console's origin is nginx's: the replica sees the Host the browser asked for.
        let (status, body) = put(&nginx, Some(&own), token).await;
        assert!(
            status == 200 || status == 201,
            "a write from the console's origin: {status} {body}"
        );
        let (status, body) = put(&nginx, Some("http://evil.example"), token).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["field"], "Origin", "{body}");
        let (status, body) = put(&nginx, None, None).await;
        assert_eq!(status, 401, "{body}");
    }
    let log = nginx.access_log();
    for replica in [&a, &b] {
        assert!(
            log.contains(&format!("upstream={}", replica.addr())),
            "{log}"
        );
    }
}

#[tokio::test]
async fn log_batches_pass_through_nginx_and_the_replica_answers_their_limit() {
    let replica = Server::start(&REPLICA).await;
    let nginx = start_nginx(&[&replica]);
    let auth = format!("Bearer {WRITE_TOKEN}");
    let headers = [("Authorization", auth.as_str())];
    assert_eq!(put(&nginx, None, Some(WRITE_TOKEN)).await.0 / 100, 2);
    let (status, body) = send_from(
        "127.0.0.1",
        &nginx,
        "POST",
        "/api/v1/deployments",
        &headers,
        (
            "application/json",
            br#"{"id": "big-1", "environment": "pushed", "version": "v1"}"#,
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // 50,000 lines, 4.8 MB of NDJSON: over nginx's default body size (1 MB), under the
    // replica's 8 MiB.
    let lines: String = (1..=50_000)
        .map(|n| {
            format!(
                "{{\"n\": {n}, \"text\": \"line {n} {}\"}}\n",
                "x".repeat(60)
            )
        })
        .collect();
    let path = "/api/v1/deployments/big-1/logs";
    let ndjson = ("application/x-ndjson", lines.as_bytes());
    let (status, body) = send_from("127.0.0.1", &nginx, "POST", path, &headers, ndjson).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 50_000, "{body}");
    // Over the replica's limit: its own 413, with the JSON error that names the limit.
    let big = format!(
        "[{}]",
        (50_001..=100_000)
            .map(|n| format!("{{\"n\": {n}, \"text\": \"{}\"}}", "y".repeat(200)))
            .collect::<Vec<_>>()
            .join(",")
    );
    let json = ("application/json", big.as_bytes());
    let (status, body) = send_from("127.0.0.1", &nginx, "POST", path, &headers, json).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["field"], "body", "the replica's JSON answer: {body}");
    // The log comes back through nginx whole.
    let text = http::get(
        &nginx.url("/api/deployments/big-1/log.txt"),
        &[],
        Duration::from_secs(20),
    )
    .await
    .expect("log.txt through nginx");
    assert_eq!(text.status, 200);
    let text = String::from_utf8_lossy(&text.body);
    assert!(text.contains("line 50000 "), "{} bytes", text.len());
}
