//! The push API over HTTP (`/api/v1/...`): each handler reads and checks its body (content
//! type, size, UTF-8, JSON types), calls [`PushCore`], and answers its result or its error as
//! `{"error", "field"}`. Every call needs a write token ([`Writer`]).

use super::core::{
    deployment_statuses_sentence, instance_statuses_sentence, kinds_sentence, EnvironmentUpsert,
    InstanceReport, NewDeployment, PushCore, ServiceUpsert,
};
use super::error::PushError;
use super::lines;
use super::validate::{parse_json, Fields};
use crate::app::App;
use crate::replica::writes::{perform, Operation};
use crate::write_access::Writer;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};
use shipwatch_model::{DeploymentStatus, RunningStatus, ServiceKind};
use std::sync::Arc;

/// Largest body of a log batch, in bytes (JSON array or NDJSON).
pub const MAX_LOG_BODY_BYTES: usize = 8 << 20;
/// Largest body of every other call, in bytes.
pub const MAX_BODY_BYTES: usize = 64 << 10;
/// Bytes of a body past its limit read (and dropped) before the 413 is answered; a body
/// announced larger than the limit and this is refused at once.
const MAX_DRAINED_BYTES: usize = 32 << 20;

/// The push API's routes.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/environments/{env}", put(put_environment))
        .route(
            "/api/v1/environments/{env}/services/{svc}",
            put(put_service),
        )
        .route(
            "/api/v1/environments/{env}/services/{svc}/instances/{name}",
            put(put_instance),
        )
        .route("/api/v1/deployments", post(post_deployment))
        .route("/api/v1/deployments/{id}", get(get_deployment))
        .route("/api/v1/deployments/{id}/status", post(post_status))
        .route("/api/v1/deployments/{id}/stage", post(post_stage))
        .route("/api/v1/deployments/{id}/logs", post(post_logs))
        .method_not_allowed_fallback(method_not_allowed)
}

async fn method_not_allowed() -> Response {
    let msg = "this endpoint does not take that method (see docs/push-api.md)";
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({ "error": msg })),
    )
        .into_response()
}

fn core(app: &App) -> &Arc<PushCore> {
    &app.push
}

/// Performs the operation a handler read from its request (here, or on the leader when this
/// server is a follower), or answers why the request was refused.
async fn run(app: &App, w: &Writer, op: Result<Operation, PushError>) -> Response {
    match op {
        Ok(op) => perform(app, &w.name, op).await.into_response(),
        Err(e) => e.into_response(),
    }
}

/// The media type of a request, without parameters, lower case.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(v.split(';').next()?.trim().to_ascii_lowercase())
}

/// Reads a body of at most `limit` bytes (413 past it, before reading it when its length is
/// announced, else as soon as the bytes read pass it).
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, PushError> {
    use futures_util::StreamExt;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut chunks = body.into_data_stream();
    // A client still sending does not read the answer (its write fails first): a body past
    // the limit is read and dropped, up to a bound, so that the client gets its 413.
    let refuse = |mut chunks: axum::body::BodyDataStream, seen: usize| async move {
        let mut dropped = seen;
        while dropped <= limit + MAX_DRAINED_BYTES {
            match chunks.next().await {
                Some(Ok(chunk)) => dropped += chunk.len(),
                _ => break,
            }
        }
        Err(PushError::too_large(limit))
    };
    if let Some(n) = announced.filter(|&n| n > limit as u64) {
        if n > (limit + MAX_DRAINED_BYTES) as u64 {
            return Err(PushError::too_large(limit));
        }
        return refuse(chunks, 0).await;
    }
    let mut out = Vec::with_capacity(announced.map_or(0, |n| n as usize));
    while let Some(chunk) = chunks.next().await {
        let chunk =
            chunk.map_err(|e| PushError::bad_body(format!("the body could not be read: {e}")))?;
        if out.len() + chunk.len() > limit {
            return refuse(chunks, out.len() + chunk.len()).await;
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A JSON object body (`application/json`). An empty body counts as `{}`.
async fn json_body(headers: &HeaderMap, body: Body) -> Result<Value, PushError> {
    let bytes = read_body(headers, body, MAX_BODY_BYTES).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) && media_type(headers).is_none() {
        return Ok(Value::Object(Default::default()));
    }
    if media_type(headers).as_deref() != Some("application/json") {
        return Err(PushError::unsupported_type(
            headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            "application/json",
        ));
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        PushError::bad_body(format!(
            "the body is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    parse_json(text)
}

/// A wire word of enum `T`, or the sentence listing the words.
fn word<T: serde::de::DeserializeOwned + Serialize>(
    f: &Fields<'_>,
    name: &str,
    unknown: T,
    sentence: impl Fn() -> String,
) -> Result<Option<T>, PushError> {
    let Some(w) = f.str(name)? else {
        return Ok(None);
    };
    let v: T = serde_json::from_value(Value::String(w.to_string())).unwrap_or(unknown);
    // `Unknown` is how the model reads words it does not know: refused here.
    let is_known = serde_json::to_value(&v)
        .ok()
        .and_then(|x| x.as_str().map(|s| s == w))
        .unwrap_or(false);
    if !is_known {
        let shown: String = w.chars().take(40).collect();
        return Err(PushError::bad(
            &f.path(name),
            format!("{} (got `{shown}`)", sentence()),
        ));
    }
    Ok(Some(v))
}

fn opt_string(f: &Fields<'_>, name: &str) -> Result<Option<String>, PushError> {
    Ok(f.str(name)?.map(str::to_string))
}

async fn put_environment(
    State(app): State<Arc<App>>,
    w: Writer,
    Path(env): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run(
        &app,
        &w,
        async {
            let v = json_body(&headers, body).await?;
            let f = Fields::of(&v, "")?;
            f.only(&["name"])?;
            let req = EnvironmentUpsert {
                name: opt_string(&f, "name")?,
            };
            Ok(Operation::PutEnvironment { env, req })
        }
        .await,
    )
    .await
}

async fn put_service(
    State(app): State<Arc<App>>,
    w: Writer,
    Path((env, svc)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run(
        &app,
        &w,
        async {
            let v = json_body(&headers, body).await?;
            let f = Fields::of(&v, "")?;
            f.only(&["name", "kind", "version"])?;
            let req = ServiceUpsert {
                name: opt_string(&f, "name")?,
                kind: word(&f, "kind", ServiceKind::Unknown, || kinds_sentence("kind"))?,
                version: opt_string(&f, "version")?,
            };
            Ok(Operation::PutService { env, svc, req })
        }
        .await,
    )
    .await
}

async fn put_instance(
    State(app): State<Arc<App>>,
    w: Writer,
    Path((env, svc, name)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run(
        &app,
        &w,
        async {
            let v = json_body(&headers, body).await?;
            let f = Fields::of(&v, "")?;
            f.only(&[
                "status",
                "reason",
                "message",
                "exit_code",
                "restarts",
                "version",
                "started_at",
            ])?;
            let status = word(
                &f,
                "status",
                RunningStatus::Unknown,
                instance_statuses_sentence,
            )?
            .ok_or_else(|| PushError::bad("status", "`status` is required"))?;
            let req = InstanceReport {
                status,
                reason: opt_string(&f, "reason")?,
                message: opt_string(&f, "message")?,
                exit_code: f.int32("exit_code")?,
                restarts: f.uint("restarts", u64::from(u32::MAX))?.map(|r| r as u32),
                version: opt_string(&f, "version")?,
                started_at: f.uint("started_at", i64::MAX as u64)?,
            };
            Ok(Operation::PutInstance {
                env,
                svc,
                name,
                req,
            })
        }
        .await,
    )
    .await
}

async fn post_deployment(
    State(app): State<Arc<App>>,
    w: Writer,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run(
        &app,
        &w,
        async {
            let v = json_body(&headers, body).await?;
            let f = Fields::of(&v, "")?;
            f.only(&[
                "id",
                "environment",
                "service",
                "version",
                "previous_version",
                "triggered_by",
                "url",
            ])?;
            let req = NewDeployment {
                id: opt_string(&f, "id")?,
                environment: f.req_str("environment")?.to_string(),
                service: opt_string(&f, "service")?,
                version: f.req_str("version")?.to_string(),
                previous_version: opt_string(&f, "previous_version")?,
                triggered_by: opt_string(&f, "triggered_by")?,
                url: opt_string(&f, "url")?,
            };
            Ok(Operation::CreateDeployment {
                req,
                picked_id: None,
            })
        }
        .await,
    )
    .await
}

async fn get_deployment(
    State(app): State<Arc<App>>,
    w: Writer,
    Path(id): Path<String>,
) -> Response {
    perform(&app, &w.name, Operation::GetDeployment { id })
        .await
        .into_response()
}

async fn post_status(
    State(app): State<Arc<App>>,
    w: Writer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run(
        &app,
        &w,
        async {
            let v = json_body(&headers, body).await?;
            let f = Fields::of(&v, "")?;
            f.only(&["status", "stage"])?;
            let status = word(
                &f,
                "status",
                DeploymentStatus::Unknown,
                deployment_statuses_sentence,
            )?
            .ok_or_else(|| PushError::bad("status", "`status` is required"))?;
            let stage = opt_string(&f, "stage")?;
            Ok(Operation::SetStatus { id, status, stage })
        }
        .await,
    )
    .await
}

async fn post_stage(
    State(app): State<Arc<App>>,
    w: Writer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run(
        &app,
        &w,
        async {
            let v = json_body(&headers, body).await?;
            let f = Fields::of(&v, "")?;
            f.only(&["stage"])?;
            let stage = f.req_str("stage")?.to_string();
            Ok(Operation::SetStage { id, stage })
        }
        .await,
    )
    .await
}

async fn post_logs(
    State(app): State<Arc<App>>,
    w: Writer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run(
        &app,
        &w,
        async {
            let ndjson = match media_type(&headers).as_deref() {
                Some("application/json") => false,
                Some("application/x-ndjson") => true,
                _ => {
                    return Err(PushError::unsupported_type(
                        headers
                            .get(header::CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok()),
                        "application/json (an array of lines) or application/x-ndjson",
                    ))
                }
            };
            // Unknown deployments are refused before their body is read (where writes are:
            // a follower's registry is not kept current, the leader refuses them).
            if app.role.borrow().writes() {
                core(&app).deployment(&id)?;
            }
            let bytes = read_body(&headers, body, MAX_LOG_BODY_BYTES).await?;
            let lines = if ndjson {
                lines::from_ndjson(&bytes)?
            } else {
                lines::from_json(&bytes)?
            };
            Ok(Operation::AppendLines { id, lines })
        }
        .await,
    )
    .await
}
