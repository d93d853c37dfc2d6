//! The action API records who acted: a deployment started with
//! `POST /api/environments/{env}/services/{svc}/deploy` is triggered by the name of the write
//! token that asked, as a page sees it over the websocket and as the Deployments tab reads it
//! from the history API; what the simulator starts by itself says "simulator".

mod common;

use common::{http, request_at, start, Client};
use serde_json::Value;
use shipwatch_model::protocol::{Change, ServerMessage, Snapshot, Topic};
use std::time::Duration;

const CI_TOKEN: &str = "ci-write-token-0b7e4d21a9";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_started_through_the_action_api_is_triggered_by_the_token_name() {
    let dir = tempfile::tempdir().unwrap();
    let ci = format!("ci={CI_TOKEN}");
    // No random events: the service is free when the deployment is asked for.
    let h = start(&[
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--rate",
        "0",
        "--write-token",
        &ci,
    ])
    .await;
    let mut page = Client::connect(&h).await;
    page.subscribe(
        "env",
        Topic::Environment {
            env: "production".into(),
        },
        None,
    )
    .await;

    let auth = format!("Bearer {CI_TOKEN}");
    let (status, _, body) = request_at(
        h.addr(),
        "POST",
        "/api/environments/production/services/api/deploy",
        &[("Authorization", &auth)],
        b"",
    )
    .await;
    let body: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["deployment"]["triggered_by"], "ci", "{body}");
    let id = body["deployment"]["id"]
        .as_str()
        .expect("an id")
        .to_string();

    // The page sees who started it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let seen = loop {
        let frame = tokio::time::timeout_at(deadline, page.frame())
            .await
            .unwrap_or_else(|_| panic!("the page never saw deployment {id}"));
        let services = match frame.msg {
            ServerMessage::Snapshot {
                data: Snapshot::Environment { environment },
                ..
            } => environment.services,
            ServerMessage::Delta { changes, .. } => changes
                .into_iter()
                .filter_map(|c| match c {
                    Change::ServiceUpsert(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let dep = services
            .into_iter()
            .filter(|s| s.id == "api")
            .find_map(|s| s.deployment.filter(|d| d.id == id));
        if let Some(dep) = dep {
            break dep;
        }
    };
    assert_eq!(seen.triggered_by.as_deref(), Some("ci"));

    // And the Deployments tab's list, read from the store, says it too.
    let (status, _, body) = http(
        &h,
        "GET",
        "/api/v1/environments/production/deployments?service=api",
        &[],
    )
    .await;
    let page: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(status, 200, "{page}");
    let listed = page["deployments"]
        .as_array()
        .expect("deployments")
        .iter()
        .find(|d| d["deployment"]["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} is listed: {page}"));
    assert_eq!(listed["deployment"]["triggered_by"], "ci", "{listed}");
    // The deployment the simulated world started with says the simulator started it.
    let world = page["deployments"]
        .as_array()
        .expect("deployments")
        .iter()
        .find(|d| d["deployment"]["id"] != id.as_str())
        .unwrap_or_else(|| panic!("the world's deployment of api is listed: {page}"));
    assert_eq!(world["deployment"]["triggered_by"], "simulator", "{world}");
    h.shutdown();
}
