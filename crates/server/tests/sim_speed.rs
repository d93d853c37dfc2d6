//! The simulator at `--speed` above 1 runs its stories faster, and its timestamps are real
//! times: a deployment started through the action API a few seconds after the start is
//! stamped now by the wall clock (not in the future), and its stages and its end fall
//! between the request and the moment it is seen ended, as a page measures durations.

mod common;

use serde_json::Value;
use shipwatch_server::app::wall_millis;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sped_up_deployment_is_stamped_by_the_wall_clock() {
    let h = common::start(&["--speed", "10", "--rate", "0", "--log-lines", "10"]).await;
    // Simulated time has run 10 times faster for a few seconds: before its times were
    // converted, they were about 30 s ahead of the wall clock by now.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let asked = wall_millis();
    let path = "/api/environments/production/services/api/deploy";
    let (status, _, body) = common::http_write(&h, "POST", path).await;
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    let answer: Value = serde_json::from_slice(&body).unwrap();
    let id = answer["deployment"]["id"].as_str().unwrap().to_string();
    let started = answer["deployment"]["started_at"].as_u64().unwrap();
    let slack = 1_000;
    assert!(
        started + slack >= asked && started <= wall_millis() + slack,
        "started at {started}, asked at {asked}: {} ms apart",
        started as i64 - asked as i64
    );
    // Until it ends: its stages and its end are real times too.
    let entry = loop {
        let (_, _, body) = common::http(
            &h,
            "GET",
            "/api/v1/environments/production/deployments?service=api&limit=5",
            &[],
        )
        .await;
        let page: Value = serde_json::from_slice(&body).unwrap();
        let entry = page["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["deployment"]["id"] == id.as_str())
            .cloned()
            .expect("listed");
        if entry["deployment"]["finished_at"].is_u64() {
            break entry;
        }
        assert!(
            wall_millis() < asked + 60_000,
            "ended within a minute: {entry}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let seen_ended = wall_millis();
    let finished = entry["deployment"]["finished_at"].as_u64().unwrap();
    assert!(
        finished >= started && finished <= seen_ended + slack,
        "finished at {finished}, seen ended at {seen_ended} ({} ms apart)",
        finished as i64 - seen_ended as i64
    );
    for stage in entry["stages"].as_array().unwrap() {
        let at = stage["started_at"].as_u64().unwrap();
        assert!(at >= started && at <= finished, "{entry}");
    }
    h.shutdown();
    h.stopped().await;
}
