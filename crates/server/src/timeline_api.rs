//! A service's status timeline, read over HTTP (the strip of the expanded row):
//!
//! - `GET /api/v1/environments/{env}/services/{svc}/timeline?minutes=60`: the service's
//!   running (and deployment) statuses over the last `minutes` (1 to [`MAX_MINUTES`], default
//!   [`DEFAULT_MINUTES`]), from the store's status changes (`store/timeline.rs`), as the
//!   model's `Timeline`.
//! - `GET /api/v1/environments/{env}/timeline?minutes=60`: the same for the environment.
//!
//! Same origin and token rule as the websocket (`App::check_access`); a bad parameter is a
//! 400 naming it, an unknown environment or service a 404; a server without a store
//! (`--ephemeral`) answers from the status changes it keeps in memory since it started
//! (`memory_history.rs`).

use crate::access::Refusal;
use crate::app::{wall_millis, App};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use shipwatch_model::timeline::Timeline;
use std::sync::Arc;

/// The window unless `minutes` says otherwise: the last hour.
pub const DEFAULT_MINUTES: u64 = 60;
/// The longest window: the store keeps a day of changes.
pub const MAX_MINUTES: u64 = 24 * 60;

/// The timeline routes.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/api/v1/environments/{env}/services/{svc}/timeline",
            get(service_timeline),
        )
        .route("/api/v1/environments/{env}/timeline", get(env_timeline))
}

fn refuse(status: StatusCode, error: String, field: Option<&str>) -> Response {
    let body = match field {
        Some(f) => json!({ "error": error, "field": f }),
        None => json!({ "error": error }),
    };
    (status, Json(body)).into_response()
}

/// The window's length in ms, from `minutes`; why `minutes` is wrong otherwise.
fn window_ms(params: &[(String, String)]) -> Result<u64, String> {
    let mut minutes = None;
    for (key, value) in params {
        match key.as_str() {
            "minutes" if minutes.is_some() => {
                return Err("`minutes` is given more than once".into())
            }
            "minutes" => match value.parse::<u64>() {
                Ok(n) if (1..=MAX_MINUTES).contains(&n) => minutes = Some(n),
                _ => {
                    return Err(format!(
                        "`{}` is not a window: use a whole number of minutes from 1 to \
                         {MAX_MINUTES}",
                        value.chars().take(100).collect::<String>()
                    ))
                }
            },
            _ => {}
        }
    }
    Ok(minutes.unwrap_or(DEFAULT_MINUTES) * 60_000)
}

async fn service_timeline(
    State(app): State<Arc<App>>,
    Path((env, svc)): Path<(String, String)>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    timeline(&app, &env, Some(&svc), &params, &headers).await
}

async fn env_timeline(
    State(app): State<Arc<App>>,
    Path(env): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    timeline(&app, &env, None, &params, &headers).await
}

async fn timeline(
    app: &App,
    env: &str,
    service: Option<&str>,
    params: &[(String, String)],
    headers: &HeaderMap,
) -> Response {
    let token = params
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.as_str());
    if let Err(refusal) = app.check_access(headers, token) {
        let status = refusal.status();
        let msg = match refusal {
            Refusal::Unauthorized => "a valid token is required".to_string(),
            Refusal::Forbidden(origin) => format!("origin {origin} is not allowed"),
        };
        return refuse(status, msg, None);
    }
    let window = match window_ms(params) {
        Ok(w) => w,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, why, Some("minutes")),
    };
    if !app.hub.has_subject(env, service) {
        let what = match service {
            Some(s) => format!("environment `{env}` has no service `{s}`"),
            None => format!("there is no environment `{env}`"),
        };
        return refuse(StatusCode::NOT_FOUND, what, None);
    }
    let to = wall_millis();
    let from = to.saturating_sub(window);
    let segments = match (app.ingest.store(), app.ingest.memory()) {
        (Some(store), _) => store.timeline(env, service, from, to).await,
        (None, Some(memory)) => Ok(memory.timeline(env, service, from, to)),
        (None, None) => {
            let why = "this server keeps no status timeline".to_string();
            return refuse(StatusCode::NOT_IMPLEMENTED, why, None);
        }
    };
    match segments {
        Ok(segments) => Json(Timeline { from, to, segments }).into_response(),
        Err(e) => refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string(), None),
    }
}
