//! Human times: "3 min ago" with the absolute time on hover.

/// "12 s ago", "3 min ago", "2 h ago", "4 d ago" relative to now.
pub fn relative(ms: u64) -> String {
    let age_s = ((js_sys::Date::now() - ms as f64) / 1000.0).max(0.0) as u64;
    match age_s {
        0..=59 => format!("{age_s} s ago"),
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

/// Short age: "42s", "5m", "3h", "2d".
pub fn age(ms: u64) -> String {
    let s = ((js_sys::Date::now() - ms as f64) / 1000.0).max(0.0) as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}
