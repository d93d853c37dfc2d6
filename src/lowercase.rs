//! Lowercasing by the browser. `str::to_lowercase` carries `core`'s Unicode case tables (about
//! 12 KB of data and 4 KB of code) into the page's first chunk, for the table's sort keys and
//! name filter; JavaScript's `toLowerCase` applies the same Unicode mappings.

/// `s` lowercased as `str::to_lowercase` does; ASCII (nearly every name) without leaving wasm.
pub fn lowercase(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        js_sys::JsString::from(s).to_lower_case().into()
    }
}
