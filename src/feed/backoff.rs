//! Reconnect delays: exponential with full jitter, capped, reset after a success.

/// Delay before reconnect attempt `attempt` (1-based), given a random `unit` in [0, 1).
/// Full jitter spreads a thousand tabs reconnecting after a server restart.
pub fn delay_ms(attempt: u32, unit: f64) -> u32 {
    const BASE_MS: f64 = 500.0;
    const CAP_MS: f64 = 15_000.0;
    let exp = BASE_MS * 2f64.powi(attempt.saturating_sub(1).min(16) as i32);
    let ceiling = exp.min(CAP_MS);
    // Never below a quarter of the ceiling, so a retry storm cannot hammer the server.
    let jittered = ceiling * (0.25 + 0.75 * unit.clamp(0.0, 1.0));
    jittered.round() as u32
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
    }

    #[test]
    fn jitter_stays_in_band() {
        for i in 0..=10 {
            let d = delay_ms(4, i as f64 / 10.0);
            assert!((1000..=4000).contains(&d), "{d}");
        }
    }
}
