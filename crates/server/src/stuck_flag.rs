//! `--stuck-after STATUS=DURATION`: how long a transitional status may last before the page
//! calls a service or environment stuck (the model's `StuckAfter`, announced in `hello`).

use crate::config::Config;
use shipwatch_model::stuck::StuckAfter;

/// One `--stuck-after` value: a status and its threshold in ms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StuckFlag {
    /// The status, as written.
    pub status: String,
    /// Its threshold (0: never stuck).
    pub ms: u64,
}

/// Parses `DEPLOYING=20m`: a status of `shipwatch_model::stuck::STUCK_STATUSES` (any case),
/// `=`, and a duration: a number with `ms`, `s`, `m` or `h` (seconds without a unit).
///
/// # Errors
/// A sentence naming what is wrong.
pub fn parse(text: &str) -> Result<StuckFlag, String> {
    let (status, duration) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: expected STATUS=DURATION, e.g. DEPLOYING=20m"))?;
    let ms = duration_ms(duration.trim())
        .ok_or_else(|| format!("`{duration}`: expected a duration like 90s, 20m, 1h or 500ms"))?;
    // Checked here, so a wrong name stops the start with clap's message.
    StuckAfter::default().set(status, ms)?;
    Ok(StuckFlag {
        status: status.to_string(),
        ms,
    })
}

fn duration_ms(text: &str) -> Option<u64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

impl Config {
    /// The stuck thresholds: the defaults, with each `--stuck-after` applied in order.
    pub fn stuck_after(&self) -> StuckAfter {
        let mut t = StuckAfter::default();
        for f in &self.stuck_after {
            let _ = t.set(&f.status, f.ms);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_flag_sets_one_status_and_keeps_the_others() {
        let cfg = Config::parse_from([
            "s",
            "--stuck-after",
            "deploying=3s",
            "--stuck-after",
            "QUEUED=1h",
        ]);
        let t = cfg.stuck_after();
        assert_eq!(t.deploying_ms, 3000);
        assert_eq!(t.queued_ms, 3_600_000);
        assert_eq!(t.building_ms, StuckAfter::default().building_ms);
        assert_eq!(Config::default().stuck_after(), StuckAfter::default());
    }

    #[test]
    fn wrong_values_say_what_is_wrong() {
        assert!(parse("DEPLOYING").unwrap_err().contains("STATUS=DURATION"));
        assert!(parse("DEPLOYING=soon").unwrap_err().contains("duration"));
        assert!(parse("RUNNING=5m")
            .unwrap_err()
            .contains("not a transitional status"));
        assert_eq!(parse("starting=500ms").unwrap().ms, 500);
        assert_eq!(parse("stopping=0").unwrap().ms, 0);
    }
}
