//! At most one log line a second for what happens to one subscriber at a time (a snapshot sent
//! instead of deltas, a resume not served): a storm of laggards on one topic would otherwise
//! write thousands of lines a second from the sockets' writers. The line that is written says
//! how many were left out before it; each one is still logged at `debug`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a topic's per-subscriber lines are written at `info`.
const PERIOD: Duration = Duration::from_secs(1);

/// One topic's limit.
#[derive(Debug, Default)]
pub struct LogLimit {
    /// When a line was last let through, and how many were held back since.
    state: Mutex<(Option<Instant>, u64)>,
}

impl LogLimit {
    /// `Some(held back since the last line)` when a line may be written now; `None` (and one
    /// more held back) otherwise.
    pub fn admit(&self) -> Option<u64> {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match s.0 {
            Some(last) if now.duration_since(last) < PERIOD => {
                s.1 += 1;
                None
            }
            _ => {
                let held_back = s.1;
                *s = (Some(now), 0);
                Some(held_back)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_saying_how_many_were_held_back() {
        let limit = LogLimit::default();
        let t = Instant::now();
        assert_eq!(limit.admit_at(t), Some(0));
        assert_eq!(limit.admit_at(t + Duration::from_millis(10)), None);
        assert_eq!(limit.admit_at(t + Duration::from_millis(999)), None);
        assert_eq!(limit.admit_at(t + PERIOD), Some(2));
        assert_eq!(limit.admit_at(t + PERIOD * 3), Some(0));
    }
}
