//! GitLab's deployment events (`object_kind: deployment`), read into a [`ForgeReport`]. The
//! mapping is documented in `docs/push-api.md` (Webhooks).

use super::report::{short_sha, slug, Delivery, ForgeReport, Payload, Target};
use crate::push::PushError;
use serde_json::Value;
use shipwatch_model::DeploymentStatus;

/// The header that carries the webhook's secret token.
pub const TOKEN_HEADER: &str = "x-gitlab-token";

/// The deployment status a GitLab deployment status maps to; `None` for one it does not have.
pub fn map_status(status: &str) -> Option<Target> {
    use DeploymentStatus::*;
    Some(Target::Status(match status {
        // Created, or waiting for someone to approve it or start its manual job.
        "created" | "blocked" => Queued,
        "running" => Deploying,
        "success" => DeploymentOk,
        "failed" => DeploymentError,
        "canceled" | "skipped" => Cancelled,
        _ => return None,
    }))
}

/// The statuses [`map_status`] knows, for error messages and docs.
pub const STATUSES: &[&str] = &[
    "created", "running", "success", "failed", "canceled", "skipped", "blocked",
];

/// Reads a delivery's body.
pub fn read(body: &Value) -> Result<Delivery, PushError> {
    let j = Payload(body);
    match j.opt_str("object_kind") {
        Some("deployment") => {}
        Some(other) => {
            return Ok(Delivery::Ignored(format!(
                "GitLab events of kind `{}` are not ones Shipwatch reads: it reads deployment \
                 events",
                other.chars().take(60).collect::<String>()
            )))
        }
        None => return Err(PushError::bad("object_kind", "`object_kind` is missing")),
    }
    let status = j.str("status")?;
    let target = map_status(status).ok_or_else(|| {
        PushError::bad(
            "status",
            format!(
                "`status` is `{}`, not a status of GitLab's deployments: {}",
                status.chars().take(40).collect::<String>(),
                STATUSES.join(", ")
            ),
        )
    })?;
    let environment_name = j.str("environment")?;
    let project = j.str("project.path_with_namespace")?;
    // The project's path (its last segment) is the service; its name is what people read.
    let service_id = project.rsplit('/').next().unwrap_or(project);
    let service_name = j.opt_str("project.name").unwrap_or(service_id);
    let url = j
        .opt_url("deployable_url")
        .or_else(|| j.opt_url("project.web_url"));
    let mut said = format!("GitLab deployment {status}");
    if let Some(title) = j.opt_str("commit_title") {
        said.push_str(": ");
        said.push_str(title);
    }
    if let Some(link) = &url {
        said.push_str(" (");
        said.push_str(link);
        said.push(')');
    }
    Ok(Delivery::Report(Box::new(ForgeReport {
        forge: "gitlab",
        id: format!("gitlab-{}", j.id("deployment_id")?),
        environment: slug(environment_name),
        environment_name: environment_name.chars().take(200).collect(),
        service: slug(service_id),
        service_name: service_name.chars().take(200).collect(),
        version: short_sha(j.str("short_sha")?, 8),
        triggered_by: j
            .opt_str("user.username")
            .map(|s| s.chars().take(200).collect()),
        url,
        target,
        said: said.chars().take(2_000).collect(),
        failed: status == "failed",
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_maps() {
        use DeploymentStatus::*;
        let table = [
            ("created", Queued),
            ("running", Deploying),
            ("success", DeploymentOk),
            ("failed", DeploymentError),
            ("canceled", Cancelled),
            ("skipped", Cancelled),
            ("blocked", Queued),
        ];
        assert_eq!(table.len(), STATUSES.len());
        for (status, to) in table {
            assert_eq!(map_status(status), Some(Target::Status(to)), "{status}");
        }
        assert_eq!(map_status("cancelled"), None);
    }

    fn fixture() -> Value {
        let path = format!(
            "{}/tests/fixtures/gitlab/deployment.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("json")
    }

    #[test]
    fn a_deployment_event() {
        let Delivery::Report(r) = read(&fixture()).unwrap() else {
            panic!("a report")
        };
        assert_eq!(r.id, "gitlab-15");
        assert_eq!(r.environment, "staging");
        assert_eq!(r.service, "test-deployment-webhooks");
        assert_eq!(r.version, "279484c0");
        assert_eq!(r.triggered_by.as_deref(), Some("root"));
        assert_eq!(
            r.url.as_deref(),
            Some("https://gitlab.example.com/root/test-deployment-webhooks/-/jobs/796")
        );
        assert_eq!(r.target, Target::Status(DeploymentStatus::DeploymentOk));
        assert_eq!(
            r.said,
            "GitLab deployment success: Add new file \
             (https://gitlab.example.com/root/test-deployment-webhooks/-/jobs/796)"
        );
    }

    #[test]
    fn other_kinds_and_bad_fields() {
        assert!(matches!(
            read(&serde_json::json!({"object_kind": "push"})).unwrap(),
            Delivery::Ignored(_)
        ));
        let mut v = fixture();
        v["status"] = "exploded".into();
        let e = read(&v).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("status"));
        assert!(e.error.contains("canceled"), "{}", e.error);
        let mut v = fixture();
        v["deployment_id"] = "x y".into();
        assert_eq!(read(&v).unwrap().clone_report().id, "gitlab-x-y");
        v["deployment_id"] = serde_json::json!(-1);
        assert_eq!(
            read(&v).unwrap_err().field.as_deref(),
            Some("deployment_id")
        );
    }

    impl Delivery {
        fn clone_report(self) -> ForgeReport {
            match self {
                Delivery::Report(r) => *r,
                other => panic!("a report, not {other:?}"),
            }
        }
    }
}
