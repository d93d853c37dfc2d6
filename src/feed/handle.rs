//! The feed's handle: what pages hold (from context), the state its parts share, the signals
//! the connection indicator reads, and the guard that ends a subscription.

use super::batching::Batch;
use super::connection_state::{ConnState, Dropped, StoreStatus};
use super::registry::Registry;
use super::session::{self, Session};
use super::sub_event::{Handler, SubEvent};
use futures::channel::mpsc;
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use shipwatch_model::protocol::{ClientMessage, Topic};
use std::rc::Rc;

pub(super) struct Inner {
    pub(super) registry: Registry,
    pub(super) batch: Batch,
    pub(super) session: Session,
    pub(super) state: RwSignal<ConnState>,
    pub(super) dropped: RwSignal<Dropped>,
    /// Subscriptions that lost their state (a dropped frame) and asked for it again.
    pub(super) recovering: RwSignal<usize>,
    /// Whether the server's store commits, as its `status` frames say (`ok` on a new socket).
    pub(super) store: RwSignal<StoreStatus>,
}

/// Handle to the feed; cheap to clone, provided as context.
#[derive(Clone)]
pub struct Feed(pub(super) SendWrapper<Rc<Inner>>);

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
        leptos::task::spawn_local(session::run(feed.clone(), kicks));
        feed.watch_browser();
        feed
    }

    /// A feed that opens no socket: the frames it gets are the ones given to
    /// [`Feed::receive_text`] (component tests).
    #[doc(hidden)]
    pub fn unconnected() -> Self {
        Self::new(String::new()).0
    }

    /// Sends what the feed would send on the socket to `outbox` (component tests read it).
    #[doc(hidden)]
    pub fn send_to(&self, outbox: mpsc::UnboundedSender<String>) {
        *self.0.session.outbox.borrow_mut() = Some(outbox);
    }

    /// Handles one text frame as if the server had sent it on the socket.
    #[doc(hidden)]
    pub fn receive_text(&self, text: &str) {
        self.receive(text);
    }

    fn new(url: String) -> (Self, mpsc::UnboundedReceiver<()>) {
        let (session, kicks) = Session::new(url);
        let inner = Rc::new(Inner {
            registry: Registry::default(),
            batch: Batch::default(),
            session,
            state: RwSignal::new(ConnState::Connecting),
            dropped: RwSignal::new(Dropped::default()),
            recovering: RwSignal::new(0),
            store: RwSignal::new(StoreStatus::default()),
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
        let _ = self.0.session.kick.unbounded_send(());
    }

    /// Follows `topic`; `handler` gets a snapshot, then changes. Unsubscribes when the guard
    /// is dropped. In a component, [`use_subscription`](super::use_subscription()) ties it
    /// to the component's life instead.
    pub fn subscribe(
        &self,
        topic: Topic,
        handler: impl Fn(SubEvent) + 'static,
    ) -> SubscriptionGuard {
        let handler: Handler = Rc::new(handler);
        let id = match self.claim(&topic, handler.clone()) {
            Some(id) => id,
            None => self.register(topic, handler),
        };
        SubscriptionGuard {
            feed: self.clone(),
            id,
        }
    }

    pub(super) fn send(&self, msg: &ClientMessage) {
        if let Some(tx) = self.0.session.outbox.borrow().as_ref() {
            let _ = tx.unbounded_send(msg.frame_json());
        }
    }

    /// Counts a frame we could not use; the last good state stays on screen.
    pub(super) fn drop_frame(&self, reason: String) {
        leptos::logging::warn!("shipwatch: dropped a frame: {reason}");
        self.0.dropped.update(|d| {
            d.count += 1;
            d.last_reason = Some(reason);
        });
        // The frame may have been the answer a subscription waits for.
        self.answers_maybe_lost();
        self.count_recovering();
    }
}
