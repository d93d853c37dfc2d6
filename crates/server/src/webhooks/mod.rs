//! Webhooks of the forges people deploy from, so a pipeline needs no change for its
//! deployments' statuses to show: `POST /api/v1/webhooks/github` (`deployment`,
//! `deployment_status`, `ping`; signed with `--github-webhook-secret`) and
//! `POST /api/v1/webhooks/gitlab` (deployment events; `X-Gitlab-Token` is
//! `--gitlab-webhook-token`). A delivery goes through the push API's operations, as a push
//! would.
//!
//! The rules of writes apply (`write_access.rs`): a browser request from another origin is
//! refused (403), an address with too many failures waits (429), and a delivery whose
//! signature or token is wrong changes nothing, answers 401 and counts as a failure.
//!
//! - [`signature`]: HMAC-SHA256 and the constant-time checks.
//! - [`report`]: what a delivery says ([`report::ForgeReport`]) and what it does.
//! - [`github`], [`gitlab`]: each forge's payloads and status mapping.

pub mod github;
pub mod gitlab;
pub mod report;
pub mod signature;

use crate::app::App;
use crate::push::{PushCore, PushError};
use crate::replica::writes::{perform, Operation, Outcome};
use crate::write_access::client_ip;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use report::Delivery;
use serde_json::json;
use std::sync::Arc;

/// Largest delivery read, in bytes (GitHub's deployment payloads weigh a few KiB).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The webhook routes.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/webhooks/github", post(github_hook))
        .route("/api/v1/webhooks/gitlab", post(gitlab_hook))
}

/// The forges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Forge {
    GitHub,
    GitLab,
}

impl Forge {
    /// The header that carries the proof.
    fn proof_header(self) -> &'static str {
        match self {
            Self::GitHub => "X-Hub-Signature-256",
            Self::GitLab => "X-Gitlab-Token",
        }
    }

    /// The flag that configures the secret.
    fn flag(self) -> &'static str {
        match self {
            Self::GitHub => "--github-webhook-secret",
            Self::GitLab => "--gitlab-webhook-token",
        }
    }

    fn secret(self, app: &App) -> Option<&[u8]> {
        match self {
            Self::GitHub => app.cfg.github_webhook_secret.as_ref(),
            Self::GitLab => app.cfg.gitlab_webhook_token.as_ref(),
        }
        .map(crate::access::Secret::expose)
    }

    /// Whether `parts` and `body` carry the proof of `secret`.
    fn authentic(self, secret: &[u8], parts: &Parts, body: &[u8]) -> bool {
        let value = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        match self {
            Self::GitHub => signature::github_signed(secret, body, value(github::SIGNATURE_HEADER)),
            Self::GitLab => signature::gitlab_token_matches(secret, value(gitlab::TOKEN_HEADER)),
        }
    }

    /// The forge's name, as deployments it creates are triggered by.
    fn word(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::GitLab => "gitlab",
        }
    }

    fn from_word(word: &str) -> Option<Forge> {
        [Self::GitHub, Self::GitLab]
            .into_iter()
            .find(|f| f.word() == word)
    }

    /// The event a delivery names in its headers (GitHub's `X-GitHub-Event`; GitLab's are
    /// named in the body).
    fn event(self, parts: &Parts) -> Result<String, PushError> {
        match self {
            Self::GitHub => {
                let event = parts
                    .headers
                    .get(github::EVENT_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if event.is_empty() {
                    return Err(PushError::bad(
                        "X-GitHub-Event",
                        "the `X-GitHub-Event` header is missing: GitHub names the event there",
                    ));
                }
                Ok(event.to_string())
            }
            Self::GitLab => Ok(String::new()),
        }
    }

    /// What the delivery is.
    fn read(self, event: &str, body: &serde_json::Value) -> Result<Delivery, PushError> {
        match self {
            Self::GitHub => github::read(event, body),
            Self::GitLab => gitlab::read(body),
        }
    }
}

async fn github_hook(State(app): State<Arc<App>>, req: Request) -> Response {
    receive(&app, Forge::GitHub, req).await
}

async fn gitlab_hook(State(app): State<Arc<App>>, req: Request) -> Response {
    receive(&app, Forge::GitLab, req).await
}

/// A 401 about the proof header.
fn unauthorized(forge: Forge, error: String) -> Response {
    PushError {
        status: StatusCode::UNAUTHORIZED,
        error,
        field: Some(forge.proof_header().into()),
    }
    .into_response()
}

/// Checks, reads and applies one delivery.
async fn receive(app: &App, forge: Forge, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let peer = client_ip(&parts);
    if let Err(refusal) = app
        .writers
        .check_origin(&parts.headers, &app.cfg.allow_origins)
        .and_then(|()| app.writers.check_rate(peer))
    {
        return refusal.into_response();
    }
    let Some(secret) = forge.secret(app) else {
        return unauthorized(
            forge,
            format!(
                "this server takes no {forge:?} webhooks: start it with {} (the secret set on \
                 the webhook)",
                forge.flag()
            ),
        );
    };
    let bytes = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return PushError::too_large(MAX_BODY_BYTES).into_response(),
    };
    if !forge.authentic(secret, &parts, &bytes) {
        app.writers.failed(peer);
        tracing::warn!(%peer, forge = ?forge, "webhook delivery refused: wrong or missing {}", forge.proof_header());
        return unauthorized(
            forge,
            format!(
                "the {} header does not prove this delivery comes from the webhook: check its \
                 secret against {}",
                forge.proof_header(),
                forge.flag()
            ),
        );
    }
    let json_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if json_type.as_deref() != Some("application/json") {
        return PushError::unsupported_type(
            parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            "application/json (the webhook's content type setting)",
        )
        .into_response();
    }
    let value: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return PushError::bad_body(format!("the body is not JSON: {e}")).into_response(),
    };
    let delivery = match forge
        .event(&parts)
        .and_then(|event| Ok((forge.read(&event, &value)?, event)))
    {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    match delivery {
        (Delivery::Ping, _) => {
            (StatusCode::OK, Json(json!({ "ok": true, "pong": true }))).into_response()
        }
        (Delivery::Ignored(why), _) => {
            (StatusCode::ACCEPTED, Json(json!({ "ignored": why }))).into_response()
        }
        // Applied where writes are (a follower hands it to the leader, which reads it again).
        (Delivery::Report(_), event) => {
            let op = Operation::Webhook {
                forge: forge.word().into(),
                event,
                body: value,
            };
            perform(app, forge.word(), op).await.into_response()
        }
    }
}

/// Applies a delivery of `forge` (`github`, `gitlab`) whose proof was checked: its answer.
pub async fn execute(
    core: &PushCore,
    forge: &str,
    event: &str,
    body: &serde_json::Value,
) -> Outcome {
    let Some(forge) = Forge::from_word(forge) else {
        return PushError::bad("forge", format!("no webhook of forge `{forge}`")).into();
    };
    let report = match forge.read(event, body) {
        Ok(Delivery::Report(r)) => r,
        Ok(Delivery::Ping) => {
            return Outcome::new(StatusCode::OK, json!({ "ok": true, "pong": true }))
        }
        Ok(Delivery::Ignored(why)) => {
            return Outcome::new(StatusCode::ACCEPTED, json!({ "ignored": why }))
        }
        Err(e) => return e.into(),
    };
    match report::apply(core, &report).await {
        Ok(applied) => {
            tracing::info!(
                forge = ?forge,
                deployment = applied.view.deployment.id,
                status = ?applied.view.deployment.status,
                moved = applied.moved,
                "webhook delivery applied"
            );
            let mut body = json!({
                "deployment": applied.view.deployment,
                "environment": applied.view.environment,
                "service": applied.view.service,
                "moved": applied.moved,
            });
            if let Some(note) = applied.note {
                body["note"] = note.into();
            }
            Outcome::new(StatusCode::OK, body)
        }
        Err(e) => e.into(),
    }
}
