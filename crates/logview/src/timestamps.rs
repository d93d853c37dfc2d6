//! Timestamp formatting for log lines: absolute UTC (`HH:MM:SS.mmm`, `YYYY-MM-DD`) and
//! relative to the deployment's start (`+1m02.345s`).
//!
//! Written by hand instead of pulling in a date library: the viewer only needs UTC
//! (no time zones, no parsing), and every kilobyte counts in the WebAssembly bundle.

use shipwatch_model::entities::Millis;

const MS_PER_SECOND: u64 = 1_000;
const MS_PER_MINUTE: u64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: u64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: u64 = 24 * MS_PER_HOUR;

/// The UTC time of day of a timestamp: `HH:MM:SS.mmm`.
pub fn format_time_utc(ts: Millis) -> String {
    let in_day = ts % MS_PER_DAY;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        in_day / MS_PER_HOUR,
        in_day % MS_PER_HOUR / MS_PER_MINUTE,
        in_day % MS_PER_MINUTE / MS_PER_SECOND,
        in_day % MS_PER_SECOND
    )
}

/// The UTC date of a timestamp: `YYYY-MM-DD`.
pub fn format_date_utc(ts: Millis) -> String {
    let (y, m, d) = civil_from_days(ts / MS_PER_DAY);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The full UTC instant in ISO 8601: `YYYY-MM-DDTHH:MM:SS.mmmZ` (used in downloaded logs,
/// where a reader may paste it into other tools).
pub fn format_iso_utc(ts: Millis) -> String {
    format!("{}T{}Z", format_date_utc(ts), format_time_utc(ts))
}

/// The time of `ts` relative to `start`: `+0.250s`, `+12.000s`, `+1m02.345s`,
/// `+2h03m04.005s`; `-0.120s` when the line predates the start (clock skew between
/// the machines that write logs and the one that timed the deployment).
pub fn format_relative(ts: Millis, start: Millis) -> String {
    let (sign, delta) = if ts >= start {
        ('+', ts - start)
    } else {
        ('-', start - ts)
    };
    format!("{sign}{}", format_duration(delta))
}

/// A duration in ms as `0.250s`, `1m02.345s` or `2h03m04.005s` (stage durations, the
/// relative column); minutes and seconds are zero-padded once a larger unit is shown so
/// that the column lines up.
pub fn format_duration(ms: u64) -> String {
    let hours = ms / MS_PER_HOUR;
    let minutes = ms % MS_PER_HOUR / MS_PER_MINUTE;
    let seconds = ms % MS_PER_MINUTE / MS_PER_SECOND;
    let millis = ms % MS_PER_SECOND;
    if hours > 0 {
        format!("{hours}h{minutes:02}m{seconds:02}.{millis:03}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds:02}.{millis:03}s")
    } else {
        format!("{seconds}.{millis:03}s")
    }
}

/// An elapsed time in ms as people say it, to the second: `0.4s`, `12s`, `17m 30s`,
/// `2h 05m` (a stage's duration; the relative column keeps [`format_duration`]'s ms).
pub fn format_elapsed(ms: u64) -> String {
    if ms < MS_PER_SECOND {
        return format!("0.{}s", ms / 100);
    }
    let seconds = (ms + MS_PER_SECOND / 2) / MS_PER_SECOND;
    let (hours, minutes, seconds) = (seconds / 3_600, seconds % 3_600 / 60, seconds % 60);
    if hours > 0 {
        format!("{hours}h {minutes:02}m")
    } else if minutes > 0 {
        format!("{minutes}m {seconds:02}s")
    } else {
        format!("{seconds}s")
    }
}

/// Days since 1970-01-01 -> (year, month 1-12, day 1-31) in the proleptic Gregorian
/// calendar. Howard Hinnant's `civil_from_days`: counts in 400-year eras (146,097 days)
/// whose years start on March 1st, so the leap day is the last day of a year.
pub fn civil_from_days(days: u64) -> (u64, u32, u32) {
    // Shift the epoch to 0000-03-01; done in u64 as timestamps here are never negative.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
    let mp = (5 * doy + 2) / 153; // March-based month, 0..=11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-02-29T13:04:05.067Z, a leap day.
    const LEAP: Millis = 1_709_211_845_067;

    #[test]
    fn time_of_day() {
        assert_eq!(format_time_utc(0), "00:00:00.000");
        assert_eq!(format_time_utc(LEAP), "13:04:05.067");
        assert_eq!(format_time_utc(MS_PER_DAY - 1), "23:59:59.999");
    }

    #[test]
    fn dates() {
        assert_eq!(format_date_utc(0), "1970-01-01");
        assert_eq!(format_date_utc(LEAP), "2024-02-29");
        assert_eq!(format_date_utc(LEAP + MS_PER_DAY), "2024-03-01");
        // 2000 is a leap year (divisible by 400), 2100 is not.
        assert_eq!(format_date_utc(951_782_400_000), "2000-02-29");
        assert_eq!(format_date_utc(4_107_542_400_000), "2100-03-01");
        assert_eq!(format_date_utc(1_735_689_599_999), "2024-12-31");
        assert_eq!(format_date_utc(1_735_689_600_000), "2025-01-01");
        assert_eq!(format_iso_utc(LEAP), "2024-02-29T13:04:05.067Z");
    }

    #[test]
    fn civil_dates_agree_with_a_day_by_day_count() {
        // Walk 1970..2101 one day at a time with the plain leap-year rule.
        let (mut y, mut m, mut d) = (1970u64, 1u32, 1u32);
        let leap =
            |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
        for days in 0..48_000u64 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let len = match m {
                2 if leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn relative_times() {
        let start = LEAP;
        assert_eq!(format_relative(start, start), "+0.000s");
        assert_eq!(format_relative(start + 250, start), "+0.250s");
        assert_eq!(format_relative(start + 62_345, start), "+1m02.345s");
        assert_eq!(format_relative(start + 7_384_005, start), "+2h03m04.005s");
        assert_eq!(format_relative(start - 120, start), "-0.120s");
        assert_eq!(format_duration(59_999), "59.999s");
        assert_eq!(format_duration(60_000), "1m00.000s");
        assert_eq!(format_elapsed(420), "0.4s");
        assert_eq!(format_elapsed(12_345), "12s");
        assert_eq!(format_elapsed(1_049_999), "17m 30s");
        assert_eq!(format_elapsed(59_600), "1m 00s");
        assert_eq!(format_elapsed(7_500_000), "2h 05m");
    }

    #[test]
    fn extremes_do_not_panic() {
        let _ = format_iso_utc(u64::MAX);
        let _ = format_relative(u64::MAX, 0);
        let _ = format_relative(0, u64::MAX);
    }
}
