//! The deployment history, read over HTTP (the page's Deployments tab and a service's
//! deployment list; a log page's previous and next deployment):
//!
//! - `GET /api/v1/environments/{env}/deployments?service=&status=&before=&limit=`: kept
//!   deployments, newest first, a page at a time (`store/history.rs`). `status` is one or
//!   more wire words separated by commas (`DEPLOYMENT_ERROR,BUILDING_ERROR`); `before` is the
//!   `next` cursor of the previous page; `limit` 1 to [`MAX_LIMIT`] (default
//!   [`DEFAULT_LIMIT`]).
//! - `GET /api/v1/environments/{env}/deployments/{dep}/neighbours`: the deployment with the
//!   deployments of the same service created just before and after it.
//!
//! Both read what the feed carries: same origin and token rule as the websocket
//! (`App::check_access`). A bad parameter is a 400 naming it. A server without a store
//! (`--ephemeral`) answers the same from the history it keeps in memory since it started
//! (`memory_history.rs`: the same pages, filters and cursors, over fewer deployments).

use crate::access::Refusal;
use crate::app::App;
use crate::store::history::{status_from_word, HistoryQuery};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

/// Deployments a page holds unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u32 = 50;

/// The most a page holds.
pub const MAX_LIMIT: u32 = 200;

/// The history routes.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/environments/{env}/deployments", get(list))
        .route(
            "/api/v1/environments/{env}/deployments/{dep}/neighbours",
            get(neighbours),
        )
}

/// An error answer: `{"error": sentence, "field": path}`.
#[derive(Debug)]
pub struct Refused {
    /// The HTTP status.
    pub status: StatusCode,
    /// What was wrong, as a sentence.
    pub error: String,
    /// The parameter at fault, if one was.
    pub field: Option<String>,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let body = match self.field {
            Some(f) => json!({ "error": self.error, "field": f }),
            None => json!({ "error": self.error }),
        };
        (self.status, Json(body)).into_response()
    }
}

fn refuse(status: StatusCode, error: String, field: Option<&str>) -> Refused {
    Refused {
        status,
        error,
        field: field.map(str::to_string),
    }
}

/// At most 100 characters of something a client sent, for an error sentence.
fn shown(s: &str) -> String {
    s.chars().take(100).collect()
}

/// The origin and token check of the feed, with the query's `token`.
fn access(app: &App, headers: &HeaderMap, params: &[(String, String)]) -> Result<(), Refused> {
    let token = params
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.as_str());
    app.check_access(headers, token).map_err(|refusal| {
        let status = refusal.status();
        let msg = match refusal {
            Refusal::Unauthorized => "a valid token is required".to_string(),
            Refusal::Forbidden(origin) => format!("origin {origin} is not allowed"),
        };
        refuse(status, msg, None)
    })
}

/// What a server with neither a store nor a history in memory answers (an `Ingest` built
/// without either; the server always has one).
fn no_history() -> Refused {
    refuse(
        StatusCode::NOT_IMPLEMENTED,
        "this server keeps no deployment history".into(),
        None,
    )
}

/// The query of a history page, checked: the parameter at fault and why, otherwise.
pub fn parse_query(env: &str, params: &[(String, String)]) -> Result<HistoryQuery, Refused> {
    let bad = |field: &str, why: String| refuse(StatusCode::BAD_REQUEST, why, Some(field));
    let mut q = HistoryQuery {
        env: env.to_string(),
        limit: DEFAULT_LIMIT,
        ..HistoryQuery::default()
    };
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in params {
        if seen.contains(&key.as_str()) {
            return Err(bad(
                key,
                format!("`{}` is given more than once", shown(key)),
            ));
        }
        seen.push(key);
        match key.as_str() {
            "token" => {}
            "service" => q.service = (!value.is_empty()).then(|| value.clone()),
            "status" => {
                for word in value.split(',').filter(|w| !w.is_empty()) {
                    let Some(status) = status_from_word(word.trim()) else {
                        return Err(bad(
                            "status",
                            format!(
                                "`{}` is not a deployment status (use the wire's words, e.g. \
                                 DEPLOYMENT_OK or BUILDING_ERROR, separated by commas)",
                                shown(word)
                            ),
                        ));
                    };
                    if !q.statuses.contains(&status) {
                        q.statuses.push(status);
                    }
                }
            }
            "before" => match value.parse::<u64>() {
                Ok(n) => q.before = Some(n),
                Err(_) => {
                    return Err(bad(
                        "before",
                        format!(
                            "`{}` is not a cursor: pass the `next` of the previous page",
                            shown(value)
                        ),
                    ))
                }
            },
            "limit" => match value.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => q.limit = n,
                _ => {
                    return Err(bad(
                        "limit",
                        format!(
                            "`{}` is not a page size: use a whole number from 1 to {MAX_LIMIT}",
                            shown(value)
                        ),
                    ))
                }
            },
            other => {
                return Err(bad(
                    other,
                    format!(
                        "unknown parameter `{}`: use service, status, before or limit",
                        shown(other)
                    ),
                ))
            }
        }
    }
    Ok(q)
}

/// `GET /api/v1/environments/{env}/deployments`.
async fn list(
    State(app): State<Arc<App>>,
    Path(env): Path<String>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = access(&app, &headers, &params) {
        return r.into_response();
    }
    let q = match parse_query(&env, &params) {
        Ok(q) => q,
        Err(r) => return r.into_response(),
    };
    let page = match (app.ingest.store(), app.ingest.memory()) {
        (Some(store), _) => store.history(&q).await,
        (None, Some(memory)) => Ok(memory.page(&q)),
        (None, None) => return no_history().into_response(),
    };
    match page {
        Ok(page) => Json(page).into_response(),
        Err(e) => refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string(), None).into_response(),
    }
}

/// `GET /api/v1/environments/{env}/deployments/{dep}/neighbours`.
async fn neighbours(
    State(app): State<Arc<App>>,
    Path((env, dep)): Path<(String, String)>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = access(&app, &headers, &params) {
        return r.into_response();
    }
    if let Some((key, _)) = params.iter().find(|(k, _)| k != "token") {
        let msg = format!("unknown parameter `{}`: this takes none", shown(key));
        return refuse(StatusCode::BAD_REQUEST, msg, Some(key)).into_response();
    }
    let found = match (app.ingest.store(), app.ingest.memory()) {
        (Some(store), _) => store.neighbours(&dep).await,
        (None, Some(memory)) => Ok(memory.neighbours(&dep)),
        (None, None) => return no_history().into_response(),
    };
    match found {
        Ok(Some(n)) if n.deployment.environment == env => Json(n).into_response(),
        Ok(_) => refuse(
            StatusCode::NOT_FOUND,
            format!(
                "no kept deployment `{}` in environment `{}`",
                shown(&dep),
                shown(&env)
            ),
            Some("dep"),
        )
        .into_response(),
        Err(e) => refuse(StatusCode::SERVICE_UNAVAILABLE, e.to_string(), None).into_response(),
    }
}
