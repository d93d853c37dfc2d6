//! The socket session: connect (the loader's socket first), pump frames both ways, ping on
//! the server's heartbeat and give up on a silent socket, then wait with back-off (or a kick:
//! "Reconnect now", the network back, the tab shown again) and connect again.

use super::connection_state::ConnState;
use super::early_socket::EarlySocket;
use super::handle::Feed;
use futures::channel::mpsc;
use futures::{select, FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use gloo_timers::future::{IntervalStream, TimeoutFuture};
use leptos::prelude::*;
use shipwatch_model::protocol::reconnect::{delay_ms, Attempts};
use shipwatch_model::protocol::{ClientMessage, Limits};
use std::cell::RefCell;

pub(super) struct Session {
    url: String,
    /// Where frames to send go, while a socket is live.
    pub(super) outbox: RefCell<Option<mpsc::UnboundedSender<String>>>,
    /// Ends the wait before the next attempt (or the current socket).
    pub(super) kick: mpsc::UnboundedSender<()>,
    /// The server's limits, from its `hello`.
    pub(super) limits: RefCell<Limits>,
    /// The loader's socket, for the first connection.
    pub(super) early: RefCell<Option<EarlySocket>>,
}

impl Session {
    pub(super) fn new(url: String) -> (Self, mpsc::UnboundedReceiver<()>) {
        let (kick, kicks) = mpsc::unbounded();
        let session = Self {
            url: asking_status(url),
            outbox: RefCell::new(None),
            kick,
            limits: RefCell::new(Limits::default()),
            early: RefCell::new(None),
        };
        (session, kicks)
    }
}

/// The feed's URL asking for `status` frames (docs/protocol.md, "Connecting").
fn asking_status(url: String) -> String {
    let join = if url.contains('?') { '&' } else { '?' };
    format!("{url}{join}status=1")
}

impl Feed {
    /// Reconnects at once when the network comes back or a hidden tab becomes visible.
    pub(super) fn watch_browser(&self) {
        let feed = self.clone();
        let online = move |_: web_sys::Event| {
            if !feed.0.state.get_untracked().is_live() {
                feed.reconnect_now();
            }
        };
        let feed = self.clone();
        let offline = move |_: web_sys::Event| {
            feed.0.state.set(ConnState::Offline {
                since: js_sys::Date::now(),
            });
        };
        let feed = self.clone();
        let visible = move |_: web_sys::Event| {
            let shown = document().visibility_state() == web_sys::VisibilityState::Visible;
            if shown && !feed.0.state.get_untracked().is_live() {
                feed.reconnect_now();
            }
        };
        let _ = window_event_listener_untyped("online", online);
        let _ = window_event_listener_untyped("offline", offline);
        let _ = window_event_listener_untyped("visibilitychange", visible);
    }
}

/// The connection loop: connect, pump frames, and on loss wait with backoff (or a kick).
pub(super) async fn run(feed: Feed, mut kicks: mpsc::UnboundedReceiver<()>) {
    let mut attempts = Attempts::default();
    loop {
        let was_live = pump(&feed, &mut kicks).await;
        let attempt = attempts.next(was_live);
        let delay = delay_ms(attempt, js_sys::Math::random());
        let now = js_sys::Date::now();
        let since = match feed.0.state.get_untracked() {
            ConnState::Reconnecting { since, .. } | ConnState::Offline { since } => since,
            _ => now,
        };
        let offline = !window().navigator().on_line();
        feed.0.state.set(if offline {
            ConnState::Offline { since }
        } else {
            ConnState::Reconnecting {
                attempt,
                next_try_at: now + f64::from(delay),
                since,
            }
        });
        select! {
            _ = TimeoutFuture::new(delay).fuse() => {},
            _ = kicks.next() => {},
        }
    }
}

/// One connection, until it drops. Returns whether it ever became live.
async fn pump(feed: &Feed, kicks: &mut mpsc::UnboundedReceiver<()>) -> bool {
    let session = &feed.0.session;
    let early = session.early.borrow_mut().take();
    let (ws, backlog) = match early {
        Some(early) => (early.socket, early.backlog),
        None => match WebSocket::open(&session.url) {
            Ok(ws) => (ws, Vec::new()),
            Err(e) => {
                leptos::logging::warn!("shipwatch: cannot open socket: {e}");
                feed.forget_loader_subscriptions();
                return false;
            }
        },
    };
    let (mut write, read) = ws.split();
    let mut read = futures::stream::iter(backlog).chain(read).fuse();
    let (tx, mut outbox) = mpsc::unbounded::<String>();
    // Nothing is sent before the server's hello: a socket still connecting refuses frames.
    let mut tx = Some(tx);
    let mut was_live = false;
    let mut last_heard = js_sys::Date::now();
    let mut last_ping = last_heard;
    let mut nonce = 0u64;
    // One timer for the connection: a timeout made per loop would set and clear a browser
    // timer for every frame received (a tenth of the feed's time in a profile).
    let mut tick = IntervalStream::new(1_000).fuse();
    loop {
        let (heartbeat_ms, idle_ms) = {
            let l = session.limits.borrow();
            (f64::from(l.heartbeat_ms), f64::from(l.idle_timeout_ms))
        };
        select! {
            msg = read.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    last_heard = js_sys::Date::now();
                    feed.receive(&text);
                    if feed.0.state.get_untracked().is_live() {
                        was_live = true;
                        if let Some(tx) = tx.take() {
                            *session.outbox.borrow_mut() = Some(tx);
                            feed.resubscribe_all();
                        }
                    }
                }
                Some(Ok(Message::Bytes(_))) => feed.drop_frame("binary frame".into()),
                Some(Err(e)) => {
                    leptos::logging::warn!("shipwatch: socket error: {e}");
                    break;
                }
                None => break,
            },
            out = outbox.next() => match out {
                Some(text) => {
                    if write.send(Message::Text(text)).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            _ = kicks.next() => break,
            _ = tick.next() => {
                let now = js_sys::Date::now();
                if now - last_heard > idle_ms {
                    // Whole milliseconds: a float here would bring float printing into the first chunk.
                    leptos::logging::warn!("shipwatch: no frame for {} ms; reconnecting", idle_ms as u64);
                    break;
                }
                if was_live {
                    feed.recover_overdue();
                }
                if now - last_ping >= heartbeat_ms {
                    last_ping = now;
                    nonce += 1;
                    feed.send(&ClientMessage::Ping { nonce });
                }
            },
        }
    }
    *session.outbox.borrow_mut() = None;
    feed.forget_loader_subscriptions();
    was_live
}
