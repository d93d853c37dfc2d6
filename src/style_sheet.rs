//! A view's style that comes with its wasm chunk rather than with the first load (the
//! deployment history's, an expanded row's details'): added to the page once, when the view
//! is first built.

/// Adds `css` to the page's head in a `<style id={id}>`, unless one with that id is there.
pub fn add_once(id: &str, css: &str) {
    let doc = leptos::prelude::document();
    if doc.get_element_by_id(id).is_some() {
        return;
    }
    let Ok(style) = doc.create_element("style") else {
        return;
    };
    style.set_id(id);
    style.set_text_content(Some(css));
    if let Ok(Some(head)) = doc.query_selector("head") {
        let _ = head.append_child(&style);
    }
}
