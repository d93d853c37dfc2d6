//! Reconnect delays of a client: exponential with full jitter, capped, reset after a success
//! before resuming (`docs/protocol.md`, "Resume"). Pure, so it is tested natively; the app only supplies
//! the random number.

/// Delay of the first retry, in milliseconds.
pub const BASE_MS: f64 = 500.0;
/// Longest delay between two tries, in milliseconds.
pub const CAP_MS: f64 = 15_000.0;

/// Delay before reconnect attempt `attempt` (1-based), given a random `unit` in [0, 1).
/// Full jitter spreads a thousand tabs reconnecting after a server restart; the delay never
/// drops below a quarter of its ceiling, so a retry storm cannot hammer the server.
#[must_use]
pub fn delay_ms(attempt: u32, unit: f64) -> u32 {
    let exp = BASE_MS * 2f64.powi(attempt.saturating_sub(1).min(16) as i32);
    let ceiling = exp.min(CAP_MS);
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        1.0
    };
    (ceiling * (0.25 + 0.75 * unit)).round() as u32
}

/// How long a subscription waits for the answer to its subscribe (its snapshot, or `resumed`)
/// before it asks again, the first time. A snapshot of 10,000 services comes in a few hundred
/// milliseconds on a loaded machine, and every part of it that arrives restarts the wait.
pub const ANSWER_FIRST_WAIT_MS: f64 = 3_000.0;
/// The longest wait between two asks.
pub const ANSWER_MAX_WAIT_MS: f64 = 30_000.0;

/// How long the subscribe after `unanswered` unanswered ones waits for its answer: doubling
/// from [`ANSWER_FIRST_WAIT_MS`] up to [`ANSWER_MAX_WAIT_MS`].
#[must_use]
pub fn answer_wait_ms(unanswered: u32) -> f64 {
    (ANSWER_FIRST_WAIT_MS * 2f64.powi(unanswered.min(16) as i32)).min(ANSWER_MAX_WAIT_MS)
}

/// The attempt counter of a connection loop: grows on each failure, resets after a success.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attempts(u32);

impl Attempts {
    /// A connection ended; `was_live` says whether it had got as far as the server's hello.
    /// Returns the number of the attempt about to be made (1 after a success).
    pub fn next(&mut self, was_live: bool) -> u32 {
        if was_live {
            self.0 = 0;
        }
        self.0 = self.0.saturating_add(1);
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps() {
        assert_eq!(delay_ms(1, 1.0), 500);
        assert_eq!(delay_ms(2, 1.0), 1000);
        assert_eq!(delay_ms(3, 1.0), 2000);
        assert_eq!(delay_ms(20, 1.0), 15_000);
        assert_eq!(delay_ms(u32::MAX, 1.0), 15_000);
    }

    #[test]
    fn jitter_stays_in_band() {
        for i in 0..=10 {
            let d = delay_ms(4, f64::from(i) / 10.0);
            assert!((1000..=4000).contains(&d), "{d}");
        }
        assert_eq!(
            delay_ms(1, f64::NAN),
            500,
            "a broken random source is not zero"
        );
        assert_eq!(delay_ms(1, -3.0), 125);
    }

    #[test]
    fn answer_waits_double_then_cap() {
        assert_eq!(answer_wait_ms(0), 3_000.0);
        assert_eq!(answer_wait_ms(1), 6_000.0);
        assert_eq!(answer_wait_ms(3), 24_000.0);
        assert_eq!(answer_wait_ms(4), 30_000.0);
        assert_eq!(answer_wait_ms(u32::MAX), 30_000.0);
    }

    #[test]
    fn attempts_reset_after_a_live_connection() {
        let mut a = Attempts::default();
        assert_eq!(a.next(false), 1);
        assert_eq!(a.next(false), 2);
        assert_eq!(a.next(false), 3);
        assert_eq!(a.next(true), 1, "a success resets the backoff");
        assert_eq!(a.next(false), 2);
    }
}
