//! Who may open the websocket: an origin allow-list (default: the server's own origin) and an
//! optional bearer token. Refusals happen before the upgrade, as plain HTTP 401/403.
//!
//! The origin rule and the constant-time comparison are also those of writes
//! (`write_access.rs`) and webhooks: one owner of each.

use axum::http::{header, HeaderMap, StatusCode};

/// Why a websocket request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Token required and missing or wrong (401).
    Unauthorized,
    /// Origin not allowed (403).
    Forbidden(String),
}

impl Refusal {
    /// The HTTP status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
        }
    }
}

/// Checks a websocket request's Origin and token.
pub fn check(
    headers: &HeaderMap,
    query_token: Option<&str>,
    allowed: &[String],
    token: Option<&str>,
) -> Result<(), Refusal> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !origin_allowed(origin, headers, allowed) {
            return Err(Refusal::Forbidden(origin.chars().take(200).collect()));
        }
    }
    if let Some(expected) = token.filter(|t| !t.is_empty()) {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let given = bearer.or(query_token);
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), expected.as_bytes())) {
            return Err(Refusal::Unauthorized);
        }
    }
    Ok(())
}

/// Whether a browser request from `origin` may proceed: one of `allowed` (`*` allows any),
/// or, with none configured, the server's own origin (the Origin's host is the Host header).
pub fn origin_allowed(origin: &str, headers: &HeaderMap, allowed: &[String]) -> bool {
    if !allowed.is_empty() {
        return listed(origin, allowed);
    }
    let origin = origin.trim_end_matches('/');
    // Same origin: the Origin's host[:port] is the Host the browser asked for.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// Whether `origin` is on the `--allow-origin` list (`*`: any).
pub fn listed(origin: &str, allowed: &[String]) -> bool {
    let origin = origin.trim_end_matches('/');
    allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

/// A configured secret (a webhook's): `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl Secret {
    /// The secret's bytes.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::str::FromStr for Secret {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err("an empty secret would let anyone in".into());
        }
        Ok(Self(s.into()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Whether two secrets are equal, in a time that says nothing about them: both are hashed
/// first (so their lengths do not show either), then the digests compared without an early
/// exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let (da, db) = (Sha256::digest(a), Sha256::digest(b));
    std::hint::black_box(
        da.iter()
            .zip(db.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y)),
    ) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn same_origin_by_default() {
        assert!(check(
            &headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"),
            None,
            &[],
            None
        )
        .is_ok());
        assert!(check(&headers(None, "127.0.0.1:8080"), None, &[], None).is_ok());
        assert!(matches!(
            check(
                &headers(Some("http://evil.example"), "127.0.0.1:8080"),
                None,
                &[],
                None
            ),
            Err(Refusal::Forbidden(_))
        ));
    }

    #[test]
    fn allow_list_and_token() {
        let allowed = vec!["http://localhost:3000".to_string()];
        assert!(check(
            &headers(Some("http://localhost:3000"), "x:1"),
            None,
            &allowed,
            None
        )
        .is_ok());
        assert!(check(&headers(Some("http://x:1"), "x:1"), None, &allowed, None).is_err());
        assert_eq!(
            check(&headers(None, "x:1"), None, &[], Some("s3cret")),
            Err(Refusal::Unauthorized)
        );
        assert!(check(&headers(None, "x:1"), Some("s3cret"), &[], Some("s3cret")).is_ok());
        let mut h = headers(None, "x:1");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert!(check(&h, None, &[], Some("s3cret")).is_ok());
        assert_eq!(
            check(&h, None, &[], Some("other")),
            Err(Refusal::Unauthorized)
        );
    }
}
