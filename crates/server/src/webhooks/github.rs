//! GitHub's `deployment` and `deployment_status` events (and `ping`), read into a
//! [`ForgeReport`]. The mapping is documented in `docs/push-api.md` (Webhooks).

use super::report::{short_sha, slug, Delivery, ForgeReport, Payload, Target};
use crate::push::PushError;
use serde_json::Value;
use shipwatch_model::DeploymentStatus;

/// The header that names the event.
pub const EVENT_HEADER: &str = "x-github-event";

/// The header that signs the body.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// The deployment status GitHub's deployment state `state` maps to (the states of GitHub's
/// deployment statuses API); `None` for a state it does not have.
pub fn map_state(state: &str) -> Option<Target> {
    use DeploymentStatus::*;
    Some(match state {
        "pending" | "queued" => Target::Status(Queued),
        "in_progress" => Target::Status(Deploying),
        "success" => Target::Status(DeploymentOk),
        "failure" | "error" => Target::Status(DeploymentError),
        "inactive" => Target::Superseded,
        _ => return None,
    })
}

/// The states [`map_state`] knows, for error messages and docs.
pub const STATES: &[&str] = &[
    "error",
    "failure",
    "inactive",
    "in_progress",
    "queued",
    "pending",
    "success",
];

/// Reads a delivery of event `event` (the `X-GitHub-Event` header) with body `body`.
pub fn read(event: &str, body: &Value) -> Result<Delivery, PushError> {
    let j = Payload(body);
    let mut state = "created";
    let target = match event {
        "ping" => return Ok(Delivery::Ping),
        // A deployment is created QUEUED; other actions of the event do not exist today.
        "deployment" => Target::Status(DeploymentStatus::Queued),
        "deployment_status" => {
            state = j.str("deployment_status.state")?;
            map_state(state).ok_or_else(|| {
                PushError::bad(
                    "deployment_status.state",
                    format!(
                        "`deployment_status.state` is `{}`, not a state of GitHub's \
                         deployments: {}",
                        state.chars().take(40).collect::<String>(),
                        STATES.join(", ")
                    ),
                )
            })?
        }
        other => {
            return Ok(Delivery::Ignored(format!(
                "GitHub event `{}` is not one Shipwatch reads: it reads deployment, \
                 deployment_status and ping",
                other.chars().take(60).collect::<String>()
            )))
        }
    };
    if j.opt_str("action").is_some_and(|a| a != "created") {
        return Ok(Delivery::Ignored(format!(
            "action `{}` of {event} changes no deployment status",
            j.opt_str("action")
                .unwrap_or("")
                .chars()
                .take(60)
                .collect::<String>()
        )));
    }
    let environment_name = j.str("deployment.environment")?;
    // A deployment's payload may name the service; else the repository is the service.
    let service_name = match j.opt_str("deployment.payload.service") {
        Some(s) => s,
        None => j.str("repository.name")?,
    };
    let sha = j.str("deployment.sha")?;
    let link = j
        .opt_url("deployment_status.log_url")
        .or_else(|| j.opt_url("deployment_status.target_url"))
        .or_else(|| j.opt_url("workflow_run.html_url"))
        .or_else(|| {
            j.opt_url("repository.html_url")
                .map(|r| format!("{}/deployments", r.trim_end_matches('/')))
        });
    let description = j
        .opt_str("deployment_status.description")
        .or_else(|| j.opt_str("deployment.description"));
    let mut said = format!("GitHub {event} {state}");
    if let Some(d) = description {
        said.push_str(": ");
        said.push_str(d);
    }
    if let Some(link) = &link {
        said.push_str(" (");
        said.push_str(link);
        said.push(')');
    }
    Ok(Delivery::Report(Box::new(ForgeReport {
        forge: "github",
        id: format!("github-{}", j.id("deployment.id")?),
        environment: slug(environment_name),
        environment_name: environment_name.chars().take(200).collect(),
        service: slug(service_name),
        service_name: service_name.chars().take(200).collect(),
        version: short_sha(sha, 7),
        triggered_by: j
            .opt_str("deployment.creator.login")
            .or_else(|| j.opt_str("sender.login"))
            .map(|s| s.chars().take(200).collect()),
        url: link,
        target,
        said: said.chars().take(2_000).collect(),
        failed: matches!(state, "failure" | "error"),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_maps() {
        use DeploymentStatus::*;
        let table = [
            ("error", Target::Status(DeploymentError)),
            ("failure", Target::Status(DeploymentError)),
            ("inactive", Target::Superseded),
            ("in_progress", Target::Status(Deploying)),
            ("queued", Target::Status(Queued)),
            ("pending", Target::Status(Queued)),
            ("success", Target::Status(DeploymentOk)),
        ];
        assert_eq!(table.len(), STATES.len());
        for (state, target) in table {
            assert_eq!(map_state(state), Some(target), "{state}");
        }
        assert_eq!(map_state("SUCCESS"), None);
        assert_eq!(map_state("done"), None);
    }

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("json")
    }

    #[test]
    fn a_deployment_event_is_a_queued_deployment() {
        let Delivery::Report(r) = read("deployment", &fixture("github/deployment.json")).unwrap()
        else {
            panic!("a report")
        };
        assert_eq!(r.id, "github-145988746");
        assert_eq!(r.environment, "production");
        assert_eq!(r.service, "Hello-World");
        assert_eq!(r.version, "a84d88e");
        assert_eq!(r.triggered_by.as_deref(), Some("octocat"));
        assert_eq!(
            r.url.as_deref(),
            Some("https://github.com/octocat/Hello-World/actions/runs/30433642")
        );
        assert_eq!(r.target, Target::Status(DeploymentStatus::Queued));
    }

    #[test]
    fn a_status_event_moves_it_and_links_its_log() {
        let Delivery::Report(r) = read(
            "deployment_status",
            &fixture("github/deployment_status.json"),
        )
        .unwrap() else {
            panic!("a report")
        };
        assert_eq!(r.id, "github-145988746");
        assert_eq!(r.target, Target::Status(DeploymentStatus::DeploymentOk));
        assert_eq!(
            r.url.as_deref(),
            Some("https://github.com/octocat/Hello-World/actions/runs/30433642/job/1")
        );
        assert_eq!(
            r.said,
            "GitHub deployment_status success: Deployment finished \
             (https://github.com/octocat/Hello-World/actions/runs/30433642/job/1)"
        );
        assert!(!r.failed);
    }

    #[test]
    fn other_events_and_bad_fields() {
        assert_eq!(
            read("ping", &fixture("github/ping.json")).unwrap(),
            Delivery::Ping
        );
        assert!(matches!(
            read("push", &serde_json::json!({})).unwrap(),
            Delivery::Ignored(_)
        ));
        let mut v = fixture("github/deployment_status.json");
        v["deployment_status"]["state"] = "exploded".into();
        let e = read("deployment_status", &v).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("deployment_status.state"));
        assert!(e.error.contains("in_progress"), "{}", e.error);
        let mut v = fixture("github/deployment.json");
        v["deployment"]
            .as_object_mut()
            .unwrap()
            .remove("environment");
        let e = read("deployment", &v).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("deployment.environment"));
        let mut v = fixture("github/deployment.json");
        v["deployment"]["payload"] = serde_json::json!({"service": "api"});
        let Delivery::Report(r) = read("deployment", &v).unwrap() else {
            panic!()
        };
        assert_eq!(r.service, "api");
    }
}
