//! The forges' webhooks through real HTTP requests, with payloads in the shapes of GitHub's and
//! GitLab's documentation (`tests/fixtures/`): a signed `deployment_status` changes the
//! service's label as a page sees it over the websocket; a wrong signature or token changes
//! nothing and gets 401; every other refusal says why, with nothing applied.

mod common;

use common::{environment_at, header, request_at, request_from, start, Client};
use serde_json::Value;
use shipwatch_model::protocol::{Change, ServerMessage, Snapshot, Topic};
use shipwatch_model::DeploymentStatus;
use shipwatch_server::webhooks::signature::github_signature;
use std::net::SocketAddr;
use std::time::Duration;

const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const GITLAB_TOKEN: &str = "gitlab-hook-token-3b9d";
const DEPLOYMENT_ID: &str = "github-145988746";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("json")
}

/// A GitHub `deployment_status` delivery of the fixture, in `state`.
fn status_delivery(state: &str) -> Vec<u8> {
    let mut v = fixture("github/deployment_status.json");
    v["deployment_status"]["state"] = state.into();
    serde_json::to_vec(&v).unwrap()
}

/// An answer: status, headers and JSON body (`Null` when it is not JSON).
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    fn field(&self) -> Option<&str> {
        self.body["field"].as_str()
    }

    fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

/// Posts `body` to `path` with `headers` (plus a JSON content type unless given).
async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut all = headers.to_vec();
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        all.push(("Content-Type", "application/json"));
    }
    let (status, headers, body) = request_at(addr, "POST", path, &all, body).await;
    Answer {
        status,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

/// A GitHub delivery of `event`, signed with `secret`.
async fn github(addr: SocketAddr, event: &str, body: &[u8], secret: &str) -> Answer {
    let sig = github_signature(secret.as_bytes(), body);
    post(
        addr,
        "/api/v1/webhooks/github",
        &[("X-GitHub-Event", event), ("X-Hub-Signature-256", &sig)],
        body,
    )
    .await
}

/// A GitLab delivery with `token`.
async fn gitlab(addr: SocketAddr, body: &[u8], token: &str) -> Answer {
    post(
        addr,
        "/api/v1/webhooks/gitlab",
        &[
            ("X-Gitlab-Event", "Deployment Hook"),
            ("X-Gitlab-Token", token),
        ],
        body,
    )
    .await
}

/// A server with the push API alone and both webhooks configured.
async fn server(extra: &[&str]) -> shipwatch_server::ServerHandle {
    let mut args = vec![
        "--no-simulator",
        "--github-webhook-secret",
        GITHUB_SECRET,
        "--gitlab-webhook-token",
        GITLAB_TOKEN,
    ];
    args.extend_from_slice(extra);
    start(&args).await
}

/// The deployment status of service `svc` of `env` as a page subscribing now sees it.
async fn label(addr: SocketAddr, env: &str, svc: &str) -> Option<DeploymentStatus> {
    let env = environment_at(addr, env).await?;
    let s = env.services.iter().find(|s| s.id == svc)?;
    s.deployment.as_ref().map(|d| d.status)
}

/// Reads `c`'s environment subscription until service `svc` shows `want`; what it saw on
/// the way.
async fn until_label(c: &mut Client, svc: &str, want: DeploymentStatus) -> Vec<DeploymentStatus> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let frame = tokio::time::timeout_at(deadline, c.frame())
            .await
            .unwrap_or_else(|_| panic!("{svc} did not become {want:?}; saw {seen:?}"));
        let services = match frame.msg {
            ServerMessage::Delta { changes, .. } => changes
                .into_iter()
                .filter_map(|ch| match ch {
                    Change::ServiceUpsert(s) => Some(s),
                    _ => None,
                })
                .collect(),
            ServerMessage::Snapshot {
                data: Snapshot::Environment { environment },
                ..
            } => environment.services,
            _ => Vec::new(),
        };
        for s in services.into_iter().filter(|s| s.id == svc) {
            if let Some(d) = s.deployment {
                seen.push(d.status);
                if d.status == want {
                    return seen;
                }
            }
        }
    }
}

/// Whether `c` receives a change of service `svc` within `wait`.
async fn any_change_of(c: &mut Client, svc: &str, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(frame) = tokio::time::timeout_at(deadline, c.frame()).await {
        if let ServerMessage::Delta { changes, .. } = frame.msg {
            if changes
                .iter()
                .any(|ch| matches!(ch, Change::ServiceUpsert(s) if s.id == svc))
            {
                return true;
            }
        }
    }
    false
}

/// The texts of deployment `dep`'s log lines as a page opening it now gets them.
async fn log_texts(addr: SocketAddr, dep: &str) -> Vec<(u64, String)> {
    let mut c = Client::connect_to(addr).await;
    c.subscribe(
        "log",
        Topic::Logs {
            deployment: dep.into(),
        },
        None,
    )
    .await;
    let count = loop {
        if let ServerMessage::Snapshot {
            data: Snapshot::Logs { line_count, .. },
            ..
        } = c.frame().await.msg
        {
            break line_count.unwrap_or(0);
        }
    };
    let mut lines = Vec::new();
    while (lines.len() as u64) < count {
        if let ServerMessage::Delta { changes, .. } = c.frame().await.msg {
            for ch in changes {
                if let Change::Line(l) = ch {
                    lines.push((l.n, l.text));
                }
            }
        }
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_deployment_status_changes_the_label_and_a_wrong_signature_changes_nothing() {
    let h = server(&[]).await;
    let addr = h.addr();
    let created = github(
        addr,
        "deployment",
        &serde_json::to_vec(&fixture("github/deployment.json")).unwrap(),
        GITHUB_SECRET,
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.body["deployment"]["id"], DEPLOYMENT_ID);
    assert_eq!(created.body["deployment"]["status"], "QUEUED");
    assert_eq!(created.body["deployment"]["version"], "a84d88e");
    assert_eq!(created.body["deployment"]["triggered_by"], "octocat");
    assert_eq!(created.body["environment"], "production");
    assert_eq!(created.body["service"], "Hello-World");

    // A page watching production.
    let mut page = Client::connect(&h).await;
    page.subscribe(
        "p",
        Topic::Environment {
            env: "production".into(),
        },
        None,
    )
    .await;
    until_label(&mut page, "Hello-World", DeploymentStatus::Queued).await;

    let moved = github(
        addr,
        "deployment_status",
        &status_delivery("in_progress"),
        GITHUB_SECRET,
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["moved"], true);
    until_label(&mut page, "Hello-World", DeploymentStatus::Deploying).await;

    // Signed with another secret: refused, and the page sees nothing change.
    let forged = github(
        addr,
        "deployment_status",
        &status_delivery("failure"),
        "guessed",
    )
    .await;
    assert_eq!(forged.status, 401, "{}", forged.body);
    assert_eq!(forged.field(), Some("X-Hub-Signature-256"));
    assert!(
        forged.error().contains("--github-webhook-secret"),
        "{}",
        forged.error()
    );
    assert!(!any_change_of(&mut page, "Hello-World", Duration::from_millis(700)).await);
    assert_eq!(
        label(addr, "production", "Hello-World").await,
        Some(DeploymentStatus::Deploying)
    );

    let done = github(
        addr,
        "deployment_status",
        &status_delivery("success"),
        GITHUB_SECRET,
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    until_label(&mut page, "Hello-World", DeploymentStatus::DeploymentOk).await;
    let env = environment_at(addr, "production").await.unwrap();
    let svc = env.services.iter().find(|s| s.id == "Hello-World").unwrap();
    assert_eq!(
        svc.version, "a84d88e",
        "a successful deployment's version is the service's"
    );
    assert_eq!(svc.name, "Hello-World");
    // Its log says what GitHub said, one line per accepted delivery (none for the forged one).
    let log = log_texts(addr, DEPLOYMENT_ID).await;
    let texts: Vec<&str> = log.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        log.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [1, 2, 3],
        "{texts:?}"
    );
    assert!(
        texts[0].starts_with("GitHub deployment created: Deploy request"),
        "{texts:?}"
    );
    assert!(
        texts[1].starts_with("GitHub deployment_status in_progress"),
        "{texts:?}"
    );
    assert!(
        texts[2].starts_with("GitHub deployment_status success: Deployment finished"),
        "{texts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_alone_creates_the_deployment_and_late_or_repeated_deliveries_change_nothing() {
    let h = server(&[]).await;
    let addr = h.addr();
    let first = github(
        addr,
        "deployment_status",
        &status_delivery("success"),
        GITHUB_SECRET,
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let d = &first.body["deployment"];
    assert_eq!(d["status"], "DEPLOYMENT_OK");
    assert_eq!(
        d["url"],
        "https://github.com/octocat/Hello-World/actions/runs/30433642/job/1"
    );
    assert_eq!(
        label(addr, "production", "Hello-World").await,
        Some(DeploymentStatus::DeploymentOk)
    );
    // The same delivery again (GitHub's redeliver button): nothing moves.
    let again = github(
        addr,
        "deployment_status",
        &status_delivery("success"),
        GITHUB_SECRET,
    )
    .await;
    assert_eq!(
        (again.status, &again.body["moved"]),
        (200, &Value::Bool(false))
    );
    // A late in_progress after the end: answered, not applied, and said so.
    let late = github(
        addr,
        "deployment_status",
        &status_delivery("in_progress"),
        GITHUB_SECRET,
    )
    .await;
    assert_eq!(late.status, 200, "{}", late.body);
    assert_eq!(late.body["moved"], false);
    assert!(
        late.body["note"]
            .as_str()
            .unwrap()
            .contains("DEPLOYMENT_OK -> DEPLOYING"),
        "{}",
        late.body
    );
    // Superseded after success: it did deploy, so it stays DEPLOYMENT_OK.
    let inactive = github(
        addr,
        "deployment_status",
        &status_delivery("inactive"),
        GITHUB_SECRET,
    )
    .await;
    assert_eq!(inactive.body["deployment"]["status"], "DEPLOYMENT_OK");
    assert_eq!(
        label(addr, "production", "Hello-World").await,
        Some(DeploymentStatus::DeploymentOk)
    );

    // Deliveries that changed nothing added nothing to its log.
    let log = log_texts(addr, DEPLOYMENT_ID).await;
    assert_eq!(log.len(), 1, "{log:?}");

    // Superseded while it had not ended: CANCELLED.
    let mut other = fixture("github/deployment_status.json");
    other["deployment"]["id"] = 145988999.into();
    other["deployment_status"]["state"] = "queued".into();
    let queued = github(
        addr,
        "deployment_status",
        &serde_json::to_vec(&other).unwrap(),
        GITHUB_SECRET,
    )
    .await;
    assert_eq!(
        queued.body["deployment"]["status"], "QUEUED",
        "{}",
        queued.body
    );
    other["deployment_status"]["state"] = "inactive".into();
    let gone = github(
        addr,
        "deployment_status",
        &serde_json::to_vec(&other).unwrap(),
        GITHUB_SECRET,
    )
    .await;
    assert_eq!(
        gone.body["deployment"]["status"], "CANCELLED",
        "{}",
        gone.body
    );
    assert_eq!(
        label(addr, "production", "Hello-World").await,
        Some(DeploymentStatus::Cancelled)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_refusals_say_why_and_apply_nothing() {
    let h = server(&[]).await;
    let addr = h.addr();
    let body = status_delivery("success");
    let good = github_signature(GITHUB_SECRET.as_bytes(), &body);
    let other_body = github_signature(GITHUB_SECRET.as_bytes(), b"{}");
    let unsigned_form = b"payload=%7B%7D".to_vec();
    let form_sig = github_signature(GITHUB_SECRET.as_bytes(), &unsigned_form);
    let not_json = b"{not json".to_vec();
    let not_json_sig = github_signature(GITHUB_SECRET.as_bytes(), &not_json);
    let big = vec![b' '; (1 << 20) + 1];
    let big_sig = github_signature(GITHUB_SECRET.as_bytes(), &big);
    let bad_state = status_delivery("exploded");
    let bad_state_sig = github_signature(GITHUB_SECRET.as_bytes(), &bad_state);
    let event = ("X-GitHub-Event", "deployment_status");
    let json = ("Content-Type", "application/json");
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, &'a str)>,
        &'a [u8],
        u16,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "no signature",
            vec![event, json],
            &body,
            401,
            Some("X-Hub-Signature-256"),
        ),
        (
            "the signature of another body",
            vec![event, json, ("X-Hub-Signature-256", &other_body)],
            &body,
            401,
            Some("X-Hub-Signature-256"),
        ),
        (
            "a signature without its sha256= prefix",
            vec![event, json, ("X-Hub-Signature-256", &good[7..])],
            &body,
            401,
            Some("X-Hub-Signature-256"),
        ),
        (
            "the write token instead of a signature",
            vec![
                event,
                json,
                ("Authorization", "Bearer test-write-token-5f2c9a71e3"),
            ],
            &body,
            401,
            Some("X-Hub-Signature-256"),
        ),
        (
            "a browser on another origin",
            vec![
                event,
                json,
                ("X-Hub-Signature-256", &good),
                ("Origin", "http://evil.example"),
            ],
            &body,
            403,
            Some("Origin"),
        ),
        (
            "a form-encoded delivery",
            vec![
                event,
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("X-Hub-Signature-256", &form_sig),
            ],
            &unsigned_form,
            415,
            Some("Content-Type"),
        ),
        (
            "a body that is not JSON",
            vec![event, json, ("X-Hub-Signature-256", &not_json_sig)],
            &not_json,
            400,
            Some("body"),
        ),
        (
            "a body over 1 MiB",
            vec![event, json, ("X-Hub-Signature-256", &big_sig)],
            &big,
            413,
            Some("body"),
        ),
        (
            "no event header",
            vec![json, ("X-Hub-Signature-256", &good)],
            &body,
            400,
            Some("X-GitHub-Event"),
        ),
        (
            "a state GitHub does not have",
            vec![event, json, ("X-Hub-Signature-256", &bad_state_sig)],
            &bad_state,
            400,
            Some("deployment_status.state"),
        ),
    ];
    for (what, headers, body, status, field) in cases {
        let (got, _, answer) =
            request_at(addr, "POST", "/api/v1/webhooks/github", &headers, body).await;
        let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        assert_eq!(got, status, "{what}: {answer}");
        assert_eq!(answer["field"].as_str(), field, "{what}: {answer}");
        assert!(
            !answer["error"].as_str().unwrap_or("").is_empty(),
            "{what}: {answer}"
        );
        assert!(
            environment_at(addr, "production").await.is_none(),
            "{what}: nothing was applied"
        );
    }

    // What is not a deployment is answered and ignored.
    let ping = serde_json::to_vec(&fixture("github/ping.json")).unwrap();
    let pong = github(addr, "ping", &ping, GITHUB_SECRET).await;
    assert_eq!((pong.status, &pong.body["pong"]), (200, &Value::Bool(true)));
    let push = github(addr, "push", b"{}", GITHUB_SECRET).await;
    assert_eq!(push.status, 202);
    assert!(
        push.body["ignored"].as_str().unwrap().contains("push"),
        "{}",
        push.body
    );
    assert!(environment_at(addr, "production").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_the_secret_refuses_deliveries_and_says_which_flag() {
    let h = start(&["--no-simulator"]).await;
    let a = github(
        h.addr(),
        "deployment_status",
        &status_delivery("success"),
        GITHUB_SECRET,
    )
    .await;
    assert_eq!(a.status, 401);
    assert!(
        a.error().contains("--github-webhook-secret"),
        "{}",
        a.error()
    );
    let body = serde_json::to_vec(&fixture("gitlab/deployment.json")).unwrap();
    let a = gitlab(h.addr(), &body, GITLAB_TOKEN).await;
    assert_eq!(a.status, 401);
    assert!(
        a.error().contains("--gitlab-webhook-token"),
        "{}",
        a.error()
    );
    assert!(environment_at(h.addr(), "production").await.is_none());
    assert!(environment_at(h.addr(), "staging").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_deployment_events_with_the_token_move_the_label() {
    let h = server(&[]).await;
    let addr = h.addr();
    let mut v = fixture("gitlab/deployment.json");
    let svc = "test-deployment-webhooks";
    for wrong in ["", "gitlab-hook-token-3b9e", GITHUB_SECRET] {
        v["status"] = "running".into();
        let a = gitlab(addr, &serde_json::to_vec(&v).unwrap(), wrong).await;
        assert_eq!(a.status, 401, "{wrong:?}: {}", a.body);
        assert_eq!(a.field(), Some("X-Gitlab-Token"));
        assert!(environment_at(addr, "staging").await.is_none());
    }
    for (status, label_now) in [
        ("created", DeploymentStatus::Queued),
        ("running", DeploymentStatus::Deploying),
        ("failed", DeploymentStatus::DeploymentError),
    ] {
        v["status"] = status.into();
        let a = gitlab(addr, &serde_json::to_vec(&v).unwrap(), GITLAB_TOKEN).await;
        assert_eq!(a.status, 200, "{status}: {}", a.body);
        assert_eq!(a.body["deployment"]["id"], "gitlab-15");
        assert_eq!(
            label(addr, "staging", svc).await,
            Some(label_now),
            "{status}"
        );
    }
    let d = &gitlab(addr, &serde_json::to_vec(&v).unwrap(), GITLAB_TOKEN)
        .await
        .body["deployment"];
    assert_eq!(d["version"], "279484c0");
    assert_eq!(d["triggered_by"], "root");
    assert_eq!(
        d["url"],
        "https://gitlab.example.com/root/test-deployment-webhooks/-/jobs/796"
    );
    // Another kind of event is answered and ignored.
    let a = gitlab(addr, br#"{"object_kind": "pipeline"}"#, GITLAB_TOKEN).await;
    assert_eq!(a.status, 202, "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_count_as_failures_of_their_address() {
    let h = server(&["--max-write-failures", "2"]).await;
    let addr = h.addr();
    let body = status_delivery("success");
    let sig = github_signature(b"guessed", &body);
    let headers = [
        ("X-GitHub-Event", "deployment_status"),
        ("Content-Type", "application/json"),
        ("X-Hub-Signature-256", sig.as_str()),
    ];
    for _ in 0..2 {
        let (s, _, _) = request_from(
            Some("127.0.0.1"),
            addr,
            "POST",
            "/api/v1/webhooks/github",
            &headers,
            &body,
        )
        .await;
        assert_eq!(s, 401);
    }
    let good = github(addr, "deployment_status", &body, GITHUB_SECRET).await;
    assert_eq!(good.status, 429, "{}", good.body);
    assert!(header(&good.headers, "retry-after").is_some());
    assert!(environment_at(addr, "production").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_of_the_simulator_is_not_the_webhooks_to_change() {
    let h = start(&["--rate", "0", "--github-webhook-secret", GITHUB_SECRET]).await;
    let a = github(
        h.addr(),
        "deployment_status",
        &status_delivery("success"),
        GITHUB_SECRET,
    )
    .await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert_eq!(a.field(), Some("environment"));
}

/// docs/push-api.md's numbers about webhooks are the code's.
#[test]
fn the_docs_state_the_codes_limit() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/push-api.md"
    ))
    .expect("docs/push-api.md");
    let mib = shipwatch_server::webhooks::MAX_BODY_BYTES >> 20;
    assert_eq!(mib << 20, shipwatch_server::webhooks::MAX_BODY_BYTES);
    assert!(doc.contains(&format!(
        "| 413 | `{{\"error\", \"field\": \"body\"}}` | a body over {mib} MiB |"
    )));
    assert!(doc.contains("## Webhooks"));
}
