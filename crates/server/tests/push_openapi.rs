//! docs/openapi.yaml against the running server: every path and method it documents is
//! served (not a 404 "no such API endpoint", not a 405), and every `/api/v1` route in the
//! server's code is documented. The limits docs/push-api.md states are the code's.

mod common;
mod push_support;

use common::start;
use push_support::Api;
use shipwatch_server::push::routes::{MAX_BODY_BYTES, MAX_LOG_BODY_BYTES};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// (method, path) of every operation in the document. The document keeps OpenAPI's usual
/// layout: paths two spaces in under `paths:`, methods four.
fn documented() -> BTreeSet<(String, String)> {
    let doc = std::fs::read_to_string(repo().join("docs/openapi.yaml")).expect("openapi.yaml");
    let mut out = BTreeSet::new();
    let (mut in_paths, mut path) = (false, None::<String>);
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
                out.insert((m.to_string(), path.clone().expect("a method under a path")));
            }
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
}
