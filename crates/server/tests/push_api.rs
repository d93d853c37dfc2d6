//! The push API with a real server and a real HTTP client: every call's happy path, what a
//! page sees of it live on the websocket, and the statuses and line numbers it answers.

mod common;
mod push_support;

use common::{environment_at, start, Client, WRITE_TOKEN_NAME};
use futures_util::stream;
use push_support::{environments, log, Api};
use serde_json::json;
use shipwatch_model::protocol::{Change, ServerMessage, Topic};
use shipwatch_model::{DeploymentStatus, LogLevel, RunningStatus, ServiceKind};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_answers_and_a_page_sees_it_live() {
    let h = start(&["--no-simulator"]).await;
    let api = Api::new(&h);
    // Nothing before the first push.
    assert!(environments(h.addr()).await.is_empty());
    let mut page = Client::connect(&h).await;
    page.subscribe("list", Topic::Environments, None).await;

    // Environments: 201 created, 200 updated; the name defaults to the id and is kept.
    let a = api.environment("production").await;
    assert_eq!(a.status, 201);
    assert_eq!(a.body["name"], "production");
    let a = api
        .json(
            "PUT",
            "/api/v1/environments/production",
            json!({"name": "Production"}),
        )
        .await;
    assert_eq!(
        (a.status, a.body["name"].as_str()),
        (200, Some("Production"))
    );
    let a = api.environment("production").await;
    assert_eq!(
        (a.status, a.body["name"].as_str()),
        (200, Some("Production"))
    );

    // Services: created with a kind and version, then changed.
    let a = api
        .json(
            "PUT",
            "/api/v1/environments/production/services/api",
            json!({"name": "API", "kind": "container", "version": "v1"}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.body["kind"], "container");
    let a = api
        .json(
            "PUT",
            "/api/v1/environments/production/services/api",
            json!({"kind": "application"}),
        )
        .await;
    assert_eq!(
        (a.status, a.body["kind"].as_str()),
        (200, Some("application"))
    );
    assert_eq!(a.body["name"], "API", "an omitted name is kept");

    // Instances.
    let a = api
        .json(
            "PUT",
            "/api/v1/environments/production/services/api/instances/api-1",
            json!({"status": "ERROR", "reason": "CrashLoopBackOff", "message": "exited 137",
                   "exit_code": 137, "restarts": 4, "started_at": 1_700_000_000_000u64}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.body["status"], "ERROR");
    assert_eq!(a.body["version"], "v1", "the service's version by default");
    let a = api
        .json(
            "PUT",
            "/api/v1/environments/production/services/api/instances/api-1",
            json!({"status": "RUNNING"}),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["restarts"], 4, "kept when omitted");
    assert!(a.body.get("reason").is_none(), "cleared when omitted");

    // The page's list got the environment.
    let mut listed = false;
    while !listed {
        if let ServerMessage::Delta { changes, .. } = page.frame().await.msg {
            listed = changes.iter().any(
                |c| matches!(c, Change::EnvironmentUpsert(s) if s.id == "production" && s.services == 1),
            );
        }
    }
    let env = environment_at(h.addr(), "production")
        .await
        .expect("env topic");
    assert_eq!(env.name, "Production");
    let svc = &env.services[0];
    assert_eq!(
        (svc.kind, svc.instances.len()),
        (ServiceKind::Application, 1)
    );
    assert_eq!(svc.instances[0].status, RunningStatus::Running);

    // A page on the environment sees the deployment live.
    page.subscribe(
        "env",
        Topic::Environment {
            env: "production".into(),
        },
        None,
    )
    .await;
    loop {
        if let ServerMessage::Snapshot { sub, .. } = page.frame().await.msg {
            if sub == "env" {
                break;
            }
        }
    }

    // Deployments: 201 QUEUED, who triggered it is the token's name by default.
    let a = api
        .json(
            "POST",
            "/api/v1/deployments",
            json!({"environment": "production", "service": "api", "version": "v2",
                   "url": "https://ci.example.com/runs/42"}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    let d = &a.body["deployment"];
    let id = d["id"].as_str().unwrap().to_string();
    assert_eq!(d["status"], "QUEUED");
    assert_eq!(d["triggered_by"], WRITE_TOKEN_NAME);
    assert_eq!(
        d["previous_version"], "v1",
        "the service's version by default"
    );
    assert_eq!(a.body["next_line"], 1);
    sees(&mut page, &id, DeploymentStatus::Queued).await;
    let a = api.get(&format!("/api/v1/deployments/{id}")).await;
    assert_eq!(
        (a.status, a.body["environment"].as_str()),
        (200, Some("production"))
    );
    assert_eq!(a.body["service"], "api");

    // Stage and statuses.
    let a = api
        .json(
            "POST",
            &format!("/api/v1/deployments/{id}/stage"),
            json!({"stage": "build"}),
        )
        .await;
    assert_eq!((a.status, a.body["stage"].as_str()), (200, Some("build")));
    let a = api.status(&id, "BUILDING").await;
    assert_eq!(
        (a.status, a.body["deployment"]["status"].as_str()),
        (200, Some("BUILDING"))
    );
    sees(&mut page, &id, DeploymentStatus::Building).await;

    // Lines: a JSON array, then NDJSON streamed in pieces.
    let a = api
        .json(
            "POST",
            &format!("/api/v1/deployments/{id}/logs"),
            json!([{"n": 1, "text": "Compiling api", "level": "info"},
                   {"n": 2, "text": "warning: unused", "level": "warning", "ts": 1_700_000_000_001u64},
                   {"n": 3, "text": "\u{1b}[32mok\u{1b}[0m", "stage": "test"}]),
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.body,
        json!({"accepted": 3, "skipped": 0, "gaps": [], "next_line": 4})
    );
    let chunks: Vec<Result<String, std::io::Error>> = vec![
        Ok("{\"n\":4,\"text\":\"Deploying\",\"stage\":\"deploy\"}\n{\"n\":5,".into()),
        Ok("\"text\":\"error: boom\",\"level\":\"error\"}\n".into()),
        Ok("{\"n\":6,\"text\":\"done\"}\n".into()),
    ];
    let a = api
        .send(
            "POST",
            &format!("/api/v1/deployments/{id}/logs"),
            Some("application/x-ndjson"),
            reqwest::Body::wrap_stream(stream::iter(chunks)),
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["next_line"], 7);
    // A retried batch is skipped; numbers past the next leave a gap.
    let a = api.lines(&id, [5, 6]).await;
    assert_eq!(a.status, 409, "line 5 was stored with another text: {a:?}");
    assert_eq!(a.field(), Some("lines[0].n"));
    let a = api
        .json(
            "POST",
            &format!("/api/v1/deployments/{id}/logs"),
            json!([{"n": 6, "text": "done"}, {"n": 10, "text": "after the gap"}]),
        )
        .await;
    assert_eq!(
        a.body,
        json!({"accepted": 1, "skipped": 1, "gaps": [[7, 9]], "next_line": 11})
    );

    // The page sees the service's deployment move, and the log holds the lines as pushed.
    let a = api.status(&id, "DEPLOYMENT_OK").await;
    assert_eq!(a.status, 200);
    assert!(a.body["deployment"]["finished_at"].is_u64());
    let a = api.status(&id, "DEPLOYMENT_OK").await;
    assert_eq!(a.status, 200, "the same status again is a no-op");
    let ok = sees(&mut page, &id, DeploymentStatus::DeploymentOk).await;
    assert_eq!(ok.version, "v2", "the service runs what was deployed");
    let (dep, lines) = log(h.addr(), &id).await.expect("log topic");
    assert_eq!(dep.status, DeploymentStatus::DeploymentOk);
    let ns: Vec<u64> = lines.iter().map(|l| l.n).collect();
    assert_eq!(ns, [1, 2, 3, 4, 5, 6, 10]);
    assert_eq!(lines[0].stage, "build", "the deployment's stage by default");
    assert_eq!(lines[2].stage, "test");
    assert_eq!(lines[1].ts, 1_700_000_000_001);
    assert_eq!(lines[4].level, LogLevel::Error);
    assert_eq!(lines[2].text, "\u{1b}[32mok\u{1b}[0m", "ANSI kept");
    h.shutdown();
}

/// Reads the page's deltas until the service running deployment `id` shows `status`; returns
/// that service. Each status is awaited right after the call that sets it: read only at the
/// end, a loaded CI once saw DEPLOYMENT_OK alone (the page is owed the latest state, not every
/// step of one it was late to read).
async fn sees(page: &mut Client, id: &str, status: DeploymentStatus) -> shipwatch_model::Service {
    let read = async {
        loop {
            if let ServerMessage::Delta { changes, .. } = page.frame().await.msg {
                for c in changes {
                    if let Change::ServiceUpsert(s) = c {
                        if s.deployment
                            .as_ref()
                            .is_some_and(|d| d.id == id && d.status == status)
                        {
                            return s;
                        }
                    }
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .unwrap_or_else(|_| panic!("the page did not see {status:?} within 20 s"))
}

/// An environment-wide deployment, and a page subscribed to a log sees lines as they are
/// pushed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_page_sees_lines_live() {
    let h = start(&["--no-simulator"]).await;
    let api = Api::new(&h);
    api.environment("staging").await;
    let a = api
        .json(
            "POST",
            "/api/v1/deployments",
            json!({"id": "release-7", "environment": "staging", "version": "7"}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    assert!(a.body.get("service").is_none());
    let env = environment_at(h.addr(), "staging").await.unwrap();
    assert_eq!(env.deployment.map(|d| d.id).as_deref(), Some("release-7"));

    let mut page = Client::connect(&h).await;
    page.subscribe(
        "log",
        Topic::Logs {
            deployment: "release-7".into(),
        },
        None,
    )
    .await;
    // Snapshot first, then what is pushed after.
    loop {
        if let ServerMessage::Snapshot { .. } = page.frame().await.msg {
            break;
        }
    }
    assert_eq!(api.lines("release-7", 1..=3).await.status, 200);
    let mut got = Vec::new();
    while got.len() < 3 {
        let f = tokio::time::timeout(Duration::from_secs(5), page.frame())
            .await
            .expect("lines arrive live");
        if let ServerMessage::Delta { changes, .. } = f.msg {
            got.extend(changes.into_iter().filter_map(|c| match c {
                Change::Line(l) => Some(l.n),
                _ => None,
            }));
        }
    }
    assert_eq!(got, [1, 2, 3]);
    h.shutdown();
}

/// A client-chosen id makes creation idempotent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_creation_answers_the_deployment_as_it_is() {
    let h = start(&["--no-simulator"]).await;
    let api = Api::new(&h);
    api.environment("production").await;
    api.service("production", "api").await;
    let body = json!({"id": "gh-run-991", "environment": "production", "service": "api",
                      "version": "9f3c2a1", "triggered_by": "alice"});
    let first = api.json("POST", "/api/v1/deployments", body.clone()).await;
    assert_eq!(first.status, 201);
    assert_eq!(api.status("gh-run-991", "DEPLOYING").await.status, 200);
    let again = api.json("POST", "/api/v1/deployments", body.clone()).await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body["deployment"]["status"], "DEPLOYING");
    assert_eq!(again.body["deployment"]["triggered_by"], "alice");
    let mut other = body;
    other["version"] = json!("0000000");
    let a = api.json("POST", "/api/v1/deployments", other).await;
    assert_eq!((a.status, a.field()), (409, Some("id")), "{a:?}");
    assert!(a.error().contains("another `version`"), "{}", a.error());
    h.shutdown();
}

/// An instance not reported for --instance-ttl becomes UNKNOWN, and comes back when it
/// reports again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_instance_becomes_unknown() {
    let h = start(&["--no-simulator", "--instance-ttl", "400ms"]).await;
    let api = Api::new(&h);
    api.environment("production").await;
    api.service("production", "worker").await;
    let report = |status: &'static str| {
        let api = &api;
        async move {
            api.json(
                "PUT",
                "/api/v1/environments/production/services/worker/instances/worker-1",
                json!({ "status": status }),
            )
            .await
        }
    };
    assert_eq!(report("RUNNING").await.status, 201);
    // A finished job's execution has nothing left to report: it does not expire.
    let a = api
        .json(
            "PUT",
            "/api/v1/environments/production/services/worker/instances/run-41",
            json!({ "status": "COMPLETED" }),
        )
        .await;
    assert_eq!(a.status, 201);
    let mut page = Client::connect(&h).await;
    page.subscribe(
        "env",
        Topic::Environment {
            env: "production".into(),
        },
        None,
    )
    .await;
    let started = std::time::Instant::now();
    let unknown = async {
        loop {
            if let ServerMessage::Delta { changes, .. } = page.frame().await.msg {
                let unknown = changes.iter().find_map(|c| match c {
                    Change::ServiceUpsert(s) => s
                        .instances
                        .iter()
                        .find(|i| i.status == RunningStatus::Unknown)
                        .and_then(|i| i.reason.clone()),
                    _ => None,
                });
                if let Some(r) = unknown {
                    return r;
                }
            }
        }
    };
    // Bounded: without the mechanism, heartbeats would keep the wait going for ever.
    let reason = tokio::time::timeout(Duration::from_secs(5), unknown)
        .await
        .expect("the silent instance becomes UNKNOWN within 5 s");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "not before the ttl"
    );
    assert_eq!(reason, "no report for 400 ms");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let env = environment_at(h.addr(), "production").await.unwrap();
    let statuses: Vec<(&str, RunningStatus)> = env.services[0]
        .instances
        .iter()
        .map(|i| (i.name.as_str(), i.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("worker-1", RunningStatus::Unknown),
            ("run-41", RunningStatus::Completed)
        ]
    );
    assert_eq!(report("RUNNING").await.status, 200);
    let env = environment_at(h.addr(), "production").await.unwrap();
    assert_eq!(env.services[0].instances[0].status, RunningStatus::Running);
    h.shutdown();
}

/// The simulator's environments and pushed ones live side by side; the push API cannot take
/// the simulator's, and the action API cannot act on pushed ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_environments_live_beside_the_simulators() {
    let h = start(&["--services", "2"]).await;
    let api = Api::new(&h);
    let a = api
        .json("PUT", "/api/v1/environments/production", json!({}))
        .await;
    assert_eq!((a.status, a.field()), (409, Some("environment")), "{a:?}");
    assert!(a.error().contains("simulator"), "{}", a.error());
    assert_eq!(api.environment("ci-pushed").await.status, 201);
    api.service("ci-pushed", "api").await;
    let ids: Vec<String> = environments(h.addr())
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert!(ids.contains(&"production".to_string()) && ids.contains(&"ci-pushed".to_string()));
    let a = api
        .send(
            "POST",
            "/api/environments/ci-pushed/services/api/restart",
            None,
            Vec::<u8>::new(),
        )
        .await;
    assert_eq!(a.status, 405, "{a:?}");
    assert!(a.error().contains("push API"), "{}", a.error());
    h.shutdown();
}
