//! Who may write, through real HTTP requests: every credential case on the action API and on
//! a push endpoint (the status, the JSON error, and that nothing changed when refused), the
//! rate limit of failures per address, a server with no write token, and the real binary's
//! generated token and log (which never shows a token).

mod common;

use common::{environment_at, header, request_at, request_from, start, WRITE_TOKEN};
use serde_json::Value;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

/// The two kinds of writes a case is tried on.
#[derive(Clone, Copy, Debug)]
enum Endpoint {
    /// `POST /api/environments/staging/services/{svc}/deploy`.
    Action,
    /// `PUT /api/v1/environments/{env}` with `{}`.
    Push,
}

/// One credential case.
struct Case {
    what: &'static str,
    /// Headers besides Host; `{token}` is the write token, `{origin}` the server's origin.
    headers: &'static [(&'static str, &'static str)],
    /// A query string added to the path.
    query: &'static str,
    /// Expected status: 0 for "accepted" (202 for the action, 201 for the push).
    status: u16,
    /// The error's `field`.
    field: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        what: "no credential",
        headers: &[],
        query: "",
        status: 401,
        field: Some("Authorization"),
    },
    Case {
        what: "a wrong token",
        headers: &[("Authorization", "Bearer not-the-write-token-at-all")],
        query: "",
        status: 401,
        field: Some("Authorization"),
    },
    Case {
        what: "the right token under another scheme",
        headers: &[("Authorization", "Basic {token}")],
        query: "",
        status: 401,
        field: Some("Authorization"),
    },
    Case {
        what: "the right token in a cookie only",
        headers: &[(
            "Cookie",
            "token={token}; shipwatch_token={token}; Authorization=Bearer {token}",
        )],
        query: "",
        status: 401,
        field: Some("Authorization"),
    },
    Case {
        what: "the right token in the query string",
        headers: &[],
        query: "?token={token}",
        status: 401,
        field: Some("Authorization"),
    },
    Case {
        what: "the right token from another origin",
        headers: &[
            ("Authorization", "Bearer {token}"),
            ("Origin", "http://evil.example"),
        ],
        query: "",
        status: 403,
        field: Some("Origin"),
    },
    Case {
        what: "the right token from the server's own origin (the page)",
        headers: &[("Authorization", "Bearer {token}"), ("Origin", "{origin}")],
        query: "",
        status: 0,
        field: None,
    },
    Case {
        what: "the right token without an Origin (CI, curl)",
        headers: &[("Authorization", "bearer {token}")],
        query: "",
        status: 0,
        field: None,
    },
];

/// Sends `case` to `endpoint`, targeting service (action) or environment (push) `target`.
async fn send(
    addr: SocketAddr,
    endpoint: Endpoint,
    target: &str,
    case: &Case,
) -> (u16, Vec<(String, String)>, Value) {
    let origin = format!("http://{addr}");
    let fill = |s: &str| {
        s.replace("{token}", WRITE_TOKEN)
            .replace("{origin}", &origin)
    };
    let headers: Vec<(String, String)> = case
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), fill(v)))
        .collect();
    let mut headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let query = fill(case.query);
    let (method, path, body) = match endpoint {
        Endpoint::Action => (
            "POST",
            format!("/api/environments/staging/services/{target}/deploy{query}"),
            &b""[..],
        ),
        Endpoint::Push => {
            headers.push(("Content-Type", "application/json"));
            (
                "PUT",
                format!("/api/v1/environments/{target}{query}"),
                &b"{}"[..],
            )
        }
    };
    let (status, hd, body) = request_at(addr, method, &path, &headers, body).await;
    (
        status,
        hd,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

/// The id of the deployment `svc` of staging shows now.
async fn deployment_of(addr: SocketAddr, svc: &str) -> Option<String> {
    let env = environment_at(addr, "staging").await.expect("staging");
    let s = env
        .services
        .iter()
        .find(|s| s.id == svc)
        .expect("the service");
    s.deployment.as_ref().map(|d| d.id.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_credential_case_on_the_action_api_and_the_push_api() {
    // No failure limit here: the cases must each be judged on their own.
    let h = start(&["--rate", "0", "--max-write-failures", "0"]).await;
    let addr = h.addr();
    let services: Vec<String> = environment_at(addr, "staging")
        .await
        .expect("staging")
        .services
        .iter()
        .map(|s| s.id.clone())
        .collect();
    assert!(
        services.len() >= CASES.len(),
        "a service per case: {services:?}"
    );
    for (i, case) in CASES.iter().enumerate() {
        // The action API: each case deploys its own service, so an accepted deploy never
        // meets one in progress.
        let svc = &services[i];
        let before = deployment_of(addr, svc).await;
        let (status, hd, body) = send(addr, Endpoint::Action, svc, case).await;
        let after = deployment_of(addr, svc).await;
        check(case, Endpoint::Action, status, &hd, &body, 202);
        if case.status == 0 {
            assert_ne!(after, before, "{}: the deploy happened", case.what);
            assert_eq!(after.as_deref(), body["deployment"]["id"].as_str());
        } else {
            assert_eq!(after, before, "{}: refused, nothing deployed", case.what);
        }

        // A push endpoint: each case names its own environment.
        let env = format!("pushed-{i}");
        let (status, hd, body) = send(addr, Endpoint::Push, &env, case).await;
        check(case, Endpoint::Push, status, &hd, &body, 201);
        let exists = environment_at(addr, &env).await.is_some();
        assert_eq!(
            exists,
            case.status == 0,
            "{}: environment {env} exists: {exists}",
            case.what
        );
    }
}

fn check(
    case: &Case,
    endpoint: Endpoint,
    status: u16,
    hd: &[(String, String)],
    body: &Value,
    ok: u16,
) {
    let want = if case.status == 0 { ok } else { case.status };
    assert_eq!(status, want, "{} on {endpoint:?}: {body}", case.what);
    if case.status == 0 {
        return;
    }
    assert_eq!(
        body["field"].as_str(),
        case.field,
        "{} on {endpoint:?}: {body}",
        case.what
    );
    let error = body["error"].as_str().unwrap_or("");
    assert!(
        !error.is_empty(),
        "{}: a sentence says why: {body}",
        case.what
    );
    assert!(
        !error.contains(WRITE_TOKEN),
        "the answer does not echo the token"
    );
    if status == 401 {
        assert_eq!(
            header(hd, "www-authenticate"),
            Some("Bearer realm=\"shipwatch\"")
        );
        assert!(
            error.contains("Authorization: Bearer") || error.contains("not one of"),
            "{error}"
        );
    }
    if status == 403 {
        assert!(
            error.contains("http://evil.example") && error.contains("--allow-origin"),
            "{error}"
        );
    }
}

/// `PUT /api/v1/environments/{env}` with the write token, from `origin`.
async fn put_from(addr: SocketAddr, origin: &str, env: &str) -> u16 {
    let auth = format!("Bearer {WRITE_TOKEN}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Origin", origin),
        ("Content-Type", "application/json"),
    ];
    let path = format!("/api/v1/environments/{env}");
    request_at(addr, "PUT", &path, &headers, b"{}").await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_origin_may_write() {
    let h = start(&["--rate", "0", "--allow-origin", "http://console.example"]).await;
    let addr = h.addr();
    // The browser asks first (a write carries Authorization): the listed origin is told yes.
    let preflight = |origin: &'static str| {
        let headers = [
            ("Origin", origin),
            ("Access-Control-Request-Method", "PUT"),
            (
                "Access-Control-Request-Headers",
                "authorization, content-type",
            ),
        ];
        async move { request_at(addr, "OPTIONS", "/api/v1/environments/x", &headers, b"").await }
    };
    let (status, hd, _) = preflight("http://console.example").await;
    assert_eq!(status, 204);
    assert_eq!(
        header(&hd, "access-control-allow-origin"),
        Some("http://console.example")
    );
    assert!(
        header(&hd, "access-control-allow-headers").is_some_and(|h| h.contains("authorization"))
    );
    assert!(header(&hd, "access-control-allow-methods").is_some_and(|h| h.contains("PUT")));
    assert_eq!(header(&hd, "access-control-allow-credentials"), None);
    // Another origin is told nothing, so its browser does not send.
    let (_, hd, _) = preflight("http://evil.example").await;
    assert_eq!(header(&hd, "access-control-allow-origin"), None);

    assert_eq!(
        put_from(addr, "http://console.example", "from-console").await,
        201
    );
    // With an allow-list, the list is the rule: another origin is refused.
    assert_eq!(
        put_from(addr, "http://evil.example", "from-evil").await,
        403
    );
    assert!(environment_at(addr, "from-evil").await.is_none());
    assert!(environment_at(addr, "from-console").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_from_one_address_are_rate_limited() {
    let h = start(&["--rate", "0", "--max-write-failures", "3"]).await;
    let addr = h.addr();
    let wrong = [("Authorization", "Bearer wrong-token-guess-0001")];
    let auth = format!("Bearer {WRITE_TOKEN}");
    let right = [("Authorization", auth.as_str())];
    let restart = "/api/environments/staging/services/web/restart";
    for attempt in 1..=3 {
        let (status, _, _) =
            request_from(Some("127.0.0.1"), addr, "POST", restart, &wrong, b"").await;
        assert_eq!(status, 401, "attempt {attempt}");
    }
    // Locked out: even the right token waits, so a guess that happens to be right tells nothing.
    let (status, hd, body) =
        request_from(Some("127.0.0.1"), addr, "POST", restart, &right, b"").await;
    assert_eq!(status, 429, "{}", String::from_utf8_lossy(&body));
    let wait: u64 = header(&hd, "retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = serde_json::from_slice(&body).expect("JSON");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("too many failed attempts"),
        "{body}"
    );
    // The push API shares the limit.
    let headers = [right[0], ("Content-Type", "application/json")];
    let (status, _, _) = request_from(
        Some("127.0.0.1"),
        addr,
        "PUT",
        "/api/v1/environments/locked",
        &headers,
        b"{}",
    )
    .await;
    assert_eq!(status, 429);
    assert!(environment_at(addr, "locked").await.is_none());
    // Another address is not held back by this one's failures.
    let (status, _, body) =
        request_from(Some("127.0.0.2"), addr, "POST", restart, &right, b"").await;
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ephemeral_server_without_a_write_token_refuses_writes_and_says_how_to_allow_them() {
    let cfg = <shipwatch_server::Config as clap::Parser>::parse_from([
        "shipwatch-server",
        "--addr",
        "127.0.0.1:0",
        "--dist",
        "/nonexistent-dist",
        "--ephemeral",
        "--rate",
        "0",
    ]);
    assert!(
        cfg.write_tokens.is_empty(),
        "SHIPWATCH_WRITE_TOKENS is set in this environment"
    );
    let (addr, _h) = shipwatch_server::serve(cfg).await.expect("serves");
    for token in ["", "Bearer anything-at-all-0123456789"] {
        let headers: Vec<(&str, &str)> = if token.is_empty() {
            vec![]
        } else {
            vec![("Authorization", token)]
        };
        let (status, _, body) = request_at(
            addr,
            "POST",
            "/api/environments/staging/services/web/deploy",
            &headers,
            b"",
        )
        .await;
        assert_eq!(status, 401);
        let body: Value = serde_json::from_slice(&body).expect("JSON");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains("--write-token NAME=TOKEN"), "{error}");
    }
}

/// A real server process whose log is captured.
struct Binary {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Binary {
    fn start(data: &std::path::Path, log: &std::path::Path, extra: &[&str]) -> Binary {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_shipwatch-server"))
            .args([
                "--addr",
                &addr.to_string(),
                "--dist",
                "/nonexistent-dist",
                "--rate",
                "0",
            ])
            .arg("--data-dir")
            .arg(data)
            .args(extra)
            // Everything the server and its HTTP layer say, requests included.
            .env("RUST_LOG", "debug,tower_http=trace,shipwatch_server=trace")
            .env_remove("SHIPWATCH_WRITE_TOKENS")
            // The log goes to stdout; errors to stderr: both kept.
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the server starts");
        // Listening comes before the store is open; serving, after (and after the token).
        let deadline = Instant::now() + Duration::from_secs(30);
        while !serves(addr) {
            assert!(Instant::now() < deadline, "the server did not serve");
            std::thread::sleep(Duration::from_millis(50));
        }
        Binary { child, addr }
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Whether `addr` answers a health request.
fn serves(addr: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let req = format!("GET /api/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    s.write_all(req.as_bytes()).is_ok()
        && s.read_to_end(&mut answer).is_ok()
        && answer.starts_with(b"HTTP/1.1 200")
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_token_is_private_kept_across_restarts_and_never_logged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let secret = "github-webhook-secret-never-logged";
    let read = "read-token-never-logged-0123";
    let server = Binary::start(
        &data,
        &log,
        &["--github-webhook-secret", secret, "--token", read],
    );
    let file = data.join("write-token");
    let token = std::fs::read_to_string(&file)
        .expect("the token file")
        .trim()
        .to_string();
    assert!(token.len() >= 32, "{token}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only its owner reads it");
    }
    let deploy = "/api/environments/staging/services/web/deploy";
    let auth = format!("Bearer {token}");
    let wrong = "Bearer a-wrong-guess-of-the-token-123";
    let (status, _, body) = request_at(
        server.addr,
        "POST",
        deploy,
        &[("Authorization", &auth)],
        b"",
    )
    .await;
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    let (status, _, _) = request_at(
        server.addr,
        "POST",
        deploy,
        &[("Authorization", wrong)],
        b"",
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) = request_at(
        server.addr,
        "POST",
        "/api/v1/webhooks/github",
        &[
            ("X-GitHub-Event", "ping"),
            ("X-Hub-Signature-256", "sha256=00ff"),
            ("Content-Type", "application/json"),
        ],
        b"{}",
    )
    .await;
    assert_eq!(status, 401);
    // A download carries the read token in its query (a navigation has no header).
    let download = format!("/api/deployments/nowhere/log.txt?token={read}");
    let (status, _, _) = request_at(server.addr, "GET", &download, &[], b"").await;
    assert_eq!(status, 404, "the read token was taken");
    server.stop();

    // The next start reads the same file: the token goes on working.
    let server = Binary::start(&data, &log, &[]);
    let (status, _, _) = request_at(
        server.addr,
        "POST",
        "/api/environments/staging/services/worker/restart",
        &[("Authorization", &auth)],
        b"",
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), token);
    server.stop();

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("/api/environments/staging/services/web/deploy"),
        "the requests are in the log: {text}"
    );
    assert!(
        text.contains(&file.display().to_string()),
        "the start says where the token is"
    );
    for (what, needle) in [
        ("the token", token.as_str()),
        ("a wrong token", "a-wrong-guess-of-the-token-123"),
        ("the webhook secret", secret),
        ("the read token", read),
        ("a signature", "sha256=00ff"),
    ] {
        assert!(!text.contains(needle), "{what} is in the log");
    }
    for line in text.lines() {
        assert!(
            !line.to_ascii_lowercase().contains("authorization"),
            "a log line shows a header: {line}"
        );
    }
}

/// The README's numbers about writes are the code's.
#[test]
fn the_readme_states_the_codes_numbers() {
    use shipwatch_server::write_access::{MAX_ADDRESSES, MIN_TOKEN_CHARS, WINDOW};
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    let thousands = |n: usize| {
        let s = n.to_string();
        let (head, tail) = s.split_at(s.len() - 3);
        format!("{head},{tail}")
    };
    assert_eq!(WINDOW.as_secs(), 60, "the README says 'in a minute'");
    for said in [
        format!("at least {MIN_TOKEN_CHARS} characters"),
        format!(
            "(default {})",
            shipwatch_server::Config::default().max_write_failures
        ),
        format!("remembers at most {} addresses", thousands(MAX_ADDRESSES)),
    ] {
        assert!(readme.contains(&said), "README.md should say: {said}");
    }
}
