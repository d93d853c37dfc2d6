//! The feed client: one websocket per tab, multiplexed subscriptions, resume after any
//! disconnect, heartbeats, and frames applied in one reactive batch per animation frame (a
//! snapshot at once: nothing it replaces is worth a frame's wait).
//!
//! - `handle`: the [`Feed`] pages hold, the signals the indicator reads, the guard;
//! - `registry`: the subscriptions, their sequence bookkeeping, the loader's ones held;
//! - `session`: the socket loop: heartbeats, silence, reconnect with back-off;
//! - `routing`: each decoded frame to the feed's state or to its subscription;
//! - `batching`: events queued and applied once per animation frame;
//! - `use_subscription`: the hook a component follows a topic with, for its lifetime;
//! - `awaited`, `early_socket`, `connection_state`, `sub_event`: what those share.

mod awaited;
mod batching;
mod connection_state;
mod early_socket;
mod handle;
mod registry;
mod routing;
mod session;
mod sub_event;
mod use_subscription;

pub use connection_state::{ConnState, Dropped, StoreStatus};
pub use handle::{Feed, SubscriptionGuard};
pub use sub_event::SubEvent;
pub use use_subscription::{
    use_subscription, SubscriptionHandle, SubscriptionState, UseSubscriptionOptions,
    UseSubscriptionReturn,
};
