//! Helpers shared by the component tests: mounting a view in a fresh container, letting the
//! page settle, finding elements.
#![allow(dead_code)]

use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// Mounts a view in a fresh container and returns the container.
pub fn mount<V: IntoView + 'static>(f: impl FnOnce() -> V + 'static) -> web_sys::HtmlElement {
    let doc = document();
    let host: web_sys::HtmlElement = doc.create_element("div").unwrap().unchecked_into();
    doc.body().unwrap().append_child(&host).unwrap();
    leptos::mount::mount_to(host.clone(), f).forget();
    host
}

/// Lets effects run and the DOM update.
pub async fn settle() {
    gloo_timers::future::TimeoutFuture::new(20).await;
}

/// The one element matching `css` under `host`; panics with the selector when there is none.
pub fn query(host: &web_sys::Element, css: &str) -> web_sys::Element {
    host.query_selector(css)
        .unwrap()
        .unwrap_or_else(|| panic!("no element {css}"))
}

/// The text of every element matching `css` under `host`, in order.
pub fn texts(host: &web_sys::Element, css: &str) -> Vec<String> {
    let list = host.query_selector_all(css).unwrap();
    (0..list.length())
        .filter_map(|i| list.item(i))
        .map(|n| n.text_content().unwrap_or_default())
        .collect()
}
