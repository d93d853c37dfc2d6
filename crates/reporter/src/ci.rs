//! What a CI job says about itself in its environment, so that `shipwatch deploy` needs no
//! more than the environment and the service in a pipeline: the commit, who started the run,
//! a link back to it and an id for the deployment that a retried job reuses.

/// Defaults read from a CI's variables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CiContext {
    /// The commit, short.
    pub version: Option<String>,
    /// Who or what started the run.
    pub triggered_by: Option<String>,
    /// The run's page.
    pub url: Option<String>,
    /// An id for the deployment, unique to this job run.
    pub id: Option<String>,
}

impl CiContext {
    /// From the process's environment.
    #[must_use]
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// From variables read by `var` (GitHub Actions, GitLab CI, Buildkite, in that order).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        if var("GITHUB_ACTIONS").as_deref() == Some("true") {
            let run = var("GITHUB_RUN_ID");
            let url = match (var("GITHUB_SERVER_URL"), var("GITHUB_REPOSITORY"), &run) {
                (Some(server), Some(repo), Some(run)) => {
                    Some(format!("{server}/{repo}/actions/runs/{run}"))
                }
                _ => None,
            };
            let id = run.map(|run| {
                let attempt = var("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into());
                let job = var("GITHUB_JOB").unwrap_or_default();
                format!("gh-{run}-{attempt}-{job}")
            });
            return Self {
                version: var("GITHUB_SHA").map(short),
                triggered_by: var("GITHUB_ACTOR"),
                url,
                id,
            };
        }
        if var("GITLAB_CI").as_deref() == Some("true") {
            return Self {
                version: var("CI_COMMIT_SHORT_SHA").or_else(|| var("CI_COMMIT_SHA").map(short)),
                triggered_by: var("GITLAB_USER_LOGIN"),
                url: var("CI_JOB_URL"),
                id: var("CI_JOB_ID").map(|job| format!("gl-{job}")),
            };
        }
        if var("BUILDKITE").as_deref() == Some("true") {
            return Self {
                version: var("BUILDKITE_COMMIT").map(short),
                triggered_by: var("BUILDKITE_BUILD_CREATOR"),
                url: var("BUILDKITE_BUILD_URL"),
                id: var("BUILDKITE_JOB_ID").map(|job| format!("bk-{job}")),
            };
        }
        Self::default()
    }
}

impl CiContext {
    /// The id of this job's deployment of `env` (and `service`): the job's id, the targets
    /// after it (one job may deploy several; a retried job gets the same id, so its
    /// creation is answered with the deployment it made), at most 100 bytes.
    #[must_use]
    pub fn deployment_id(&self, env: &str, service: Option<&str>) -> Option<String> {
        let mut id = format!("{}-{env}", self.id.as_deref()?);
        if let Some(svc) = service {
            id.push('-');
            id.push_str(svc);
        }
        let mut end = id.len().min(100);
        while !id.is_char_boundary(end) {
            end -= 1;
        }
        id.truncate(end);
        Some(id)
    }
}

fn short(sha: String) -> String {
    if sha.len() > 7 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        sha[..7].to_string()
    } else {
        sha
    }
}

/// A new deployment id for a run outside CI: the time and random bits.
#[must_use]
pub fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    format!("sw-{millis:x}-{:08x}", h.finish() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ctx(vars: &[(&str, &str)]) -> CiContext {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        CiContext::from_vars(|k| vars.get(k).cloned())
    }

    #[test]
    fn github_actions() {
        let c = ctx(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SHA", "9f3c2a1b7e0d44f0a3c1d2e3f4a5b6c7d8e9f0a1"),
            ("GITHUB_ACTOR", "octocat"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "acme/api"),
            ("GITHUB_RUN_ID", "1658821493"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_JOB", "deploy"),
        ]);
        assert_eq!(c.version.as_deref(), Some("9f3c2a1"));
        assert_eq!(c.triggered_by.as_deref(), Some("octocat"));
        assert_eq!(
            c.url.as_deref(),
            Some("https://github.com/acme/api/actions/runs/1658821493")
        );
        assert_eq!(c.id.as_deref(), Some("gh-1658821493-2-deploy"));
        assert_eq!(
            c.deployment_id("production", Some("api")).as_deref(),
            Some("gh-1658821493-2-deploy-production-api")
        );
        assert_eq!(
            c.deployment_id(&"e".repeat(200), None).map(|id| id.len()),
            Some(100)
        );
        assert_eq!(CiContext::default().deployment_id("production", None), None);
    }

    #[test]
    fn gitlab_ci_and_nothing() {
        let c = ctx(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_SHORT_SHA", "9f3c2a1b"),
            ("GITLAB_USER_LOGIN", "jdoe"),
            ("CI_JOB_URL", "https://gitlab.com/acme/api/-/jobs/42"),
            ("CI_JOB_ID", "42"),
        ]);
        assert_eq!(c.version.as_deref(), Some("9f3c2a1b"));
        assert_eq!(c.id.as_deref(), Some("gl-42"));
        assert_eq!(ctx(&[]), CiContext::default());
        assert_ne!(new_id(), new_id());
    }
}
