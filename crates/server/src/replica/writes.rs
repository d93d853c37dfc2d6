//! Every write as one [`Operation`]: a push API call, a webhook delivery or an action, once
//! its handler has checked the credential, the origin and the body. The replica that writes
//! (the leader, or a single server) executes it here ([`execute`]); a follower hands it to the
//! leader through the database ([`super::inbox`]) and answers with the leader's [`Outcome`].
//! Both go through [`perform`], so an answer is the same whichever replica a client reached.

use crate::app::App;
use crate::platform::{ActError, Action};
use crate::push::lines::PushedLine;
use crate::push::{EnvironmentUpsert, InstanceReport, NewDeployment, PushError, ServiceUpsert};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shipwatch_model::DeploymentStatus;

/// A checked write (or a push API read a follower cannot answer itself), as the inbox keeps
/// it: `{"call": "append_lines", ...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum Operation {
    /// `PUT /api/v1/environments/{env}`.
    PutEnvironment {
        /// The environment's id.
        env: String,
        /// Its body.
        req: EnvironmentUpsert,
    },
    /// `PUT /api/v1/environments/{env}/services/{svc}`.
    PutService {
        /// The environment's id.
        env: String,
        /// The service's id.
        svc: String,
        /// Its body.
        req: ServiceUpsert,
    },
    /// `PUT /api/v1/environments/{env}/services/{svc}/instances/{name}`.
    PutInstance {
        /// The environment's id.
        env: String,
        /// The service's id.
        svc: String,
        /// The instance's name.
        name: String,
        /// Its body.
        req: InstanceReport,
    },
    /// `POST /api/v1/deployments`.
    CreateDeployment {
        /// Its body.
        req: NewDeployment,
        /// The id the leader picked for a request that named none, written into the inbox
        /// row before the creation runs, so a second run creates nothing new.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        picked_id: Option<String>,
    },
    /// `GET /api/v1/deployments/{id}`: a follower's push registry is not kept current.
    GetDeployment {
        /// The deployment's id.
        id: String,
    },
    /// `POST /api/v1/deployments/{id}/status`.
    SetStatus {
        /// The deployment's id.
        id: String,
        /// The new status.
        status: DeploymentStatus,
        /// The stage it enters, if one is named.
        stage: Option<String>,
    },
    /// `POST /api/v1/deployments/{id}/stage`.
    SetStage {
        /// The deployment's id.
        id: String,
        /// The stage.
        stage: String,
    },
    /// `POST /api/v1/deployments/{id}/logs`.
    AppendLines {
        /// The deployment's id.
        id: String,
        /// The batch, parsed.
        lines: Vec<PushedLine>,
    },
    /// `POST /api/v1/webhooks/{github,gitlab}`: a delivery whose signature or token was
    /// checked and which reads as a deployment to record.
    Webhook {
        /// `github` or `gitlab`.
        forge: String,
        /// GitHub's event name (`X-GitHub-Event`); empty for GitLab.
        event: String,
        /// The delivery's JSON.
        body: Value,
    },
    /// `POST /api/environments/{env}/services/{svc}/{action}`.
    Action {
        /// The environment's id.
        env: String,
        /// The service's id.
        svc: String,
        /// `deploy`, `stop`, `restart` or `cancel`.
        action: String,
        /// `?outcome=` of a deploy (the simulator's).
        outcome: Option<String>,
    },
}

impl Operation {
    /// Whether running it twice leaves what running it once does (see [`super::inbox`]):
    /// everything but an action, which starts something new each time.
    pub fn idempotent(&self) -> bool {
        !matches!(self, Operation::Action { .. })
    }
}

/// An answer: an HTTP status and its JSON body, as the client gets it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl Outcome {
    /// `status` with `body`.
    pub fn new(status: StatusCode, body: impl Serialize) -> Outcome {
        Outcome {
            status: status.as_u16(),
            body: serde_json::to_value(body).unwrap_or(Value::Null),
        }
    }

    /// 200 with `value`, or the error.
    pub fn ok<T: Serialize>(r: Result<T, PushError>) -> Outcome {
        match r {
            Ok(v) => Outcome::new(StatusCode::OK, v),
            Err(e) => e.into(),
        }
    }

    /// 201 created or 200, with the thing as it is now; or the error.
    pub fn upserted<T: Serialize>(r: Result<crate::push::Upserted<T>, PushError>) -> Outcome {
        match r {
            Ok(u) if u.created => Outcome::new(StatusCode::CREATED, u.value),
            Ok(u) => Outcome::new(StatusCode::OK, u.value),
            Err(e) => e.into(),
        }
    }

    /// 503 with `error`: the write could not be executed now, and a retry may succeed.
    pub fn unavailable(error: impl Into<String>) -> Outcome {
        Outcome::new(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "error": error.into() }),
        )
    }
}

impl From<PushError> for Outcome {
    fn from(e: PushError) -> Outcome {
        let body = match &e.field {
            Some(field) => json!({ "error": e.error, "field": field }),
            None => json!({ "error": e.error }),
        };
        Outcome {
            status: e.status.as_u16(),
            body,
        }
    }
}

impl IntoResponse for Outcome {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.body)).into_response()
    }
}

/// Executes `op` for `writer` where this server writes, or hands it to the leader when this
/// server is a follower; the answer is the one the client gets either way.
pub async fn perform(app: &App, writer: &str, op: Operation) -> Outcome {
    if app.role.borrow().writes() {
        return execute(app, writer, op).await;
    }
    match &app.inbox {
        Some(inbox) => inbox.forward(writer, &op).await,
        None => Outcome::unavailable(
            "this replica is a follower and has no way to reach the leader: retry on another \
             replica",
        ),
    }
}

/// Executes `op` for `writer` through this server's own push API, webhooks and sources.
pub async fn execute(app: &App, writer: &str, op: Operation) -> Outcome {
    let push = &app.push;
    match op {
        Operation::PutEnvironment { env, req } => {
            Outcome::upserted(push.upsert_environment(&env, req).await)
        }
        Operation::PutService { env, svc, req } => {
            Outcome::upserted(push.upsert_service(&env, &svc, req).await)
        }
        Operation::PutInstance {
            env,
            svc,
            name,
            req,
        } => Outcome::upserted(push.report_instance(&env, &svc, &name, req).await),
        Operation::CreateDeployment { req, picked_id } => {
            Outcome::upserted(push.create_deployment_as(writer, req, picked_id).await)
        }
        Operation::GetDeployment { id } => Outcome::ok(push.deployment(&id)),
        Operation::SetStatus { id, status, stage } => {
            Outcome::ok(push.set_status(&id, status, stage).await)
        }
        Operation::SetStage { id, stage } => Outcome::ok(push.set_stage(&id, stage).await),
        Operation::AppendLines { id, lines } => Outcome::ok(push.append_lines(&id, lines).await),
        Operation::Webhook { forge, event, body } => {
            crate::webhooks::execute(push, &forge, &event, &body).await
        }
        Operation::Action {
            env,
            svc,
            action,
            outcome,
        } => act(app, writer, &env, &svc, &action, outcome).await,
    }
}

/// An action, answered 202 once what it did is committed (503 if the store cannot write it).
async fn act(
    app: &App,
    writer: &str,
    env: &str,
    svc: &str,
    name: &str,
    outcome: Option<String>,
) -> Outcome {
    let Some(action) = Action::parse(name, outcome) else {
        let shown: String = name.chars().take(100).collect();
        let msg = format!("unknown action `{shown}`: use deploy, stop, restart or cancel");
        return Outcome::new(StatusCode::NOT_FOUND, json!({ "error": msg }));
    };
    // Refused before anything is applied while the store's queue is full (store/queue.rs).
    if let Err(e) = crate::platform::Sink::room(app.ingest.as_ref()) {
        return Outcome::unavailable(format!("the action was not applied: {e}"));
    }
    match app
        .source
        .act(app.ingest.as_ref(), env, svc, &action, writer)
    {
        Ok(acted) => {
            tracing::info!(env, svc, ?action, writer, "action accepted");
            if let Err(e) = acted.ack.committed().await {
                return Outcome::unavailable(format!("the action was applied but not stored: {e}"));
            }
            Outcome::new(
                StatusCode::ACCEPTED,
                json!({ "ok": true, "deployment": acted.deployment }),
            )
        }
        Err(e) => {
            let status = match e {
                ActError::UnknownEnvironment | ActError::UnknownService => StatusCode::NOT_FOUND,
                ActError::Conflict(_) => StatusCode::CONFLICT,
                ActError::BadRequest(_) => StatusCode::BAD_REQUEST,
                ActError::NotSupported(_) => StatusCode::METHOD_NOT_ALLOWED,
            };
            Outcome::new(status, json!({ "error": e.to_string() }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_read_back_as_written() {
        let ops = [
            Operation::CreateDeployment {
                req: NewDeployment {
                    environment: "prod".into(),
                    version: "v2".into(),
                    ..Default::default()
                },
                picked_id: Some("push-17".into()),
            },
            Operation::AppendLines {
                id: "d1".into(),
                lines: vec![PushedLine {
                    n: 3,
                    text: "\u{1b}[31mred\u{1b}[0m ünïcode".into(),
                    level: Some(shipwatch_model::LogLevel::Error),
                    stage: None,
                    ts: Some(5),
                }],
            },
            Operation::SetStatus {
                id: "d1".into(),
                status: DeploymentStatus::Building,
                stage: Some("build".into()),
            },
        ];
        for op in ops {
            let text = serde_json::to_string(&op).unwrap();
            assert_eq!(
                serde_json::from_str::<Operation>(&text).unwrap(),
                op,
                "{text}"
            );
        }
        let text = serde_json::to_string(&Operation::GetDeployment { id: "x".into() }).unwrap();
        assert_eq!(text, r#"{"call":"get_deployment","id":"x"}"#);
    }

    #[test]
    fn a_push_error_answers_as_the_handlers_do() {
        let o: Outcome = PushError::conflict("status", "QUEUED -> DEPLOYMENT_OK is not ...").into();
        assert_eq!(o.status, 409);
        assert_eq!(o.body["field"], "status");
        assert!(!Operation::Action {
            env: "e".into(),
            svc: "s".into(),
            action: "deploy".into(),
            outcome: None
        }
        .idempotent());
    }
}
