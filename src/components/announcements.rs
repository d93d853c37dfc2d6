//! The `role="status"` live region that says the changes that matter ("production · api:
//! DEPLOYMENT ERROR"), and the switch for browser notifications (off by default).

use crate::state::announcer::{permission, Announcer};
use leptos::prelude::*;

/// The live region; visually it is the "last event" line of the top bar.
#[component]
pub fn LiveRegion() -> impl IntoView {
    let announcer = expect_context::<Announcer>();
    let recent = announcer.recent;
    view! {
        <div class="announcements" role="status" aria-live="polite" aria-atomic="false">
            <For
                each=move || recent.get()
                key=|(id, _)| *id
                children=|(_, text)| view! { <p class="announcements__item">{text}</p> }
            />
        </div>
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
