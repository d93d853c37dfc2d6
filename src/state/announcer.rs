//! Status changes that matter, said out loud: the `role="status"` live region reads them, and
//! optional browser notifications show finished deployments (off by default, remembered).

use leptos::prelude::*;
use shipwatch_model::triage::Notice;

/// Most notices of one batch announced one by one; more are summarised.
const BATCH_SPOKEN: usize = 3;

/// How many recent announcements the live region keeps.
const KEPT: usize = 4;
/// Where the notification choice is remembered.
const STORAGE_KEY: &str = "shipwatch.notifications";

/// Recent announcements and the notification switch; provided as context.
#[derive(Clone, Copy)]
pub struct Announcer {
    /// Recent announcements, oldest first, each with a unique id (a repeated text is new).
    pub recent: RwSignal<Vec<(u64, String)>>,
    /// Whether finished deployments raise a browser notification.
    pub notify: RwSignal<bool>,
    next: StoredValue<u64>,
    /// Keys of what [`Announcer::announce_once`] already said (a stuck spell: service,
    /// status and since), so a state re-sent or re-decided is not said again.
    said: StoredValue<std::collections::HashSet<String>>,
}

impl Announcer {
    /// An announcer with notifications as the user last chose (off the first time).
    pub fn new() -> Self {
        let remembered = storage()
            .and_then(|s| s.get_item(STORAGE_KEY).ok().flatten())
            .is_some_and(|v| v == "on")
            && permission() == Some(web_sys::NotificationPermission::Granted);
        Self {
            recent: RwSignal::new(Vec::new()),
            notify: RwSignal::new(remembered),
            next: StoredValue::new(1),
            said: StoredValue::new(std::collections::HashSet::new()),
        }
    }

    /// The announcer of this page, if the app provides one.
    pub fn use_announcer() -> Option<Self> {
        use_context::<Announcer>()
    }

    /// Announces `notice` (prefixed by the environment's name) and notifies if asked to.
    pub fn announce(&self, env: &str, notice: &Notice) {
        let text = if env.is_empty() {
            notice.text.clone()
        } else {
            format!("{env} · {}", notice.text)
        };
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.recent.update(|r| {
            r.push((id, text.clone()));
            let extra = r.len().saturating_sub(KEPT);
            r.drain(..extra);
        });
        if notice.deployment_finished && self.notify.get_untracked() {
            let options = web_sys::NotificationOptions::new();
            options.set_body(&text);
            options.set_tag("shipwatch-deployment");
            let _ = web_sys::Notification::new_with_options("Shipwatch", &options);
        }
    }

    /// Announces `notice` unless something with the same `key` was announced before: a
    /// service stuck in DEPLOYING since 09:12 is said once, however often it is re-decided.
    pub fn announce_once(&self, env: &str, key: &str, notice: &Notice) {
        let key = format!("{env}/{key}");
        if self.said.with_value(|s| s.contains(&key)) {
            return;
        }
        self.said.update_value(|s| {
            s.insert(key);
        });
        self.announce(env, notice);
    }

    /// Announces one batch of notices: each of them when there are a few, else one summary,
    /// so that a storm of changes does not flood a screen reader (or the notification tray).
    pub fn announce_batch(&self, env: &str, notices: &[Notice]) {
        if notices.len() <= BATCH_SPOKEN {
            for n in notices {
                self.announce(env, n);
            }
            return;
        }
        let finished = notices.iter().filter(|n| n.deployment_finished).count();
        let errors = notices.len() - finished;
        let mut parts = Vec::new();
        if finished > 0 {
            parts.push(format!("{finished} deployments finished"));
        }
        if errors > 0 {
            parts.push(format!("{errors} services entered ERROR"));
        }
        self.announce(
            env,
            &Notice {
                text: parts.join(", "),
                deployment_finished: finished > 0,
            },
        );
    }

    /// Turns notifications on (asking the browser's permission) or off, and remembers it.
    pub fn set_notify(&self, on: bool) {
        let notify = self.notify;
        let remember = move |on: bool| {
            notify.set(on);
            if let Some(s) = storage() {
                let _ = s.set_item(STORAGE_KEY, if on { "on" } else { "off" });
            }
        };
        if !on {
            return remember(false);
        }
        match permission() {
            Some(web_sys::NotificationPermission::Granted) => remember(true),
            Some(web_sys::NotificationPermission::Default) => {
                let Ok(promise) = web_sys::Notification::request_permission() else {
                    return;
                };
                leptos::task::spawn_local(async move {
                    let answer = wasm_bindgen_futures::JsFuture::from(promise).await;
                    let granted =
                        answer.ok().and_then(|v| v.as_string()).as_deref() == Some("granted");
                    remember(granted);
                });
            }
            // Denied or unsupported: nothing to switch on.
            _ => remember(false),
        }
    }
}

impl Default for Announcer {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether notifications are possible and allowed (`None`: this browser has none).
pub fn permission() -> Option<web_sys::NotificationPermission> {
    let has = js_sys::Reflect::has(&window(), &"Notification".into()).unwrap_or(false);
    has.then(web_sys::Notification::permission)
}

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}
