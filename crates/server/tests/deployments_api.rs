//! The deployment history endpoint with a real store on disk, and kept in memory by a server
//! without a store: pages newest first, filters by service and status, a cursor that holds
//! while new deployments arrive, the previous and next deployment of a service, 400 naming a
//! bad parameter, and the feed's access rule.

mod common;

use common::http;
use serde_json::Value;
use shipwatch_server::ServerHandle;
use std::time::Duration;

/// Deploys `env/svc` through the action API (waiting while it is busy); its id.
async fn deploy(h: &ServerHandle, svc: &str, outcome: &str) -> String {
    let path = format!("/api/environments/production/services/{svc}/deploy?outcome={outcome}");
    for _ in 0..600 {
        let (status, _, body) = common::http_write(h, "POST", &path).await;
        if status == 409 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
        let v: Value = serde_json::from_slice(&body).expect("json");
        return v["deployment"]["id"].as_str().expect("an id").to_string();
    }
    panic!("{svc} stayed busy for 30 s");
}

/// GET `path`: status and JSON body.
async fn get(h: &ServerHandle, path: &str) -> (u16, Value) {
    let (status, _, body) = http(h, "GET", path, &[]).await;
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&body)));
    (status, v)
}

/// The ids of a page, in order.
fn ids(page: &Value) -> Vec<String> {
    page["deployments"]
        .as_array()
        .expect("deployments")
        .iter()
        .map(|d| d["deployment"]["id"].as_str().expect("id").to_string())
        .collect()
}

/// Waits until `id` has ended (the list says so).
async fn ended(h: &ServerHandle, svc: &str, id: &str) -> Value {
    for _ in 0..400 {
        let (_, page) = get(
            h,
            &format!("/api/v1/environments/production/deployments?service={svc}&limit=200"),
        )
        .await;
        let entry = page["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["deployment"]["id"] == id)
            .cloned()
            .expect("listed");
        if entry["deployment"]["finished_at"].is_u64() {
            return entry;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{id} did not end in 20 s");
}

/// The flags of a server that keeps its history in `data`, or in memory (none).
fn server_args(data: Option<&str>) -> Vec<&str> {
    let store = data.map(|d| ["--data-dir", d]);
    store
        .into_iter()
        .flatten()
        .chain(["--rate", "0", "--log-lines", "10", "--speed", "50"])
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_filters_and_neighbours_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    pages_filters_and_neighbours(Some(data.to_str().unwrap())).await;
}

/// Without a store (`--ephemeral`) the history is kept in memory and answers the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_filters_and_neighbours_kept_in_memory() {
    pages_filters_and_neighbours(None).await;
}

async fn pages_filters_and_neighbours(data: Option<&str>) {
    let h = common::start(&server_args(data)).await;

    // api: three good deployments and a failed build; web: one.
    let mut api = Vec::new();
    for outcome in ["ok", "ok", "build-error", "ok"] {
        let id = deploy(&h, "api", outcome).await;
        ended(&h, "api", &id).await;
        api.push(id);
    }
    let web = deploy(&h, "web", "ok").await;
    ended(&h, "web", &web).await;

    // The whole environment, newest first: web's, then api's from the last.
    let (status, all) = get(&h, "/api/v1/environments/production/deployments?limit=200").await;
    assert_eq!(status, 200, "{all}");
    let all_ids = ids(&all);
    let expected: Vec<String> = std::iter::once(web.clone())
        .chain(api.iter().rev().cloned())
        .collect();
    // (The simulator may start other deployments beside these: only their order is known.)
    let places: Vec<usize> = expected
        .iter()
        .map(|id| all_ids.iter().position(|x| x == id).expect("listed"))
        .collect();
    assert!(
        places.windows(2).all(|w| w[0] < w[1]),
        "newest first: {all_ids:?}"
    );
    assert_eq!(all_ids[0], web, "the newest first");
    assert_eq!(
        all["in_memory_since"].is_u64(),
        data.is_none(),
        "a page says when it is kept in memory since: {all}"
    );
    assert!(all["next"].is_null(), "one page holds everything");
    let (_, api_only) = get(
        &h,
        "/api/v1/environments/production/deployments?service=api&limit=200",
    )
    .await;
    assert_eq!(
        ids(&api_only)[..4],
        expected[1..],
        "api's own, newest first"
    );

    // What a row shows: service, versions, stages with outcomes.
    let by_id = |id: &str| {
        all["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["deployment"]["id"] == id)
            .cloned()
            .unwrap()
    };
    let failed = by_id(&api[2]);
    assert_eq!(failed["service"], "api");
    assert_eq!(failed["deployment"]["status"], "BUILDING_ERROR");
    let stages = failed["stages"].as_array().expect("stages");
    assert!(!stages.is_empty(), "the simulator reports stages: {failed}");
    assert_eq!(stages.last().unwrap()["outcome"], "failed", "{failed}");
    let good = by_id(&api[3]);
    assert_eq!(good["deployment"]["status"], "DEPLOYMENT_OK");
    assert!(good["deployment"]["previous_version"].is_string(), "{good}");
    assert!(!good["stages"].as_array().unwrap().is_empty(), "{good}");
    for s in good["stages"].as_array().unwrap() {
        assert_eq!(s["outcome"], "passed", "{good}");
    }

    // Pages of two: a cursor stays put while newer deployments arrive.
    let (_, first) = get(&h, "/api/v1/environments/production/deployments?limit=2").await;
    assert_eq!(ids(&first), all_ids[..2]);
    let cursor = first["next"].as_str().expect("a next cursor").to_string();
    let newer = deploy(&h, "worker", "ok").await;
    let newer2 = deploy(&h, "api", "ok").await;
    let mut paged = ids(&first);
    let mut next = Some(cursor);
    while let Some(c) = next {
        let (status, page) = get(
            &h,
            &format!("/api/v1/environments/production/deployments?limit=2&before={c}"),
        )
        .await;
        assert_eq!(status, 200, "{page}");
        assert!(ids(&page).len() <= 2);
        paged.extend(ids(&page));
        next = page["next"].as_str().map(str::to_string);
    }
    assert_eq!(paged, all_ids, "pages join up with no gap and no duplicate");
    assert!(!paged.contains(&newer) && !paged.contains(&newer2));
    // ... and the newest page now starts with them.
    let (_, head) = get(&h, "/api/v1/environments/production/deployments?limit=3").await;
    assert_eq!(ids(&head)[..2], [newer2.clone(), newer.clone()]);

    // Filters: one service; statuses; both.
    let (_, only_web) = get(
        &h,
        "/api/v1/environments/production/deployments?service=web&limit=200",
    )
    .await;
    assert!(only_web["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["service"] == "web"));
    assert_eq!(ids(&only_web)[0], web);
    let (_, errors) = get(
        &h,
        "/api/v1/environments/production/deployments?status=BUILDING_ERROR,DEPLOYMENT_ERROR",
    )
    .await;
    assert!(ids(&errors).contains(&api[2]), "{errors}");
    assert!(
        errors["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["deployment"]["status"] == "BUILDING_ERROR"
                || d["deployment"]["status"] == "DEPLOYMENT_ERROR"),
        "{errors}"
    );
    let (_, api_ok) = get(
        &h,
        "/api/v1/environments/production/deployments?service=api&status=DEPLOYMENT_OK&limit=2",
    )
    .await;
    let api_ok_ids = ids(&api_ok);
    assert_eq!(api_ok_ids.len(), 2);
    assert!(!api_ok_ids.contains(&api[2]));
    assert!(
        api_ok["next"].is_string(),
        "older good api deployments remain"
    );

    // Previous and next of the failed build, among api's.
    let (status, n) = get(
        &h,
        &format!(
            "/api/v1/environments/production/deployments/{}/neighbours",
            api[2]
        ),
    )
    .await;
    assert_eq!(status, 200, "{n}");
    assert_eq!(n["deployment"]["deployment"]["id"], api[2].as_str());
    assert_eq!(n["previous"]["deployment"]["id"], api[1].as_str());
    assert_eq!(n["next"]["deployment"]["id"], api[3].as_str());
    let (status, _) = get(
        &h,
        &format!(
            "/api/v1/environments/staging/deployments/{}/neighbours",
            api[2]
        ),
    )
    .await;
    assert_eq!(
        status, 404,
        "another environment's deployment is not found here"
    );

    // Bad parameters: 400 naming the field.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("before=yesterday", "before"),
        ("status=DONE", "status"),
        ("status=DEPLOYMENT_OK,nope", "status"),
        ("colour=red", "colour"),
        ("limit=2&limit=3", "limit"),
    ] {
        let (status, body) = get(
            &h,
            &format!("/api/v1/environments/production/deployments?{query}"),
        )
        .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["field"], field, "{query}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }

    // A page from another origin is refused, as on the websocket.
    let (status, _, _) = http(
        &h,
        "GET",
        "/api/v1/environments/production/deployments",
        &[("Origin", "http://evil.example")],
    )
    .await;
    assert_eq!(status, 403);
    h.shutdown();
    h.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut args = server_args(data.to_str());
    args.extend(["--token", "s3cret"]);
    let h = common::start(&args).await;
    let path = "/api/v1/environments/production/deployments";
    let (status, body) = get(&h, path).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = get(&h, &format!("{path}?token=s3cret")).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = http(&h, "GET", path, &[("Authorization", "Bearer s3cret")]).await;
    assert_eq!(status, 200);
    h.shutdown();
    h.stopped().await;

    // Kept in memory, the same rule.
    let h = common::start(&["--rate", "0", "--token", "s3cret"]).await;
    let (status, body) = get(&h, path).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = get(&h, &format!("{path}?token=s3cret")).await;
    assert_eq!(status, 200, "{body}");
    h.shutdown();
    h.stopped().await;
}
