//! One websocket: hello, then a reader (client frames: subscribe, unsubscribe, heartbeats,
//! with size, rate and idle limits) and a writer (control frames first, then the bounded
//! queue of subscription frames, and pings). Nothing a client sends can panic the server or
//! slow another client.

use crate::access;
use crate::app::App;
use crate::frames;
use crate::subscription;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use shipwatch_model::protocol::{
    close_code, decode_client, ClientMessage, DecodeError, ErrorCode, ServerMessage,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A write that takes longer than this means the client stopped reading: drop it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest subscription id accepted.
const MAX_SUB_ID: usize = 64;

/// Query parameters of `/ws`.
#[derive(Debug, serde::Deserialize)]
pub struct WsQuery {
    token: Option<String>,
}

/// `GET /ws`: checks origin and token, then upgrades.
pub async fn handler(
    ws: WebSocketUpgrade,
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<WsQuery>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Err(refusal) = access::check(
        &headers,
        q.token.as_deref(),
        &app.cfg.allow_origins,
        app.cfg.token.as_deref(),
    ) {
        tracing::warn!(%peer, ?refusal, "websocket refused");
        return (refusal.status(), format!("{refusal:?}")).into_response();
    }
    // Frames a bit over the limit are read and refused with 1009; far larger ones are cut
    // off by the websocket layer before they are buffered.
    let read_cap = (app.limits.max_client_frame_bytes as usize)
        .saturating_mul(4)
        .max(64 * 1024);
    ws.max_message_size(read_cap)
        .max_frame_size(read_cap)
        .on_upgrade(move |socket| run(socket, app, peer))
}

/// Frames the reader asks the writer to send ahead of subscription data.
enum Ctl {
    Frame(String),
    Close(u16, &'static str),
}

async fn run(socket: WebSocket, app: Arc<App>, peer: SocketAddr) {
    let id = app.conn_ids.fetch_add(1, Ordering::Relaxed);
    app.clients.fetch_add(1, Ordering::Relaxed);
    tracing::info!(conn = id, %peer, "websocket connected");
    let (mut sink, stream) = socket.split();
    if sink
        .send(Message::Text(frames::hello(&app.limits).into()))
        .await
        .is_ok()
    {
        let (data_tx, data_rx) = mpsc::channel::<String>(app.cfg.client_queue.max(1));
        let (ctl_tx, ctl_rx) = mpsc::channel::<Ctl>(64);
        let writer = tokio::spawn(write_loop(sink, ctl_rx, data_rx, app.clone()));
        let why = read_loop(stream, &app, data_tx, ctl_tx).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
        tracing::info!(conn = id, %peer, why, "websocket closed");
    }
    app.clients.fetch_sub(1, Ordering::Relaxed);
    app.clients_changed.notify_waiters();
}

async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut ctl: mpsc::Receiver<Ctl>,
    mut data: mpsc::Receiver<String>,
    app: Arc<App>,
) {
    let period = Duration::from_millis(u64::from(app.limits.heartbeat_ms.max(10)));
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut shutdown = app.shutdown.clone();
    let mut nonce = 0u64;
    // Test knob (`--inject-garbage-every`): bad frames for clients to survive.
    let garbage_every = app.cfg.inject_garbage_every;
    let garbage_period = Duration::from_secs(garbage_every.max(1));
    let mut garbage =
        tokio::time::interval_at(tokio::time::Instant::now() + garbage_period, garbage_period);
    loop {
        let msg = if *shutdown.borrow() {
            close(close_code::GOING_AWAY, "server shutting down")
        } else {
            tokio::select! {
                biased;
                _ = shutdown.changed() => close(close_code::GOING_AWAY, "server shutting down"),
                c = ctl.recv() => match c {
                    Some(Ctl::Frame(f)) => Message::Text(f.into()),
                    Some(Ctl::Close(code, reason)) => close(code, reason),
                    None => match reader_gone(&shutdown) { Some(m) => m, None => break },
                },
                d = data.recv() => match d {
                    Some(f) => Message::Text(f.into()),
                    None => match reader_gone(&shutdown) { Some(m) => m, None => break },
                },
                _ = ping.tick() => {
                    nonce += 1;
                    Message::Text(frames::message(ServerMessage::Ping { nonce }).into())
                }
                _ = garbage.tick(), if garbage_every > 0 => {
                    if sink.send(Message::Text(GARBAGE_MALFORMED.into())).await.is_err() {
                        break;
                    }
                    Message::Text(GARBAGE_UNKNOWN_TYPE.into())
                }
            }
        };
        let closing = matches!(msg, Message::Close(_));
        match tokio::time::timeout(WRITE_TIMEOUT, sink.send(msg)).await {
            Ok(Ok(())) if !closing => {}
            _ => break,
        }
    }
    let _ = tokio::time::timeout(Duration::from_millis(500), sink.close()).await;
}

/// What `--inject-garbage-every` sends: not JSON, then a well-formed frame of no known type.
const GARBAGE_MALFORMED: &str = "{\"v\":1,\"type\":\"delta\",\"sub\":";
const GARBAGE_UNKNOWN_TYPE: &str = "{\"v\":1,\"type\":\"surprise\",\"sub\":\"s1\"}";

/// The reader ended: during a shutdown the client still gets its 1001 close frame (the reader
/// may notice the shutdown first); otherwise there is nothing more to write.
fn reader_gone(shutdown: &tokio::sync::watch::Receiver<bool>) -> Option<Message> {
    shutdown
        .borrow()
        .then(|| close(close_code::GOING_AWAY, "server shutting down"))
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// Counts frames per second.
struct RateWindow {
    start: Instant,
    count: u32,
}

async fn read_loop(
    mut stream: futures_util::stream::SplitStream<WebSocket>,
    app: &Arc<App>,
    data_tx: mpsc::Sender<String>,
    ctl_tx: mpsc::Sender<Ctl>,
) -> &'static str {
    let idle = Duration::from_millis(u64::from(app.limits.idle_timeout_ms.max(10)));
    let limit = app.limits.max_client_frame_bytes as usize;
    let per_sec = app.limits.max_client_frames_per_sec.max(1);
    let mut subs: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut rate = RateWindow {
        start: Instant::now(),
        count: 0,
    };
    let mut shutdown = app.shutdown.clone();
    let ctl = |c: Ctl| {
        // A client flooding us fills its own control queue; dropping its error frames is fine.
        let _ = ctl_tx.try_send(c);
    };
    let why = loop {
        if *shutdown.borrow() {
            break "shutdown";
        }
        let next = tokio::select! {
            _ = shutdown.changed() => break "shutdown",
            n = tokio::time::timeout(idle, stream.next()) => n,
        };
        let msg = match next {
            Err(_) => {
                ctl(Ctl::Close(close_code::IDLE, "idle timeout"));
                break "idle";
            }
            Ok(None) => break "client gone",
            Ok(Some(Err(e))) => {
                tracing::debug!(error = %e, "websocket read error");
                ctl(Ctl::Close(close_code::TOO_BIG, "frame too large or broken"));
                break "read error";
            }
            Ok(Some(Ok(m))) => m,
        };
        let text = match msg {
            Message::Text(t) => Some(t),
            Message::Binary(b) => {
                if b.len() > limit {
                    ctl(Ctl::Close(close_code::TOO_BIG, "frame too large"));
                    break "too big";
                }
                None
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => break "client closed",
        };
        if rate.start.elapsed() >= Duration::from_secs(1) {
            rate = RateWindow {
                start: Instant::now(),
                count: 0,
            };
        }
        rate.count += 1;
        if rate.count > per_sec.saturating_mul(2) {
            ctl(Ctl::Close(close_code::FLOOD, "too many frames"));
            break "flood";
        }
        if rate.count > per_sec {
            ctl(Ctl::Frame(frames::error(
                ErrorCode::RateLimited,
                format!("over {per_sec} frames per second: frame dropped"),
                None,
            )));
            continue;
        }
        let Some(text) = text else {
            ctl(Ctl::Frame(frames::error(
                ErrorCode::InvalidFrame,
                "binary frames are not supported: send JSON text",
                None,
            )));
            continue;
        };
        if text.len() > limit {
            ctl(Ctl::Close(close_code::TOO_BIG, "frame too large"));
            break "too big";
        }
        handle(text.as_str(), app, &mut subs, &data_tx, &ctl);
    };
    for (_, task) in subs.drain() {
        task.abort();
    }
    why
}

fn decode_error_code(e: &DecodeError) -> ErrorCode {
    match e {
        DecodeError::TooLarge { .. } => ErrorCode::FrameTooLarge,
        DecodeError::Malformed(_) => ErrorCode::MalformedJson,
        DecodeError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
        DecodeError::UnknownType(_) => ErrorCode::UnknownType,
        DecodeError::Invalid(_) => ErrorCode::InvalidFrame,
    }
}

fn handle(
    text: &str,
    app: &Arc<App>,
    subs: &mut HashMap<String, JoinHandle<()>>,
    data_tx: &mpsc::Sender<String>,
    ctl: &impl Fn(Ctl),
) {
    let limit = app.limits.max_client_frame_bytes as usize;
    let err = |code: ErrorCode, message: String, sub: Option<&str>| {
        ctl(Ctl::Frame(frames::error(code, message, sub)))
    };
    let frame = match decode_client(text, limit) {
        Ok(f) => f,
        Err(e) => {
            tracing::debug!(error = %e, "bad client frame");
            return err(decode_error_code(&e), e.to_string(), None);
        }
    };
    match frame.msg {
        ClientMessage::Subscribe {
            sub,
            topic,
            resume_from,
        } => {
            if sub.is_empty() || sub.len() > MAX_SUB_ID {
                return err(
                    ErrorCode::InvalidFrame,
                    format!("subscription id must be 1 to {MAX_SUB_ID} bytes"),
                    None,
                );
            }
            // A subscription whose topic ended frees its id.
            subs.retain(|_, t| !t.is_finished());
            if subs.contains_key(&sub) {
                return err(
                    ErrorCode::DuplicateSubscription,
                    format!("subscription `{sub}` already exists"),
                    Some(&sub),
                );
            }
            if subs.len() >= app.limits.max_subscriptions as usize {
                let max = app.limits.max_subscriptions;
                return err(
                    ErrorCode::TooManySubscriptions,
                    format!("at most {max} subscriptions per socket"),
                    Some(&sub),
                );
            }
            let Some((cell, start)) = app
                .hub
                .topic(&topic)
                .and_then(|c| c.subscribe(resume_from).map(|s| (c, s)))
            else {
                return err(
                    ErrorCode::UnknownTopic,
                    format!("no such topic: {topic:?}"),
                    Some(&sub),
                );
            };
            let task = tokio::spawn(subscription::forward(
                sub.clone(),
                cell,
                start,
                data_tx.clone(),
            ));
            subs.insert(sub, task);
        }
        ClientMessage::Unsubscribe { sub } => match subs.remove(&sub) {
            Some(task) => {
                task.abort();
                let frame = frames::message(ServerMessage::Unsubscribed { sub });
                if let Err(mpsc::error::TrySendError::Full(frame)) = data_tx.try_send(frame) {
                    ctl(Ctl::Frame(frame));
                }
            }
            None => err(
                ErrorCode::UnknownSubscription,
                format!("no subscription `{sub}`"),
                Some(&sub),
            ),
        },
        ClientMessage::Ping { nonce } => {
            ctl(Ctl::Frame(frames::message(ServerMessage::Pong { nonce })))
        }
        ClientMessage::Pong { .. } => {}
    }
}
