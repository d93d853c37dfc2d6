//! The top bar: the brand, the environment switcher, the notification toggle and the
//! connection indicator. It grows rather than clips when its parts do not fit one row
//! (style/main.css); its height is kept in `--topbar-height` so the table's sticky header
//! sits under it.

use crate::components::announcements::NotifyToggle;
use crate::components::connection_indicator::ConnectionIndicator;
use crate::components::env_switcher::EnvSwitcher;
use crate::state::environments::EnvironmentsState;
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::prelude::*;

/// The bar over every page; `current` is the environment being shown (empty for none).
#[component]
pub fn TopBar(envs: EnvironmentsState, #[prop(into)] current: Signal<String>) -> impl IntoView {
    let bar = NodeRef::<leptos::html::Header>::new();
    let resized = SendWrapper::new(Closure::<dyn Fn()>::new(move || {
        if let Some(el) = bar.get_untracked() {
            publish_height(el.offset_height());
        }
    }));
    let observer =
        SendWrapper::new(web_sys::ResizeObserver::new(resized.as_ref().unchecked_ref()).ok());
    Effect::new({
        let observer = observer.clone();
        move |_| {
            if let (Some(el), Some(o)) = (bar.get(), observer.as_ref()) {
                o.observe(&el);
            }
        }
    });
    on_cleanup(move || {
        if let Some(o) = observer.as_ref() {
            o.disconnect();
        }
        drop(resized);
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
