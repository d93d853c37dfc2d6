//! `use_subscription`: a component follows a topic for as long as it lives. The hook
//! subscribes at once, subscribes again when a reactive topic changes, and unsubscribes when
//! its owner is cleaned up, so pages no longer keep a guard by hand.

use super::handle::{Feed, SubscriptionGuard};
use super::sub_event::SubEvent;
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use shipwatch_model::protocol::{ErrorCode, Gone, Topic};
use std::cell::RefCell;
use std::rc::Rc;

/// Where a subscription stands, as its own frames say (whether the socket is live is the
/// feed's [`Feed::state`]: a subscription stays `Live` across a reconnect and its resume).
#[derive(Clone, Debug, PartialEq)]
pub enum SubscriptionState {
    /// Asked for; its snapshot has not come yet.
    Waiting,
    /// Its snapshot came; changes follow.
    Live,
    /// The server refused it: its code and sentence, and for a log it no longer keeps, why.
    Refused {
        /// Machine-readable.
        code: ErrorCode,
        /// For people.
        message: String,
        /// Set when the log was removed (asking again does not bring it back).
        gone: Option<Gone>,
    },
}

impl SubscriptionState {
    /// The state an event leaves the subscription in, when it changes it (changes and lines
    /// come only to a live subscription, and leave it so).
    pub fn after(event: &SubEvent) -> Option<Self> {
        match event {
            SubEvent::Snapshot(_) => Some(Self::Live),
            SubEvent::Refused(code, message, gone) => Some(Self::Refused {
                code: *code,
                message: message.clone(),
                gone: *gone,
            }),
            SubEvent::Changes(_) | SubEvent::Lines(_) => None,
        }
    }
}

type EventHandler = Rc<dyn Fn(SubEvent, SubscriptionHandle)>;
type SubscribeHandler = Rc<dyn Fn(&Topic)>;

/// What [`use_subscription`] does with the subscription's events.
#[derive(Clone)]
pub struct UseSubscriptionOptions {
    on_event: EventHandler,
    on_subscribe: Option<SubscribeHandler>,
}

impl Default for UseSubscriptionOptions {
    /// Events are not handled: the caller reads the returned state only.
    fn default() -> Self {
        Self {
            on_event: Rc::new(|_, _| {}),
            on_subscribe: None,
        }
    }
}

impl UseSubscriptionOptions {
    /// Each event of the subscription, in order (a snapshot, then changes or lines; or a
    /// refusal), with the subscription's handle, to ask it for a fresh snapshot or to
    /// subscribe again.
    pub fn on_event(self, handler: impl Fn(SubEvent, SubscriptionHandle) + 'static) -> Self {
        Self {
            on_event: Rc::new(handler),
            ..self
        }
    }

    /// Each time the hook subscribes (at once, when the topic changes, on resubscribe),
    /// before any event of that subscription: what the caller holds is about to be replaced.
    pub fn on_subscribe(self, handler: impl Fn(&Topic) + 'static) -> Self {
        Self {
            on_subscribe: Some(Rc::new(handler)),
            ..self
        }
    }
}

/// What [`use_subscription`] gives back. Copy: it lives in the caller's owner.
#[derive(Clone, Copy)]
pub struct UseSubscriptionReturn {
    /// Where the subscription stands: waiting, live, or refused with why.
    pub state: ReadSignal<SubscriptionState>,
    /// The subscription, to ask it for a fresh snapshot or to subscribe again.
    pub handle: SubscriptionHandle,
}

/// A subscription made by [`use_subscription`]. Copy; does nothing once its owner is gone.
#[derive(Clone, Copy)]
pub struct SubscriptionHandle(StoredValue<SendWrapper<Rc<Hooked>>>);

struct Hooked {
    feed: Feed,
    on_event: EventHandler,
    on_subscribe: Option<SubscribeHandler>,
    state: RwSignal<SubscriptionState>,
    /// The topic followed now, and the guard that ends its subscription.
    current: RefCell<Option<(Topic, SubscriptionGuard)>>,
}

/// Follows the topic `topic` returns while the current owner lives: events go to the
/// options' `on_event`; when the signals `topic` reads change it, the old subscription ends
/// and the new one starts; the owner's cleanup unsubscribes. The feed comes from context
/// ([`Feed::expect`]). A closure rather than a `Signal<Topic>`: the signal's generic code for
/// one more type would weigh on the first load, where the feed is.
pub fn use_subscription(
    topic: impl Fn() -> Topic + 'static,
    options: UseSubscriptionOptions,
) -> UseSubscriptionReturn {
    // One copy of the hook's code, not one per caller's closure.
    follow_while_owned(Box::new(topic), options)
}

fn follow_while_owned(
    topic: Box<dyn Fn() -> Topic>,
    options: UseSubscriptionOptions,
) -> UseSubscriptionReturn {
    let state = RwSignal::new(SubscriptionState::Waiting);
    let handle = SubscriptionHandle(StoredValue::new(SendWrapper::new(Rc::new(Hooked {
        feed: Feed::expect(),
        on_event: options.on_event,
        on_subscribe: options.on_subscribe,
        state,
        current: RefCell::new(None),
    }))));
    handle.follow(untrack(&topic));
    // Its first run finds the topic just subscribed to; later runs, a changed one.
    Effect::new(move |_| {
        let topic = topic();
        if handle.topic().as_ref() != Some(&topic) {
            handle.follow(topic);
        }
    });
    on_cleanup(move || {
        // Cleanups run before the owner's values are disposed: the hook is still there.
        if let Some(hooked) = handle.0.try_get_value() {
            hooked.current.take();
        }
    });
    UseSubscriptionReturn {
        state: state.read_only(),
        handle,
    }
}

impl SubscriptionHandle {
    /// The caller's state is out of step with the server's (`reason`): counted as a dropped
    /// frame, and asked for a fresh snapshot.
    pub fn resync(&self, reason: &str) {
        if let Some(hooked) = self.0.try_get_value() {
            if let Some((_, guard)) = hooked.current.borrow().as_ref() {
                guard.resync(reason);
            }
        }
    }

    /// Ends the subscription and subscribes again to the same topic (after a refusal that
    /// may not last, e.g. a log the server does not know yet).
    pub fn resubscribe(&self) {
        if let Some(topic) = self.topic() {
            self.follow(topic);
        }
    }

    fn topic(&self) -> Option<Topic> {
        let hooked = self.0.try_get_value()?;
        let current = hooked.current.borrow();
        current.as_ref().map(|(topic, _)| topic.clone())
    }

    /// Ends the current subscription, then subscribes to `topic`.
    fn follow(self, topic: Topic) {
        let Some(hooked) = self.0.try_get_value() else {
            return;
        };
        drop(hooked.current.take());
        if hooked.state.try_get_untracked() != Some(SubscriptionState::Waiting) {
            hooked.state.try_set(SubscriptionState::Waiting);
        }
        if let Some(on_subscribe) = &hooked.on_subscribe {
            on_subscribe(&topic);
        }
        let guard = hooked
            .feed
            .subscribe(topic.clone(), move |event| self.deliver(event));
        *hooked.current.borrow_mut() = Some((topic, guard));
    }

    fn deliver(self, event: SubEvent) {
        // Gone with its owner: the guard unsubscribed, and nothing is left to tell.
        let Some(hooked) = self.0.try_get_value() else {
            return;
        };
        // Before the handler: a handler that subscribes again leaves the state waiting.
        if let Some(next) = SubscriptionState::after(&event) {
            if hooked.state.try_get_untracked().as_ref() != Some(&next) {
                hooked.state.try_set(next);
            }
        }
        (hooked.on_event)(event, self);
    }
}
