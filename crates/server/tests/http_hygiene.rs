//! HTTP connections are not held for ever, and one address cannot hold them all: real TCP
//! clients against the real accept loop.

mod common;

use common::{start, Client};
use futures_util::StreamExt;
use shipwatch_model::protocol::{decode_server, ClientMessage, ServerMessage};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// A TCP connection to the server from `source` (a loopback address).
async fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("source address"))
        .expect("bind the source address");
    socket.connect(server).await.expect("connect")
}

/// Reads until the peer closes (or resets); the bytes read, or None if still open after `wait`.
async fn until_closed(s: &mut TcpStream, wait: Duration) -> Option<usize> {
    let mut total = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(total),
            Ok(Ok(n)) => total += n,
        }
    }
}

/// A keep-alive request for `/api/health` on `s`; true when a 200 came back.
async fn health(s: &mut TcpStream) -> bool {
    let req = "GET /api/health HTTP/1.1\r\nHost: shipwatch\r\n\r\n";
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // The health body is a small JSON object: its closing brace ends the response.
    while !got.ends_with(b"}") {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return false,
        }
    }
    got.starts_with(b"HTTP/1.1 200")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_and_a_silent_connection_are_closed_after_the_header_timeout() {
    let h = start(&["--scenario", "calm", "--http-header-timeout-ms", "400"]).await;
    let opened = Instant::now();
    let mut half = TcpStream::connect(h.addr()).await.expect("connect");
    half.write_all(b"GET /api/health HTTP/1.1\r\nHost: shipw")
        .await
        .expect("half a request");
    let mut silent = TcpStream::connect(h.addr()).await.expect("connect");
    assert!(
        until_closed(&mut half, Duration::from_secs(10))
            .await
            .is_some(),
        "a half-sent request is not held for ever"
    );
    assert!(
        opened.elapsed() >= Duration::from_millis(350),
        "closed by the timeout, not at once: {:?}",
        opened.elapsed()
    );
    assert!(
        until_closed(&mut silent, Duration::from_secs(10))
            .await
            .is_some(),
        "a connection that sends nothing is closed too"
    );
    // A whole request is answered, and the kept-alive connection closes once idle.
    let mut whole = TcpStream::connect(h.addr()).await.expect("connect");
    assert!(health(&mut whole).await, "a complete request is served");
    assert!(
        health(&mut whole).await,
        "and the next on the same connection"
    );
    assert!(until_closed(&mut whole, Duration::from_secs(10))
        .await
        .is_some());
    h.shutdown();
    h.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_outlives_the_http_timeouts() {
    let h = start(&[
        "--scenario",
        "calm",
        "--http-header-timeout-ms",
        "200",
        "--http-idle-timeout-ms",
        "200",
        "--heartbeat-ms",
        "300",
    ])
    .await;
    let mut c = Client::connect(&h).await;
    c.subscribe("e", shipwatch_model::protocol::Topic::Environments, None)
        .await;
    let started = Instant::now();
    let mut pings = 0;
    while started.elapsed() < Duration::from_millis(1500) {
        let msg = tokio::time::timeout(Duration::from_secs(2), c.ws.next())
            .await
            .expect("the server keeps pinging");
        match msg {
            Some(Ok(Message::Text(t))) => {
                let frame = decode_server(t.as_str(), 16 << 20).expect("decodes");
                if let ServerMessage::Ping { nonce } = frame.msg {
                    pings += 1;
                    c.send(ClientMessage::Pong { nonce }).await;
                }
            }
            Some(Ok(Message::Close(f))) => panic!("closed by an HTTP timeout: {f:?}"),
            Some(Ok(_)) => {}
            other => panic!("socket failed: {other:?}"),
        }
    }
    assert!(
        pings >= 3,
        "still pinged and answering after the timeouts: {pings}"
    );
    h.shutdown();
    h.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_the_client_stops_reading_is_closed_after_the_idle_timeout() {
    let h = start(&[
        "--environments",
        "1",
        "--services",
        "1",
        "--log-lines",
        "100000",
        "--scenario",
        "calm",
        "--http-idle-timeout-ms",
        "500",
    ])
    .await;
    let mut s = TcpStream::connect(h.addr()).await.expect("connect");
    s.write_all(b"GET /api/deployments/dep-1/log.txt HTTP/1.1\r\nHost: shipwatch\r\n\r\n")
        .await
        .expect("request");
    // Read nothing for a while: the server's writes stall once the socket buffers are full.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let read = until_closed(&mut s, Duration::from_secs(10))
        .await
        .expect("the stalled response was closed");
    let (status, _, whole) = common::http(&h, "GET", "/api/deployments/dep-1/log.txt", &[]).await;
    assert_eq!(status, 200);
    assert!(
        read < whole.len(),
        "the stalled client got {read} bytes of a {}-byte log, not all of it",
        whole.len()
    );
    h.shutdown();
    h.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_the_client_stops_reading_does_not_hold_up_the_shutdown() {
    // The idle timeout is long here: only the shutdown's own grace closes the connection.
    let h = start(&[
        "--environments",
        "1",
        "--services",
        "1",
        "--log-lines",
        "100000",
        "--scenario",
        "calm",
        "--http-idle-timeout-ms",
        "600000",
    ])
    .await;
    let mut s = TcpStream::connect(h.addr()).await.expect("connect");
    s.write_all(b"GET /api/deployments/dep-1/log.txt HTTP/1.1\r\nHost: shipwatch\r\n\r\n")
        .await
        .expect("request");
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.shutdown();
    tokio::time::timeout(Duration::from_secs(30), h.stopped())
        .await
        .expect("the server stopped without waiting for the stalled client");
    assert!(until_closed(&mut s, Duration::from_secs(10))
        .await
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_refuses_the_next_connection_from_one_address_and_not_another() {
    let h = start(&["--scenario", "calm", "--max-connections-per-ip", "3"]).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = connect_from("127.0.0.1", h.addr()).await;
        assert!(health(&mut s).await, "within the limit");
        held.push(s);
    }
    let mut fourth = connect_from("127.0.0.1", h.addr()).await;
    assert_eq!(
        until_closed(&mut fourth, Duration::from_secs(5)).await,
        Some(0),
        "the fourth from one address is closed at once, unanswered"
    );
    assert_eq!(h.refused_connections(), 1);
    let mut other = connect_from("127.0.0.2", h.addr()).await;
    assert!(health(&mut other).await, "another address is served");
    // A closed connection frees its place.
    drop(held.pop());
    let mut admitted = false;
    for _ in 0..50 {
        let mut s = connect_from("127.0.0.1", h.addr()).await;
        if health(&mut s).await {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        admitted,
        "a place freed by a closed connection is given again"
    );
    h.shutdown();
    h.stopped().await;
}
