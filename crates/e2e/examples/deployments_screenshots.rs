//! Screenshots of the environment page's Deployments tab, a service's deployment list and a
//! log page with its previous/next links, desktop (1280 x 800) and phone (390 x 844), light
//! and dark, into `docs/`. Run after `cargo xtask build`, with the e2e variables set:
//! `cargo run -p shipwatch-e2e --example deployments_screenshots`.

use shipwatch_e2e::{Browser, Server};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(40);

async fn deploy(browser: &Browser, svc: &str, outcome: &str) -> String {
    let v = browser
        .eval(&format!(
            "return (async () => {{ for (let i = 0; i < 400; i++) {{ \
               const r = await fetch('/api/environments/production/services/{svc}/deploy?outcome={outcome}', \
                 {{method: 'POST', headers: {{Authorization: 'Bearer {token}'}}}}); \
               if (r.status === 202) return (await r.json()).deployment.id; \
               await new Promise((ok) => setTimeout(ok, 50)); }} return null; }})()",
            token = shipwatch_e2e::server::WRITE_TOKEN
        ))
        .await;
    v.as_str().expect("a deployment").to_string()
}

async fn look(browser: &Browser, dark: bool, phone: bool) {
    browser
        .cdp(
            "Emulation.setEmulatedMedia",
            serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": if dark { "dark" } else { "light" }}]}),
        )
        .await
        .expect("colour scheme");
    let (w, h, mobile) = if phone {
        (390, 844, true)
    } else {
        (1280, 800, false)
    };
    browser
        .cdp(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({"width": w, "height": h, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await
        .expect("viewport");
}

#[tokio::main]
async fn main() {
    let data = std::env::temp_dir().join(format!("shipwatch-shots-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let data_arg = data.display().to_string();
    let server = Server::start(&[
        "--data-dir",
        &data_arg,
        "--rate",
        "0",
        "--speed",
        "20",
        "--log-lines",
        "60",
    ])
    .await;
    let browser = Browser::start().await;
    browser.open(&server.url("/env/production")).await;
    browser.find(".env-tabs").await;
    // Some history: good and failed deployments of a few services, one still running.
    for (svc, outcome) in [
        ("api", "ok"),
        ("web", "build-error"),
        ("worker", "ok"),
        ("api", "build-error"),
        ("api", "ok"),
        ("gateway", "ok"),
    ] {
        eprintln!("deploying {svc} ({outcome})");
        let id = deploy(&browser, svc, outcome).await;
        eprintln!("  {id}");
        browser
            .wait_js(
                "the deployment to end",
                LONG,
                &format!(
                    "return fetch('/api/v1/environments/production/deployments?limit=50').then(r => r.json())\
                     .then(p => p.deployments.some(d => d.deployment.id === '{id}' && d.deployment.finished_at))"
                ),
            )
            .await;
    }
    deploy(&browser, "worker", "ok").await;
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let views = [
        ("deployments", "/env/production/deployments"),
        (
            "service-deployments",
            "/env/production/service/api/deployments",
        ),
    ];
    for (name, path) in views {
        for (dark, phone) in [(false, false), (true, false), (false, true), (true, true)] {
            look(&browser, dark, phone).await;
            browser.open(&server.url(path)).await;
            let mut ready = false;
            for _ in 0..100 {
                let v = browser
                    .eval(
                        "return !!document.querySelector('.deployments__table[aria-busy=false]') \
                         && document.querySelectorAll('tr.deployment-row').length > 0",
                    )
                    .await;
                if v == true {
                    ready = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            if !ready {
                let what = browser
                    .eval("return document.querySelector('main')?.innerText")
                    .await;
                panic!("{name} (dark {dark}, phone {phone}) shows no history: {what}");
            }
            tokio::time::sleep(Duration::from_millis(1200)).await;
            let suffix = format!(
                "{}{}",
                if phone { "-phone" } else { "" },
                if dark { "-dark" } else { "" }
            );
            browser
                .screenshot(&docs.join(format!("screenshot-{name}{suffix}.png")))
                .await;
        }
    }
    // A log page with its previous and next deployment.
    let page = browser
        .eval("return fetch('/api/v1/environments/production/deployments?service=api&limit=3').then(r => r.json())")
        .await;
    let middle = page["deployments"][1]["deployment"]["id"]
        .as_str()
        .expect("three api deployments")
        .to_string();
    for (dark, phone) in [(false, false), (true, true)] {
        look(&browser, dark, phone).await;
        browser
            .open(&server.url(&format!(
                "/env/production/service/api/deployments/{middle}/logs"
            )))
            .await;
        browser
            .wait_js(
                "the neighbours",
                LONG,
                "return document.querySelector('.log-page__neighbours a[rel=next]') && document.querySelectorAll('.log-row').length > 5",
            )
            .await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        let suffix = format!(
            "{}{}",
            if phone { "-phone" } else { "" },
            if dark { "-dark" } else { "" }
        );
        browser
            .screenshot(&docs.join(format!("screenshot-log-neighbours{suffix}.png")))
            .await;
    }
    browser.close().await;
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
}
