//! Safety at the edges: bad client input, floods, oversize frames, the origin check, the
//! token, and the HTTP side (static files, SPA fallback, headers, API).

mod common;

use common::{handshake, header, http, start, Client};
use shipwatch_model::protocol::{ClientMessage, ErrorCode, ServerMessage, Topic};

async fn expect_error(c: &mut Client, code: ErrorCode) {
    match c.frame().await.msg {
        ServerMessage::Error { code: got, .. } => assert_eq!(got, code),
        other => panic!("expected error {code:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_error_frames_and_the_socket_keeps_working() {
    let h = start(&["--scenario", "calm", "--max-subscriptions", "2"]).await;
    let mut c = Client::connect(&h).await;
    c.raw("{not json".into()).await;
    expect_error(&mut c, ErrorCode::MalformedJson).await;
    c.raw(r#"{"v":1,"type":"explode"}"#.into()).await;
    expect_error(&mut c, ErrorCode::UnknownType).await;
    c.raw(r#"{"v":9,"type":"ping","nonce":1}"#.into()).await;
    expect_error(&mut c, ErrorCode::UnsupportedVersion).await;
    c.raw(r#"{"v":1,"type":"subscribe","sub":"x"}"#.into())
        .await;
    expect_error(&mut c, ErrorCode::InvalidFrame).await;
    c.raw(
        r#"{"v":1,"type":"subscribe","sub":"x","topic":{"kind":"environment","env":"nowhere"}}"#
            .into(),
    )
    .await;
    expect_error(&mut c, ErrorCode::UnknownTopic).await;
    c.send(ClientMessage::Unsubscribe {
        sub: "ghost".into(),
    })
    .await;
    expect_error(&mut c, ErrorCode::UnknownSubscription).await;
    c.ws.send(tokio_tungstenite::tungstenite::Message::Binary(
        vec![0xff, 0, 1].into(),
    ))
    .await
    .unwrap();
    expect_error(&mut c, ErrorCode::InvalidFrame).await;
    c.subscribe("a", Topic::Environments, None).await;
    assert!(matches!(
        c.frame().await.msg,
        ServerMessage::Snapshot { .. }
    ));
    c.subscribe("a", Topic::Environments, None).await;
    expect_error(&mut c, ErrorCode::DuplicateSubscription).await;
    c.subscribe(
        "b",
        Topic::Environment {
            env: "staging".into(),
        },
        None,
    )
    .await;
    assert!(matches!(
        c.frame().await.msg,
        ServerMessage::Snapshot { .. }
    ));
    c.subscribe("c", Topic::Environments, None).await;
    expect_error(&mut c, ErrorCode::TooManySubscriptions).await;
    c.send(ClientMessage::Unsubscribe { sub: "a".into() }).await;
    assert!(matches!(c.frame().await.msg, ServerMessage::Unsubscribed { ref sub } if sub == "a"));
    // Still serving: a ping is answered.
    c.send(ClientMessage::Ping { nonce: 5 }).await;
    assert!(matches!(
        c.frame().await.msg,
        ServerMessage::Pong { nonce: 5 }
    ));
}

use futures_util::SinkExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_frames_close_with_1009_and_others_are_unaffected() {
    let h = start(&["--scenario", "calm", "--max-client-frame-bytes", "1024"]).await;
    let mut other = Client::connect(&h).await;
    let mut c = Client::connect(&h).await;
    c.raw(format!(
        r#"{{"v":1,"type":"ping","nonce":1,"pad":"{}"}}"#,
        "x".repeat(2_000)
    ))
    .await;
    assert_eq!(c.closed().await, Some(1009));
    // Far beyond the limit: cut off by the websocket layer, still a 1009 or a dropped socket.
    let mut c = Client::connect(&h).await;
    let _ =
        c.ws.send(tokio_tungstenite::tungstenite::Message::Text(
            "y".repeat(1 << 20).into(),
        ))
        .await;
    assert!(matches!(c.closed().await, Some(1009) | None));
    other.send(ClientMessage::Ping { nonce: 2 }).await;
    assert!(matches!(
        other.frame().await.msg,
        ServerMessage::Pong { nonce: 2 }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_are_rate_limited_then_closed_with_4029() {
    let h = start(&["--scenario", "calm", "--max-client-frames-per-sec", "10"]).await;
    let mut c = Client::connect(&h).await;
    for nonce in 0..15 {
        c.send(ClientMessage::Ping { nonce }).await;
    }
    let mut rate_limited = 0;
    let mut pongs = 0;
    while pongs + rate_limited < 15 {
        match c.frame().await.msg {
            ServerMessage::Pong { .. } => pongs += 1,
            ServerMessage::Error {
                code: ErrorCode::RateLimited,
                ..
            } => rate_limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((pongs, rate_limited), (10, 5));
    // Over twice the limit whether or not the first burst's window has closed meanwhile (a
    // loaded machine); sends after the server closed may fail.
    for nonce in 0..25 {
        c.try_send(ClientMessage::Ping { nonce }).await;
    }
    assert_eq!(c.closed().await, Some(4029));
    let mut fresh = Client::connect(&h).await;
    fresh.send(ClientMessage::Ping { nonce: 1 }).await;
    assert!(matches!(
        fresh.frame().await.msg,
        ServerMessage::Pong { nonce: 1 }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_is_checked_before_the_upgrade() {
    let h = start(&["--scenario", "calm"]).await;
    let own = format!("http://{}", h.addr());
    assert!(
        handshake(&h, "", &[("origin", &own)]).await.is_ok(),
        "same origin"
    );
    assert!(
        handshake(&h, "", &[]).await.is_ok(),
        "no Origin: a non-browser client"
    );
    assert_eq!(
        handshake(&h, "", &[("origin", "http://evil.example")])
            .await
            .err(),
        Some(403)
    );
    let h = start(&[
        "--scenario",
        "calm",
        "--allow-origin",
        "http://localhost:3000",
    ])
    .await;
    assert!(handshake(&h, "", &[("origin", "http://localhost:3000")])
        .await
        .is_ok());
    assert_eq!(
        handshake(&h, "", &[("origin", "http://localhost:3001")])
            .await
            .err(),
        Some(403)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_required_when_set() {
    let h = start(&["--scenario", "calm", "--token", "s3cret"]).await;
    assert_eq!(handshake(&h, "", &[]).await.err(), Some(401));
    assert_eq!(handshake(&h, "?token=nope", &[]).await.err(), Some(401));
    assert!(handshake(&h, "?token=s3cret", &[]).await.is_ok());
    assert!(handshake(&h, "", &[("authorization", "Bearer s3cret")])
        .await
        .is_ok());
    assert_eq!(
        handshake(&h, "", &[("authorization", "Bearer wrong")])
            .await
            .err(),
        Some(401)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_fallback_headers_and_api() {
    let dist = std::env::temp_dir().join(format!("shipwatch-dist-{}", std::process::id()));
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        format!("<!doctype html><title>app</title>{}", " ".repeat(2000)),
    )
    .unwrap();
    std::fs::write(
        dist.join("shipwatch-0123456789abcdef_bg.wasm"),
        b"\0asm\x01\0\0\0",
    )
    .unwrap();
    std::fs::write(
        dist.join("shipwatch-0123456789abcdef.js"),
        "export default 1;".repeat(200),
    )
    .unwrap();
    let dist_arg = dist.to_string_lossy().to_string();
    let h = start(&["--scenario", "calm", "--dist", &dist_arg]).await;

    let (s, hd, body) = http(&h, "GET", "/", &[]).await;
    assert_eq!(s, 200);
    assert!(String::from_utf8_lossy(&body).contains("<title>app</title>"));
    assert_eq!(header(&hd, "cache-control"), Some("no-cache"));
    assert!(
        header(&hd, "content-security-policy").is_some_and(|v| v.contains("'wasm-unsafe-eval'"))
    );
    assert_eq!(header(&hd, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&hd, "referrer-policy"), Some("no-referrer"));

    let (s, hd, _) = http(&h, "GET", "/shipwatch-0123456789abcdef_bg.wasm", &[]).await;
    assert_eq!(s, 200);
    assert_eq!(header(&hd, "content-type"), Some("application/wasm"));
    assert_eq!(
        header(&hd, "cache-control"),
        Some("public, max-age=31536000, immutable")
    );

    let (s, hd, _) = http(
        &h,
        "GET",
        "/shipwatch-0123456789abcdef.js",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(s, 200);
    assert!(header(&hd, "content-type").is_some_and(|v| v.contains("javascript")));
    assert_eq!(header(&hd, "content-encoding"), Some("gzip"));

    for route in [
        "/env/production/service/api",
        "/env/production/deployments/dep-1/logs",
    ] {
        let (s, hd, body) = http(&h, "GET", route, &[]).await;
        assert_eq!(s, 200, "{route}");
        assert!(
            String::from_utf8_lossy(&body).contains("<title>app</title>"),
            "{route}"
        );
        assert_eq!(header(&hd, "cache-control"), Some("no-cache"));
    }
    assert_eq!(http(&h, "GET", "/missing.js", &[]).await.0, 404);
    assert_eq!(http(&h, "GET", "/api/nope", &[]).await.0, 404);

    let (s, _, body) = http(&h, "GET", "/api/health", &[]).await;
    assert_eq!(s, 200);
    assert!(String::from_utf8_lossy(&body).contains("\"ok\""));
    assert_eq!(
        common::http_write(&h, "POST", "/api/environments/nowhere/services/api/deploy")
            .await
            .0,
        404
    );
    assert_eq!(
        common::http_write(
            &h,
            "POST",
            "/api/environments/production/services/api/explode"
        )
        .await
        .0,
        404
    );
    assert_eq!(
        common::http_write(
            &h,
            "POST",
            "/api/environments/production/services/api/cancel"
        )
        .await
        .0,
        409
    );
    assert_eq!(
        common::http_write(
            &h,
            "POST",
            "/api/environments/production/services/api/deploy?outcome=weird"
        )
        .await
        .0,
        400
    );
    assert_eq!(
        common::http_write(
            &h,
            "POST",
            "/api/environments/production/services/api/deploy"
        )
        .await
        .0,
        202
    );
    assert_eq!(
        common::http_write(
            &h,
            "POST",
            "/api/environments/production/services/api/cancel"
        )
        .await
        .0,
        202
    );
    assert_eq!(
        common::http_write(&h, "POST", "/api/environments/staging/services/web/stop")
            .await
            .0,
        202
    );
    assert_eq!(
        common::http_write(
            &h,
            "POST",
            "/api/environments/staging/services/worker/restart"
        )
        .await
        .0,
        202
    );
    let _ = std::fs::remove_dir_all(&dist);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_dist_serves_a_page_saying_to_build_the_app() {
    let h = start(&["--scenario", "calm"]).await;
    let (s, _, body) = http(&h, "GET", "/env/production", &[]).await;
    assert_eq!(s, 200);
    assert!(String::from_utf8_lossy(&body).contains("not built"));
}
