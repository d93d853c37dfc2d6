//! One websocket: hello, then a reader (client frames: subscribe, unsubscribe, heartbeats,
//! with size, rate and idle limits) and a writer that owns the socket's subscriptions. The
//! writer sends, in this order of priority: control frames (pongs, errors, closes), a due
//! heartbeat ping (or a ping that asks the flow control's answer), then the next frame of one
//! subscription (in turn), built only once the previous frame was written and only while the
//! client's flow-control window ([`crate::flow`]) has room. So pings and pongs never wait
//! behind queued data, a slow client holds no queue of frames, a fast one is not held back,
//! and nothing a client sends can panic the server or slow another client.

use crate::app::App;
use crate::flow::Flow;
use crate::frames;
use crate::hub::GoneLog;
use crate::store_status::StoreStatus;
use crate::subscription::{Next, Subscription};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use shipwatch_model::protocol::{
    close_code, decode_client, ClientMessage, ErrorCode, ServerMessage, Topic, MAX_SUB_ID_BYTES,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant as TokioInstant;

/// A write that takes longer than this means the client stopped reading: drop it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Client frames are small; the read buffer grows for a larger one (up to the frame limit).
const READ_BUFFER: usize = 4 * 1024;
/// Control messages (answers, subscription changes) waiting for the writer.
const CONTROL_QUEUE: usize = 64;
/// Query parameters of `/ws`.
#[derive(Debug, serde::Deserialize)]
pub struct WsQuery {
    token: Option<String>,
    /// `1`: send `status` frames (whether the store commits) on this socket.
    status: Option<String>,
}

/// `GET /ws`: checks origin and token, then upgrades.
pub async fn handler(
    ws: WebSocketUpgrade,
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<WsQuery>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Err(refusal) = app.check_access(&headers, q.token.as_deref()) {
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
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| run(socket, app, peer, q.status.as_deref() == Some("1")))
}

/// What the reader asks of the writer.
enum Ctl {
    /// Send this frame ahead of subscription data.
    Frame(String),
    /// Close with this code and reason.
    Close(u16, &'static str),
    /// Start a subscription.
    Subscribe {
        sub: String,
        topic: Topic,
        resume_from: Option<u64>,
        instance_updates: bool,
        line_batches: bool,
    },
    /// End a subscription.
    Unsubscribe(String),
    /// The client answered ping `nonce`, at this time.
    Pong(u64, Instant),
}

async fn run(socket: WebSocket, app: Arc<App>, peer: SocketAddr, wants_status: bool) {
    let id = app.conn_ids.fetch_add(1, Ordering::Relaxed);
    app.clients.fetch_add(1, Ordering::Relaxed);
    tracing::info!(conn = id, %peer, "websocket connected");
    let (mut sink, stream) = socket.split();
    if sink
        .send(Message::Text(
            frames::hello(&app.limits, app.cfg.stuck_after()).into(),
        ))
        .await
        .is_ok()
    {
        let (ctl_tx, ctl_rx) = mpsc::channel::<Ctl>(CONTROL_QUEUE);
        let pings = Arc::new(AtomicU64::new(0));
        let status = wants_status.then(|| app.store_status.clone());
        // Its lines (why a subscription is sent a snapshot) name the connection.
        let writer = write_loop(sink, ctl_rx, app.clone(), pings.clone(), status);
        let writer = tokio::spawn(tracing::Instrument::instrument(
            writer,
            tracing::info_span!("ws", conn = id),
        ));
        let why = read_loop(stream, &app, ctl_tx, &pings).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
        tracing::info!(conn = id, %peer, why, "websocket closed");
    }
    app.clients.fetch_sub(1, Ordering::Relaxed);
    app.clients_changed.notify_waiters();
}

/// What the writer does next.
enum Step {
    Send(Message),
    /// Nothing to send: look again.
    Again,
    /// The reader is gone and there is nothing more to say.
    Stop,
}

async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut ctl: mpsc::Receiver<Ctl>,
    app: Arc<App>,
    pings: Arc<AtomicU64>,
    mut status: Option<watch::Receiver<StoreStatus>>,
) {
    // Whether this socket was last told the store is `ok` (it starts so).
    let mut said_ok = true;
    let period = Duration::from_millis(u64::from(app.limits.heartbeat_ms.max(10)));
    let mut next_ping = TokioInstant::now() + period;
    let mut shutdown = app.shutdown.clone();
    let mut flow = Flow::new(Instant::now());
    let mut subs: Vec<Subscription> = Vec::new();
    // Subscriptions whose logs are being loaded from the store.
    let mut loading: Vec<Loading> = Vec::new();
    let mut turn = 0usize;
    // Test knob (`--inject-garbage-every`): bad frames for clients to survive.
    let garbage_every = app.cfg.inject_garbage_every;
    let garbage_period = Duration::from_secs(garbage_every.max(1));
    let mut next_garbage = TokioInstant::now() + garbage_period;
    // Test knob (`--drop-snapshots`): snapshots lost on the way.
    let mut snapshots_to_drop = app.cfg.drop_snapshots;
    loop {
        let step = if *shutdown.borrow() {
            Step::Send(close(close_code::GOING_AWAY, "server shutting down"))
        } else if let Ok(c) = ctl.try_recv() {
            control(c, &app, &mut subs, &mut loading, &mut flow)
        } else if let Some(frame) = status_news(&mut status, &mut said_ok) {
            Step::Send(text(frame))
        } else if TokioInstant::now() >= next_ping || flow.wants_ping() {
            if TokioInstant::now() >= next_ping {
                next_ping = TokioInstant::now() + period;
                flow.heartbeat(Instant::now());
            }
            let nonce = flow.ping(Instant::now());
            pings.fetch_add(1, Ordering::Relaxed);
            Step::Send(text(frames::message(ServerMessage::Ping { nonce })))
        } else if garbage_every > 0 && TokioInstant::now() >= next_garbage {
            next_garbage = TokioInstant::now() + garbage_period;
            if sink.send(text(GARBAGE_MALFORMED.into())).await.is_err() {
                break;
            }
            Step::Send(text(GARBAGE_UNKNOWN_TYPE.into()))
        } else if let Some(frame) = (!flow.holds())
            .then(|| next_data(&mut subs, &mut turn))
            .flatten()
        {
            flow.data(frame.len());
            if snapshots_to_drop > 0 && frames::is_snapshot(&frame) {
                snapshots_to_drop -= 1;
                Step::Send(text(GARBAGE_MALFORMED.into()))
            } else {
                Step::Send(Message::Text(frame))
            }
        } else {
            let holding = flow.holds();
            tokio::select! {
                biased;
                _ = shutdown.changed() => Step::Send(close(close_code::GOING_AWAY, "server shutting down")),
                c = ctl.recv() => match c {
                    Some(c) => control(c, &app, &mut subs, &mut loading, &mut flow),
                    None => match reader_gone(&shutdown) { Some(m) => Step::Send(m), None => Step::Stop },
                },
                _ = tokio::time::sleep_until(next_ping) => Step::Again,
                _ = tokio::time::sleep_until(next_garbage), if garbage_every > 0 => Step::Again,
                _ = any_changed(&mut subs), if !holding => Step::Again,
                (l, loaded) = next_loaded(&mut loading), if !loading.is_empty() => {
                    loaded_log(l, loaded, &app, &mut subs, &mut loading, &mut flow)
                }
                Some(()) = status_changed(&mut status) => Step::Again,
            }
        };
        let msg = match step {
            Step::Send(m) => m,
            Step::Again => continue,
            Step::Stop => break,
        };
        let closing = matches!(msg, Message::Close(_));
        match tokio::time::timeout(WRITE_TIMEOUT, sink.send(msg)).await {
            Ok(Ok(())) if !closing => {}
            _ => break,
        }
    }
    let _ = tokio::time::timeout(Duration::from_millis(500), sink.close()).await;
}

/// A `status` frame when the store's state differs from what this socket was last told
/// (`said_ok`; a socket starts as `ok`). Looked at before every frame (a read lock): the
/// writer's wait for a change marks it seen before this runs.
fn status_news(
    status: &mut Option<watch::Receiver<StoreStatus>>,
    said_ok: &mut bool,
) -> Option<String> {
    let now = status.as_mut()?.borrow_and_update();
    if now.is_ok() == *said_ok {
        return None;
    }
    *said_ok = now.is_ok();
    Some(frames::message(ServerMessage::Status {
        store: now.state,
        message: now.message.clone(),
    }))
}

/// Resolves when the store's state may have changed; never without a status to follow (or
/// once its sender is gone).
async fn status_changed(status: &mut Option<watch::Receiver<StoreStatus>>) -> Option<()> {
    match status {
        Some(s) => s.changed().await.ok(),
        None => std::future::pending().await,
    }
}

fn text(s: String) -> Message {
    Message::Text(s.into())
}

/// The next frame of the subscriptions, taking them in turn so none starves the others.
fn next_data(subs: &mut Vec<Subscription>, turn: &mut usize) -> Option<Utf8Bytes> {
    for _ in 0..subs.len() {
        let k = *turn % subs.len();
        match subs[k].next_frame() {
            Next::Frame(f) => {
                *turn = k + 1;
                return Some(f);
            }
            Next::Idle => *turn = k + 1,
            Next::Ended(error) => {
                // The topic ended: say so, and free the id.
                subs.remove(k);
                return Some(error.into());
            }
        }
    }
    None
}

/// Resolves when any subscription's topic has news.
async fn any_changed(subs: &mut [Subscription]) {
    if subs.is_empty() {
        return std::future::pending().await;
    }
    let waits = subs.iter_mut().map(|s| Box::pin(s.changed()));
    futures_util::future::select_all(waits).await;
}

/// A subscription waiting for its log to be read from the store (the hub did not hold it):
/// the socket goes on serving its other subscriptions meanwhile.
struct Loading {
    sub: String,
    /// The subscribe to carry out once the log is loaded.
    subscribe: Ctl,
    done: tokio::task::JoinHandle<Result<(), Option<GoneLog>>>,
}

/// Resolves when one of the loads ends: that subscription, and how the load went.
async fn next_loaded(loading: &mut Vec<Loading>) -> (Loading, Result<(), Option<GoneLog>>) {
    let (result, k, rest) =
        futures_util::future::select_all(loading.iter_mut().map(|l| &mut l.done)).await;
    drop(rest);
    (loading.remove(k), result.unwrap_or(Err(None)))
}

/// A log was loaded (or found gone): the subscription is made, or refused saying why.
fn loaded_log(
    l: Loading,
    loaded: Result<(), Option<GoneLog>>,
    app: &Arc<App>,
    subs: &mut Vec<Subscription>,
    loading: &mut Vec<Loading>,
    flow: &mut Flow,
) -> Step {
    let held = match &l.subscribe {
        Ctl::Subscribe {
            topic: Topic::Logs { deployment },
            ..
        } => app.hub.holds_log(deployment),
        _ => false,
    };
    match loaded {
        // Held now (unless forgotten at once, when it is answered as unknown below).
        Ok(()) if held => control(l.subscribe, app, subs, loading, flow),
        Err(Some(gone)) => Step::Send(text(frames::message(ServerMessage::Error {
            code: ErrorCode::UnknownTopic,
            message: gone.message,
            sub: Some(l.sub),
            gone: Some(gone.gone),
        }))),
        _ => {
            let topic = match l.subscribe {
                Ctl::Subscribe { topic, .. } => topic,
                _ => return Step::Again,
            };
            Step::Send(text(frames::error(
                ErrorCode::UnknownTopic,
                format!("no such topic: {topic:?}"),
                Some(&l.sub),
            )))
        }
    }
}

/// Carries out one request of the reader; what to send about it, if anything.
fn control(
    c: Ctl,
    app: &Arc<App>,
    subs: &mut Vec<Subscription>,
    loading: &mut Vec<Loading>,
    flow: &mut Flow,
) -> Step {
    let err = |code: ErrorCode, message: String, sub: Option<&str>| {
        Step::Send(text(frames::error(code, message, sub)))
    };
    match c {
        Ctl::Frame(f) => Step::Send(text(f)),
        Ctl::Pong(nonce, at) => {
            flow.pong(nonce, at);
            Step::Again
        }
        Ctl::Close(code, reason) => Step::Send(close(code, reason)),
        Ctl::Subscribe {
            sub,
            topic,
            resume_from,
            instance_updates,
            line_batches,
        } => {
            if subs.iter().any(|s| s.id() == sub) || loading.iter().any(|l| l.sub == sub) {
                return err(
                    ErrorCode::DuplicateSubscription,
                    format!("subscription `{sub}` already exists"),
                    Some(&sub),
                );
            }
            if subs.len() + loading.len() >= app.limits.max_subscriptions as usize {
                let max = app.limits.max_subscriptions;
                return err(
                    ErrorCode::TooManySubscriptions,
                    format!("at most {max} subscriptions per socket"),
                    Some(&sub),
                );
            }
            if let Topic::Logs { deployment } = &topic {
                if !app.hub.holds_log(deployment) {
                    // Read from the store without holding this socket up.
                    let (hub, id) = (app.hub.clone(), deployment.clone());
                    loading.push(Loading {
                        sub: sub.clone(),
                        done: tokio::spawn(async move { hub.load_log(&id).await }),
                        subscribe: Ctl::Subscribe {
                            sub,
                            topic,
                            resume_from,
                            instance_updates,
                            line_batches,
                        },
                    });
                    return Step::Again;
                }
            }
            let opened = app.hub.open_topic(&topic);
            let Some((cell, start)) = opened.as_ref().ok().and_then(|c| {
                c.subscribe(resume_from, instance_updates)
                    .map(|s| (c.clone(), s))
            }) else {
                if let Err(Some(gone)) = opened {
                    return Step::Send(text(frames::message(ServerMessage::Error {
                        code: ErrorCode::UnknownTopic,
                        message: gone.message,
                        sub: Some(sub),
                        gone: Some(gone.gone),
                    })));
                }
                return err(
                    ErrorCode::UnknownTopic,
                    format!("no such topic: {topic:?}"),
                    Some(&sub),
                );
            };
            subs.push(
                Subscription::new(sub, cell, start, instance_updates, line_batches)
                    // Only a follower can be behind a number a page saw (on another replica).
                    .resuming_from(
                        resume_from
                            .filter(|_| *app.role.borrow() == crate::replica::Role::Follower),
                    ),
            );
            Step::Again
        }
        Ctl::Unsubscribe(sub) => match subs.iter().position(|s| s.id() == sub) {
            Some(k) => {
                subs.remove(k);
                Step::Send(text(frames::message(ServerMessage::Unsubscribed { sub })))
            }
            None if loading.iter().any(|l| l.sub == sub) => {
                loading.retain(|l| l.sub != sub);
                Step::Send(text(frames::message(ServerMessage::Unsubscribed { sub })))
            }
            None => err(
                ErrorCode::UnknownSubscription,
                format!("no subscription `{sub}`"),
                Some(&sub),
            ),
        },
    }
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

/// Counts frames per second. A window opens with the first frame after the last one closed,
/// so the frames of one burst are counted together however late after the upgrade it comes.
struct RateWindow {
    start: Option<Instant>,
    count: u32,
}

async fn read_loop(
    mut stream: futures_util::stream::SplitStream<WebSocket>,
    app: &Arc<App>,
    ctl_tx: mpsc::Sender<Ctl>,
    pings: &AtomicU64,
) -> &'static str {
    let idle = Duration::from_millis(u64::from(app.limits.idle_timeout_ms.max(10)));
    let limit = app.limits.max_client_frame_bytes as usize;
    let per_sec = app.limits.max_client_frames_per_sec.max(1);
    let mut rate = RateWindow {
        start: None,
        count: 0,
    };
    // Pongs taken as answers to the pings sent: the flow control asks for them, so they do
    // not count towards the client's frame rate.
    let mut answers = 0u64;
    let mut shutdown = app.shutdown.clone();
    let ctl = |c: Ctl| {
        // A client flooding us fills its own control queue; dropping its error frames is fine.
        let _ = ctl_tx.try_send(c);
    };
    loop {
        if *shutdown.borrow() {
            return "shutdown";
        }
        // Any frame, a pong or anything else, shows the client is alive.
        let next = tokio::select! {
            _ = shutdown.changed() => return "shutdown",
            n = tokio::time::timeout(idle, stream.next()) => n,
        };
        let msg = match next {
            Err(_) => {
                ctl(Ctl::Close(close_code::IDLE, "idle timeout"));
                return "idle";
            }
            Ok(None) => return "client gone",
            Ok(Some(Err(e))) => {
                tracing::debug!(error = %e, "websocket read error");
                ctl(Ctl::Close(close_code::TOO_BIG, "frame too large or broken"));
                return "read error";
            }
            Ok(Some(Ok(m))) => m,
        };
        let text = match msg {
            Message::Text(t) => Some(t),
            Message::Binary(b) => {
                if b.len() > limit {
                    ctl(Ctl::Close(close_code::TOO_BIG, "frame too large"));
                    return "too big";
                }
                None
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => return "client closed",
        };
        if let Some(nonce) = text
            .as_ref()
            .filter(|_| answers < pings.load(Ordering::Relaxed))
            .and_then(|t| pong_nonce(t, limit))
        {
            answers += 1;
            // Not dropped when the queue is full: the writer may be waiting for this answer.
            if ctl_tx.send(Ctl::Pong(nonce, Instant::now())).await.is_err() {
                return "writer gone";
            }
            continue;
        }
        if rate
            .start
            .is_none_or(|s| s.elapsed() >= Duration::from_secs(1))
        {
            rate = RateWindow {
                start: Some(Instant::now()),
                count: 0,
            };
        }
        rate.count += 1;
        if rate.count > per_sec.saturating_mul(2) {
            ctl(Ctl::Close(close_code::FLOOD, "too many frames"));
            return "flood";
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
            return "too big";
        }
        if let Some(request) = handle(text.as_str(), app, &ctl) {
            // Subscription changes must not be dropped: wait for room in the queue.
            if ctl_tx.send(request).await.is_err() {
                return "writer gone";
            }
        }
    }
}

/// The nonce of a `pong` frame (small frames only: an answer is a few dozen bytes).
fn pong_nonce(text: &str, limit: usize) -> Option<u64> {
    if text.len() > 256 {
        return None;
    }
    match decode_client(text, limit).ok()?.msg {
        ClientMessage::Pong { nonce } => Some(nonce),
        _ => None,
    }
}

/// Decodes one client frame. Answers (pongs, errors) go out through `ctl`; a subscription
/// change is returned, for the writer, which owns the subscriptions.
fn handle(text: &str, app: &Arc<App>, ctl: &impl Fn(Ctl)) -> Option<Ctl> {
    let limit = app.limits.max_client_frame_bytes as usize;
    let err = |code: ErrorCode, message: String, sub: Option<&str>| {
        ctl(Ctl::Frame(frames::error(code, message, sub)))
    };
    let frame = match decode_client(text, limit) {
        Ok(f) => f,
        Err(e) => {
            tracing::debug!(error = %e, "bad client frame");
            err(e.code(), e.to_string(), None);
            return None;
        }
    };
    match frame.msg {
        ClientMessage::Subscribe {
            sub,
            topic,
            resume_from,
            instance_updates,
            line_batches,
        } => {
            if sub.is_empty() || sub.len() > MAX_SUB_ID_BYTES {
                err(
                    ErrorCode::InvalidFrame,
                    format!("subscription id must be 1 to {MAX_SUB_ID_BYTES} bytes"),
                    None,
                );
                return None;
            }
            Some(Ctl::Subscribe {
                sub,
                topic,
                resume_from,
                instance_updates,
                line_batches,
            })
        }
        ClientMessage::Unsubscribe { sub } => Some(Ctl::Unsubscribe(sub)),
        ClientMessage::Ping { nonce } => {
            ctl(Ctl::Frame(frames::message(ServerMessage::Pong { nonce })));
            None
        }
        ClientMessage::Pong { nonce } => {
            ctl(Ctl::Pong(nonce, Instant::now()));
            None
        }
    }
}
