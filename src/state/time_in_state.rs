//! Time in state on the page: the server's stuck thresholds and how far this page's clock is
//! from the server's, both from `hello` (kept app-wide: the feed sets them as the socket
//! opens, outside any component); what is stuck in an environment, re-decided as time
//! passes; and each newly stuck service announced once.

use super::announcer::Announcer;
use super::clock::Clock;
use super::environment::EnvironmentState;
use leptos::prelude::*;
use shipwatch_model::entities::Millis;
use shipwatch_model::stuck::StuckAfter;
use shipwatch_model::triage::stuck_notice;

/// The server's thresholds and clock, as its `hello` said.
#[derive(Clone, Copy)]
pub struct ServerTime {
    /// The stuck thresholds (the model's defaults until a server says otherwise).
    pub limits: RwSignal<StuckAfter>,
    /// The server's clock minus this page's, in ms.
    pub skew: RwSignal<f64>,
}

thread_local! {
    // App-wide, so owned by a root of their own that lives as long as the page: made under
    // whichever component asked first, they would be disposed with it, and the next read
    // anywhere would panic.
    static SERVER_TIME: ServerTime = {
        let root = Owner::new_root(None);
        let time = root.with(|| ServerTime {
            limits: RwSignal::new(StuckAfter::default()),
            skew: RwSignal::new(0.0),
        });
        std::mem::forget(root);
        time
    };
}

/// The server's thresholds and clock.
pub fn server_time() -> ServerTime {
    SERVER_TIME.with(|s| *s)
}

/// What a `hello` said: thresholds (absent: the defaults) and the server's clock.
pub fn hello(limits: Option<StuckAfter>, now: Option<Millis>) {
    let s = server_time();
    s.limits.set(limits.unwrap_or_default());
    if let Some(now) = now {
        s.skew.set(now as f64 - js_sys::Date::now());
    }
}

impl ServerTime {
    /// The server's now, from this page's tracked clock.
    pub fn now(&self, clock: Clock) -> Millis {
        (clock.now() + self.skew.get()).max(0.0) as Millis
    }
}

/// "DEPLOYING for 14 min, since 09:12", by the server's clock, in local time (tracks the
/// clock).
pub fn since_words(word: &str, since: Millis, clock: Clock) -> String {
    shipwatch_model::time_in_state::since_text(word, since, server_time().now(clock), offset_min())
}

/// This page's offset east of UTC, in minutes.
pub fn offset_min() -> i32 {
    -(js_sys::Date::new_0().get_timezone_offset() as i32)
}

/// Keeps the environment's triage facts' stuck marks current (as changes arrive and as time
/// passes) and announces each service that becomes stuck, once per stuck spell.
pub fn follow_stuck(state: EnvironmentState, env_name: Signal<String>) {
    let clock = Clock::use_clock();
    let announcer = Announcer::use_announcer();
    let server = server_time();
    Effect::new(move |_| {
        state.triage.track();
        let limits = server.limits.get();
        let now = server.now(clock);
        let flips: Vec<(String, bool)> = state.triage.with_untracked(|t| {
            t.iter()
                .filter(|(_, f)| f.stuck_now(&limits, now).is_some() != f.stuck)
                .map(|(id, f)| (id.clone(), !f.stuck))
                .collect()
        });
        if flips.is_empty() {
            return;
        }
        let mut notices = Vec::new();
        state.triage.update(|t| {
            for (id, _) in &flips {
                if let Some(f) = t.get_mut(id) {
                    f.restuck(&limits, now);
                    if let (true, Some(s)) = (f.stuck, f.stuck_now(&limits, now)) {
                        notices.push((
                            format!("{id}:{}:{}", s.word, s.since),
                            stuck_notice(&f.name, &s, now),
                        ));
                    }
                }
            }
        });
        if let Some(a) = announcer {
            let env = env_name.get_untracked();
            for (key, notice) in notices {
                a.announce_once(&env, &key, &notice);
            }
        }
    });
}
