//! The feed client: one websocket per tab, multiplexed subscriptions, resume after any
//! disconnect, heartbeats, and frames applied in one reactive batch per animation frame (a
//! snapshot at once: nothing it replaces is worth a frame's wait).

mod awaited;
mod connection_state;
mod early_socket;

use awaited::Awaited;
pub use connection_state::{ConnState, Dropped, StoreStatus};

use futures::channel::mpsc;
use futures::{select, FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use gloo_timers::future::{IntervalStream, TimeoutFuture};
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use shipwatch_model::protocol::reconnect::{delay_ms, Attempts};
use shipwatch_model::protocol::stream::{Cursor, SeqError};
use shipwatch_model::protocol::{
    decode_server, Change, ClientMessage, ErrorCode, Gone, Limits, LineBatch, ServerMessage,
    Snapshot, SnapshotJoin, Topic,
};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// What a subscriber receives, in order.
#[derive(Clone, Debug)]
pub enum SubEvent {
    /// Replace your state with this.
    Snapshot(Snapshot),
    /// Apply these changes, in order (already deduplicated).
    Changes(Vec<Change>),
    /// Append these log lines (already deduplicated; logs topics only).
    Lines(LineBatch),
    /// The server refused the subscription (with, for a log it no longer keeps, why).
    Refused(ErrorCode, String, Option<Gone>),
}

type Handler = Rc<dyn Fn(SubEvent)>;

struct Subscription {
    topic: Topic,
    handler: Handler,
    /// Sequence bookkeeping: what was applied, what to resume from.
    cursor: Cursor,
    /// The id used on the wire for the current socket (renewed on resubscribe).
    wire_id: String,
    /// Whether the page's loader already subscribed it on the current socket.
    on_socket: bool,
    /// Events of a subscription the loader made that no subscriber claimed yet.
    held: Option<Rc<RefCell<Vec<SubEvent>>>>,
    /// A snapshot arriving in parts.
    join: SnapshotJoin,
    /// Its state was asked for and has not come yet.
    awaited: Option<Awaited>,
}

struct Inner {
    url: String,
    subs: RefCell<HashMap<u64, Subscription>>,
    next_id: Cell<u64>,
    outbox: RefCell<Option<mpsc::UnboundedSender<String>>>,
    kick: mpsc::UnboundedSender<()>,
    pending: RefCell<Vec<(u64, SubEvent)>>,
    flush_scheduled: Cell<bool>,
    limits: RefCell<Limits>,
    state: RwSignal<ConnState>,
    dropped: RwSignal<Dropped>,
    /// Subscriptions that lost their state (a dropped frame) and asked for it again.
    recovering: RwSignal<usize>,
    /// Whether the server's store commits, as its `status` frames say (`ok` on a new socket).
    store: RwSignal<StoreStatus>,
    /// The loader's socket, for the first connection.
    early: RefCell<Option<early_socket::EarlySocket>>,
}

/// Handle to the feed; cheap to clone, provided as context.
#[derive(Clone)]
pub struct Feed(SendWrapper<Rc<Inner>>);

/// How long a subscription the loader made waits for the app to claim it.
const UNCLAIMED_MS: u64 = 10_000;

/// Ends its subscription when dropped.
pub struct SubscriptionGuard {
    feed: Feed,
    id: u64,
}

impl SubscriptionGuard {
    /// The subscription's state is out of step with the server's (`reason`): counted as a
    /// dropped frame, and subscribed again for a fresh snapshot.
    pub fn resync(&self, reason: &str) {
        self.feed
            .drop_frame(format!("{reason}; asking for a fresh snapshot"));
        self.feed.recover(self.id, false);
    }
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.feed.unsubscribe(self.id);
    }
}

impl Feed {
    /// Opens the feed to `url` (e.g. `ws://127.0.0.1:8080/ws`) and keeps it open. The first
    /// connection is the page loader's socket when it left a usable one.
    pub fn connect(url: String) -> Self {
        let (feed, kicks) = Self::new(url);
        feed.adopt_early_socket();
        leptos::task::spawn_local(run(feed.clone(), kicks));
        feed.watch_browser();
        feed
    }

    /// A feed that opens no socket: the frames it gets are the ones given to
    /// [`Feed::receive_text`] (component tests).
    #[doc(hidden)]
    pub fn unconnected() -> Self {
        Self::new(String::new()).0
    }

    /// Handles one text frame as if the server had sent it on the socket.
    #[doc(hidden)]
    pub fn receive_text(&self, text: &str) {
        self.receive(text);
    }

    fn new(url: String) -> (Self, mpsc::UnboundedReceiver<()>) {
        let (kick, kicks) = mpsc::unbounded();
        let inner = Rc::new(Inner {
            url: asking_status(url),
            subs: RefCell::new(HashMap::new()),
            next_id: Cell::new(1),
            outbox: RefCell::new(None),
            kick,
            pending: RefCell::new(Vec::new()),
            flush_scheduled: Cell::new(false),
            limits: RefCell::new(Limits::default()),
            state: RwSignal::new(ConnState::Connecting),
            dropped: RwSignal::new(Dropped::default()),
            recovering: RwSignal::new(0),
            store: RwSignal::new(StoreStatus::default()),
            early: RefCell::new(None),
        });
        (Feed(SendWrapper::new(inner)), kicks)
    }

    /// The feed of this page, from context.
    pub fn expect() -> Self {
        expect_context::<Feed>()
    }

    /// The connection state, for the indicator.
    pub fn state(&self) -> RwSignal<ConnState> {
        self.0.state
    }

    /// Frames dropped so far.
    pub fn dropped(&self) -> RwSignal<Dropped> {
        self.0.dropped
    }

    /// How many subscriptions lost their state to a dropped frame and wait for it again.
    pub fn recovering(&self) -> RwSignal<usize> {
        self.0.recovering
    }

    /// Whether the server's store commits, for the indicator.
    pub fn store(&self) -> RwSignal<StoreStatus> {
        self.0.store
    }

    /// Reconnect now instead of waiting for the backoff.
    pub fn reconnect_now(&self) {
        let _ = self.0.kick.unbounded_send(());
    }

    /// Follows `topic`; `handler` gets a snapshot, then changes. Unsubscribes when the guard
    /// is dropped.
    pub fn subscribe(
        &self,
        topic: Topic,
        handler: impl Fn(SubEvent) + 'static,
    ) -> SubscriptionGuard {
        let handler: Handler = Rc::new(handler);
        if let Some(id) = self.claim(&topic, handler.clone()) {
            return SubscriptionGuard {
                feed: self.clone(),
                id,
            };
        }
        let id = self.0.next_id.get();
        self.0.next_id.set(id + 1);
        let wire_id = format!("s{id}");
        self.send(&subscribe(wire_id.clone(), topic.clone(), None));
        self.0.subs.borrow_mut().insert(
            id,
            Subscription {
                topic,
                handler,
                cursor: Cursor::new(),
                wire_id,
                on_socket: false,
                held: None,
                join: SnapshotJoin::default(),
                awaited: Some(Awaited::new(js_sys::Date::now())),
            },
        );
        SubscriptionGuard {
            feed: self.clone(),
            id,
        }
    }

    /// Takes the loader's socket, if it left one, and holds the events of the subscriptions
    /// it made until the app subscribes to the same topics.
    fn adopt_early_socket(&self) {
        let Some(early) = early_socket::take() else {
            return;
        };
        for (wire_id, topic) in &early.subscribed {
            let id = self.0.next_id.get();
            self.0.next_id.set(id + 1);
            let held = Rc::new(RefCell::new(Vec::new()));
            let holder = held.clone();
            self.0.subs.borrow_mut().insert(
                id,
                Subscription {
                    topic: topic.clone(),
                    handler: Rc::new(move |event| holder.borrow_mut().push(event)),
                    cursor: Cursor::new(),
                    wire_id: wire_id.clone(),
                    on_socket: true,
                    held: Some(held),
                    join: SnapshotJoin::default(),
                    awaited: Some(Awaited::new(js_sys::Date::now())),
                },
            );
        }
        *self.0.early.borrow_mut() = Some(early);
        // A topic the app never asks for (the route changed before it started) is not kept.
        let feed = self.clone();
        set_timeout(
            move || feed.drop_unclaimed(),
            std::time::Duration::from_millis(UNCLAIMED_MS),
        );
    }

    /// Hands a subscription the loader made for `topic` to `handler`, with what it received
    /// so far (applied first, at the next flush). Returns its id.
    fn claim(&self, topic: &Topic, handler: Handler) -> Option<u64> {
        let (id, held) = {
            let mut subs = self.0.subs.borrow_mut();
            let (id, s) = subs
                .iter_mut()
                .find(|(_, s)| s.held.is_some() && s.topic == *topic)?;
            s.handler = handler;
            (*id, s.held.take()?)
        };
        let events: Vec<(u64, SubEvent)> = held.take().into_iter().map(|e| (id, e)).collect();
        if !events.is_empty() {
            self.0.pending.borrow_mut().splice(0..0, events);
            // Not synchronously: the subscriber may still be building itself.
            self.flush_soon();
        }
        Some(id)
    }

    fn drop_unclaimed(&self) {
        let unclaimed: Vec<u64> = self
            .0
            .subs
            .borrow()
            .iter()
            .filter(|(_, s)| s.held.is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in unclaimed {
            self.unsubscribe(id);
        }
    }

    fn unsubscribe(&self, id: u64) {
        let removed = self.0.subs.borrow_mut().remove(&id);
        if let Some(sub) = removed {
            self.send(&ClientMessage::Unsubscribe { sub: sub.wire_id });
            // A view left while it was recovering no longer is.
            self.count_recovering();
        }
    }

    fn send(&self, msg: &ClientMessage) {
        if let Some(tx) = self.0.outbox.borrow().as_ref() {
            let _ = tx.unbounded_send(msg.frame_json());
        }
    }

    /// Counts a frame we could not use; the last good state stays on screen.
    fn drop_frame(&self, reason: String) {
        leptos::logging::warn!("shipwatch: dropped a frame: {reason}");
        self.0.dropped.update(|d| {
            d.count += 1;
            d.last_reason = Some(reason);
        });
        // The frame may have been the answer a subscription waits for.
        if let Ok(mut subs) = self.0.subs.try_borrow_mut() {
            for a in subs.values_mut().filter_map(|s| s.awaited.as_mut()) {
                a.maybe_lost = true;
            }
        }
        self.count_recovering();
    }

    /// Sends a subscribe for every subscription, resuming where each one is.
    fn resubscribe_all(&self) {
        let msgs: Vec<ClientMessage> = {
            let mut subs = self.0.subs.borrow_mut();
            // The loader's subscriptions are already on this socket.
            subs.iter_mut()
                .filter_map(|(id, s)| {
                    (!std::mem::replace(&mut s.on_socket, false)).then_some((id, s))
                })
                .map(|(id, s)| {
                    s.wire_id = format!("s{id}");
                    s.join.clear();
                    s.awaited = Some(Awaited::new(js_sys::Date::now()));
                    subscribe(s.wire_id.clone(), s.topic.clone(), s.cursor.resume_from())
                })
                .collect()
        };
        for m in &msgs {
            self.send(m);
        }
        // Asked afresh on a new socket: not recovering from a loss on the old one.
        self.count_recovering();
    }

    /// Handles one text frame from the server.
    fn receive(&self, text: &str) {
        let limit = self.0.limits.borrow().max_server_frame_bytes as usize;
        let frame = match decode_server(text, limit) {
            Ok(f) => f,
            Err(e) => return self.drop_frame(e.to_string()),
        };
        match frame.msg {
            ServerMessage::Hello {
                limits,
                stuck_after,
                now,
                ..
            } => {
                *self.0.limits.borrow_mut() = limits;
                crate::state::time_in_state::hello(stuck_after, now);
                // A new socket, perhaps to another server: its store is fine until it says not.
                self.set_store(StoreStatus::default());
                self.0.state.set(ConnState::Live {
                    since: js_sys::Date::now(),
                });
            }
            ServerMessage::Ping { nonce } => self.send(&ClientMessage::Pong { nonce }),
            ServerMessage::Pong { .. } | ServerMessage::Unsubscribed { .. } => {}
            ServerMessage::Status { store, message } => {
                self.set_store(StoreStatus {
                    state: store,
                    message,
                });
            }
            ServerMessage::Resumed { sub, seq } => {
                let mut verdict = Ok(());
                let Some(id) = self.sub_by_wire(&sub, |s| verdict = s.cursor.resumed(seq)) else {
                    return;
                };
                match verdict {
                    Ok(()) => self.answered(id),
                    Err(e) => {
                        self.drop_frame(format!("{e}; asking for a fresh snapshot"));
                        self.recover(id, false);
                    }
                }
            }
            ServerMessage::Snapshot { sub, seq, data } => {
                if let Some(id) = self.sub_by_wire(&sub, |s| {
                    s.join.clear();
                    s.cursor.snapshot(seq);
                }) {
                    self.answered(id);
                    self.enqueue(id, SubEvent::Snapshot(data));
                }
            }
            ServerMessage::SnapshotPart {
                sub,
                seq,
                part,
                parts,
                data,
            } => self.receive_part(&sub, seq, part, parts, data),
            ServerMessage::Delta { sub, seq, changes } => self.receive_delta(&sub, seq, changes),
            ServerMessage::Lines { sub, seq, lines } => self.receive_lines(&sub, seq, lines),
            ServerMessage::Error {
                code,
                message,
                sub,
                gone,
            } => match sub.and_then(|s| self.sub_by_wire(&s, |_| ())) {
                // A replica behind the page ended the subscription: it stays awaited, so it is
                // asked again from its cursor with the back-off of an unanswered subscribe,
                // and shows as recovering meanwhile; the server holds nothing to unsubscribe.
                Some(id) if code == ErrorCode::Behind => {
                    leptos::logging::warn!("shipwatch: {message}; asking again");
                    if let Some(s) = self.0.subs.borrow_mut().get_mut(&id) {
                        s.wire_id.clear();
                        let mut waiting = s
                            .awaited
                            .unwrap_or_else(|| Awaited::new(js_sys::Date::now()));
                        waiting.maybe_lost = true;
                        s.awaited = Some(waiting);
                    }
                    self.count_recovering();
                }
                Some(id) => {
                    self.answered(id);
                    self.enqueue(id, SubEvent::Refused(code, message, gone));
                }
                None => self.drop_frame(format!("server error {}: {message}", code.as_str())),
            },
        }
    }

    fn set_store(&self, status: StoreStatus) {
        if self.0.store.get_untracked() != status {
            self.0.store.set(status);
        }
    }

    fn receive_delta(&self, wire: &str, seq: u64, mut changes: Vec<Change>) {
        if let Some((id, seen)) = self.numbered(wire, seq, changes.len()) {
            changes.drain(..seen);
            self.enqueue(id, SubEvent::Changes(changes));
        }
    }

    /// A `lines` frame: numbered like a delta of as many changes.
    fn receive_lines(&self, wire: &str, seq: u64, mut lines: LineBatch) {
        if let Some((id, seen)) = self.numbered(wire, seq, lines.len()) {
            lines.skip(seen);
            self.enqueue(id, SubEvent::Lines(lines));
        }
    }

    /// Checks the numbers of `count` changes from `seq` against the subscription's cursor:
    /// the subscription and how many of them it already has, when some are new. A gap asks
    /// again from where it is; a frame of a subscription just ended, or a resend of what it
    /// has, is nothing to apply.
    fn numbered(&self, wire: &str, seq: u64, count: usize) -> Option<(u64, usize)> {
        let mut verdict = Err(SeqError::NoBase);
        let id = self.sub_by_wire(wire, |s| verdict = s.cursor.delta(seq, count))?;
        match verdict {
            Ok(range) if range.is_empty() => None,
            Ok(range) => Some((id, range.start)),
            Err(e @ SeqError::Gap { .. }) => {
                self.drop_frame(format!("{e}; resuming"));
                self.recover(id, true);
                None
            }
            Err(e) => {
                self.drop_frame(e.to_string());
                None
            }
        }
    }

    /// One part of a snapshot: joined with the parts before it; the whole is applied as a
    /// snapshot once its last part is in.
    fn receive_part(&self, wire: &str, seq: u64, part: u32, parts: u32, data: Snapshot) {
        let now = js_sys::Date::now();
        let mut joined = Ok(None);
        let Some(id) = self.sub_by_wire(wire, |s| {
            joined = s.join.add(seq, part, parts, data);
            if let Some(a) = s.awaited.as_mut() {
                a.since = now; // the answer is coming
            }
            if let Ok(Some(_)) = joined {
                s.cursor.snapshot(seq);
            }
        }) else {
            return;
        };
        match joined {
            Ok(None) => {}
            Ok(Some(snapshot)) => {
                self.answered(id);
                self.enqueue(id, SubEvent::Snapshot(snapshot));
            }
            Err(e) => {
                self.drop_frame(format!("{e}; asking for a fresh snapshot"));
                self.recover(id, false);
            }
        }
    }

    /// The subscription has its state (or was refused): it waits for nothing.
    fn answered(&self, id: u64) {
        if let Some(s) = self.0.subs.borrow_mut().get_mut(&id) {
            s.awaited = None;
        }
        self.count_recovering();
    }

    /// Asks again for a subscription's state after a loss: from where it is (`keep`), or afresh.
    fn recover(&self, id: u64, keep: bool) {
        let now = js_sys::Date::now();
        if let Some(s) = self.0.subs.borrow_mut().get_mut(&id) {
            s.awaited = Some(
                s.awaited
                    .map_or(Awaited::new(now).again(now), |a| a.again(now)),
            );
        }
        self.resume(id, keep);
        self.count_recovering();
    }

    /// Asks again for the state of every subscription whose answer is overdue (its snapshot
    /// or resume answer was dropped, or never came).
    fn recover_overdue(&self) {
        let now = js_sys::Date::now();
        let overdue: Vec<(u64, bool)> = self
            .0
            .subs
            .borrow()
            .iter()
            .filter(|(_, s)| s.awaited.is_some_and(|a| a.overdue(now)))
            .map(|(id, s)| (*id, s.cursor.last().is_some()))
            .collect();
        for (id, keep) in overdue {
            leptos::logging::warn!("shipwatch: no answer to a subscription; asking again");
            self.recover(id, keep);
        }
    }

    fn count_recovering(&self) {
        let Ok(subs) = self.0.subs.try_borrow() else {
            return;
        };
        let n = subs
            .values()
            .filter(|s| s.awaited.is_some_and(|a| a.recovering()))
            .count();
        drop(subs);
        if self.0.recovering.get_untracked() != n {
            self.0.recovering.set(n);
        }
    }

    /// Re-subscribes one subscription: from where it is (`keep`), or afresh with a snapshot.
    fn resume(&self, id: u64, keep: bool) {
        let msgs = {
            let mut subs = self.0.subs.borrow_mut();
            let Some(s) = subs.get_mut(&id) else { return };
            let old = std::mem::replace(
                &mut s.wire_id,
                format!("s{id}r{}", js_sys::Date::now() as u64),
            );
            s.join.clear();
            [
                // An empty id: the server already ended the subscription.
                (!old.is_empty()).then_some(ClientMessage::Unsubscribe { sub: old }),
                Some(subscribe(
                    s.wire_id.clone(),
                    s.topic.clone(),
                    if keep { s.cursor.resume_from() } else { None },
                )),
            ]
        };
        for m in msgs.iter().flatten() {
            self.send(m);
        }
    }

    fn sub_by_wire(&self, wire: &str, f: impl FnOnce(&mut Subscription)) -> Option<u64> {
        let mut subs = self.0.subs.borrow_mut();
        let (id, s) = subs.iter_mut().find(|(_, s)| s.wire_id == wire)?;
        f(s);
        Some(*id)
    }

    /// Queues an event; all queued events are applied together on the next animation frame
    /// (or after 100 ms when the tab is hidden and frames do not come).
    ///
    /// Lines go to their subscriber at once unless something of that subscription is still
    /// queued (order is kept): a log's store is outside the reactive graph and tells the
    /// screen once per frame itself, and taking each frame's lines as it comes spreads a
    /// fast history over the frames instead of piling tens of thousands of lines onto one.
    fn enqueue(&self, id: u64, event: SubEvent) {
        let event = match event {
            SubEvent::Lines(lines) => match self.handler_if_nothing_queued(id) {
                Some(handler) => return handler(SubEvent::Lines(lines)),
                None => SubEvent::Lines(lines),
            },
            other => other,
        };
        let snapshot = matches!(event, SubEvent::Snapshot(_));
        self.0.pending.borrow_mut().push((id, event));
        if snapshot {
            self.flush_soon();
        } else {
            self.schedule_flush();
        }
    }

    fn handler_if_nothing_queued(&self, id: u64) -> Option<Handler> {
        if self
            .0
            .pending
            .borrow()
            .iter()
            .any(|(queued, _)| *queued == id)
        {
            return None;
        }
        self.0.subs.borrow().get(&id).map(|s| s.handler.clone())
    }

    /// Applies what is queued in a microtask: a snapshot is what a page waits for to show
    /// anything, and the next animation frame can be 20 ms away on a busy main thread.
    fn flush_soon(&self) {
        self.0.flush_scheduled.set(true);
        let feed = self.clone();
        queue_microtask(move || feed.flush());
    }

    fn schedule_flush(&self) {
        if self.0.flush_scheduled.replace(true) {
            return;
        }
        let (a, b) = (self.clone(), self.clone());
        request_animation_frame(move || a.flush());
        set_timeout(move || b.flush(), std::time::Duration::from_millis(100));
    }

    fn flush(&self) {
        if !self.0.flush_scheduled.replace(false) {
            return;
        }
        let events = std::mem::take(&mut *self.0.pending.borrow_mut());
        for (id, event) in events {
            let handler = self.0.subs.borrow().get(&id).map(|s| s.handler.clone());
            if let Some(h) = handler {
                h(event);
            }
        }
    }

    /// After the loader's socket is gone: the subscriptions it made and nobody claimed end
    /// with it, and the claimed ones are subscribed again on the next socket like any other.
    fn forget_loader_subscriptions(&self) {
        let mut subs = self.0.subs.borrow_mut();
        subs.retain(|_, s| s.held.is_none());
        for s in subs.values_mut() {
            s.on_socket = false;
        }
    }

    /// Reconnects at once when the network comes back or a hidden tab becomes visible.
    fn watch_browser(&self) {
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

/// The feed's URL asking for `status` frames (docs/protocol.md, "Connecting").
fn asking_status(url: String) -> String {
    let join = if url.contains('?') { '&' } else { '?' };
    format!("{url}{join}status=1")
}

/// A subscribe message. Environment topics ask for `instance_update` changes: most status
/// events change one instance, a third of the text of the whole service. Logs topics ask for
/// `lines` frames: half the bytes of `line` changes, and a history in a few hundred frames.
fn subscribe(sub: String, topic: Topic, resume_from: Option<u64>) -> ClientMessage {
    let instance_updates = matches!(topic, Topic::Environment { .. });
    let line_batches = matches!(topic, Topic::Logs { .. });
    ClientMessage::Subscribe {
        sub,
        topic,
        resume_from,
        instance_updates,
        line_batches,
    }
}

/// The connection loop: connect, pump frames, and on loss wait with backoff (or a kick).
async fn run(feed: Feed, mut kicks: mpsc::UnboundedReceiver<()>) {
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
    let early = feed.0.early.borrow_mut().take();
    let (ws, backlog) = match early {
        Some(early) => (early.socket, early.backlog),
        None => match WebSocket::open(&feed.0.url) {
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
            let l = feed.0.limits.borrow();
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
                            *feed.0.outbox.borrow_mut() = Some(tx);
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
    *feed.0.outbox.borrow_mut() = None;
    feed.forget_loader_subscriptions();
    was_live
}
