//! Instance details and time in state on the real socket and HTTP: a crash-looping
//! instance's exit code and reason reach a client, `hello` announces the stuck thresholds,
//! and the timeline endpoint answers from the store, or from memory without one.

mod common;

use common::{http, start, Client};
use shipwatch_model::protocol::{Change, ServerMessage, Snapshot, Topic};
use shipwatch_model::timeline::Timeline;
use shipwatch_model::{EnvironmentSummary, RunningStatus, Service};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Follows production's services until `done` holds for one of them (30 s at most).
async fn until(client: &mut Client, mut done: impl FnMut(&Service) -> bool) -> Service {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut services: HashMap<String, Service> = HashMap::new();
    loop {
        // Pings are answered inside `frame`, so a quiet topic never returns from it: the
        // deadline bounds the wait itself.
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = tokio::time::timeout(left, client.frame())
            .await
            .expect("not seen within 30 s");
        let changed: Vec<Service> = match frame.msg {
            ServerMessage::Snapshot {
                data: Snapshot::Environment { environment },
                ..
            } => {
                services.clear();
                environment.services
            }
            ServerMessage::Delta { changes, .. } => changes
                .into_iter()
                .filter_map(|c| match c {
                    Change::ServiceUpsert(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for s in changed {
            if done(&s) {
                return s;
            }
            services.insert(s.id.clone(), s);
        }
    }
}

#[tokio::test]
async fn a_crash_looping_instance_s_exit_code_and_reason_arrive() {
    let h = start(&["--scenario", "crash-loop", "--speed", "4"]).await;
    let mut c = Client::connect(&h).await;
    c.subscribe(
        "env",
        Topic::Environment {
            env: "production".into(),
        },
        None,
    )
    .await;
    let api = until(&mut c, |s| {
        s.id == "api"
            && s.instances.iter().any(|i| {
                i.reason.as_deref() == Some("CrashLoopBackOff")
                    && i.last_termination.as_ref().and_then(|t| t.exit_code) == Some(1)
            })
    })
    .await;
    let crashed = api
        .instances
        .iter()
        .find(|i| i.reason.as_deref() == Some("CrashLoopBackOff"))
        .unwrap();
    let t = crashed.last_termination.as_ref().unwrap();
    assert_eq!(t.reason.as_deref(), Some("Error"));
    assert!(t.at.is_some(), "when it ended");
    assert!(
        crashed.events.iter().any(|e| e.reason == "BackOff"),
        "{:?}",
        crashed.events
    );
    assert!(api.running_since.is_some() && api.deployment_since.is_some());
    // Restarted after its back-off: the time of the restart arrives too.
    let restarted = until(&mut c, |s| {
        s.id == "api" && s.instances.iter().any(|i| i.last_restart_at.is_some())
    })
    .await;
    assert!(restarted
        .instances
        .iter()
        .any(|i| i.last_restart_at >= t.at && i.last_restart_at.is_some()));
    h.shutdown();
    h.stopped().await;
}

#[tokio::test]
async fn hello_announces_the_stuck_thresholds_and_the_server_s_clock() {
    let h = start(&["--scenario", "calm", "--stuck-after", "DEPLOYING=3s"]).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", h.addr()))
        .await
        .expect("connects");
    use futures_util::StreamExt;
    let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) = ws.next().await else {
        panic!("a hello");
    };
    let frame = shipwatch_model::protocol::decode_server(text.as_str(), 1 << 20).unwrap();
    let ServerMessage::Hello {
        stuck_after, now, ..
    } = frame.msg
    else {
        panic!("hello first");
    };
    let stuck = stuck_after.expect("thresholds announced");
    assert_eq!(stuck.deploying_ms, 3_000);
    assert_eq!(
        stuck.building_ms,
        30 * 60_000,
        "the others keep their defaults"
    );
    let wall = shipwatch_server::app::wall_millis();
    assert!(
        now.is_some_and(|n| n.abs_diff(wall) < 5_000),
        "{now:?} vs {wall}"
    );
    h.shutdown();
    h.stopped().await;
}

#[tokio::test]
async fn the_timeline_holds_the_statuses_a_service_went_through() {
    let dir = tempfile::tempdir().unwrap();
    timeline_holds_the_statuses(Some(dir.path().to_str().unwrap())).await;
}

/// Without a store (`--ephemeral`) the timeline is kept in memory since the server started.
#[tokio::test]
async fn without_a_store_the_timeline_is_kept_in_memory() {
    timeline_holds_the_statuses(None).await;
}

async fn timeline_holds_the_statuses(data: Option<&str>) {
    let mut args = vec!["--scenario", "crash-loop", "--speed", "4"];
    args.extend(data.map(|d| ["--data-dir", d]).into_iter().flatten());
    let h = start(&args).await;
    let path = "/api/v1/environments/production/services/api/timeline";
    let deadline = Instant::now() + Duration::from_secs(30);
    let timeline = loop {
        let (status, _, body) = http(&h, "GET", path, &[]).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let t: Timeline = serde_json::from_slice(&body).expect("a timeline");
        if t.segments
            .iter()
            .any(|s| s.running == RunningStatus::Warning)
        {
            break t;
        }
        assert!(Instant::now() < deadline, "no WARNING segment: {t:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(timeline.to - timeline.from == 60 * 60_000, "the last hour");
    let first = &timeline.segments[0];
    assert_eq!(first.running, RunningStatus::Running, "{timeline:?}");
    for pair in timeline.segments.windows(2) {
        assert_eq!(pair[0].to, Some(pair[1].from), "segments follow each other");
        assert!(
            (pair[0].running, pair[0].deployment) != (pair[1].running, pair[1].deployment),
            "a segment starts at a change"
        );
    }
    assert_eq!(
        timeline.segments.last().unwrap().to,
        None,
        "the last goes on"
    );

    // The environment has one too; bad input says which field, unknown subjects are 404.
    let (status, _, _) = http(&h, "GET", "/api/v1/environments/production/timeline", &[]).await;
    assert_eq!(status, 200);
    let (status, _, body) = http(&h, "GET", &format!("{path}?minutes=0"), &[]).await;
    assert_eq!(status, 400);
    let err: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["field"], "minutes");
    let (status, _, _) = http(
        &h,
        "GET",
        "/api/v1/environments/production/services/nope/timeline",
        &[],
    )
    .await;
    assert_eq!(status, 404);
    h.shutdown();
    h.stopped().await;
}

/// Since when each status holds survives a restart: the store's status changes give it back.
#[tokio::test]
async fn since_when_a_status_holds_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let h = start(&["--scenario", "rolling", "--speed", "4", "--data-dir", &data]).await;
    let mut c = Client::connect(&h).await;
    let prod = Topic::Environment {
        env: "production".into(),
    };
    c.subscribe("env", prod.clone(), None).await;
    // The world as born (the snapshot): its statuses hold since the server started.
    let born = until(&mut c, |s| s.id == "api").await;
    assert!(born.running_since.is_some() && born.deployment_since.is_some());
    // A rollout already under way in the snapshot (the scenario's first change can be
    // committed before the subscription is served) is one of this run: only a finished one
    // is the world's.
    let born_deployment = born
        .deployment
        .filter(|d| d.finished_at.is_some())
        .map(|d| d.id);
    // A rollout of this run that finished: a status whose since the server saw begin.
    let before = until(&mut c, |s| {
        s.id == "api"
            && s.deployment.as_ref().map(|d| &d.id) != born_deployment.as_ref()
            && s.deployment.as_ref().is_some_and(|d| {
                d.status == shipwatch_model::DeploymentStatus::DeploymentOk
                    && d.finished_at.is_some()
                    && d.previous_version.is_some()
            })
            && s.instances
                .iter()
                .all(|i| i.status == RunningStatus::Running)
            && s.deployment.as_ref().map(|d| &d.version) == Some(&s.version)
    })
    .await;
    assert!(before.running_since.is_some() && before.deployment_since.is_some());
    h.shutdown();
    h.stopped().await;
    let h = start(&["--scenario", "calm", "--data-dir", &data]).await;
    let env = common::environment_at(h.addr(), "production")
        .await
        .unwrap();
    let after = env.services.iter().find(|s| s.id == "api").unwrap();
    assert_eq!(
        (after.running_since, after.deployment_since),
        (before.running_since, before.deployment_since),
        "as before the restart"
    );
    h.shutdown();
    h.stopped().await;
}

/// Follows the environment list until `done` holds for an environment's summary (30 s at
/// most).
async fn summary_until(
    client: &mut Client,
    mut done: impl FnMut(&EnvironmentSummary) -> bool,
) -> EnvironmentSummary {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = tokio::time::timeout(left, client.frame())
            .await
            .expect("not seen within 30 s");
        let summaries = match frame.msg {
            ServerMessage::Snapshot {
                data: Snapshot::Environments { environments },
                ..
            } => environments,
            ServerMessage::Delta { changes, .. } => changes
                .into_iter()
                .filter_map(|c| match c {
                    Change::EnvironmentUpsert(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        if let Some(s) = summaries.into_iter().rev().find(|s| done(s)) {
            return s;
        }
    }
}

/// An environment's own since (its summary in the environment list) holds from a new world's
/// birth and survives a restart, as its services' do.
#[tokio::test]
async fn an_environment_s_own_since_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let h = start(&["--scenario", "rolling", "--speed", "4", "--data-dir", &data]).await;
    let mut c = Client::connect(&h).await;
    c.subscribe("envs", Topic::Environments, None).await;
    let production = |s: &EnvironmentSummary| s.id == "production";
    // The world as born (the snapshot): production's statuses hold since the server started.
    let born = summary_until(&mut c, production).await;
    assert!(
        born.running_since.is_some() && born.deployment_since.is_some(),
        "a new world's environment holds its statuses since birth: {born:?}"
    );
    // The rollout of production/api moves production's statuses: a since this run saw begin.
    let mut last = summary_until(&mut c, |s| {
        production(s)
            && (s.running_since, s.deployment_since) != (born.running_since, born.deployment_since)
    })
    .await;
    // Then it settles (the scenario has nothing more): the last summary before 3 s of quiet.
    while let Ok(s) =
        tokio::time::timeout(Duration::from_secs(3), summary_until(&mut c, production)).await
    {
        last = s;
    }
    assert!(last.running_since.is_some() && last.deployment_since.is_some());
    h.shutdown();
    h.stopped().await;
    let h = start(&["--scenario", "calm", "--data-dir", &data]).await;
    let mut c = Client::connect(&h).await;
    c.subscribe("envs", Topic::Environments, None).await;
    let after = summary_until(&mut c, production).await;
    assert_eq!(
        (after.running, after.deployment),
        (last.running, last.deployment)
    );
    assert_eq!(
        (after.running_since, after.deployment_since),
        (last.running_since, last.deployment_since),
        "as before the restart"
    );
    h.shutdown();
    h.stopped().await;
}
