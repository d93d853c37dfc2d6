//! Behind a reverse proxy: `X-Forwarded-For` names the client for the per-address limits
//! (failed writes, connections) only on connections from a `--trusted-proxy`; from any other
//! peer the header is ignored. Real TCP clients from two loopback addresses, one of them the
//! "proxy".

mod common;

use common::{request_from, start, WRITE_TOKEN};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const PROXY: &str = "127.0.0.2";
const RESTART: &str = "/api/environments/staging/services/web/restart";

/// A restart with `token`, sent from `source` with `X-Forwarded-For: forwarded`.
async fn restart_from(addr: SocketAddr, source: &str, forwarded: &str, token: &str) -> u16 {
    let auth = format!("Bearer {token}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("X-Forwarded-For", forwarded),
    ];
    request_from(Some(source), addr, "POST", RESTART, &headers, b"")
        .await
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_writes_count_for_the_forwarded_client_only_behind_a_trusted_proxy() {
    let h = start(&[
        "--rate",
        "0",
        "--max-write-failures",
        "2",
        "--trusted-proxy",
        PROXY,
    ])
    .await;
    let addr = h.addr();
    let wrong = "wrong-token-guess-0001";

    // An untrusted peer cannot spread its failures over made-up addresses.
    assert_eq!(
        restart_from(addr, "127.0.0.1", "10.0.0.1", wrong).await,
        401
    );
    assert_eq!(
        restart_from(addr, "127.0.0.1", "10.0.0.2", wrong).await,
        401
    );
    assert_eq!(
        restart_from(addr, "127.0.0.1", "10.0.0.3", WRITE_TOKEN).await,
        429,
        "the header from an untrusted peer is ignored: its own address is locked out"
    );

    // Through the proxy, one client's failures lock that client out, not the proxy's others.
    assert_eq!(restart_from(addr, PROXY, "10.0.0.1", wrong).await, 401);
    assert_eq!(restart_from(addr, PROXY, "10.0.0.1", wrong).await, 401);
    assert_eq!(
        restart_from(addr, PROXY, "10.0.0.1", WRITE_TOKEN).await,
        429,
        "the forwarded client is locked out"
    );
    assert_eq!(
        restart_from(addr, PROXY, "10.0.0.9, 10.0.0.1", WRITE_TOKEN).await,
        429,
        "an entry the client wrote left of the proxy's own is not believed"
    );
    assert_eq!(
        restart_from(addr, PROXY, "10.0.0.2", WRITE_TOKEN).await,
        202,
        "another client behind the same proxy may write"
    );
    h.shutdown();
    h.stopped().await;
}

/// A TCP connection to the server from `source` (a loopback address).
async fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("source address"))
        .expect("bind the source address");
    socket.connect(server).await.expect("connect")
}

/// `GET /api/health` on a kept-alive connection with `X-Forwarded-For: forwarded`: the status
/// of the answer, or None when the connection was closed without one.
async fn health(s: &mut TcpStream, forwarded: &str) -> Option<u16> {
    let req = format!(
        "GET /api/health HTTP/1.1\r\nHost: shipwatch\r\nX-Forwarded-For: {forwarded}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // Both answers (health, the 429) are small JSON objects: the closing brace ends them.
    while !got.ends_with(b"}") {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&got);
    head.get(9..12)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_count_for_the_forwarded_client_only_behind_a_trusted_proxy() {
    let h = start(&[
        "--scenario",
        "calm",
        "--max-connections-per-ip",
        "2",
        "--trusted-proxy",
        PROXY,
    ])
    .await;
    let addr = h.addr();

    // Through the proxy: two connections for client A, the third is answered 429; clients B
    // and C get theirs although the proxy now holds five connections.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = connect_from(PROXY, addr).await;
        assert_eq!(health(&mut s, "10.0.0.1").await, Some(200));
        held.push(s);
    }
    let mut third = connect_from(PROXY, addr).await;
    assert_eq!(
        health(&mut third, "10.0.0.1").await,
        Some(429),
        "a third connection for one forwarded client"
    );
    for client in ["10.0.0.2", "10.0.0.3"] {
        let mut s = connect_from(PROXY, addr).await;
        assert_eq!(health(&mut s, client).await, Some(200), "{client}");
        held.push(s);
    }
    // A kept-alive proxy connection that carries another client's request moves to it: A's
    // place is freed and taken by a new connection.
    assert_eq!(health(&mut held[0], "10.0.0.4").await, Some(200));
    let mut again = connect_from(PROXY, addr).await;
    assert_eq!(health(&mut again, "10.0.0.1").await, Some(200));

    // An untrusted peer is counted by its own address whatever it forwards: its third
    // connection is closed unanswered.
    for i in 0..2 {
        let mut s = connect_from("127.0.0.1", addr).await;
        assert_eq!(health(&mut s, &format!("10.1.0.{i}")).await, Some(200));
        held.push(s);
    }
    let mut refused = connect_from("127.0.0.1", addr).await;
    assert_eq!(
        health(&mut refused, "10.1.0.9").await,
        None,
        "the header from an untrusted peer is ignored"
    );
    h.shutdown();
    h.stopped().await;
}
