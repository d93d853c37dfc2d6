//! What a forge's delivery says, once read (the same for GitHub and GitLab), and what it does
//! through the push API's operations: the environment and the service upserted, the
//! deployment created under an id of the forge's (so a delivery sent again changes nothing),
//! and moved to the mapped status.

use crate::push::lines::PushedLine;
use crate::push::{
    DeploymentView, EnvironmentUpsert, NewDeployment, PushCore, PushError, ServiceUpsert,
};
use serde_json::Value;
use shipwatch_model::{DeploymentStatus, LogLevel};

/// A deployment as a forge reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgeReport {
    /// `github` or `gitlab`: who reported, when the payload names no person.
    pub forge: &'static str,
    /// The deployment's id here: the forge's name and its own id (`github-1234`).
    pub id: String,
    /// The environment's id (a slug of its name) and name.
    pub environment: String,
    /// The environment's name as the forge spells it.
    pub environment_name: String,
    /// The service's id and name.
    pub service: String,
    /// The service's name as the forge spells it.
    pub service_name: String,
    /// The version deployed (a short commit sha).
    pub version: String,
    /// Who started it (the forge's user name).
    pub triggered_by: Option<String>,
    /// A link back to where it runs (the CI job, the workflow run, the deployment's log).
    pub url: Option<String>,
    /// Where it goes.
    pub target: Target,
    /// What the forge said, as a log line of the deployment: its event and state, its
    /// description, its link (`GitHub deployment_status success: Deployment finished`).
    pub said: String,
    /// Whether the forge reports a failure (the line is an error).
    pub failed: bool,
}

/// Where a delivery moves a deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// To this status.
    Status(DeploymentStatus),
    /// A newer deployment took its place (GitHub's `inactive`): CANCELLED if it had not
    /// ended, else it stays as it ended.
    Superseded,
}

/// What a delivery is.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// A deployment to record.
    Report(Box<ForgeReport>),
    /// A forge checking the hook works (GitHub's `ping`).
    Ping,
    /// An event Shipwatch does not read; why.
    Ignored(String),
}

/// What applying a report did.
#[derive(Debug)]
pub struct Applied {
    /// The deployment as it is now.
    pub view: DeploymentView,
    /// Whether its status changed (false for a delivery sent again or out of order).
    pub moved: bool,
    /// Why it did not move, when it could not.
    pub note: Option<String>,
}

/// Records `report` through `core`.
pub async fn apply(core: &PushCore, report: &ForgeReport) -> Result<Applied, PushError> {
    core.upsert_environment(
        &report.environment,
        EnvironmentUpsert {
            name: Some(report.environment_name.clone()),
        },
    )
    .await?;
    core.upsert_service(
        &report.environment,
        &report.service,
        ServiceUpsert {
            name: Some(report.service_name.clone()),
            kind: None,
            version: None,
        },
    )
    .await?;
    let view = match core.deployment(&report.id) {
        Ok(view) => view,
        Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => {
            let req = NewDeployment {
                id: Some(report.id.clone()),
                environment: report.environment.clone(),
                service: Some(report.service.clone()),
                version: report.version.clone(),
                previous_version: None,
                triggered_by: report.triggered_by.clone(),
                url: report.url.clone(),
            };
            match core.create_deployment(report.forge, req).await {
                Ok(created) if report.target == Target::Status(created.value.deployment.status) => {
                    // Created where the delivery puts it: its line says so.
                    say(core, report, &created.value).await;
                    return Ok(Applied {
                        view: core.deployment(&report.id)?,
                        moved: true,
                        note: None,
                    });
                }
                Ok(created) => created.value,
                // Another delivery of the same deployment created it meanwhile.
                Err(e) => core.deployment(&report.id).map_err(|_| e)?,
            }
        }
        Err(e) => return Err(e),
    };
    let from = view.deployment.status;
    let to = match report.target {
        Target::Status(to) => to,
        Target::Superseded if from.in_progress() => DeploymentStatus::Cancelled,
        Target::Superseded => from,
    };
    if to == from {
        return Ok(Applied {
            view,
            moved: false,
            note: None,
        });
    }
    if !from.can_move(to) {
        // Deliveries can arrive out of order (GitHub does not promise an order): a late
        // `in_progress` after `success` is not a reason to fail the delivery.
        let note = format!(
            "{} -> {} is not a transition a deployment can make: the delivery changed nothing",
            crate::push::core::wire(&from),
            crate::push::core::wire(&to)
        );
        return Ok(Applied {
            view,
            moved: false,
            note: Some(note),
        });
    }
    say(core, report, &view).await;
    let view = core.set_status(&report.id, to, None).await?;
    Ok(Applied {
        view,
        moved: true,
        note: None,
    })
}

/// Adds what the forge said to the deployment's log, so its log tells what happened and
/// links to the forge's own. A line that cannot be added (another delivery took its number
/// meanwhile) is not a reason to refuse the delivery.
async fn say(core: &PushCore, report: &ForgeReport, view: &DeploymentView) {
    let line = PushedLine {
        n: view.next_line,
        text: report.said.clone(),
        level: Some(if report.failed {
            LogLevel::Error
        } else {
            LogLevel::Info
        }),
        stage: None,
        ts: None,
    };
    if let Err(e) = core.append_lines(&report.id, vec![line]).await {
        tracing::debug!(deployment = report.id, error = %e, "webhook line not added");
    }
}

/// An id made of what a forge names a thing: ASCII letters and digits kept, runs of anything
/// else a single `-`, no `-` at either end, at most 100 bytes; `default` if nothing is left.
/// `Production` stays `Production`, `review/fix login` becomes `review-fix-login`.
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len().min(100));
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_') {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 100 {
            break;
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "default".into()
    } else {
        out.into()
    }
}

/// The first `n` characters of a commit sha (the whole value when shorter).
pub fn short_sha(sha: &str, n: usize) -> String {
    sha.chars().take(n).collect()
}

/// Typed reads of a delivery's JSON, whose errors name the field's path
/// (`deployment.environment`).
pub struct Payload<'a>(pub &'a Value);

impl<'a> Payload<'a> {
    /// The value at `path` (dot-separated), if there and not null.
    pub fn get(&self, path: &str) -> Option<&'a Value> {
        let mut v = self.0;
        for part in path.split('.') {
            v = v.get(part)?;
        }
        (!v.is_null()).then_some(v)
    }

    /// A non-empty string at `path`, if there.
    pub fn opt_str(&self, path: &str) -> Option<&'a str> {
        self.get(path)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    }

    /// A string at `path`, or a 400 naming it.
    pub fn str(&self, path: &str) -> Result<&'a str, PushError> {
        match self.get(path) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
            Some(Value::String(_)) => Err(PushError::bad(path, format!("`{path}` is empty"))),
            Some(_) => Err(PushError::bad(path, format!("`{path}` must be a string"))),
            None => Err(PushError::bad(
                path,
                format!("`{path}` is missing: is this a deployment event of the forge?"),
            )),
        }
    }

    /// A number or string id at `path` (forges send numbers), as text; or a 400 naming it.
    pub fn id(&self, path: &str) -> Result<String, PushError> {
        match self.get(path) {
            Some(Value::Number(n)) if n.is_u64() => Ok(n.to_string()),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 40 => Ok(slug(s)),
            Some(_) => Err(PushError::bad(
                path,
                format!("`{path}` must be a positive whole number"),
            )),
            None => Err(PushError::bad(path, format!("`{path}` is missing"))),
        }
    }

    /// An http(s) link at `path`, if there.
    pub fn opt_url(&self, path: &str) -> Option<String> {
        self.opt_str(path)
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .filter(|u| u.len() <= 2_000 && !u.contains(char::is_whitespace))
            .map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_ids() {
        assert_eq!(slug("production"), "production");
        assert_eq!(slug("Production"), "Production");
        assert_eq!(slug("review/fix login"), "review-fix-login");
        assert_eq!(slug("--a//b--"), "a-b");
        assert_eq!(slug("Preview – my-app"), "Preview-my-app");
        assert_eq!(slug("ünïcode"), "n-code");
        assert_eq!(slug("///"), "default");
        assert_eq!(slug(&"x".repeat(300)).len(), 100);
        for s in ["a b", "é", "a.b_c", &"-".repeat(200)] {
            crate::push::validate::id("environment", &slug(s)).unwrap();
        }
    }

    #[test]
    fn json_reads_name_the_field() {
        let v = serde_json::json!({"a": {"b": "x", "n": 7, "e": "", "u": "https://x.example/1"}});
        let j = Payload(&v);
        assert_eq!(j.str("a.b").unwrap(), "x");
        assert_eq!(j.id("a.n").unwrap(), "7");
        assert_eq!(j.str("a.c").unwrap_err().field.as_deref(), Some("a.c"));
        assert_eq!(j.str("a.n").unwrap_err().field.as_deref(), Some("a.n"));
        assert!(j.str("a.e").is_err());
        assert_eq!(j.opt_url("a.u").as_deref(), Some("https://x.example/1"));
        assert_eq!(j.opt_url("a.b"), None);
    }
}
