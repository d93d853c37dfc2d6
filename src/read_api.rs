//! Reads of the server's read-only HTTP API (the deployment history,
//! crates/server/src/history_api.rs; a service's timeline, timeline_api.rs), with the page's
//! token as on the socket, decoded fallibly: a failure is a sentence for the page, never a
//! panic.

use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Why a read gave no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The server keeps no history (it runs without a store): its sentence.
    NoStore(String),
    /// Anything else: a sentence for the page.
    Failed(String),
}

/// GETs `url` (the page's token added, as on the socket) and decodes its JSON.
pub async fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, ReadError> {
    let url = match crate::page_token() {
        Some(t) => format!(
            "{url}{}token={t}",
            if url.contains('?') { '&' } else { '?' }
        ),
        None => url.to_string(),
    };
    let failed = |e: JsValue| {
        ReadError::Failed(format!(
            "the server could not be reached ({})",
            e.as_string().unwrap_or_else(|| "network error".into())
        ))
    };
    let response = JsFuture::from(window().fetch_with_str(&url))
        .await
        .map_err(failed)?;
    let status = js_sys::Reflect::get(&response, &"status".into())
        .ok()
        .and_then(|s| s.as_f64())
        .unwrap_or(0.0) as u16;
    let text = js_sys::Reflect::get(&response, &"text".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .ok_or_else(|| ReadError::Failed("the answer could not be read".into()))?
        .call0(&response)
        .map_err(failed)?;
    let body = JsFuture::from(js_sys::Promise::from(text))
        .await
        .map_err(failed)?
        .as_string()
        .unwrap_or_default();
    if status != 200 {
        let said = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(if status == 501 {
            ReadError::NoStore(said)
        } else {
            ReadError::Failed(format!("the server answered: {said}"))
        });
    }
    serde_json::from_str(&body)
        .map_err(|e| ReadError::Failed(format!("the server's answer could not be read: {e}")))
}

fn window() -> web_sys::Window {
    web_sys::window().expect("a window")
}
