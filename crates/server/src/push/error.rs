//! Why a push was refused: an HTTP status, a sentence, and the field at fault, answered as
//! `{"error": "<sentence>", "field": "<path>"}`. The plain Rust operations return the same
//! errors, so the webhooks that call them can say the same things.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A refused push. Nothing of the request was applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushError {
    /// The HTTP status it answers with.
    pub status: StatusCode,
    /// What was wrong, as a sentence.
    pub error: String,
    /// The field at fault, as a path into the request (`lines[3].level`, `status`,
    /// `environment`); none when the request as a whole is at fault.
    pub field: Option<String>,
}

impl PushError {
    fn new(status: StatusCode, field: Option<&str>, error: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            field: field.map(str::to_string),
        }
    }

    /// 400: a field is missing, of the wrong type, or holds a value the API does not take.
    pub fn bad(field: &str, error: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(field), error)
    }

    /// 400 about the body as a whole (not JSON, not UTF-8).
    pub fn bad_body(error: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("body"), error)
    }

    /// 404: the thing `field` names does not exist.
    pub fn not_found(field: &str, error: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, Some(field), error)
    }

    /// 409: the request contradicts what the server holds (an illegal transition, a line
    /// number stored with another text, an id taken by another source).
    pub fn conflict(field: &str, error: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some(field), error)
    }

    /// 413: the body is larger than `limit` bytes.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Some("body"),
            format!(
                "the body is larger than {} bytes, the most this endpoint takes; send it in \
                 smaller batches",
                limit
            ),
        )
    }

    /// 415: the body's content type is not one the endpoint takes.
    pub fn unsupported_type(got: Option<&str>, takes: &str) -> Self {
        let got = match got {
            Some(t) => format!("`{}`", t.chars().take(100).collect::<String>()),
            None => "no Content-Type".to_string(),
        };
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("Content-Type"),
            format!("{got} is not a content type this endpoint takes: send {takes}"),
        )
    }

    /// 503: refused before anything was applied: the store's queue is full.
    pub fn queue_full(reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            format!("the push was not applied: {reason}"),
        )
    }

    /// 503 when the store's queue is full, 413 when the write is larger than the whole
    /// queue (`--store-queue-bytes`: it can never be taken); refused before anything was
    /// applied.
    pub fn not_queued(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::TooLarge { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                format!("the push was not applied: {e}"),
            ),
            e => Self::queue_full(e),
        }
    }

    /// 503: applied but the store could not commit it, so it is not acknowledged.
    pub fn not_stored(reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            format!("the push was applied but not stored, so it is not acknowledged: {reason}"),
        )
    }
}

impl std::fmt::Display for PushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{} ({}: {})", self.error, self.status.as_u16(), field),
            None => write!(f, "{} ({})", self.error, self.status.as_u16()),
        }
    }
}

impl std::error::Error for PushError {}

impl IntoResponse for PushError {
    fn into_response(self) -> Response {
        let body = match &self.field {
            Some(field) => json!({ "error": self.error, "field": field }),
            None => json!({ "error": self.error }),
        };
        (self.status, Json(body)).into_response()
    }
}
