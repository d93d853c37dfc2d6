//! Every bad input of the push API, in one table: each answers its status code and a JSON
//! error naming the field at fault, and changes nothing (the state is read back after each,
//! through the API and as a page sees it).

mod common;
mod push_support;

use common::{environment_at, start};
use push_support::{environments, log_until, Api};
use serde_json::{json, Value};

/// One bad request and what it must answer.
struct Case {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    /// The error's `field`; None: the answer is not the push API's own (auth).
    field: Option<&'static str>,
    /// A part of the error's sentence.
    says: &'static str,
}

fn case(
    name: &'static str,
    method: &'static str,
    path: &'static str,
    body: impl Into<Vec<u8>>,
    status: u16,
    field: &'static str,
    says: &'static str,
) -> Case {
    Case {
        name,
        method,
        path,
        content_type: Some("application/json"),
        body: body.into(),
        status,
        field: Some(field),
        says,
    }
}

fn j(v: Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

fn with_type(mut c: Case, t: Option<&'static str>) -> Case {
    c.content_type = t;
    c
}

/// Everything a push could change, as it reads back.
async fn state(h: &shipwatch_server::ServerHandle, api: &Api) -> Value {
    let mut out = serde_json::Map::new();
    for id in ["d1", "ended"] {
        let view = api.get(&format!("/api/v1/deployments/{id}")).await.body;
        let status = serde_json::from_value(view["deployment"]["status"].clone()).ok();
        out.insert(id.into(), view);
        // The log as a page reads it, up to the status the API answers.
        let (dep, lines) = log_until(h.addr(), id, status).await.expect("log");
        out.insert(format!("{id}-log"), json!([dep, lines]));
    }
    out.insert(
        "production".into(),
        serde_json::to_value(environment_at(h.addr(), "production").await).unwrap(),
    );
    out.insert(
        "environments".into(),
        serde_json::to_value(environments(h.addr()).await).unwrap(),
    );
    Value::Object(out)
}

fn lines(ns: &[u64]) -> Value {
    Value::Array(
        ns.iter()
            .map(|n| json!({"n": n, "text": format!("line {n}")}))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_is_refused_naming_its_field_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let h = start(&["--no-simulator", "--data-dir", dir.path().to_str().unwrap()]).await;
    let api = Api::new(&h);
    api.environment("production").await;
    api.service("production", "api").await;
    let a = api
        .json(
            "POST",
            "/api/v1/deployments",
            json!({"id": "d1", "environment": "production", "service": "api", "version": "v2"}),
        )
        .await;
    assert_eq!(a.status, 201);
    assert_eq!(api.status("d1", "BUILDING").await.status, 200);
    assert_eq!(api.lines("d1", 1..=3).await.status, 200);
    let a = api
        .json(
            "POST",
            "/api/v1/deployments",
            json!({"id": "ended", "environment": "production", "version": "v0"}),
        )
        .await;
    assert_eq!(a.status, 201);
    assert_eq!(api.status("ended", "DEPLOYMENT_OK").await.status, 200);
    api.json(
        "PUT",
        "/api/v1/environments/production/services/api/instances/api-1",
        json!({"status": "RUNNING"}),
    )
    .await;

    let env = "/api/v1/environments/production";
    let svc = "/api/v1/environments/production/services/api";
    let inst = "/api/v1/environments/production/services/api/instances/api-1";
    let deps = "/api/v1/deployments";
    let logs = "/api/v1/deployments/d1/logs";
    let big_json = j(json!({ "name": "x".repeat(70 << 10) }));
    let mut big_lines = b"[".to_vec();
    while big_lines.len() <= 8 << 20 {
        big_lines.extend_from_slice(b"{\"n\":4,\"text\":\"");
        big_lines.extend(std::iter::repeat_n(b'a', 64 << 10));
        big_lines.extend_from_slice(b"\"},");
    }
    big_lines.extend_from_slice(b"{\"n\":4,\"text\":\"a\"}]");

    let cases = vec![
        // Environments.
        case(
            "environment id with a space",
            "PUT",
            "/api/v1/environments/bad%20id",
            j(json!({})),
            400,
            "environment",
            "ids are made of",
        ),
        case(
            "name of the wrong type",
            "PUT",
            env,
            j(json!({"name": 5})),
            400,
            "name",
            "must be a string, not a number",
        ),
        case(
            "misspelt field",
            "PUT",
            env,
            j(json!({"nmae": "Prod"})),
            400,
            "nmae",
            "not a field this endpoint takes",
        ),
        case(
            "not JSON",
            "PUT",
            env,
            "{\"name\": ",
            400,
            "body",
            "not valid JSON",
        ),
        case(
            "not an object",
            "PUT",
            env,
            j(json!(["Prod"])),
            400,
            "body",
            "must be a JSON object",
        ),
        case(
            "invalid UTF-8",
            "PUT",
            env,
            b"{\"name\": \"\xff\xfe\"}".to_vec(),
            400,
            "body",
            "not valid UTF-8",
        ),
        case(
            "empty name",
            "PUT",
            env,
            j(json!({"name": " "})),
            400,
            "name",
            "must not be empty",
        ),
        case(
            "control character in a name",
            "PUT",
            env,
            j(json!({"name": "a\u{7}b"})),
            400,
            "name",
            "control character",
        ),
        case(
            "body over 64 KiB",
            "PUT",
            env,
            big_json,
            413,
            "body",
            "larger than 65536 bytes",
        ),
        with_type(
            case(
                "text/plain",
                "PUT",
                env,
                j(json!({"name": "P"})),
                415,
                "Content-Type",
                "application/json",
            ),
            Some("text/plain"),
        ),
        with_type(
            case(
                "no content type",
                "PUT",
                env,
                j(json!({"name": "P"})),
                415,
                "Content-Type",
                "no Content-Type",
            ),
            None,
        ),
        // Services.
        case(
            "unknown kind",
            "PUT",
            svc,
            j(json!({"kind": "lambda"})),
            400,
            "kind",
            "must be one of application, container, database, cronjob, lifecycle_job",
        ),
        case(
            "kind in the wrong case",
            "PUT",
            svc,
            j(json!({"kind": "Application"})),
            400,
            "kind",
            "must be one of",
        ),
        case(
            "version of the wrong type",
            "PUT",
            svc,
            j(json!({"version": 2})),
            400,
            "version",
            "must be a string",
        ),
        case(
            "service of no environment",
            "PUT",
            "/api/v1/environments/nowhere/services/api",
            j(json!({})),
            404,
            "environment",
            "no environment `nowhere`",
        ),
        // Instances.
        case(
            "unknown instance status",
            "PUT",
            inst,
            j(json!({"status": "HAPPY"})),
            400,
            "status",
            "must be one of RUNNING",
        ),
        case(
            "a service's status for an instance",
            "PUT",
            inst,
            j(json!({"status": "WARNING"})),
            400,
            "status",
            "must be one of",
        ),
        case(
            "the server's own UNKNOWN",
            "PUT",
            inst,
            j(json!({"status": "UNKNOWN"})),
            400,
            "status",
            "must be one of",
        ),
        case(
            "no status",
            "PUT",
            inst,
            j(json!({"reason": "x"})),
            400,
            "status",
            "is required",
        ),
        case(
            "negative restarts",
            "PUT",
            inst,
            j(json!({"status": "ERROR", "restarts": -1})),
            400,
            "restarts",
            "whole number from 0",
        ),
        case(
            "exit code as text",
            "PUT",
            inst,
            j(json!({"status": "ERROR", "exit_code": "137"})),
            400,
            "exit_code",
            "must be a whole number",
        ),
        case(
            "exit code past 32 bits",
            "PUT",
            inst,
            j(json!({"status": "ERROR", "exit_code": 1u64 << 40})),
            400,
            "exit_code",
            "32-bit",
        ),
        case(
            "started_at negative",
            "PUT",
            inst,
            j(json!({"status": "RUNNING", "started_at": -5})),
            400,
            "started_at",
            "whole number",
        ),
        case(
            "instance of no service",
            "PUT",
            "/api/v1/environments/production/services/nope/instances/i",
            j(json!({"status": "RUNNING"})),
            404,
            "service",
            "has no service `nope`",
        ),
        // Creating deployments.
        case(
            "no environment",
            "POST",
            deps,
            j(json!({"version": "v3"})),
            400,
            "environment",
            "is required",
        ),
        case(
            "no version",
            "POST",
            deps,
            j(json!({"environment": "production"})),
            400,
            "version",
            "is required",
        ),
        case(
            "empty version",
            "POST",
            deps,
            j(json!({"environment": "production", "version": ""})),
            400,
            "version",
            "must not be empty",
        ),
        case(
            "unknown environment",
            "POST",
            deps,
            j(json!({"environment": "nowhere", "version": "v3"})),
            404,
            "environment",
            "no environment",
        ),
        case(
            "unknown service",
            "POST",
            deps,
            j(json!({"environment": "production", "service": "nope", "version": "v3"})),
            404,
            "service",
            "no service",
        ),
        case(
            "a link that is not http",
            "POST",
            deps,
            j(json!({"environment": "production", "version": "v3", "url": "javascript:alert(1)"})),
            400,
            "url",
            "http:// or https://",
        ),
        case(
            "the simulator's id form",
            "POST",
            deps,
            j(json!({"id": "dep-12", "environment": "production", "version": "v3"})),
            400,
            "id",
            "the server's own",
        ),
        case(
            "an id with a slash",
            "POST",
            deps,
            j(json!({"id": "a/b", "environment": "production", "version": "v3"})),
            400,
            "id",
            "ids are made of",
        ),
        case(
            "an existing id, another body",
            "POST",
            deps,
            j(json!({"id": "d1", "environment": "production", "service": "api", "version": "v9"})),
            409,
            "id",
            "another `version`",
        ),
        case(
            "triggered_by of the wrong type",
            "POST",
            deps,
            j(json!({"environment": "production", "version": "v3", "triggered_by": ["ci"]})),
            400,
            "triggered_by",
            "must be a string, not an array",
        ),
        // Statuses and stages.
        case(
            "unknown deployment status",
            "POST",
            "/api/v1/deployments/d1/status",
            j(json!({"status": "DONE"})),
            400,
            "status",
            "must be one of QUEUED, BUILDING",
        ),
        case(
            "status with spaces",
            "POST",
            "/api/v1/deployments/d1/status",
            j(json!({"status": "DEPLOYMENT OK"})),
            400,
            "status",
            "must be one of",
        ),
        case(
            "status as a number",
            "POST",
            "/api/v1/deployments/d1/status",
            j(json!({"status": 3})),
            400,
            "status",
            "must be a string",
        ),
        case(
            "out of a final status",
            "POST",
            "/api/v1/deployments/ended/status",
            j(json!({"status": "BUILDING"})),
            409,
            "status",
            "DEPLOYMENT_OK -> BUILDING is not a transition a deployment can make",
        ),
        case(
            "back to the queue",
            "POST",
            "/api/v1/deployments/d1/status",
            j(json!({"status": "QUEUED"})),
            409,
            "status",
            "BUILDING -> QUEUED is not a transition",
        ),
        case(
            "status with a bad stage",
            "POST",
            "/api/v1/deployments/d1/status",
            j(json!({"status": "DEPLOYING", "stage": ""})),
            400,
            "stage",
            "must not be empty",
        ),
        case(
            "status of no deployment",
            "POST",
            "/api/v1/deployments/nope/status",
            j(json!({"status": "BUILDING"})),
            404,
            "id",
            "no deployment `nope`",
        ),
        case(
            "no stage",
            "POST",
            "/api/v1/deployments/d1/stage",
            j(json!({})),
            400,
            "stage",
            "is required",
        ),
        case(
            "stage of an ended deployment",
            "POST",
            "/api/v1/deployments/ended/stage",
            j(json!({"stage": "deploy"})),
            409,
            "stage",
            "has ended",
        ),
        // Log lines: a batch is all or nothing (line 4 is fine in every batch below).
        case(
            "unknown level",
            "POST",
            logs,
            j(
                json!([{"n": 4, "text": "a"}, {"n": 5, "text": "b"}, {"n": 6, "text": "c"}, {"n": 7, "text": "d", "level": "loud"}]),
            ),
            400,
            "lines[3].level",
            "use debug, info, warning or error",
        ),
        case(
            "n as text",
            "POST",
            logs,
            j(json!([{"n": "4", "text": "a"}])),
            400,
            "lines[0].n",
            "must be a whole number, not a string",
        ),
        case(
            "n is 0",
            "POST",
            logs,
            j(json!([{"n": 0, "text": "a"}])),
            400,
            "lines[0].n",
            "counts from 1",
        ),
        case(
            "no text",
            "POST",
            logs,
            j(json!([{"n": 4, "text": "a"}, {"n": 5}])),
            400,
            "lines[1].text",
            "is required",
        ),
        case(
            "unknown field in a line",
            "POST",
            logs,
            j(json!([{"n": 4, "text": "a", "colour": "red"}])),
            400,
            "lines[0].colour",
            "not a field",
        ),
        case(
            "a line that is not an object",
            "POST",
            logs,
            j(json!([{"n": 4, "text": "a"}, "b"])),
            400,
            "lines[1]",
            "must be a JSON object",
        ),
        case(
            "stage too long",
            "POST",
            logs,
            j(json!([{"n": 4, "text": "a", "stage": "s".repeat(101)}])),
            400,
            "lines[0].stage",
            "longer than 100 bytes",
        ),
        case(
            "numbers that do not rise",
            "POST",
            logs,
            j(json!([{"n": 4, "text": "a"}, {"n": 4, "text": "a"}])),
            400,
            "lines[1].n",
            "a batch's numbers rise",
        ),
        case(
            "a stored number with another text",
            "POST",
            logs,
            j(json!([{"n": 2, "text": "not line 2"}, {"n": 4, "text": "a"}])),
            409,
            "lines[0].n",
            "line 2 is already stored with another text",
        ),
        case(
            "not an array",
            "POST",
            logs,
            j(json!({"n": 4, "text": "a"})),
            400,
            "body",
            "must be a JSON array",
        ),
        case(
            "invalid UTF-8 in a JSON batch",
            "POST",
            logs,
            b"[{\"n\":4,\"text\":\"\xc3\x28\"}]".to_vec(),
            400,
            "body",
            "not valid UTF-8",
        ),
        with_type(
            case(
                "invalid UTF-8 in NDJSON",
                "POST",
                logs,
                b"{\"n\":4,\"text\":\"a\"}\n{\"n\":5,\"text\":\"\xff\"}\n".to_vec(),
                400,
                "lines[1]",
                "not valid UTF-8",
            ),
            Some("application/x-ndjson"),
        ),
        with_type(
            case(
                "a broken NDJSON line",
                "POST",
                logs,
                b"{\"n\":4,\"text\":\"a\"}\n{\"n\":5,\n".to_vec(),
                400,
                "lines[1]",
                "not valid JSON",
            ),
            Some("application/x-ndjson"),
        ),
        with_type(
            case(
                "text/plain lines",
                "POST",
                logs,
                "line 4\n",
                415,
                "Content-Type",
                "application/x-ndjson",
            ),
            Some("text/plain"),
        ),
        with_type(
            case(
                "lines without a content type",
                "POST",
                logs,
                lines(&[4]).to_string(),
                415,
                "Content-Type",
                "no Content-Type",
            ),
            None,
        ),
        case(
            "a batch over 8 MiB",
            "POST",
            logs,
            big_lines,
            413,
            "body",
            "larger than 8388608 bytes",
        ),
        case(
            "lines of no deployment",
            "POST",
            "/api/v1/deployments/nope/logs",
            j(lines(&[1])),
            404,
            "id",
            "no deployment",
        ),
    ];

    let before = state(&h, &api).await;
    assert_eq!(before["d1"]["next_line"], 4);
    let mut failures = Vec::new();
    for c in &cases {
        let a = api
            .send(c.method, c.path, c.content_type, c.body.clone())
            .await;
        let field_ok = c.field.is_none_or(|f| a.field() == Some(f));
        if a.status != c.status || !field_ok || !a.error().contains(c.says) {
            failures.push(format!(
                "{}: expected {} {:?} saying {:?}, got {} {}",
                c.name, c.status, c.field, c.says, a.status, a.body
            ));
        }
        let after = state(&h, &api).await;
        if after != before {
            failures.push(format!("{}: the state changed: {after}", c.name));
        }
    }
    // Without a write token, or with a wrong one: refused by write access, nothing changes.
    for token in ["", "not-the-token-at-all-1234"] {
        let mut other = Api::new(&h);
        other.token = token.to_string();
        let a = other.lines("d1", [4]).await;
        if a.status != 401 {
            failures.push(format!(
                "token {token:?}: expected 401, got {} {}",
                a.status, a.body
            ));
        }
    }
    assert_eq!(
        state(&h, &api).await,
        before,
        "refused writes changed the state"
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // And the API still works after all that.
    assert_eq!(api.lines("d1", [4]).await.body["next_line"], 5);
    h.shutdown();
    h.stopped().await;
}

/// A batch larger than the limit, streamed without a length, is cut off at the limit with a
/// 413 and stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_batch_past_the_limit_is_413() {
    let h = start(&["--no-simulator"]).await;
    let api = Api::new(&h);
    api.environment("production").await;
    api.service("production", "api").await;
    let id = api.deploy("production", "api", "v1").await;
    let line = format!("{{\"n\":1,\"text\":\"{}\"}}\n", "a".repeat(1 << 20));
    let chunks: Vec<Result<String, std::io::Error>> = (0..9).map(|_| Ok(line.clone())).collect();
    let a = api
        .send(
            "POST",
            &format!("/api/v1/deployments/{id}/logs"),
            Some("application/x-ndjson"),
            reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)),
        )
        .await;
    assert_eq!((a.status, a.field()), (413, Some("body")), "{a:?}");
    assert_eq!(
        api.get(&format!("/api/v1/deployments/{id}")).await.body["next_line"],
        1
    );
    h.shutdown();
}
