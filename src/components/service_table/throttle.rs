//! A trigger that follows a signal's changes at most once per period: at once after a quiet
//! period, then once more at the end of the period if it changed meanwhile.

use leptos::prelude::*;
use std::time::Duration;

/// Fires when `source` changes, at most once per `period`.
pub fn throttled_trigger<T>(source: RwSignal<T>, period: Duration) -> Trigger
where
    T: Send + Sync + 'static,
{
    let trigger = Trigger::new();
    // Whether a period is running, and whether a change came during it.
    let busy = StoredValue::new(false);
    let missed = StoredValue::new(false);
    fn start(
        trigger: Trigger,
        busy: StoredValue<bool>,
        missed: StoredValue<bool>,
        period: Duration,
    ) {
        busy.set_value(true);
        trigger.notify();
        set_timeout(
            move || {
                if busy.try_set_value(false).is_some() {
                    return; // disposed
                }
                if missed.try_get_value() == Some(true) {
                    missed.set_value(false);
                    start(trigger, busy, missed, period);
                }
            },
            period,
        );
    }
    Effect::new(move |first: Option<()>| {
        source.track();
        if first.is_none() {
            return;
        }
        if busy.get_value() {
            missed.set_value(true);
        } else {
            start(trigger, busy, missed, period);
        }
    });
    trigger
}
