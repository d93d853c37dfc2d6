//! An instance's time-to-live: how long a pushed instance counts as reported (`--instance-ttl`),
//! written and read as people do (`60s`, `1500ms`, `2m`).

use std::time::Duration;

/// The default time-to-live, as the flag takes it.
pub const DEFAULT_INSTANCE_TTL: &str = "60s";

/// Parses `60`, `60s`, `1500ms` or `2m` (a bare number is seconds); at least 1 ms.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: write e.g. 60s, 1500ms or 2m"))?;
    let d = match unit.trim() {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" | "min" => Duration::from_secs(n.saturating_mul(60)),
        other => return Err(format!("unknown unit `{other}`: use ms, s or m")),
    };
    if d.is_zero() {
        return Err("the time-to-live must be longer than 0".into());
    }
    Ok(d)
}

/// A duration as the UNKNOWN reason says it: `60 s`, `1500 ms`, `2 min`.
pub fn for_people(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(60_000) && ms >= 120_000 {
        format!("{} min", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

/// How often silent instances are looked for: a tenth of the time-to-live, between 10 ms and
/// 1 s, so one is marked at most that late.
pub fn check_period(ttl: Duration) -> Duration {
    (ttl / 10).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_write_as_people_do() {
        assert_eq!(parse(DEFAULT_INSTANCE_TTL), Ok(Duration::from_secs(60)));
        assert_eq!(parse("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert!(parse("0s").is_err());
        assert!(parse("fast").is_err());
        assert!(parse("3h").is_err());
        assert_eq!(for_people(Duration::from_secs(60)), "60 s");
        assert_eq!(for_people(Duration::from_secs(120)), "2 min");
        assert_eq!(for_people(Duration::from_millis(1500)), "1500 ms");
        assert_eq!(
            check_period(Duration::from_secs(60)),
            Duration::from_secs(1)
        );
        assert_eq!(
            check_period(Duration::from_millis(300)),
            Duration::from_millis(30)
        );
    }
}
