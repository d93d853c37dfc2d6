//! HTTP: the websocket route, the action API, and the built app as static files with an SPA
//! fallback, compression, cache headers and security headers.

use crate::access::Refusal;
use crate::app::App;
use crate::platform::Action;
use crate::store::Store;
use crate::write_access::Writer;
use crate::ws;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::json;
use shipwatch_logview::plain_text;
use shipwatch_logview::store::write_text_line;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// The whole router.
pub fn router(app: Arc<App>) -> Router {
    let index = std::fs::read_to_string(app.cfg.dist.join("index.html")).ok();
    let csp = HeaderValue::from_str(&crate::csp::policy(index.as_deref()))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let files = Router::new()
        .route("/api/health", get(health))
        .route("/api/deployments/{dep}/log.txt", get(log_text))
        .route(
            "/api/environments/{env}/services/{svc}/{action}",
            post(action),
        )
        .merge(crate::history_api::routes())
        .merge(crate::timeline_api::routes())
        .merge(crate::push::routes())
        .merge(crate::webhooks::routes())
        .route("/api", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found))
        .fallback(static_files)
        .layer(middleware::from_fn(cache_headers))
        .layer(CompressionLayer::new().gzip(true).br(true));
    Router::new()
        .route("/ws", get(ws::handler))
        .merge(files)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            crate::write_access::cross_origin,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(app)
}

/// The span of a request in the log: its method and path, not its query (`?token=` carries a
/// read token) nor its headers (`Authorization`).
fn request_span(req: &Request) -> tracing::Span {
    tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
}

async fn health(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    // What the pages are told (`status` frames): it also covers a database that does not
    // answer to a server that has nothing to write, a follower replica among them.
    let told = app.store_status.borrow().clone();
    let store_ok = told.is_ok() && app.ingest.store().is_none_or(|s| s.health().ok);
    Json(json!({
        // "degraded" while the store fails to write or the database does not answer: pages
        // keep what they have, nothing new is shown or kept until it is back.
        "status": if store_ok { "ok" } else { "degraded" },
        "database": if told.is_ok() { None } else { Some(json!({
            "state": "unavailable",
            "message": told.message,
        })) },
        "server": format!("shipwatch-server/{}", env!("CARGO_PKG_VERSION")),
        "clients": app.clients.load(Ordering::Relaxed),
        // Websockets accepted since start (ids count from 1): tells a page that opens one
        // socket from one that opens two.
        "connections": app.conn_ids.load(Ordering::Relaxed).saturating_sub(1),
        "logs": app.hub.log_count(),
        // Where the platform is kept, and whether writes to it succeed.
        "store": app.ingest.store().map(|s| s.health()),
        // This server among the replicas of its database: role, lease holder, follower's lag.
        "replica": app.replica.health(),
        "scenario": app.cfg.scenario.map(|s| format!("{s:?}")),
    }))
}

/// Query of the action API.
#[derive(Debug, serde::Deserialize)]
pub struct ActionQuery {
    /// How a deployment ends (simulator): `ok` (default), `build-error`, `crash-loop`.
    outcome: Option<String>,
}

/// `POST /api/environments/{env}/services/{svc}/{deploy|stop|restart|cancel}`: asks the
/// source to act (405 if it cannot), for a request with a write token ([`Writer`]). The 202 is
/// the acknowledgement: it is sent once what the action did is committed to the store (503 if
/// the store fails to write it). Executed where writes are (`replica/writes.rs`).
async fn action(
    State(app): State<Arc<App>>,
    writer: Writer,
    Path((env, svc, action)): Path<(String, String, String)>,
    Query(q): Query<ActionQuery>,
) -> Response {
    if Action::parse(&action, None).is_none() {
        let shown: String = action.chars().take(100).collect();
        let msg = format!("unknown action `{shown}`: use deploy, stop, restart or cancel");
        return (StatusCode::NOT_FOUND, Json(json!({ "error": msg }))).into_response();
    }
    let op = crate::replica::writes::Operation::Action {
        env,
        svc,
        action,
        outcome: q.outcome,
    };
    crate::replica::writes::perform(&app, &writer.name, op)
        .await
        .into_response()
}

/// Query of the log download: the token, for a server started with `--token` (a download
/// is a navigation, which cannot carry an Authorization header).
#[derive(Debug, serde::Deserialize)]
pub struct LogQuery {
    token: Option<String>,
}

/// Bytes of text per chunk of a log download: the body is streamed, so a million-line log
/// never sits in memory as one string.
const LOG_CHUNK_BYTES: usize = 64 * 1024;

/// `GET /api/deployments/{dep}/log.txt`: the whole log as plain text, one line per log line,
/// in the format of the viewer's own download (`shipwatch_logview::store::write_text_line`).
/// Same origin and token rules as the websocket, since it carries the same data.
async fn log_text(
    State(app): State<Arc<App>>,
    Path(dep): Path<String>,
    headers: HeaderMap,
    Query(q): Query<LogQuery>,
) -> Response {
    if let Err(refusal) = app.check_access(&headers, q.token.as_deref()) {
        let status = refusal.status();
        let msg = match refusal {
            Refusal::Unauthorized => "a valid token is required".to_string(),
            Refusal::Forbidden(origin) => format!("origin {origin} is not allowed"),
        };
        return (status, Json(json!({ "error": msg }))).into_response();
    }
    let shown: String = dep.chars().take(200).collect();
    let body = match app.ingest.store() {
        Some(store) => match stored_log(store, &dep).await {
            StoredLog::Kept => Some(store_chunks(store.clone(), dep.clone())),
            StoredLog::Removed if app.hub.log_lines(&dep).is_none() => {
                return gone(store, &dep, &shown).await;
            }
            // Not in the store (or the store fails): the hub's copy, if it has one.
            _ => app.hub.log_lines(&dep).map(hub_chunks),
        },
        None => app.hub.log_lines(&dep).map(hub_chunks),
    };
    let Some(body) = body else {
        if let Some(store) = app.ingest.store() {
            if let Ok(Some(_)) = store.removal(&dep).await {
                return gone(store, &dep, &shown).await;
            }
        }
        let msg = format!("no log for deployment `{shown}` on this server");
        return (StatusCode::NOT_FOUND, Json(json!({ "error": msg }))).into_response();
    };
    let disposition = format!("attachment; filename=\"{}.log\"", file_stem(&dep));
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}

/// 410 for a log retention removed, saying why ("this log is older than the 50 kept
/// deployments of api").
async fn gone(store: &Store, dep: &str, shown: &str) -> Response {
    let why = match store.removal(dep).await {
        Ok(Some(r)) => r.message,
        _ => "retention removed it".into(),
    };
    let msg = format!("the log of deployment `{shown}` was removed: {why}");
    (StatusCode::GONE, Json(json!({ "error": msg }))).into_response()
}

/// What the store has of a log.
enum StoredLog {
    /// Its lines.
    Kept,
    /// The deployment, whose lines the log-bytes cap removed.
    Removed,
    /// Nothing (or the store cannot say).
    Unknown,
}

/// Whether the store keeps `dep`'s log, once what was published so far is committed (so the
/// download has every line a page was sent).
async fn stored_log(store: &Store, dep: &str) -> StoredLog {
    if store.flush().await.is_err() {
        return StoredLog::Unknown;
    }
    match store.deployment(dep).await {
        Ok(Some(d)) if d.log_removed => StoredLog::Removed,
        Ok(Some(_)) => StoredLog::Kept,
        _ => StoredLog::Unknown,
    }
}

/// Lines read from the store per chunk of a download.
const LOG_PAGE_LINES: u32 = 2_000;

/// A log from the store as text, read a page at a time.
fn store_chunks(store: Store, dep: String) -> Body {
    let pages = futures_util::stream::unfold(Some(0u64), move |after| {
        let (store, dep) = (store.clone(), dep.clone());
        async move {
            let after = after?;
            let lines = match store.log_lines(&dep, after, LOG_PAGE_LINES).await {
                Ok(lines) if !lines.is_empty() => lines,
                Ok(_) => return None,
                Err(e) => {
                    // Headers are sent: cutting the body short is all that is left to say.
                    tracing::error!(error = %e, dep, "log download cut short");
                    return Some((Err(std::io::Error::other(e.to_string())), None));
                }
            };
            let next = lines.last().map(|l| l.n);
            let mut out = String::with_capacity(LOG_CHUNK_BYTES * 4);
            for line in &lines {
                let plain = plain_text(&line.text);
                let _ = write_text_line(&mut out, line.ts, &line.stage, line.level, &plain);
            }
            Some((Ok(Bytes::from(out)), next))
        }
    });
    Body::from_stream(pages)
}

/// A log from the hub as text.
fn hub_chunks(mut lines: crate::hub::LogLines) -> Body {
    let chunks = std::iter::from_fn(move || {
        let mut out = String::with_capacity(LOG_CHUNK_BYTES + 1024);
        for line in lines.by_ref() {
            let plain = plain_text(&line.text);
            let _ = write_text_line(&mut out, line.ts, &line.stage, line.level, &plain);
            if out.len() >= LOG_CHUNK_BYTES {
                break;
            }
        }
        (!out.is_empty()).then(|| Ok::<_, Infallible>(Bytes::from(out)))
    });
    Body::from_stream(futures_util::stream::iter(chunks))
}

/// A deployment id made safe for a quoted file name: anything but letters, digits, `.`,
/// `-` and `_` becomes `_`.
fn file_stem(dep: &str) -> String {
    dep.chars()
        .take(200)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

async fn api_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "no such API endpoint" })),
    )
        .into_response()
}

const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shipwatch</title></head>\
<body><h1>Shipwatch feed server is running</h1><p>The app is not built yet: build it (e.g. <code>trunk build</code> \
at the repository root) so that its files are in the directory given by <code>--dist</code>, then reload. \
The websocket feed is live at <code>/ws</code>.</p></body></html>";

/// Files from `--dist`; unknown paths without a file extension get index.html (app routes).
async fn static_files(State(app): State<Arc<App>>, req: Request) -> Response {
    let index = app.cfg.dist.join("index.html");
    if !index.is_file() {
        return (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-cache")],
            Html(NOT_BUILT),
        )
            .into_response();
    }
    let path = req.uri().path().to_string();
    let looks_like_file = path
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'));
    // A file's `.gz` beside it (the build writes one for what the page loads first, at gzip's
    // densest) goes to a browser that accepts gzip as it is; the rest is compressed as sent.
    let served = ServeDir::new(&app.cfg.dist)
        .precompressed_gzip()
        .oneshot(req)
        .await;
    match served {
        Ok(res) if res.status() == StatusCode::NOT_FOUND && !looks_like_file => {
            let req = Request::new(Body::empty());
            match ServeFile::new(&index).oneshot(req).await {
                Ok(res) => res.map(Body::new).into_response(),
                Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
            }
        }
        Ok(mut res) => {
            // Either body may be sent for this URL: caches must tell them apart.
            res.headers_mut().insert(
                header::VARY,
                header::HeaderValue::from_static("accept-encoding"),
            );
            res.map(Body::new).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Whether a file name carries a content hash, like trunk's `app-1a2b3c4d5e6f7a8b_bg.wasm`.
pub fn is_hashed_asset(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or("");
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    if !matches!(ext, "wasm" | "js" | "css") {
        return false;
    }
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() >= 8 && hash.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Hashed assets are immutable for a year; everything else is revalidated (index.html must
/// be, or a new build would never reach browsers); API answers are never stored.
async fn cache_headers(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let mut res = next.run(req).await;
    let value = if path.starts_with("/api") {
        "no-store"
    } else if res.status().is_success() && is_hashed_asset(&path) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    res.headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static(value));
    res
}

#[cfg(test)]
mod tests {
    use super::is_hashed_asset;

    #[test]
    fn hashed_names() {
        assert!(is_hashed_asset("/shipwatch-1a2b3c4d5e6f7a8b_bg.wasm"));
        assert!(is_hashed_asset("/shipwatch-1a2b3c4d5e6f7a8b.js"));
        assert!(is_hashed_asset("/style-0123456789abcdef.css"));
        assert!(!is_hashed_asset("/index.html"));
        assert!(!is_hashed_asset("/app.js"));
        assert!(!is_hashed_asset("/my-app.css"));
    }
}
