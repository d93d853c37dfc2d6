//! The URLs of every view, in one place, so links and routes agree: the builders below write
//! them, [`Route::parse`] reads them back (the app's router, `src/router/`, shows the page of
//! the route). Ids are path segments, percent-encoded when written and decoded when read.

pub use crate::components::env_tabs::EnvTab;

/// A page of the console, as its path names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/`: opens the first environment.
    Home,
    /// `/env/:env`, `/env/:env/service/:service` (that service's row expanded),
    /// `/env/:env/deployments`, `/env/:env/service/:service/deployments`.
    Environment {
        env: String,
        tab: EnvTab,
        /// The expanded service (services tab) or the one whose deployments are listed.
        service: Option<String>,
    },
    /// `/env/:env/deployments/:dep/logs`, `/env/:env/service/:service/deployments/:dep/logs`.
    Logs {
        env: String,
        service: Option<String>,
        deployment: String,
    },
}

impl Route {
    /// The route of a path as the browser's `location.pathname` gives it (no query, no
    /// fragment; percent-encoded), or `None` for a path that is no page of the console. One
    /// trailing slash is allowed; an empty id or one that is not UTF-8 once decoded is not.
    pub fn parse(path: &str) -> Option<Route> {
        let path = path.strip_prefix('/')?;
        if path.is_empty() {
            return Some(Route::Home);
        }
        let path = path.strip_suffix('/').unwrap_or(path);
        let mut parts = Vec::new();
        for segment in path.split('/') {
            parts.push(decode_segment(segment)?);
        }
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let env_page = |env: &str, tab, service: Option<&str>| Route::Environment {
            env: env.to_owned(),
            tab,
            service: service.map(str::to_owned),
        };
        let logs = |env: &str, service: Option<&str>, dep: &str| Route::Logs {
            env: env.to_owned(),
            service: service.map(str::to_owned),
            deployment: dep.to_owned(),
        };
        Some(match parts.as_slice() {
            ["env", env] => env_page(env, EnvTab::Services, None),
            ["env", env, "service", s] => env_page(env, EnvTab::Services, Some(s)),
            ["env", env, "deployments"] => env_page(env, EnvTab::Deployments, None),
            ["env", env, "service", s, "deployments"] => {
                env_page(env, EnvTab::Deployments, Some(s))
            }
            ["env", env, "deployments", dep, "logs"] => logs(env, None, dep),
            ["env", env, "service", s, "deployments", dep, "logs"] => logs(env, Some(s), dep),
            _ => return None,
        })
    }

    /// The route's path, as the builders below write it.
    pub fn path(&self) -> String {
        match self {
            Route::Home => "/".to_owned(),
            Route::Environment {
                env: e,
                tab,
                service,
            } => match (tab, service) {
                (EnvTab::Services, None) => env(e),
                (EnvTab::Services, Some(s)) => self::service(e, s),
                (EnvTab::Deployments, None) => env_deployments(e),
                (EnvTab::Deployments, Some(s)) => service_deployments(e, s),
            },
            Route::Logs {
                env,
                service,
                deployment,
            } => deployment_logs(env, service.as_deref(), deployment),
        }
    }

    /// The environment the route is in, if any.
    pub fn env(&self) -> Option<&str> {
        match self {
            Route::Home => None,
            Route::Environment { env, .. } | Route::Logs { env, .. } => Some(env),
        }
    }
}

/// A path segment's text, percent-encoded: everything but ASCII letters, digits and `-._~`.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// A path segment decoded (`%41` is `A`, `+` stays a plus), or `None` when it is empty, holds
/// a `%` not followed by two hex digits, or is not UTF-8 once decoded.
pub fn decode_segment(s: &str) -> Option<String> {
    if s.is_empty() {
        return None;
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = (*bytes.get(i + 1)? as char).to_digit(16)?;
            let lo = (*bytes.get(i + 2)? as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// An environment.
pub fn env(env: &str) -> String {
    format!("/env/{}", encode_segment(env))
}

/// A service of an environment (its row expanded).
pub fn service(env: &str, service: &str) -> String {
    format!(
        "/env/{}/service/{}",
        encode_segment(env),
        encode_segment(service)
    )
}

/// A service deployment's logs.
pub fn service_logs(env: &str, service: &str, deployment: &str) -> String {
    format!(
        "{}/deployments/{}/logs",
        self::service(env, service),
        encode_segment(deployment)
    )
}

/// An environment deployment's logs.
pub fn env_logs(env: &str, deployment: &str) -> String {
    format!(
        "{}/deployments/{}/logs",
        self::env(env),
        encode_segment(deployment)
    )
}

/// A deployment's whole log as a plain-text download (served by the API, not a view).
pub fn log_text(deployment: &str) -> String {
    format!("/api/deployments/{}/log.txt", encode_segment(deployment))
}

/// An environment's deployment history (its Deployments tab).
pub fn env_deployments(env: &str) -> String {
    format!("{}/deployments", self::env(env))
}

/// One service's deployment history.
pub fn service_deployments(env: &str, service: &str) -> String {
    format!("{}/deployments", self::service(env, service))
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
    format!(
        "/api/v1/environments/{}/deployments?{query}",
        encode_segment(env)
    )
}

/// A deployment with the previous and next ones of its service (an API read).
pub fn neighbours_api(env: &str, deployment: &str) -> String {
    format!(
        "/api/v1/environments/{}/deployments/{}/neighbours",
        encode_segment(env),
        encode_segment(deployment)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn env_page(env: &str, tab: EnvTab, service: Option<&str>) -> Route {
        Route::Environment {
            env: env.into(),
            tab,
            service: service.map(Into::into),
        }
    }

    fn logs(env: &str, service: Option<&str>, dep: &str) -> Route {
        Route::Logs {
            env: env.into(),
            service: service.map(Into::into),
            deployment: dep.into(),
        }
    }

    #[test]
    fn every_route_is_read_back_from_the_path_its_builder_writes() {
        let cases = [
            ("/", Route::Home),
            (
                "/env/production",
                env_page("production", EnvTab::Services, None),
            ),
            (
                "/env/production/service/api",
                env_page("production", EnvTab::Services, Some("api")),
            ),
            (
                "/env/production/deployments",
                env_page("production", EnvTab::Deployments, None),
            ),
            (
                "/env/production/service/api/deployments",
                env_page("production", EnvTab::Deployments, Some("api")),
            ),
            (
                "/env/production/deployments/dep-1/logs",
                logs("production", None, "dep-1"),
            ),
            (
                "/env/production/service/api/deployments/dep-1/logs",
                logs("production", Some("api"), "dep-1"),
            ),
        ];
        for (path, route) in cases {
            assert_eq!(Route::parse(path), Some(route.clone()), "{path}");
            assert_eq!(route.path(), path);
        }
        assert_eq!(env("production"), "/env/production");
        assert_eq!(service("production", "api"), "/env/production/service/api");
        assert_eq!(
            deployment_logs("production", None, "d"),
            "/env/production/deployments/d/logs"
        );
    }

    #[test]
    fn ids_are_percent_encoded_in_paths_and_decoded_from_them() {
        let odd = "a b/c%d?e#f+é";
        let path = service_logs(odd, odd, odd);
        assert_eq!(
            path,
            "/env/a%20b%2Fc%25d%3Fe%23f%2B%C3%A9/service/a%20b%2Fc%25d%3Fe%23f%2B%C3%A9\
             /deployments/a%20b%2Fc%25d%3Fe%23f%2B%C3%A9/logs"
        );
        assert_eq!(Route::parse(&path), Some(logs(odd, Some(odd), odd)));
        // What a browser leaves unencoded in `location.pathname` reads the same.
        assert_eq!(
            Route::parse("/env/a:b@c+d/service/x,y"),
            Some(env_page("a:b@c+d", EnvTab::Services, Some("x,y")))
        );
        assert_eq!(
            Route::parse("/env/%c3%a9t%C3%A9"),
            Some(env_page("été", EnvTab::Services, None))
        );
        assert_eq!(encode_segment("svc-01_a.b~c"), "svc-01_a.b~c");
        assert_eq!(log_text("a/b"), "/api/deployments/a%2Fb/log.txt");
        assert_eq!(
            deployments_api("p q", "limit=50"),
            "/api/v1/environments/p%20q/deployments?limit=50"
        );
    }

    #[test]
    fn unknown_paths_are_no_route() {
        for path in [
            "",
            "env",
            "/env",
            "/env/",
            "/env//service/api",
            "/env/p/service",
            "/env/p/service/",
            "/env/p/services/api",
            "/env/p/deployments/d",
            "/env/p/deployments/d/log",
            "/env/p/service/api/deployments/d",
            "/env/p/service/api/deployments/d/logs/more",
            "/envs/p",
            "/api/deployments/d/log.txt",
            "/index.html",
            "//env/p",
            "/env/p//",
            "/env/%zz",
            "/env/%4",
            "/env/%ff",
        ] {
            assert_eq!(Route::parse(path), None, "{path}");
        }
    }

    #[test]
    fn one_trailing_slash_is_the_same_page() {
        assert_eq!(
            Route::parse("/env/p/"),
            Some(env_page("p", EnvTab::Services, None))
        );
        assert_eq!(
            Route::parse("/env/p/deployments/d/logs/"),
            Some(logs("p", None, "d"))
        );
    }

    #[test]
    fn the_environment_of_a_route() {
        assert_eq!(Route::Home.env(), None);
        assert_eq!(Route::parse("/env/p/service/s").unwrap().env(), Some("p"));
        assert_eq!(
            Route::parse("/env/p/deployments/d/logs").unwrap().env(),
            Some("p")
        );
    }
}
