//! A subscription waiting for its state (a snapshot, or the answer to a resume): when that
//! answer was lost (a dropped frame), it asks again, waiting longer each time
//! (`reconnect::answer_wait_ms`).

use shipwatch_model::protocol::reconnect::answer_wait_ms;

/// The subscription asked for its state at `since`, after `attempt` earlier asks went
/// unanswered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Awaited {
    /// When it asked, or last heard a part of the answer (ms since epoch).
    pub since: f64,
    /// Asks that went unanswered before this one.
    pub attempt: u32,
    /// A frame was dropped while it waited: perhaps its answer.
    pub maybe_lost: bool,
}

impl Awaited {
    /// A first ask at `now`.
    pub fn new(now: f64) -> Self {
        Self {
            since: now,
            attempt: 0,
            maybe_lost: false,
        }
    }

    /// How long this ask may go unanswered: doubling with each attempt, up to a cap.
    pub fn wait_ms(&self) -> f64 {
        answer_wait_ms(self.attempt)
    }

    /// Whether the answer is overdue at `now`.
    pub fn overdue(&self, now: f64) -> bool {
        now - self.since > self.wait_ms()
    }

    /// The next ask, at `now`.
    pub fn again(&self, now: f64) -> Self {
        Self {
            since: now,
            attempt: self.attempt + 1,
            maybe_lost: false,
        }
    }

    /// Whether the page should say it is recovering: the answer may have been lost, or was
    /// asked again.
    pub fn recovering(&self) -> bool {
        self.maybe_lost || self.attempt > 0
    }
}
