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

/// Absolute local time, for titles.
pub fn absolute(ms: u64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(d.to_locale_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED))
}

/// Local wall-clock time, "14:02:11".
pub fn clock_time(ms: f64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
    String::from(d.to_locale_time_string("en-GB"))
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
