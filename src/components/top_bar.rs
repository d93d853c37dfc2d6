//! The top bar: the brand, the environment switcher, the notification toggle and the
//! connection indicator. It grows rather than clips when its parts do not fit one row
//! (style/main.css); its height is kept in `--topbar-height` so the table's sticky header
//! sits under it.

use crate::components::announcements::NotifyToggle;
use crate::components::connection_indicator::ConnectionIndicator;
use crate::components::env_switcher::EnvSwitcher;
use crate::state::environments::EnvironmentsState;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;

/// The bar over every page; `current` is the environment being shown (empty for none).
#[component]
pub fn TopBar(envs: EnvironmentsState, #[prop(into)] current: Signal<String>) -> impl IntoView {
    let bar = NodeRef::<leptos::html::Header>::new();
    bar.on_load(|el| {
        let measured = el.clone();
        let resized = Closure::<dyn Fn()>::new(move || publish_height(measured.offset_height()));
        if let Ok(observer) = web_sys::ResizeObserver::new(resized.as_ref().unchecked_ref()) {
            observer.observe(&el);
        }
        // The observer calls it for as long as the bar is in the page: the page's life.
        resized.forget();
    });
    view! {
        <header class="topbar" node_ref=bar>
            <a class="brand" href="/">"Shipwatch"</a>
            <EnvSwitcher state=envs current />
            <div class="topbar__end">
                <NotifyToggle />
                <ConnectionIndicator />
            </div>
        </header>
    }
}

/// Sets `--topbar-height` on the page's root to the bar's height in whole pixels.
fn publish_height(px: i32) {
    if let Some(root) = document().document_element() {
        let root: web_sys::HtmlElement = root.unchecked_into();
        let _ = root
            .style()
            .set_property("--topbar-height", &format!("{px}px"));
    }
}
