//! The page's connection indicator, as the tests watch it: its state now, and every state it
//! showed (a reconnection quicker than a poll is still seen).

use crate::Browser;
use std::time::Duration;

/// A script for [`Browser::add_init_script`]: records in `window.__states` every state the
/// connection indicator shows, in order (each change once).
pub const RECORD_STATES: &str = r#"
(() => {
  window.__states = [];
  new MutationObserver(() => {
    const s = document.querySelector('[data-testid=connection]')?.getAttribute('data-state');
    if (s && window.__states[window.__states.length - 1] !== s) window.__states.push(s);
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
})();
"#;

/// The indicator's state now (its `data-state`: `live`, `reconnecting`, ...); empty without one.
pub async fn state(browser: &Browser) -> String {
    browser
        .eval("return document.querySelector('[data-testid=connection]')?.getAttribute('data-state') || ''")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Forgets the states recorded so far (see [`RECORD_STATES`]).
pub async fn forget_states(browser: &Browser) {
    browser.eval("window.__states = []").await;
}

/// Waits until the recorded states say `reconnecting` and then `live` again, and returns them.
pub async fn reconnected(browser: &Browser, timeout: Duration) -> serde_json::Value {
    browser
        .wait_js(
            "the page to say reconnecting, then to be live again",
            timeout,
            "const s = window.__states; const r = s.indexOf('reconnecting'); \
             return r >= 0 && s.indexOf('live', r) > r ? s : null",
        )
        .await
}
