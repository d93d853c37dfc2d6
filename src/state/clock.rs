//! A coarse clock for relative times ("3 min ago"): one signal that ticks every few seconds,
//! so a thousand rows re-render their ages together instead of each running a timer.

use super::fresh_readers::set_forgetting_readers;
use leptos::prelude::*;

/// How often relative times refresh.
const TICK: std::time::Duration = std::time::Duration::from_secs(5);

/// The current time in ms since the epoch, refreshed every few seconds; provided as context.
#[derive(Clone, Copy)]
pub struct Clock(pub RwSignal<f64>);

impl Clock {
    /// Starts the clock; it stops with its owner.
    pub fn start() -> Self {
        let now = RwSignal::new(js_sys::Date::now());
        if let Ok(handle) = set_interval_with_handle(
            // Rows read the clock and come and go: see `fresh_readers`.
            move || set_forgetting_readers(&now, js_sys::Date::now()),
            TICK,
        ) {
            on_cleanup(move || handle.clear());
        }
        Self(now)
    }

    /// The clock of this page, or a still one (in component tests without the app).
    pub fn use_clock() -> Self {
        use_context::<Clock>().unwrap_or_else(|| Self(RwSignal::new(js_sys::Date::now())))
    }

    /// The time, tracked.
    pub fn now(&self) -> f64 {
        self.0.get()
    }
}
