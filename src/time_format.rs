//! Human times: "3 min ago" with the absolute time on hover. `now` comes from the page's
//! [`crate::state::clock::Clock`], so every age on screen moves together.

/// "just now", "12 s ago", "3 min ago", "2 h ago", "4 d ago": `ms` relative to `now`.
pub fn relative(ms: u64, now: f64) -> String {
    let age_s = ((now - ms as f64) / 1000.0).max(0.0) as u64;
    match age_s {
        0..=4 => "just now".to_string(),
        5..=59 => format!("{age_s} s ago"),
        60..=3599 => format!("{} min ago", age_s / 60),
        3600..=86_399 => format!("{} h ago", age_s / 3600),
        _ => format!("{} d ago", age_s / 86_400),
    }
}

// Formatted by hand from the Date's local fields: the browser's locale formatting loads its
// ICU data on first use, ~45 ms of the first load in a profile.

/// Absolute local time with its offset, for titles: "2026-11-25 14:02:11 UTC+01:00".
pub fn absolute(ms: u64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    // getTimezoneOffset is minutes *behind* UTC.
    let offset = -(d.get_timezone_offset() as i64);
    let sign = if offset < 0 { '-' } else { '+' };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC{sign}{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds(),
        offset.abs() / 60,
        offset.abs() % 60
    )
}

/// Local wall-clock time, "14:02:11".
pub fn clock_time(ms: f64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
    format!(
        "{:02}:{:02}:{:02}",
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds()
    )
}

/// Short age: "42s", "5m", "3h", "2d".
pub fn age(ms: u64, now: f64) -> String {
    let s = ((now - ms as f64) / 1000.0).max(0.0) as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}
