//! The `role="status"` live region that says the changes that matter ("production · api:
//! DEPLOYMENT ERROR"), and the switch for browser notifications (off by default).

use crate::state::announcer::{permission, Announcer};
use leptos::html;
use leptos::prelude::*;

/// The live region; visually it is the "last event" line of the top bar.
#[component]
pub fn LiveRegion() -> impl IntoView {
    let announcer = expect_context::<Announcer>();
    let recent = announcer.recent;
    let region = NodeRef::<html::Div>::new();
    // Items are added and removed one by one (never re-rendered), so a screen reader hears only
    // what is new. By hand, not with `<For>`: `<For>` keeps an owner for every item it ever
    // showed for as long as the list lives, here the whole app, which leaked under a storm.
    Effect::new(move |_| {
        if let Some(region) = region.get() {
            recent.with(|items| sync_items(&region, items));
        }
    });
    view! {
        <div class="announcements" role="status" aria-live="polite" aria-atomic="false" node_ref=region></div>
    }
}

/// Makes `region`'s paragraphs those of `items`: removes the gone, appends the new (ids only
/// grow, so new items go last). Text is set as text, never parsed as HTML.
fn sync_items(region: &web_sys::HtmlElement, items: &[(u64, String)]) {
    let mut shown = Vec::new();
    let mut next = region.first_element_child();
    while let Some(child) = next {
        next = child.next_element_sibling();
        match child
            .get_attribute("data-id")
            .and_then(|v| v.parse::<u64>().ok())
        {
            Some(id) if items.iter().any(|(i, _)| *i == id) => shown.push(id),
            _ => child.remove(),
        }
    }
    for (id, text) in items.iter().filter(|(id, _)| !shown.contains(id)) {
        let Ok(p) = document().create_element("p") else {
            continue;
        };
        p.set_class_name("announcements__item");
        let _ = p.set_attribute("data-id", &id.to_string());
        p.set_text_content(Some(text));
        let _ = region.append_child(&p);
    }
}

/// The notifications switch: a toggle button, off until the user asks (and the browser agrees).
#[component]
pub fn NotifyToggle() -> impl IntoView {
    let announcer = expect_context::<Announcer>();
    let notify = announcer.notify;
    let supported = permission().is_some();
    let denied = move || {
        notify.get();
        permission() == Some(web_sys::NotificationPermission::Denied)
    };
    view! {
        <button
            type="button"
            class="notify-toggle"
            aria-pressed=move || notify.get().to_string()
            disabled=!supported
            title=move || if denied() {
                "Notifications are blocked for this site in the browser's settings"
            } else {
                "Show a browser notification when a deployment finishes or fails"
            }
            on:click=move |_| announcer.set_notify(!notify.get_untracked())
        >
            <span class="notify-toggle__icon" aria-hidden="true"></span>
            "Notify me"
        </button>
    }
}
