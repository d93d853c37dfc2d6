//! The few browser services the viewer needs: saving a file, the clipboard, the URL fragment.

use super::state::Viewer;
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// Saves `text` as a file named `name`: a Blob behind an object URL, opened by a temporary
/// `<a download>` (a navigation, which the page's CSP allows; no fetch of `blob:` is made).
pub fn download_text(name: &str, text: &str) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/plain;charset=utf-8");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let doc = document();
    let a: web_sys::HtmlAnchorElement = doc.create_element("a")?.unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.set_class_name("sr-only");
    if let Some(body) = doc.body() {
        body.append_child(&a)?;
    }
    a.click();
    a.remove();
    // The download has started by now; give slow browsers time before freeing the blob.
    set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        },
        std::time::Duration::from_secs(30),
    );
    Ok(())
}

/// Copies text to the clipboard and announces the outcome.
pub fn copy_text(viewer: Viewer, text: String, done: String) {
    let clipboard = window().navigator().clipboard();
    let promise = clipboard.write_text(&text);
    let announce = viewer.announce;
    let ok = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| announce.set(done.clone()));
    let failed = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
        announce.set("Copy failed: the browser refused clipboard access".into());
    });
    let _ = promise.then2(&ok, &failed);
    // One of them runs once, later; the pair is small and copies are rare.
    ok.forget();
    failed.forget();
}

/// Replaces the URL fragment (`#L12`) without a navigation or a history entry.
pub fn set_fragment(fragment: &str) {
    let Ok(history) = window().history() else {
        return;
    };
    let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&format!("#{fragment}")));
}

/// The URL fragment, with its `#`.
pub fn fragment() -> String {
    window().location().hash().unwrap_or_default()
}

/// Below this window width (px) the viewer is one column (`style/log_viewer.css`) and the
/// stages and the first error start folded, so the lines get the screen.
const NARROW_BELOW_PX: f64 = 640.0;

/// True on a window as narrow as a phone's.
pub fn narrow_window() -> bool {
    window()
        .inner_width()
        .ok()
        .and_then(|w| w.as_f64())
        .is_some_and(|w| w <= NARROW_BELOW_PX)
}
