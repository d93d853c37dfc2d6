//! What the push API's tests share: a real HTTP client (reqwest) with the test write token,
//! and reads of the state a push may change, through the websocket as a page reads it.
#![allow(dead_code)]

use crate::common::{Client, WRITE_TOKEN};
use serde_json::Value;
use shipwatch_model::protocol::{Change, ServerMessage, Snapshot, Topic};
use shipwatch_model::{EnvironmentSummary, LogLine};
use shipwatch_server::ServerHandle;

/// An answer: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The error body's `field`.
    pub fn field(&self) -> Option<&str> {
        self.body.get("field").and_then(Value::as_str)
    }

    /// The error body's `error`.
    pub fn error(&self) -> &str {
        self.body.get("error").and_then(Value::as_str).unwrap_or("")
    }
}

/// A client of one server's push API.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
}

impl Api {
    /// With the test write token.
    pub fn new(h: &ServerHandle) -> Api {
        Self::at(h.addr())
    }

    /// A server at `addr`, with the test write token.
    pub fn at(addr: std::net::SocketAddr) -> Api {
        Api {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            token: WRITE_TOKEN.to_string(),
        }
    }

    /// Sends a request with the write token and `content_type` (none: no header).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .body(body);
        if let Some(t) = content_type {
            req = req.header("content-type", t);
        }
        let res = req.send().await.expect("the server answers");
        let status = res.status().as_u16();
        let bytes = res.bytes().await.unwrap_or_default();
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// A JSON request.
    pub async fn json(&self, method: &str, path: &str, body: Value) -> Answer {
        self.send(method, path, Some("application/json"), body.to_string())
            .await
    }

    /// A GET.
    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None, Vec::<u8>::new()).await
    }

    /// `PUT /api/v1/environments/{env}`.
    pub async fn environment(&self, env: &str) -> Answer {
        let a = self
            .json(
                "PUT",
                &format!("/api/v1/environments/{env}"),
                serde_json::json!({}),
            )
            .await;
        assert!(a.status == 200 || a.status == 201, "{a:?}");
        a
    }

    /// `PUT .../services/{svc}`.
    pub async fn service(&self, env: &str, svc: &str) -> Answer {
        let a = self
            .json(
                "PUT",
                &format!("/api/v1/environments/{env}/services/{svc}"),
                serde_json::json!({"kind": "application", "version": "v1"}),
            )
            .await;
        assert!(a.status == 200 || a.status == 201, "{a:?}");
        a
    }

    /// `POST /api/v1/deployments` of `svc`: the new deployment's id.
    pub async fn deploy(&self, env: &str, svc: &str, version: &str) -> String {
        let a = self
            .json(
                "POST",
                "/api/v1/deployments",
                serde_json::json!({"environment": env, "service": svc, "version": version}),
            )
            .await;
        assert_eq!(a.status, 201, "{a:?}");
        a.body["deployment"]["id"].as_str().expect("id").to_string()
    }

    /// `POST .../logs` of lines `ns` (text `line {n}`), as a JSON array.
    pub async fn lines(&self, dep: &str, ns: impl IntoIterator<Item = u64>) -> Answer {
        let lines: Vec<Value> = ns
            .into_iter()
            .map(|n| serde_json::json!({"n": n, "text": format!("line {n}")}))
            .collect();
        self.json(
            "POST",
            &format!("/api/v1/deployments/{dep}/logs"),
            Value::Array(lines),
        )
        .await
    }

    /// `POST .../status`.
    pub async fn status(&self, dep: &str, status: &str) -> Answer {
        self.json(
            "POST",
            &format!("/api/v1/deployments/{dep}/status"),
            serde_json::json!({ "status": status }),
        )
        .await
    }
}

/// The environment list as a page subscribing now sees it.
pub async fn environments(addr: std::net::SocketAddr) -> Vec<EnvironmentSummary> {
    let mut c = Client::connect_to(addr).await;
    c.subscribe("l", Topic::Environments, None).await;
    loop {
        if let ServerMessage::Snapshot {
            data: Snapshot::Environments { environments },
            ..
        } = c.frame().await.msg
        {
            return environments;
        }
    }
}

/// A deployment's log as a page subscribing now gets it: the deployment as it stands and
/// its lines (those the snapshot announces).
pub async fn log(
    addr: std::net::SocketAddr,
    dep: &str,
) -> Option<(shipwatch_model::Deployment, Vec<LogLine>)> {
    log_until(addr, dep, None).await
}

/// [`log`], read until the deployment is in `status` (the status changes after the last
/// line come as changes too); without one, until the socket has been quiet for 200 ms.
pub async fn log_until(
    addr: std::net::SocketAddr,
    dep: &str,
    status: Option<shipwatch_model::DeploymentStatus>,
) -> Option<(shipwatch_model::Deployment, Vec<LogLine>)> {
    let mut c = Client::connect_to(addr).await;
    c.subscribe(
        "g",
        Topic::Logs {
            deployment: dep.into(),
        },
        None,
    )
    .await;
    let (mut deployment, count) = loop {
        match c.frame().await.msg {
            ServerMessage::Snapshot {
                data:
                    Snapshot::Logs {
                        deployment,
                        line_count,
                        ..
                    },
                ..
            } => break (deployment, line_count.unwrap_or(0)),
            ServerMessage::Error { .. } => return None,
            _ => {}
        }
    };
    let mut lines = Vec::new();
    let done = |lines: &Vec<LogLine>, d: &shipwatch_model::Deployment| {
        lines.len() as u64 >= count && status.is_none_or(|s| d.status == s)
    };
    // The history follows as deltas; statuses interleave with lines.
    while !done(&lines, &deployment) {
        let wait = if (lines.len() as u64) < count || status.is_some() {
            std::time::Duration::from_secs(10)
        } else {
            std::time::Duration::from_millis(200)
        };
        let Ok(got) = tokio::time::timeout(wait, c.frame()).await else {
            break;
        };
        if let ServerMessage::Delta { changes, .. } = got.msg {
            for ch in changes {
                match ch {
                    Change::Line(l) => lines.push(l),
                    Change::Deployment(d) => deployment = d,
                    _ => {}
                }
            }
        }
    }
    if status.is_none() {
        // Status changes after the last line, if any, come at once.
        while let Ok(got) =
            tokio::time::timeout(std::time::Duration::from_millis(200), c.frame()).await
        {
            if let ServerMessage::Delta { changes, .. } = got.msg {
                for ch in changes {
                    match ch {
                        Change::Line(l) => lines.push(l),
                        Change::Deployment(d) => deployment = d,
                        _ => {}
                    }
                }
            }
        }
    }
    Some((deployment, lines))
}
