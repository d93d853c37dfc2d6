//! Time in state, in words: "DEPLOYING for 14 min, since 09:12". The page gives the local
//! offset (the browser knows it), so the text is a pure function of its inputs.

use crate::entities::Millis;

const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

/// "42 s", "14 min", "2 h 5 min", "3 d 4 h": how long `ms` is, to the unit that matters.
#[must_use]
pub fn duration_words(ms: u64) -> String {
    match ms {
        0..MIN => format!("{} s", ms / 1000),
        MIN..HOUR => format!("{} min", ms / MIN),
        HOUR..DAY => match (ms % HOUR) / MIN {
            0 => format!("{} h", ms / HOUR),
            m => format!("{} h {m} min", ms / HOUR),
        },
        _ => match (ms % DAY) / HOUR {
            0 => format!("{} d", ms / DAY),
            h => format!("{} d {h} h", ms / DAY),
        },
    }
}

/// "09:12" when `at` falls on the same local day as `now`, else "2026-12-03 09:12";
/// `offset_min` is the local offset east of UTC in minutes.
#[must_use]
pub fn clock_words(at: Millis, now: Millis, offset_min: i32) -> String {
    let local = |ms: Millis| ms as i64 + i64::from(offset_min) * 60_000;
    let (day, day_now) = (
        local(at).div_euclid(DAY as i64),
        local(now).div_euclid(DAY as i64),
    );
    let in_day = local(at).rem_euclid(DAY as i64) as u64;
    let hm = format!("{:02}:{:02}", in_day / HOUR, (in_day % HOUR) / MIN);
    if day == day_now {
        return hm;
    }
    let (y, m, d) = civil(day);
    format!("{y:04}-{m:02}-{d:02} {hm}")
}

/// "DEPLOYING for 14 min, since 09:12". A `since` in the future (clocks disagree) reads as
/// "for 0 s".
#[must_use]
pub fn since_text(word: &str, since: Millis, now: Millis, offset_min: i32) -> String {
    format!(
        "{word} for {}, since {}",
        duration_words(now.saturating_sub(since)),
        clock_words(since, now, offset_min)
    )
}

/// "stuck: DEPLOYING for 40 min, since 09:12 (longer than 15 min)".
#[must_use]
pub fn stuck_text(
    word: &str,
    since: Millis,
    after_ms: u64,
    now: Millis,
    offset_min: i32,
) -> String {
    format!(
        "stuck: {} (longer than {})",
        since_text(word, since, now, offset_min),
        duration_words(after_ms)
    )
}

/// Year, month, day of a day number counted from 1970-01-01 (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's days_from_civil, inverted: eras of 400 years from 0000-03-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-05 09:12:00 UTC.
    const T: Millis = 1_796_461_920_000;

    #[test]
    fn the_issue_example_reads_as_written() {
        assert_eq!(
            since_text("DEPLOYING", T, T + 14 * MIN + 30_000, 0),
            "DEPLOYING for 14 min, since 09:12"
        );
    }

    #[test]
    fn the_clock_is_local_and_a_past_day_has_its_date() {
        assert_eq!(clock_words(T, T, 60), "10:12");
        assert_eq!(clock_words(T, T, -9 * 60 - 30), "23:42");
        assert_eq!(clock_words(T, T + DAY, 0), "2026-12-05 09:12");
        // Crossing midnight locally makes it yesterday.
        assert_eq!(clock_words(T, T + 15 * HOUR, 0), "2026-12-05 09:12");
        assert_eq!(clock_words(T, T + 14 * HOUR, 0), "09:12");
    }

    #[test]
    fn durations_use_the_unit_that_matters() {
        assert_eq!(duration_words(0), "0 s");
        assert_eq!(duration_words(59_999), "59 s");
        assert_eq!(duration_words(MIN), "1 min");
        assert_eq!(duration_words(2 * HOUR), "2 h");
        assert_eq!(duration_words(2 * HOUR + 5 * MIN), "2 h 5 min");
        assert_eq!(duration_words(3 * DAY + 4 * HOUR + 59 * MIN), "3 d 4 h");
        assert_eq!(duration_words(DAY), "1 d");
    }

    #[test]
    fn a_since_in_the_future_is_zero_and_stuck_says_its_threshold() {
        assert_eq!(
            since_text("QUEUED", T + 5000, T, 0),
            "QUEUED for 0 s, since 09:12"
        );
        assert_eq!(
            stuck_text("DEPLOYING", T, 15 * MIN, T + 40 * MIN, 0),
            "stuck: DEPLOYING for 40 min, since 09:12 (longer than 15 min)"
        );
    }

    #[test]
    fn dates_are_the_calendar_s() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(-1), (1969, 12, 31));
        assert_eq!(civil(11_016), (2000, 2, 29));
        assert_eq!(civil(20_792), (2026, 12, 5));
    }
}
