//! Drives the simulator in real time: every tick it runs what is due and adds random events at
//! `--rate` per (simulated) second, and publishes the changes to the hub.

use crate::app::App;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the simulator is advanced.
const TICK: Duration = Duration::from_millis(100);

/// Runs until shutdown.
pub async fn run(app: Arc<App>) {
    let mut shutdown = app.shutdown.clone();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let rate = if app.cfg.rate.is_finite() {
        app.cfg.rate.max(0.0)
    } else {
        0.0
    };
    let mut credit = 0.0f64;
    let mut last = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => {}
        }
        let elapsed = last.elapsed().as_secs_f64();
        last = Instant::now();
        let now = app.clock.now();
        let mut sim = app.sim();
        let mut events = sim.advance(now);
        if sim.is_random() {
            // After a stall, do not burst more than a second's worth.
            credit = (credit + rate * elapsed * app.clock.speed()).min(rate.max(1.0));
            while credit >= 1.0 {
                credit -= 1.0;
                events.extend(sim.random_event(now));
            }
        }
        app.hub.apply(events);
    }
}
