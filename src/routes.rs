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
