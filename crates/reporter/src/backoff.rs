//! How long to wait before trying the server again: the protocol's reconnect delays
//! (`shipwatch_model::protocol::reconnect`: 0.5 s doubling to 15 s, with jitter, so
//! reporters that lost the same server do not come back at the same instant), as the page
//! waits for its websocket.

use shipwatch_model::protocol::reconnect::delay_ms;
use std::time::Duration;

/// Successive waits between attempts.
#[derive(Clone, Debug)]
pub struct Backoff {
    attempt: u32,
    seed: u64,
}

impl Backoff {
    /// A schedule with jitter drawn from `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self {
            attempt: 0,
            seed: seed | 1,
        }
    }

    /// The wait before the next attempt.
    pub fn next_wait(&mut self) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        // xorshift: enough to spread reporters apart.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let unit = (self.seed >> 11) as f64 / (1u64 << 53) as f64;
        Duration::from_millis(u64::from(delay_ms(self.attempt, unit)))
    }

    /// An attempt succeeded: the next failure starts from the first wait again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_up_to_the_cap_and_start_again_after_a_success() {
        let mut b = Backoff::new(0x9e37_79b9_7f4a_7c15);
        let waits: Vec<Duration> = (0..10).map(|_| b.next_wait()).collect();
        assert!(waits[0] <= Duration::from_millis(500));
        assert!(waits[9] >= Duration::from_millis(3_750));
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(15)));
        b.reset();
        assert!(b.next_wait() <= Duration::from_millis(500));
    }
}
