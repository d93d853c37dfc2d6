//! The push API client (`docs/push-api.md`): one method a call, JSON in and out, the write
//! token in `Authorization` and nowhere else (never in a URL, never printed).

use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shipwatch_model::{Deployment, DeploymentStatus};
use std::time::Duration;

use crate::outbox::Line;

/// Why a call did not succeed.
#[derive(Clone, Debug)]
pub enum ApiError {
    /// No answer (connection refused, reset, timed out): try again later.
    Unreachable(String),
    /// The server answered with an error of its own (5xx, 429): try again later.
    Busy {
        /// HTTP status.
        status: u16,
        /// What it said.
        message: String,
    },
    /// The server refused the request (4xx): sending it again would not help.
    Refused {
        /// HTTP status.
        status: u16,
        /// The error sentence of its JSON body.
        message: String,
        /// The field it names, if any.
        field: Option<String>,
    },
}

impl ApiError {
    /// Whether the same request may succeed later.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ApiError::Refused { .. })
    }

    /// The HTTP status, when the server answered.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Unreachable(_) => None,
            ApiError::Busy { status, .. } | ApiError::Refused { status, .. } => Some(*status),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unreachable(e) => write!(f, "no answer: {e}"),
            ApiError::Busy { status, message } => write!(f, "{status}: {message}"),
            ApiError::Refused {
                status,
                message,
                field,
            } => match field {
                Some(field) => write!(f, "{status}: {message} (field `{field}`)"),
                None => write!(f, "{status}: {message}"),
            },
        }
    }
}

/// A line as `POST /api/v1/deployments/{id}/logs` takes it.
#[derive(Serialize)]
struct WireLine<'a> {
    n: u64,
    text: &'a str,
    level: shipwatch_model::LogLevel,
    stage: &'a str,
    ts: u64,
}

/// A new deployment (`POST /api/v1/deployments`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewDeployment {
    /// The reporter's id for it: creating it again is then harmless.
    pub id: String,
    /// Environment id.
    pub environment: String,
    /// Service id; none for an environment-wide deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The version being deployed.
    pub version: String,
    /// The version it replaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<String>,
    /// Who or what started it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triggered_by: Option<String>,
    /// A link back to the CI run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Where a deployment stands on the server (`GET /api/v1/deployments/{id}`).
#[derive(Clone, Debug, Deserialize)]
pub struct Standing {
    /// The deployment.
    pub deployment: Deployment,
    /// The next line number the server expects.
    pub next_line: u64,
}

/// The server's answer to a batch of lines.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Appended {
    /// Lines stored.
    #[serde(default)]
    pub accepted: u64,
    /// Lines it had already (a retried batch).
    #[serde(default)]
    pub skipped: u64,
    /// The next line number it expects.
    #[serde(default)]
    pub next_line: u64,
}

/// A client of one server's push API.
#[derive(Clone, Debug)]
pub struct Api {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
}

impl Api {
    /// A client of the server at `base` (`https://shipwatch.example.com`), sending `token`.
    ///
    /// # Errors
    /// The URL is not an http(s) URL.
    pub fn new(base: &str, token: Option<String>) -> Result<Self, String> {
        let mut base: Url = base
            .parse()
            .map_err(|e| format!("--server {base:?} is not a URL: {e}"))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!("--server {base} is not an http:// or https:// URL"));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("shipwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self { http, base, token })
    }

    /// The server's base URL.
    #[must_use]
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The URL of `segments` under the base, each segment percent-encoded.
    #[must_use]
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().expect("an http(s) URL has a path");
            path.pop_if_empty();
            path.extend(segments);
        }
        url
    }

    async fn call(
        &self,
        method: reqwest::Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        let body = body.map(|b| ("application/json", serde_json::to_vec(&b).expect("JSON")));
        self.send(method, url, body).await
    }

    /// One request with a body of a media type; the answer's JSON, or why not.
    async fn send(
        &self,
        method: reqwest::Method,
        url: Url,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<Value, ApiError> {
        let mut req = self.http.request(method, url);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some((media_type, bytes)) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, media_type)
                .body(bytes);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ApiError::Unreachable(describe(&e)))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ApiError::Unreachable(describe(&e)))?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let message = value["error"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                let text = String::from_utf8_lossy(&bytes);
                let text = text.trim();
                if text.is_empty() {
                    status.canonical_reason().unwrap_or("error").to_string()
                } else {
                    text.chars().take(200).collect()
                }
            });
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            Err(ApiError::Busy {
                status: status.as_u16(),
                message,
            })
        } else {
            Err(ApiError::Refused {
                status: status.as_u16(),
                message,
                field: value["field"].as_str().map(str::to_string),
            })
        }
    }

    /// Creates (or, same body again, finds) a deployment.
    ///
    /// # Errors
    /// As the server answers; 404 when it knows no such environment or service.
    pub async fn create_deployment(&self, d: &NewDeployment) -> Result<Deployment, ApiError> {
        let v = self
            .call(
                reqwest::Method::POST,
                self.url(&["api", "v1", "deployments"]),
                Some(serde_json::to_value(d).expect("plain fields")),
            )
            .await?;
        parse(v["deployment"].clone())
    }

    /// Where a deployment stands.
    ///
    /// # Errors
    /// As the server answers.
    pub async fn standing(&self, id: &str) -> Result<Standing, ApiError> {
        let v = self
            .call(
                reqwest::Method::GET,
                self.url(&["api", "v1", "deployments", id]),
                None,
            )
            .await?;
        parse(v)
    }

    /// Moves a deployment to `status` (in `stage`).
    ///
    /// # Errors
    /// As the server answers; 409 for a move the deployment cannot make.
    pub async fn set_status(
        &self,
        id: &str,
        status: DeploymentStatus,
        stage: Option<&str>,
    ) -> Result<(), ApiError> {
        let mut body = json!({ "status": status });
        if let Some(stage) = stage {
            body["stage"] = json!(stage);
        }
        self.call(
            reqwest::Method::POST,
            self.url(&["api", "v1", "deployments", id, "status"]),
            Some(body),
        )
        .await
        .map(drop)
    }

    /// Says which stage a deployment is in.
    ///
    /// # Errors
    /// As the server answers.
    pub async fn set_stage(&self, id: &str, stage: &str) -> Result<(), ApiError> {
        self.call(
            reqwest::Method::POST,
            self.url(&["api", "v1", "deployments", id, "stage"]),
            Some(json!({ "stage": stage })),
        )
        .await
        .map(drop)
    }

    /// Appends lines, numbered `n + offset` on the server.
    ///
    /// # Errors
    /// As the server answers; 409 for a number it holds with another text.
    pub async fn append_lines(
        &self,
        id: &str,
        lines: &[Line],
        offset: u64,
    ) -> Result<Appended, ApiError> {
        // NDJSON, written straight from the lines (no JSON tree in between).
        let mut body = Vec::with_capacity(lines.iter().map(|l| l.text.len() + 80).sum());
        for l in lines {
            let wire = WireLine {
                n: l.n + offset,
                text: &l.text,
                level: l.level,
                stage: &l.stage,
                ts: l.ts,
            };
            serde_json::to_writer(&mut body, &wire).expect("plain fields");
            body.push(b'\n');
        }
        let v = self
            .send(
                reqwest::Method::POST,
                self.url(&["api", "v1", "deployments", id, "logs"]),
                Some(("application/x-ndjson", body)),
            )
            .await?;
        Ok(serde_json::from_value(v).unwrap_or_default())
    }

    /// Creates an environment the server does not know (keeps the name of one it knows).
    ///
    /// # Errors
    /// As the server answers; 409 for an environment another source owns.
    pub async fn upsert_environment(&self, env: &str) -> Result<(), ApiError> {
        self.call(
            reqwest::Method::PUT,
            self.url(&["api", "v1", "environments", env]),
            Some(json!({})),
        )
        .await
        .map(drop)
    }

    /// Creates or updates a service.
    ///
    /// # Errors
    /// As the server answers; 404 when the environment is unknown.
    pub async fn upsert_service(&self, env: &str, svc: &str, body: Value) -> Result<(), ApiError> {
        self.call(
            reqwest::Method::PUT,
            self.url(&["api", "v1", "environments", env, "services", svc]),
            Some(body),
        )
        .await
        .map(drop)
    }

    /// Reports an instance of a service.
    ///
    /// # Errors
    /// As the server answers; 404 when the environment or the service is unknown.
    pub async fn report_instance(
        &self,
        env: &str,
        svc: &str,
        name: &str,
        body: Value,
    ) -> Result<(), ApiError> {
        self.call(
            reqwest::Method::PUT,
            self.url(&[
                "api",
                "v1",
                "environments",
                env,
                "services",
                svc,
                "instances",
                name,
            ]),
            Some(body),
        )
        .await
        .map(drop)
    }
}

fn parse<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| ApiError::Busy {
        status: 200,
        message: format!("an answer this reporter cannot read: {e}"),
    })
}

/// A transport error in one line, with its cause (reqwest's own text stops at "error
/// sending request").
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_each_segment_under_the_base_path() {
        let api = Api::new("https://ops.example.com/shipwatch", None).unwrap();
        assert_eq!(
            api.url(&["api", "v1", "deployments", "a b/c"]).as_str(),
            "https://ops.example.com/shipwatch/api/v1/deployments/a%20b%2Fc"
        );
        let api = Api::new("http://127.0.0.1:8080/", None).unwrap();
        assert_eq!(
            api.url(&["api", "v1", "deployments"]).as_str(),
            "http://127.0.0.1:8080/api/v1/deployments"
        );
        assert!(Api::new("ftp://x", None).is_err());
        assert!(Api::new("not a url", None).is_err());
    }
}
