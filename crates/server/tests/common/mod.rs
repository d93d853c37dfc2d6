//! Helpers for integration tests: an in-process server on 127.0.0.1:0 and a websocket client
//! that speaks the model's protocol.
#![allow(dead_code)]

/// The tests that apply to both backends (`postgres::Backend`), once on each: each named
/// `async fn(Backend)` of the test file becomes `sqlite::NAME` and `postgres::NAME`, under
/// `#[tokio::test]` or the test attribute given first.
#[allow(unused_macros)]
macro_rules! on_both {
    (#[$test:meta] $($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(#[$test]
            async fn $name() {
                super::$name(Backend::Sqlite).await
            })*
        }
        mod postgres {
            use super::*;
            $(#[$test]
            async fn $name() {
                super::$name(Backend::Postgres).await
            })*
        }
    };
    ($($name:ident),* $(,)?) => {
        on_both!(#[tokio::test] $($name),*);
    };
}

pub mod binary;
pub mod keeping_up;
pub mod log_lines;
pub mod postgres;

use futures_util::{SinkExt, StreamExt};
use shipwatch_model::protocol::{
    decode_server, encode, ClientFrame, ClientMessage, ServerFrame, ServerMessage, SnapshotJoin,
    Topic,
};
use shipwatch_server::{serve, Config, ServerHandle};
use std::collections::HashMap;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The write token of test servers (named [`WRITE_TOKEN_NAME`]), unless a test gives its own
/// `--write-token`.
pub const WRITE_TOKEN: &str = "test-write-token-5f2c9a71e3";

/// The name of [`WRITE_TOKEN`].
pub const WRITE_TOKEN_NAME: &str = "tests";

/// The `--write-token` flag of test servers.
pub fn write_token_flag() -> String {
    format!("{WRITE_TOKEN_NAME}={WRITE_TOKEN}")
}

/// The header that carries [`WRITE_TOKEN`].
pub fn write_auth() -> (&'static str, String) {
    ("Authorization", format!("Bearer {WRITE_TOKEN}"))
}

/// A config for tests: random port, the test write token, given extra flags.
pub fn config(extra: &[&str]) -> Config {
    let token = write_token_flag();
    let mut args = vec!["shipwatch-server", "--addr", "127.0.0.1:0"];
    if !extra.contains(&"--write-token") {
        args.extend_from_slice(&["--write-token", &token]);
    }
    if !extra.contains(&"--dist") {
        args.extend_from_slice(&["--dist", "/nonexistent-dist"]);
    }
    // A new world for every test unless it names its own data directory.
    if !extra.contains(&"--data-dir") {
        args.push("--ephemeral");
    }
    args.extend_from_slice(extra);
    <Config as clap::Parser>::parse_from(args)
}

/// Starts a server.
pub async fn start(extra: &[&str]) -> ServerHandle {
    serve(config(extra)).await.expect("server starts").1
}

/// A connected client. Its [`Client::next`] joins a snapshot sent in parts, as the page
/// does: tests that read frames through it see one `snapshot` frame whatever its size.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    parts: Parts,
}

/// Snapshots being joined from their `snapshot_part` frames, by subscription (parts of
/// different subscriptions may interleave on a socket).
#[derive(Default)]
pub struct Parts {
    joins: HashMap<String, SnapshotJoin>,
}

impl Parts {
    /// `frame` itself; for a snapshot's part, nothing until its last part, then the whole
    /// snapshot as one `snapshot` frame. Panics on parts out of order: the server sends a
    /// snapshot's parts one after the other.
    pub fn join(&mut self, frame: ServerFrame) -> Option<ServerFrame> {
        let ServerMessage::SnapshotPart {
            sub,
            seq,
            part,
            parts,
            data,
        } = frame.msg
        else {
            return Some(frame);
        };
        let whole = self
            .joins
            .entry(sub.clone())
            .or_default()
            .add(seq, part, parts, data)
            .unwrap_or_else(|e| panic!("subscription {sub}: {e}"))?;
        Some(ServerFrame::new(ServerMessage::Snapshot {
            sub,
            seq,
            data: whole,
        }))
    }
}

/// What the next read got.
#[derive(Debug)]
pub enum Got {
    Frame(Box<ServerFrame>),
    Closed(Option<u16>),
}

impl Client {
    /// Connects and reads the hello.
    pub async fn connect(h: &ServerHandle) -> Client {
        Self::connect_to(h.addr()).await
    }

    /// Connects to a server at `addr` (e.g. the real binary) and reads the hello.
    pub async fn connect_to(addr: std::net::SocketAddr) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
            .await
            .expect("connects");
        let mut c = Client::with(ws);
        match c.frame().await.msg {
            ServerMessage::Hello { .. } => {}
            other => panic!("expected hello, got {other:?}"),
        }
        c
    }

    /// A client on a socket connected by the caller.
    pub fn with(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Client {
        Client {
            ws,
            parts: Parts::default(),
        }
    }

    /// Sends a protocol message.
    pub async fn send(&mut self, msg: ClientMessage) {
        self.raw(encode(&ClientFrame::new(msg))).await;
    }

    /// Sends, ignoring a failure (the server may have closed meanwhile).
    pub async fn try_send(&mut self, msg: ClientMessage) {
        let text = encode(&ClientFrame::new(msg));
        let _ = self.ws.send(Message::Text(text.into())).await;
    }

    /// Sends raw text.
    pub async fn raw(&mut self, text: String) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    /// Subscribes (whole services on environment topics, as a v1 client that predates
    /// `instance_update` does).
    pub async fn subscribe(&mut self, sub: &str, topic: Topic, resume_from: Option<u64>) {
        self.subscribe_with(sub, topic, resume_from, false).await;
    }

    /// Subscribes, asking for `instance_update` changes or not.
    pub async fn subscribe_with(
        &mut self,
        sub: &str,
        topic: Topic,
        resume_from: Option<u64>,
        instance_updates: bool,
    ) {
        self.send(ClientMessage::Subscribe {
            sub: sub.into(),
            topic,
            resume_from,
            instance_updates,
            line_batches: false,
        })
        .await;
    }

    /// Subscribes to a log asking for `lines` frames, as the app does.
    pub async fn subscribe_lines(&mut self, sub: &str, topic: Topic, resume_from: Option<u64>) {
        self.send(ClientMessage::Subscribe {
            sub: sub.into(),
            topic,
            resume_from,
            instance_updates: false,
            line_batches: true,
        })
        .await;
    }

    /// The next frame or close, skipping server pings (answered) within 10 s; a snapshot's
    /// parts come as one `snapshot` frame, at its last part.
    pub async fn next(&mut self) -> Got {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("a frame within 10 s");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let f = decode_server(t.as_str(), 16 << 20).expect("server frames decode");
                    if let ServerMessage::Ping { nonce } = f.msg {
                        self.send(ClientMessage::Pong { nonce }).await;
                        continue;
                    }
                    match self.parts.join(f) {
                        Some(f) => return Got::Frame(Box::new(f)),
                        None => continue,
                    }
                }
                Some(Ok(Message::Close(c))) => return Got::Closed(c.map(|c| u16::from(c.code))),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Got::Closed(None),
            }
        }
    }

    /// The next frame (panics on close).
    pub async fn frame(&mut self) -> ServerFrame {
        match self.next().await {
            Got::Frame(f) => *f,
            Got::Closed(c) => panic!("closed ({c:?}) while a frame was expected"),
        }
    }

    /// Reads until the socket closes; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            if let Got::Closed(c) = self.next().await {
                return c;
            }
        }
    }
}

/// [`http`] with the test write token.
pub async fn http_write(
    h: &ServerHandle,
    method: &str,
    path: &str,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let (k, v) = write_auth();
    http(h, method, path, &[(k, &v)]).await
}

/// A plain HTTP/1.1 request; returns status, headers (lower-case names) and body bytes.
pub async fn http(
    h: &ServerHandle,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    http_at(h.addr(), method, path, headers).await
}

/// [`http`] to a server at `addr`.
pub async fn http_at(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    request_at(addr, method, path, headers, b"").await
}

/// A plain HTTP/1.1 request with a body to a server at `addr`.
pub async fn request_at(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    request_from(None, addr, method, path, headers, body).await
}

/// [`request_at`] from a given source address of this host (`127.0.0.2`), or any.
pub async fn request_from(
    source: Option<&str>,
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = match source {
        Some(source) => {
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket
                .bind(format!("{source}:0").parse().expect("source address"))
                .expect("bind the source address");
            socket.connect(addr).await.expect("connect")
        }
        None => TcpStream::connect(addr).await.expect("connect"),
    };
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    // The server may answer (413, 401) and close before reading a large body whole.
    let _ = s.write_all(&bytes).await;
    let mut buf = Vec::new();
    // A reset after the answer (the server closed with the body unread) still leaves the
    // answer read.
    if let Err(e) = s.read_to_end(&mut buf).await {
        assert!(!buf.is_empty(), "read: {e}");
    }
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers end");
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut body = buf[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    (status, headers, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = b.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[end + 2..end + 2 + size]);
        b = &b[end + 2 + size + 2..];
    }
    out
}

/// An environment as a page subscribing now sees it (None: the server knows no such
/// environment).
pub async fn environment_at(
    addr: std::net::SocketAddr,
    env: &str,
) -> Option<shipwatch_model::Environment> {
    use shipwatch_model::protocol::Snapshot;
    let mut c = Client::connect_to(addr).await;
    c.subscribe("env", Topic::Environment { env: env.into() }, None)
        .await;
    loop {
        match c.frame().await.msg {
            ServerMessage::Snapshot {
                data: Snapshot::Environment { environment },
                ..
            } => return Some(environment),
            ServerMessage::Error { .. } => return None,
            _ => {}
        }
    }
}

/// A header's value.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A websocket handshake with extra headers and query; Ok or the HTTP status of the refusal.
pub async fn handshake(
    h: &ServerHandle,
    query: &str,
    headers: &[(&str, &str)],
) -> Result<Client, u16> {
    let mut req = format!("ws://{}/ws{query}", h.addr())
        .into_client_request()
        .expect("request");
    for (k, v) in headers {
        req.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(Client::with(ws)),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("unexpected handshake error: {e}"),
    }
}
