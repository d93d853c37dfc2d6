//! The subscriptions of this tab: their topics and handlers, the ids they have on the current
//! socket, their sequence bookkeeping (what was applied, what to resume from), and the ones
//! whose state was asked for and has not come (asked again when overdue or lost). Also the
//! loader's subscriptions, held until a page claims them.

use super::awaited::Awaited;
use super::early_socket;
use super::handle::Feed;
use super::sub_event::{Handler, SubEvent};
use leptos::prelude::*;
use shipwatch_model::protocol::stream::Cursor;
use shipwatch_model::protocol::{ClientMessage, SnapshotJoin, Topic};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

pub(super) struct Subscription {
    pub(super) topic: Topic,
    pub(super) handler: Handler,
    /// Sequence bookkeeping: what was applied, what to resume from.
    pub(super) cursor: Cursor,
    /// The id used on the wire for the current socket (renewed on resubscribe).
    pub(super) wire_id: String,
    /// Whether the page's loader already subscribed it on the current socket.
    on_socket: bool,
    /// Events of a subscription the loader made that no subscriber claimed yet.
    held: Option<Rc<RefCell<Vec<SubEvent>>>>,
    /// A snapshot arriving in parts.
    pub(super) join: SnapshotJoin,
    /// Its state was asked for and has not come yet.
    pub(super) awaited: Option<Awaited>,
}

pub(super) struct Registry {
    pub(super) subs: RefCell<HashMap<u64, Subscription>>,
    next_id: Cell<u64>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            subs: RefCell::new(HashMap::new()),
            next_id: Cell::new(1),
        }
    }
}

impl Registry {
    fn next_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }
}

/// How long a subscription the loader made waits for the app to claim it.
const UNCLAIMED_MS: u64 = 10_000;

impl Feed {
    /// A new subscription to `topic`, asked for on the socket. Returns its id.
    pub(super) fn register(&self, topic: Topic, handler: Handler) -> u64 {
        let id = self.0.registry.next_id();
        let wire_id = format!("s{id}");
        self.send(&subscribe(wire_id.clone(), topic.clone(), None));
        self.0.registry.subs.borrow_mut().insert(
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
        id
    }

    /// Takes the loader's socket, if it left one, and holds the events of the subscriptions
    /// it made until the app subscribes to the same topics.
    pub(super) fn adopt_early_socket(&self) {
        let Some(early) = early_socket::take() else {
            return;
        };
        for (wire_id, topic) in &early.subscribed {
            let id = self.0.registry.next_id();
            let held = Rc::new(RefCell::new(Vec::new()));
            let holder = held.clone();
            self.0.registry.subs.borrow_mut().insert(
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
        *self.0.session.early.borrow_mut() = Some(early);
        // A topic the app never asks for (the route changed before it started) is not kept.
        let feed = self.clone();
        set_timeout(
            move || feed.drop_unclaimed(),
            std::time::Duration::from_millis(UNCLAIMED_MS),
        );
    }

    /// Hands a subscription the loader made for `topic` to `handler`, with what it received
    /// so far (applied first, at the next flush). Returns its id.
    pub(super) fn claim(&self, topic: &Topic, handler: Handler) -> Option<u64> {
        let (id, held) = {
            let mut subs = self.0.registry.subs.borrow_mut();
            let (id, s) = subs
                .iter_mut()
                .find(|(_, s)| s.held.is_some() && s.topic == *topic)?;
            s.handler = handler;
            (*id, s.held.take()?)
        };
        let events: Vec<(u64, SubEvent)> = held.take().into_iter().map(|e| (id, e)).collect();
        if !events.is_empty() {
            self.0.batch.pending.borrow_mut().splice(0..0, events);
            // Not synchronously: the subscriber may still be building itself.
            self.flush_soon();
        }
        Some(id)
    }

    fn drop_unclaimed(&self) {
        let unclaimed: Vec<u64> = self
            .0
            .registry
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

    pub(super) fn unsubscribe(&self, id: u64) {
        let removed = self.0.registry.subs.borrow_mut().remove(&id);
        if let Some(sub) = removed {
            // An empty id: the server already ended the subscription, or never made it.
            if !sub.wire_id.is_empty() {
                self.send(&ClientMessage::Unsubscribe { sub: sub.wire_id });
            }
            // A view left while it was recovering no longer is.
            self.count_recovering();
        }
    }

    /// Marks every waiting subscription's answer as perhaps lost (a frame was dropped).
    pub(super) fn answers_maybe_lost(&self) {
        if let Ok(mut subs) = self.0.registry.subs.try_borrow_mut() {
            for a in subs.values_mut().filter_map(|s| s.awaited.as_mut()) {
                a.maybe_lost = true;
            }
        }
    }

    /// Sends a subscribe for every subscription, resuming where each one is.
    pub(super) fn resubscribe_all(&self) {
        let msgs: Vec<ClientMessage> = {
            let mut subs = self.0.registry.subs.borrow_mut();
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

    /// The subscription has its state (or was refused): it waits for nothing.
    pub(super) fn answered(&self, id: u64) {
        if let Some(s) = self.0.registry.subs.borrow_mut().get_mut(&id) {
            s.awaited = None;
        }
        self.count_recovering();
    }

    /// Asks again for a subscription's state after a loss: from where it is (`keep`), or afresh.
    pub(super) fn recover(&self, id: u64, keep: bool) {
        let now = js_sys::Date::now();
        if let Some(s) = self.0.registry.subs.borrow_mut().get_mut(&id) {
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
    pub(super) fn recover_overdue(&self) {
        let now = js_sys::Date::now();
        let overdue: Vec<(u64, bool)> = self
            .0
            .registry
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

    pub(super) fn count_recovering(&self) {
        let Ok(subs) = self.0.registry.subs.try_borrow() else {
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
            let mut subs = self.0.registry.subs.borrow_mut();
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

    pub(super) fn sub_by_wire(&self, wire: &str, f: impl FnOnce(&mut Subscription)) -> Option<u64> {
        let mut subs = self.0.registry.subs.borrow_mut();
        let (id, s) = subs.iter_mut().find(|(_, s)| s.wire_id == wire)?;
        f(s);
        Some(*id)
    }

    /// The handler of a subscription, when it still has one.
    pub(super) fn handler(&self, id: u64) -> Option<Handler> {
        self.0
            .registry
            .subs
            .borrow()
            .get(&id)
            .map(|s| s.handler.clone())
    }

    /// After the loader's socket is gone: the subscriptions it made and nobody claimed end
    /// with it, and the claimed ones are subscribed again on the next socket like any other.
    pub(super) fn forget_loader_subscriptions(&self) {
        let mut subs = self.0.registry.subs.borrow_mut();
        subs.retain(|_, s| s.held.is_none());
        for s in subs.values_mut() {
            s.on_socket = false;
        }
    }
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
