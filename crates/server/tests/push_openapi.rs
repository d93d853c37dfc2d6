//! docs/openapi.yaml against the running server: every path and method it documents is
//! served (not a 404 "no such API endpoint", not a 405), and every `/api/v1` route in the
//! server's code is documented. The limits docs/push-api.md states are the code's. Every
//! answer the webhook routes give (each provoked here) is among their documented responses.

mod common;
mod push_support;

use common::{request_from, start};
use push_support::Api;
use shipwatch_server::push::routes::{MAX_BODY_BYTES, MAX_LOG_BODY_BYTES};
use shipwatch_server::webhooks::signature::github_signature;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// (method, path) of every operation in the document.
fn documented() -> BTreeSet<(String, String)> {
    operations().into_keys().collect()
}

/// Every operation in the document, (method, path), with the status codes of its responses.
/// The document keeps OpenAPI's usual layout: paths two spaces in under `paths:`, methods
/// four, status codes eight (`"200": ...`).
fn operations() -> BTreeMap<(String, String), BTreeSet<u16>> {
    let doc = std::fs::read_to_string(repo().join("docs/openapi.yaml")).expect("openapi.yaml");
    let mut out = BTreeMap::new();
    let (mut in_paths, mut path, mut op) = (false, None::<String>, None::<(String, String)>);
    for line in doc.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_paths = line == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /").and_then(|p| p.strip_suffix(':')) {
            path = Some(format!("/{p}"));
        } else if let Some(m) = line.strip_prefix("    ").and_then(|m| m.strip_suffix(':')) {
            if METHODS.contains(&m) {
                let key = (m.to_string(), path.clone().expect("a method under a path"));
                out.insert(key.clone(), BTreeSet::new());
                op = Some(key);
            }
        } else if let Some(code) = line
            .strip_prefix("        \"")
            .and_then(|c| c.split_once("\":"))
            .and_then(|(c, _)| c.parse::<u16>().ok())
        {
            let key = op.as_ref().expect("a response under a method");
            out.get_mut(key).expect("its operation").insert(code);
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// (method, path) of every `/api/v1` route the server's code declares with `.route("...",
/// get(..).post(..))`.
fn served_in_code() -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    rust_files(&repo().join("crates/server/src"), &mut files);
    let mut out = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        for (at, _) in text.match_indices(".route(") {
            let rest = text[at + ".route(".len()..].trim_start();
            let Some(rest) = rest.strip_prefix('"') else {
                continue;
            };
            let Some(end) = rest.find('"') else { continue };
            let path = &rest[..end];
            if !path.starts_with("/api/v1") {
                continue;
            }
            // The methods are what follows the path, up to the `)` closing `.route(`.
            let tail = &rest[end + 1..];
            let mut depth = 0i32;
            let close = tail
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth < 0
                })
                .map_or(tail.len(), |(k, _)| k);
            let tail = &tail[..close];
            for m in METHODS {
                let call = format!("{m}(");
                for (k, _) in tail.match_indices(&call) {
                    let before = tail[..k].chars().next_back();
                    if before.is_none_or(|c| !(c.is_alphanumeric() || c == '_')) {
                        out.insert((m.to_string(), path.to_string()));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_api_v1_route_is_documented() {
    let doc = documented();
    let code = served_in_code();
    assert!(
        code.len() >= 8,
        "the scan found the push API's routes: {code:?}"
    );
    let missing: Vec<_> = code.difference(&doc).collect();
    assert!(
        missing.is_empty(),
        "routes missing from docs/openapi.yaml: {missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(&[
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--services",
        "2",
    ])
    .await;
    let api = Api::new(&h);
    let doc = documented();
    assert!(doc.len() >= 8, "{doc:?}");
    let mut wrong = Vec::new();
    for (method, path) in &doc {
        // Path parameters take a value of the right form; the answer may be a 404 of the
        // API's own (no such deployment), never the router's.
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let a = api
            .send(
                &method.to_uppercase(),
                &concrete,
                Some("application/json"),
                "{}",
            )
            .await;
        let unrouted = a.status == 404 && a.error() == "no such API endpoint";
        if unrouted || a.status == 405 {
            wrong.push(format!("{method} {path}: {} {}", a.status, a.body));
        }
    }
    // And the check can fail: a path that is not served is told apart.
    let a = api.send("GET", "/api/v1/nothing-here", None, "").await;
    assert_eq!((a.status, a.error()), (404, "no such API endpoint"));
    let a = api.send("DELETE", "/api/v1/deployments/x", None, "").await;
    assert_eq!(a.status, 405);
    assert!(
        wrong.is_empty(),
        "documented but not served:\n{}",
        wrong.join("\n")
    );
    h.shutdown();
}

#[test]
fn the_limits_in_the_docs_are_the_codes() {
    let prose = std::fs::read_to_string(repo().join("docs/push-api.md")).expect("push-api.md");
    assert_eq!(MAX_LOG_BODY_BYTES, 8 << 20);
    assert!(prose.contains("| 8 MiB (`MAX_LOG_BODY_BYTES`) |"));
    assert_eq!(MAX_BODY_BYTES, 64 << 10);
    assert!(prose.contains("| 64 KiB (`MAX_BODY_BYTES`) |"));
    let yaml = std::fs::read_to_string(repo().join("docs/openapi.yaml")).unwrap();
    assert!(yaml.contains("8 MiB for log batches, 64 KiB otherwise"));
    assert_eq!(shipwatch_server::webhooks::MAX_BODY_BYTES, 1 << 20);
    assert!(yaml.contains("The delivery is over 1 MiB."));
}

const GITHUB_SECRET: &str = "openapi-github-secret";
const GITLAB_TOKEN: &str = "openapi-gitlab-token";

/// A webhook delivery to `path` from `source` (a loopback address: failures count per
/// address), with `headers` and a JSON content type unless one is given; its status.
async fn deliver(
    h: &shipwatch_server::ServerHandle,
    source: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> u16 {
    let mut all = headers.to_vec();
    if !headers.iter().any(|(k, _)| *k == "Content-Type") {
        all.push(("Content-Type", "application/json"));
    }
    request_from(Some(source), h.addr(), "POST", path, &all, body)
        .await
        .0
}

/// The status of a delivery of `body` to `forge`'s route, proved with the right secret
/// unless `wrong`; GitHub's with `X-GitHub-Event: event`.
async fn forge_delivery(
    h: &shipwatch_server::ServerHandle,
    source: &str,
    forge: &str,
    event: &str,
    body: &[u8],
    extra: &[(&str, &str)],
    wrong: bool,
) -> u16 {
    let path = format!("/api/v1/webhooks/{forge}");
    let secret = if wrong { "guessed" } else { GITHUB_SECRET };
    let sig = github_signature(secret.as_bytes(), body);
    let token = if wrong { "guessed" } else { GITLAB_TOKEN };
    let mut headers: Vec<(&str, &str)> = match forge {
        "github" => vec![("X-GitHub-Event", event), ("X-Hub-Signature-256", &sig)],
        _ => vec![
            ("X-Gitlab-Event", "Deployment Hook"),
            ("X-Gitlab-Token", token),
        ],
    };
    headers.extend_from_slice(extra);
    deliver(h, source, &path, &headers, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_webhook_answer_is_documented() {
    // The simulator owns `production` and `staging`: a delivery about them is a 409.
    let h = start(&[
        "--rate",
        "0",
        "--github-webhook-secret",
        GITHUB_SECRET,
        "--gitlab-webhook-token",
        GITLAB_TOKEN,
        "--max-write-failures",
        "2",
    ])
    .await;
    let documented = operations();
    let mut undocumented = Vec::new();
    for (forge, source, event) in [
        ("github", "127.0.0.2", "deployment"),
        ("gitlab", "127.0.0.3", ""),
    ] {
        let delivery = |env: &str| {
            let body = match forge {
                "github" => serde_json::json!({
                    "action": "created",
                    "deployment": {
                        "id": 42, "sha": "9f3c2a1d", "ref": "main", "environment": env,
                        "creator": { "login": "octocat" },
                    },
                    "repository": { "name": "api", "full_name": "octo/api" },
                }),
                _ => serde_json::json!({
                    "object_kind": "deployment", "status": "running", "deployment_id": 42,
                    "environment": env, "short_sha": "9f3c2a1d", "sha": "9f3c2a1d",
                    "project": { "name": "api", "path_with_namespace": "octo/api", "id": 7 },
                    "user": { "username": "root" },
                }),
            };
            serde_json::to_vec(&body).unwrap()
        };
        let ignored: &[u8] = match forge {
            "github" => b"{}",
            _ => br#"{"object_kind": "pipeline"}"#,
        };
        let ignored_event = if forge == "github" { "push" } else { event };
        let big = vec![b' '; (1 << 20) + 1];
        let o = "127.0.0.1";
        let cases: Vec<(u16, u16)> = vec![
            (
                200,
                forge_delivery(&h, o, forge, event, &delivery("review"), &[], false).await,
            ),
            (
                202,
                forge_delivery(&h, o, forge, ignored_event, ignored, &[], false).await,
            ),
            (
                400,
                forge_delivery(&h, o, forge, event, b"{not json", &[], false).await,
            ),
            (
                403,
                forge_delivery(
                    &h,
                    o,
                    forge,
                    event,
                    &delivery("review"),
                    &[("Origin", "http://evil.example")],
                    false,
                )
                .await,
            ),
            (
                409,
                forge_delivery(&h, o, forge, event, &delivery("production"), &[], false).await,
            ),
            (
                413,
                forge_delivery(&h, o, forge, event, &big, &[], false).await,
            ),
            (
                415,
                forge_delivery(
                    &h,
                    o,
                    forge,
                    event,
                    &delivery("review"),
                    &[("Content-Type", "text/plain")],
                    false,
                )
                .await,
            ),
            // Two wrong proofs from one address, then even a right one waits.
            (
                401,
                forge_delivery(&h, source, forge, event, &delivery("review"), &[], true).await,
            ),
            (
                401,
                forge_delivery(&h, source, forge, event, &delivery("review"), &[], true).await,
            ),
            (
                429,
                forge_delivery(&h, source, forge, event, &delivery("review"), &[], false).await,
            ),
        ];
        let codes = &documented[&("post".to_string(), format!("/api/v1/webhooks/{forge}"))];
        for (want, got) in cases {
            assert_eq!(
                got, want,
                "{forge}: the request meant to get {want} got {got}"
            );
            if !codes.contains(&got) {
                undocumented.push(format!("{forge}: {got}"));
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "answers missing from docs/openapi.yaml: {undocumented:?}"
    );
    h.shutdown();
}
