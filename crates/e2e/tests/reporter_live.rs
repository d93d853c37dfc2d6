//! The issue's "Done when", with real processes: the server with a write token and a data
//! directory, the `shipwatch` binary running a real script (staged output, failing in the
//! deploy stage), and headless Chromium watching. The page shows the deployment appear
//! QUEUED, move through BUILDING and DEPLOYING live, its stages and lines streaming, the
//! server stopped and restarted in the middle (the page resumes, the log ends up complete,
//! every line number once), and the end: DEPLOYMENT ERROR in red, the first error
//! summarised; the service's label opens that log.

use serde_json::Value;
use shipwatch_e2e::log_page::wait_for_counts;
use shipwatch_e2e::screenshots::{self, WINDOW};
use shipwatch_e2e::server::{WRITE_TOKEN, WRITE_TOKEN_NAME};
use shipwatch_e2e::{wait_for, Browser, Server};
use std::path::{Path, PathBuf};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(40);
/// Lines the build stage prints (slowly enough for a restart in the middle).
const STEPS: u64 = 80;

/// The deploy script: quiet first (the deployment waits QUEUED), a GitLab build section
/// with one line every 100 ms (8 s: time for a restart in the middle on a loaded machine),
/// then a deploy section that fails.
fn script(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let body = format!(
        r#"#!/bin/sh
sleep 2
printf '\033[0Ksection_start:%s:build\r\033[0KBuilding the image\n' "$(date +%s)"
i=1
while [ $i -le {STEPS} ]; do echo "Compiling crate $i of {STEPS}"; sleep 0.1; i=$((i+1)); done
echo "warning: 2 crates were not cached" >&2
printf '\033[0Ksection_end:%s:build\r\033[0K\n' "$(date +%s)"
printf '\033[0Ksection_start:%s:deploy\r\033[0KRolling out 9f3c2a1\n' "$(date +%s)"
echo "api-1: started 9f3c2a1"
sleep 1.5
echo "error: api-2 readiness probe failed: connection refused" >&2
sleep 0.3
echo "rolling back api-1"
sleep 0.5
exit 1
"#
    );
    let path = dir.join("deploy.sh");
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Records on the page every deployment status api's label (environment page) and the log
/// page's header label show, in order (the app routes without reloading: one document).
const RECORD_LABELS: &str = r#"
window.__labels = {row: [], log: []};
const note = (list, css) => {
  const l = document.querySelector(css);
  const s = l && l.getAttribute('data-status');
  if (s && list[list.length - 1] !== s) list.push(s);
};
const seen = () => {
  note(window.__labels.row, "tr.service-row[data-service='api'] a.label");
  note(window.__labels.log, ".log-page__header a.label");
};
new MutationObserver(seen).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
seen();
return true;
"#;

async fn header_status(browser: &Browser) -> String {
    browser
        .eval("const l = document.querySelector('.log-page__header a.label'); return l ? l.getAttribute('data-status') : '';")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_reported_deployment_streams_live_survives_a_restart_and_ends_in_red() {
    let reporter = shipwatch_e2e::reporter::bin();
    let dir = std::env::temp_dir().join(format!("shipwatch-e2e-reporter-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data");
    let data_arg = data.display().to_string();
    let mut server = Server::start(&["--data-dir", &data_arg, "--no-simulator"]).await;
    let browser = Browser::start().await;

    // The team's environment exists; its service is new (the reporter creates it).
    browser.open(&server.url("/")).await;
    let put = browser
        .eval(&format!(
            "return fetch('{}', {{method: 'PUT', headers: {{'Authorization': 'Bearer {WRITE_TOKEN}', \
             'Content-Type': 'application/json'}}, body: '{{\"name\": \"Production\"}}'}}).then(r => r.status)",
            server.url("/api/v1/environments/production")
        ))
        .await;
    assert_eq!(put.as_u64(), Some(201), "{put}");
    browser.open(&server.url("/env/production")).await;
    browser
        .find("[data-testid=connection][data-state=live]")
        .await;
    browser.eval(RECORD_LABELS).await;

    let script = script(&dir);
    let url = server.url("");
    let args = shipwatch_e2e::reporter::api_args(&url, "9f3c2a1");
    let run = shipwatch_e2e::reporter::deploy(&reporter, &args, &script);

    // The service appears with its deployment QUEUED, then BUILDING once output comes.
    let label = "tr.service-row[data-service='api'] a.label";
    let status_of_label = format!(
        "const l = document.querySelector(\"{label}\"); return l ? l.getAttribute('data-status') : null;"
    );
    wait_for("api's label to say QUEUED", LONG, || async {
        (browser.eval(&status_of_label).await == "QUEUED").then_some(())
    })
    .await;
    wait_for("api's label to say BUILDING", LONG, || async {
        (browser.eval(&status_of_label).await == "BUILDING").then_some(())
    })
    .await;

    // Its label opens the log, which streams while the build runs.
    let link = browser.find(label).await;
    let href = link
        .attr("href")
        .await
        .unwrap()
        .expect("the label links its log");
    link.click().await.unwrap();
    browser
        .find("[role=region][aria-label='Deployment logs']")
        .await;
    let early = wait_for_counts(&browser, "the first lines on the page", LONG, |c| {
        c["last"].as_u64() >= Some(5)
    })
    .await;
    let later = wait_for_counts(&browser, "more lines as they are printed", LONG, |c| {
        c["last"].as_u64() > early["last"].as_u64()
    })
    .await;
    assert!(later["last"].as_u64() > early["last"].as_u64());

    // The server goes away in the middle of the run and comes back on its data directory.
    server.terminate().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.restart().await;
    browser.retry_until_live(LONG).await;

    // The log goes on to the end, live: DEPLOYING, then DEPLOYMENT ERROR.
    wait_for(
        "DEPLOYMENT ERROR on the log page",
        Duration::from_secs(60),
        || async { (header_status(&browser).await == "DEPLOYMENT ERROR").then_some(()) },
    )
    .await;
    let out = shipwatch_e2e::reporter::ends_with(run, 1, LONG).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is away"),
        "the reporter met the restart: {stderr}"
    );

    // Every line, once: 1 header + STEPS + warning + header + 3 deploy lines.
    let total = STEPS + 6;
    let counts = wait_for_counts(&browser, "every line on the page", LONG, |c| {
        c["last"].as_u64() == Some(total)
    })
    .await;
    assert_eq!(counts["first"], 1, "{counts}");
    assert_eq!(counts["total"], total, "{counts}");
    assert_eq!(counts["duplicates"], 0, "{counts}");
    assert_eq!(counts["gaps"], 0, "{counts}");
    let dep = href.rsplit('/').nth(1).expect("…/deployments/{id}/logs");
    let standing = browser
        .eval(&format!(
            "return fetch('/api/v1/deployments/{dep}', {{headers: {{'Authorization': 'Bearer {WRITE_TOKEN}'}}}}).then(r => r.json())"
        ))
        .await;
    assert_eq!(standing["next_line"], total + 1, "{standing}");
    assert_eq!(
        standing["deployment"]["triggered_by"], WRITE_TOKEN_NAME,
        "{standing}"
    );

    // The first error, summarised, in the deploy stage; the stages were both shown.
    let summary = browser
        .find("section.log-first-error")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        summary.contains(&format!("First error, line {} in stage deploy", total - 1))
            && summary.contains("api-2 readiness probe failed"),
        "{summary}"
    );
    let stages = browser
        .eval("return [...document.querySelectorAll('.log-stage')].map(s => s.dataset.stage)")
        .await;
    let stages: Vec<&str> = stages
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        stages.contains(&"build") && stages.contains(&"deploy"),
        "{stages:?}"
    );

    // Back on the environment: the label went QUEUED, BUILDING, DEPLOYING, DEPLOYMENT ERROR,
    // and ends red.
    browser.client.back().await.unwrap();
    wait_for("api's label to say DEPLOYMENT ERROR", LONG, || async {
        (browser.eval(&status_of_label).await == "DEPLOYMENT ERROR").then_some(())
    })
    .await;
    let seen = browser.eval("return window.__labels").await;
    // What a label showed before the deployment was attached ("NEVER DEPLOYED": the service
    // is created first) is left out.
    let list = |k: &str| -> Vec<String> {
        seen[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .filter(|s| *s != "NEVER DEPLOYED")
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    // The same document all along (the restart did not reload it): the row showed the
    // deployment queued, then building, before its log opened; the log page then showed it
    // building (after the history's QUEUED), deploying and failing, live.
    assert_eq!(
        list("row"),
        ["QUEUED", "BUILDING", "DEPLOYMENT ERROR"],
        "{seen}"
    );
    assert!(
        list("log").ends_with(&[
            "BUILDING".to_string(),
            "DEPLOYING".to_string(),
            "DEPLOYMENT ERROR".to_string()
        ]),
        "{seen}"
    );
    let colour = browser
        .eval(&format!(
            "const l = document.querySelector(\"{label}\"); const c = getComputedStyle(l).color.match(/\\d+/g).map(Number); \
             return {{classes: l.className, r: c[0], g: c[1], b: c[2]}};"
        ))
        .await;
    assert!(
        colour["classes"]
            .as_str()
            .unwrap()
            .contains("colour--danger"),
        "{colour}"
    );
    assert!(
        colour["r"].as_u64() > colour["g"].as_u64() && colour["r"].as_u64() > colour["b"].as_u64(),
        "red: {colour}"
    );
    // The service's label opens that log.
    browser.find(label).await.click().await.unwrap();
    wait_for("the log page of that deployment", LONG, || async {
        let path = browser.eval("return location.pathname").await;
        (path.as_str() == Some(href.as_str())).then_some(())
    })
    .await;
    browser.find("section.log-first-error").await;
    // With SHIPWATCH_SCREENSHOTS=DIR: the reported deployment's log for docs/.
    screenshots::take(
        &browser,
        "screenshot-reported-deployment",
        &[WINDOW],
        Duration::from_millis(500),
    )
    .await;

    browser.close().await;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
