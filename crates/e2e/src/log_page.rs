//! The log viewer, as the tests read it: its counts, from its region's data attributes.

use crate::{wait_for, Browser};
use serde_json::Value;
use std::time::Duration;

/// The log viewer's counts (`total`, `kept`, `duplicates`, `gaps`, `first`, `last`), or null
/// while the page has no log viewer.
pub async fn log_counts(browser: &Browser) -> Value {
    browser
        .eval(
            "const r = document.querySelector('[role=region][aria-label=\"Deployment logs\"]');\
             if (!r) return null;\
             const n = k => Number(r.getAttribute('data-' + k));\
             return {total: n('lines-total'), kept: n('lines-kept'), duplicates: n('duplicates'),\
                     gaps: n('gaps'), first: n('first-line'), last: n('last-line')};",
        )
        .await
}

/// Waits until the log viewer's counts satisfy `ok`, and returns them.
pub async fn wait_for_counts(
    browser: &Browser,
    what: &str,
    timeout: Duration,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    wait_for(what, timeout, || async {
        let c = log_counts(browser).await;
        ok(&c).then_some(c)
    })
    .await
}

/// Waits until the page shows at least line `n`, and returns the counts.
pub async fn shows_line(browser: &Browser, n: u64, what: &str, timeout: Duration) -> Value {
    wait_for_counts(browser, what, timeout, |c| c["last"].as_u64() >= Some(n)).await
}
