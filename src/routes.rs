//! The URLs of every view, in one place, so links and routes agree.

/// An environment.
pub fn env(env: &str) -> String {
    format!("/env/{env}")
}

/// A service of an environment (its row expanded).
pub fn service(env: &str, service: &str) -> String {
    format!("/env/{env}/service/{service}")
}

/// A service deployment's logs.
pub fn service_logs(env: &str, service: &str, deployment: &str) -> String {
    format!("/env/{env}/service/{service}/deployments/{deployment}/logs")
}

/// An environment deployment's logs.
pub fn env_logs(env: &str, deployment: &str) -> String {
    format!("/env/{env}/deployments/{deployment}/logs")
}

/// A deployment's whole log as a plain-text download (served by the API, not a view).
pub fn log_text(deployment: &str) -> String {
    format!("/api/deployments/{deployment}/log.txt")
}

/// An environment's deployment history (its Deployments tab).
pub fn env_deployments(env: &str) -> String {
    format!("/env/{env}/deployments")
}

/// One service's deployment history.
pub fn service_deployments(env: &str, service: &str) -> String {
    format!("/env/{env}/service/{service}/deployments")
}

/// The logs of a deployment, of a service or of the whole environment.
pub fn deployment_logs(env: &str, service: Option<&str>, deployment: &str) -> String {
    match service {
        Some(s) => service_logs(env, s, deployment),
        None => env_logs(env, deployment),
    }
}

/// A page of an environment's deployment history (an API read, not a view); `query` as
/// `shipwatch::state::deployment_history::Filters::api_query` writes it.
pub fn deployments_api(env: &str, query: &str) -> String {
    format!("/api/v1/environments/{env}/deployments?{query}")
}

/// A deployment with the previous and next ones of its service (an API read).
pub fn neighbours_api(env: &str, deployment: &str) -> String {
    format!("/api/v1/environments/{env}/deployments/{deployment}/neighbours")
}
