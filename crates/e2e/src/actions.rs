//! The simulator's actions, sent from the page as a user's button would, through its origin
//! and with the write token.

use crate::Browser;

/// A deployment the page started: its id, and `performance.now()` when the 202 came.
pub struct Started {
    pub id: String,
    pub acked_at: f64,
}

/// Starts a deployment of `env`/`service` from the page, asking again every 50 ms (for up to
/// 30 s) while the service is busy (409); `query` is added to the action's URL (for example
/// `?outcome=build-error`, or empty).
pub async fn start_deployment_with(
    browser: &Browser,
    env: &str,
    service: &str,
    query: &str,
) -> Started {
    let script = format!(
        r#"
const deploy = async () => {{
  for (let i = 0; i < 600; i++) {{
    const r = await fetch('/api/environments/{env}/services/{service}/deploy{query}',
      {{method: 'POST', headers: {{Authorization: 'Bearer {token}'}}}});
    if (r.status === 202) return [(await r.json()).deployment.id, performance.now()];
    await new Promise((ok) => setTimeout(ok, 50));
  }}
  return null;
}};
return deploy();
"#,
        token = crate::server::WRITE_TOKEN
    );
    let v = browser.eval(&script).await;
    match (v[0].as_str(), v[1].as_f64()) {
        (Some(id), Some(acked_at)) => Started {
            id: id.to_string(),
            acked_at,
        },
        _ => panic!("{env}/{service} took no deployment in 30 s: {v}"),
    }
}

/// [`start_deployment_with`] without a query; the new deployment's id.
pub async fn start_deployment(browser: &Browser, env: &str, service: &str) -> String {
    start_deployment_with(browser, env, service, "").await.id
}
