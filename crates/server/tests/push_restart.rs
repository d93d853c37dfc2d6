//! A server restarted on its data directory goes on with what was pushed: statuses, stages,
//! the next line number a reporter resumes from, the gaps, and pushed environments stay the
//! push API's whether the simulator runs or not.

mod common;
mod push_support;

use common::{environment_at, start};
use push_support::{environments, log, Api};
use serde_json::json;
use shipwatch_model::DeploymentStatus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_goes_on_from_what_was_pushed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();

    // First run: the push API alone.
    let h = start(&["--no-simulator", "--data-dir", data]).await;
    let api = Api::new(&h);
    api.environment("ci-production").await;
    api.service("ci-production", "api").await;
    let ended = api.deploy("ci-production", "api", "v1.9").await;
    assert_eq!(api.status(&ended, "DEPLOYMENT_ERROR").await.status, 200);
    let id = api.deploy("ci-production", "api", "v2").await;
    assert_eq!(api.status(&id, "BUILDING").await.status, 200);
    let a = api
        .json(
            "POST",
            &format!("/api/v1/deployments/{id}/stage"),
            json!({"stage": "compile"}),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(api.lines(&id, 1..=5).await.status, 200);
    assert_eq!(api.lines(&id, [8]).await.body["gaps"], json!([[6, 7]]));
    h.shutdown();
    h.stopped().await;

    // Second run, with the simulator: it builds its world beside the pushed environment and
    // does not take it over.
    let h = start(&["--data-dir", data, "--services", "2"]).await;
    let api = Api::new(&h);
    let a = api.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.body["next_line"], 9,
        "the reporter resumes after the last stored line"
    );
    assert_eq!(a.body["deployment"]["status"], "BUILDING");
    assert_eq!(a.body["stage"], "compile");
    let a = api.get(&format!("/api/v1/deployments/{ended}")).await;
    assert_eq!(a.body["deployment"]["status"], "DEPLOYMENT_ERROR");
    // Resends of stored lines are skipped, a line in the recorded gap is refused, new ones go on.
    let a = api.lines(&id, 4..=5).await;
    assert_eq!((a.status, &a.body["skipped"]), (200, &json!(2)), "{a:?}");
    let a = api
        .json(
            "POST",
            &format!("/api/v1/deployments/{id}/logs"),
            json!([{"n": 5, "text": "not line 5"}]),
        )
        .await;
    assert_eq!((a.status, a.field()), (409, Some("lines[0].n")), "{a:?}");
    let a = api.lines(&id, [6]).await;
    assert_eq!((a.status, a.field()), (409, Some("lines[0].n")), "{a:?}");
    assert!(a.error().contains("gap"), "{}", a.error());
    let a = api.lines(&id, 9..=10).await;
    assert_eq!((a.status, &a.body["next_line"]), (200, &json!(11)), "{a:?}");
    // Transitions are checked against the stored status.
    let a = api.status(&ended, "DEPLOYING").await;
    assert_eq!(a.status, 409);
    assert_eq!(
        a.error(),
        "DEPLOYMENT_ERROR -> DEPLOYING is not a transition a deployment can make"
    );
    assert_eq!(api.status(&id, "DEPLOYMENT_OK").await.status, 200);

    // The pushed environment is still the push API's; the simulator's are beside it.
    assert_eq!(api.environment("ci-production").await.status, 200);
    let ids: Vec<String> = environments(h.addr())
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert!(ids.contains(&"ci-production".into()), "{ids:?}");
    assert!(ids.len() > 1, "the simulator's world beside it: {ids:?}");
    let env = environment_at(h.addr(), "ci-production").await.unwrap();
    assert_eq!(
        env.services.len(),
        1,
        "the simulator added nothing to it: {env:?}"
    );
    let sim_env = ids.iter().find(|e| *e != "ci-production").unwrap().clone();
    let a = api
        .json("PUT", &format!("/api/v1/environments/{sim_env}"), json!({}))
        .await;
    assert_eq!(a.status, 409, "{a:?}");
    h.shutdown();
    h.stopped().await;

    // Third run, the simulator again: both worlds kept, the log whole.
    let h = start(&["--data-dir", data, "--services", "2"]).await;
    let (dep, lines) = log(h.addr(), &id).await.expect("the log is kept");
    assert_eq!(dep.status, DeploymentStatus::DeploymentOk);
    let ns: Vec<u64> = lines.iter().map(|l| l.n).collect();
    assert_eq!(ns, [1, 2, 3, 4, 5, 8, 9, 10]);
    let env = environment_at(h.addr(), "ci-production").await.unwrap();
    assert_eq!(env.services[0].version, "v2");
    assert_eq!(environments(h.addr()).await.len(), ids.len());
    h.shutdown();
    h.stopped().await;
}
