//! The simulator's actions, sent from the page as a user's button would, through its origin
//! and with the write token.

use crate::Browser;

/// Starts a deployment of `env`/`service` from the page, asking again every 50 ms (for up to
/// 30 s) while the service is busy (409); its id.
pub async fn start_deployment(browser: &Browser, env: &str, service: &str) -> String {
    let script = format!(
        r#"
const deploy = async () => {{
  for (let i = 0; i < 600; i++) {{
    const r = await fetch('/api/environments/{env}/services/{service}/deploy',
      {{method: 'POST', headers: {{Authorization: 'Bearer {token}'}}}});
    if (r.status === 202) return (await r.json()).deployment.id;
    await new Promise((ok) => setTimeout(ok, 50));
  }}
  return null;
}};
return deploy();
"#,
        token = crate::server::WRITE_TOKEN
    );
    let id = browser.eval(&script).await;
    id.as_str()
        .unwrap_or_else(|| panic!("{env}/{service} took no deployment in 30 s: {id}"))
        .to_string()
}
