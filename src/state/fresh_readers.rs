//! Setting a signal that outlives its readers, so that the readers that are gone are forgotten.
//!
//! Why: a `reactive_graph` 0.2 signal keeps an entry, and the memory block, of every subscriber
//! it ever had until that subscriber runs again, and a memo or effect that has been dropped
//! never runs again. A service's signal lives as long as the environment page, while the table
//! rows that read it come and go all the time (scrolling, re-sorting under a storm of
//! changes): it grew by one entry per row's reader ever created, a leak. After notifying, the
//! signal here forgets all its subscribers: the live ones were just marked to run again and
//! subscribe anew when they do; the gone ones are dropped for good.

use leptos::prelude::*;
use leptos::reactive::graph::Source;

/// Sets `signal` to `value`, notifying its readers, then forgets them (the live ones
/// subscribe again when they re-run).
pub fn set_forgetting_readers<S, T>(signal: &S, value: T)
where
    S: Set<Value = T> + Source,
{
    signal.set(value);
    signal.clear_subscribers();
}

/// Once the current task is done, makes `signal` forget its readers that are gone (call it
/// when a view that read it goes away, e.g. a table row scrolled out of the window, since
/// the signal may not change again for a long time). Its live readers are marked to run
/// again, and subscribe anew when they do; by then the gone view's readers are dropped.
pub fn forget_gone_readers<S>(signal: S)
where
    S: Notify + Source + Send + Sync + 'static,
{
    set_timeout(
        move || {
            signal.notify();
            signal.clear_subscribers();
        },
        std::time::Duration::ZERO,
    );
}
