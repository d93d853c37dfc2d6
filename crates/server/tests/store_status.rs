//! `status` frames on a real websocket, for a server on a real PostgreSQL that is stopped and
//! started again under it: a socket that asked (`/ws?status=1`) is told `unavailable` once a
//! write fails, a socket opened meanwhile is told right after `hello`, both are told `ok`
//! once writes commit again; a socket that did not ask never gets one. A server with nothing
//! to write says so too (it asks the database), and so does a follower replica, which writes
//! nothing.

mod common;

use common::postgres::PgServer;
use common::{Client, Got};
use shipwatch_model::protocol::{ServerMessage, StoreState};
use shipwatch_server::ServerHandle;
use std::time::Duration;

/// A socket that asks for `status` frames, its hello read.
async fn connect_asking(h: &ServerHandle) -> Client {
    let url = format!("ws://{}/ws?status=1", h.addr());
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connects");
    let mut c = Client::with(ws);
    assert!(matches!(c.frame().await.msg, ServerMessage::Hello { .. }));
    c
}

/// The next frame other than a ping within `within`, or None.
async fn next_within(c: &mut Client, within: Duration) -> Option<ServerMessage> {
    match tokio::time::timeout(within, c.next()).await {
        Ok(Got::Frame(f)) => Some(f.msg),
        Ok(Got::Closed(why)) => panic!("the socket closed: {why:?}"),
        Err(_) => None,
    }
}

/// Reads frames until a `status` one (within `within`): its state and message.
async fn status_within(c: &mut Client, within: Duration) -> (StoreState, Option<String>) {
    let until = tokio::time::Instant::now() + within;
    loop {
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        match next_within(c, left).await {
            Some(ServerMessage::Status { store, message }) => return (store, message),
            Some(_) => {}
            None => panic!("no status frame within {within:?}"),
        }
    }
}

/// A server on the database `url` with its data directory in `dir`, no simulator, a pool that
/// gives up on a connection after a second; and `extra` flags.
async fn server_on(url: &str, dir: &tempfile::TempDir, extra: &[&str]) -> ServerHandle {
    let dir = dir.path().display().to_string();
    let mut flags = vec![
        "--store",
        url,
        "--data-dir",
        &dir,
        "--no-simulator",
        "--store-acquire-timeout-ms",
        "1000",
    ];
    flags.extend_from_slice(extra);
    common::start(&flags).await
}

/// Each socket is told `state` within `within` (`unavailable` with a reason).
async fn each_told(sockets: &mut [&mut Client], state: StoreState, within: Duration) {
    for c in sockets.iter_mut() {
        let (told, message) = status_within(c, within).await;
        assert_eq!(told, state);
        if state == StoreState::Unavailable {
            assert!(message.is_some_and(|m| !m.is_empty()), "a reason is given");
        }
    }
}

/// An upsert of environment `prod` named `name` through the push API (a new name: a change
/// to commit): its status.
async fn write(h: &ServerHandle, name: &str) -> u16 {
    let (k, v) = common::write_auth();
    let headers = [(k, v.as_str()), ("Content-Type", "application/json")];
    let path = "/api/v1/environments/prod";
    let body = format!("{{\"name\": \"{name}\"}}");
    common::request_at(h.addr(), "PUT", path, &headers, body.as_bytes())
        .await
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_that_asked_are_told_when_the_database_goes_and_comes_back() {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let dir = tempfile::tempdir().expect("temp dir");
    let h = server_on(&url, &dir, &[]).await;
    let mut asked = connect_asking(&h).await;
    let mut plain = Client::connect(&h).await;
    assert!(matches!(write(&h, "Production").await, 200 | 201));
    // A store that commits is not announced: a socket starts as `ok`.
    assert_eq!(
        next_within(&mut asked, Duration::from_secs(1)).await,
        None,
        "nothing said while the store is fine"
    );

    pg.stop();
    assert_eq!(
        write(&h, "Production 2").await,
        503,
        "not acknowledged while PostgreSQL is down"
    );
    let (state, message) = status_within(&mut asked, Duration::from_secs(10)).await;
    assert_eq!(state, StoreState::Unavailable);
    assert!(
        message.as_deref().is_some_and(|m| !m.is_empty()),
        "the reason is given: {message:?}"
    );
    // A socket opened while it is down hears it right after hello.
    let mut later = connect_asking(&h).await;
    assert_eq!(
        next_within(&mut later, Duration::from_secs(2)).await,
        Some(ServerMessage::Status {
            store: StoreState::Unavailable,
            message: message.clone(),
        })
    );

    pg.start_again();
    for c in [&mut asked, &mut later] {
        let (state, message) = status_within(c, Duration::from_secs(30)).await;
        assert_eq!(state, StoreState::Ok);
        assert_eq!(message, None);
    }
    assert!(matches!(write(&h, "Production 3").await, 200 | 201));
    // The socket that did not ask got nothing of it (only pings, which `next` answers).
    assert_eq!(next_within(&mut plain, Duration::from_secs(1)).await, None);
    h.shutdown();
    h.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_nothing_to_write_says_so_too() {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let dir = tempfile::tempdir().expect("temp dir");
    let h = server_on(&url, &dir, &[]).await;
    let mut asked = connect_asking(&h).await;
    // Nothing is written from here on: only asking the database tells it is gone.
    pg.stop();
    each_told(
        &mut [&mut asked],
        StoreState::Unavailable,
        Duration::from_secs(10),
    )
    .await;
    pg.start_again();
    each_told(&mut [&mut asked], StoreState::Ok, Duration::from_secs(30)).await;
    h.shutdown();
    h.stopped().await;
}
/// `/api/health` of `h`.
async fn health_of(h: &ServerHandle) -> serde_json::Value {
    let (status, _, body) = common::http_at(h.addr(), "GET", "/api/health", &[]).await;
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

/// A replica of the database `url` (a long lease: no takeover while the test runs).
async fn replica_of(url: &str, dir: &tempfile::TempDir) -> ServerHandle {
    server_on(url, dir, &["--lease-ttl-ms", "60000"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_replica_says_so_too() {
    let pg = PgServer::start();
    let url = pg.create_db("shipwatch");
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = replica_of(&url, &dir_a).await;
    let follower = replica_of(&url, &dir_b).await;
    let role = |h: &ServerHandle| *h.app().role.borrow();
    assert_eq!(
        (role(&leader), role(&follower)),
        (
            shipwatch_server::replica::Role::Leader,
            shipwatch_server::replica::Role::Follower
        )
    );
    let mut on_leader = connect_asking(&leader).await;
    let mut on_follower = connect_asking(&follower).await;
    assert_eq!(
        next_within(&mut on_follower, Duration::from_millis(1500)).await,
        None
    );

    // Nothing is written: the follower writes nothing, and the leader has nothing to write.
    pg.stop();
    let sockets = &mut [&mut on_follower, &mut on_leader];
    each_told(sockets, StoreState::Unavailable, Duration::from_secs(10)).await;
    // Health says so too, on the follower that has nothing to write.
    let health = health_of(&follower).await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["database"]["state"], "unavailable", "{health}");
    pg.start_again();
    each_told(sockets, StoreState::Ok, Duration::from_secs(30)).await;
    let health = health_of(&follower).await;
    assert_eq!(health["status"], "ok", "{health}");
    assert!(health["database"].is_null(), "{health}");
    for h in [follower, leader] {
        h.shutdown();
        h.stopped().await;
    }
}
