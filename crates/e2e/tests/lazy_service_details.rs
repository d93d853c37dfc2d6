//! An expanded row's details (instances, their details, the status timeline) are a wasm chunk
//! of their own (`cargo xtask build` splits them off; see src/pages/service_details_route.rs):
//! the first load does not carry them, the first screen (the table) waits for no chunk, a row
//! expanded before the chunk is in says "Loading…" once, and every row after it opens at once.

use shipwatch_e2e::{env_path, wait_for, Browser, Server};
use std::time::Duration;

/// Resources the page fetched whose URL contains `part`.
async fn fetched(browser: &Browser, part: &str) -> u64 {
    browser
        .eval(&format!(
            "return performance.getEntriesByType('resource').filter(e => e.name.includes('{part}')).length;"
        ))
        .await
        .as_u64()
        .unwrap_or(0)
}

/// Counts, in `window.__loadingShown`, the loading lines ever put in an expanded row.
const WATCH_LOADING: &str = r#"
window.__loadingShown = 0;
new MutationObserver(records => {
  for (const r of records) for (const n of r.addedNodes) {
    if (n.nodeType === 1 && n.matches('.loading') && n.closest('.instances-row')) window.__loadingShown++;
  }
}).observe(document, {childList: true, subtree: true});
"#;

/// Expands the row of the `nth` closed service (0-based) and waits for its instances table.
async fn expand(browser: &Browser, nth: usize) -> String {
    let id = browser
        .eval(&format!(
            "const r = document.querySelectorAll('table.services tbody.service:not(.service--open) tr.service-row')[{nth}]; \
             r.querySelector('button.disclosure').click(); return r.dataset.service;"
        ))
        .await;
    let id = id.as_str().expect("a service row").to_string();
    browser
        .wait_js(
            &format!("{id}'s instances"),
            Duration::from_secs(15),
            &format!(
                "const t = document.querySelector(\"tbody.service--open tr[id='instances-{id}'] table.instances\"); \
                 return t ? getComputedStyle(t).borderCollapse === 'collapse' : null;"
            ),
        )
        .await;
    id
}

#[tokio::test]
async fn an_expanded_row_s_details_come_in_a_chunk_loaded_once() {
    let dist = env_path("SHIPWATCH_DIST");
    let page = std::fs::read_to_string(dist.join("index.html")).unwrap();
    let chunk = std::fs::read_dir(&dist)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("split_service_details") && n.ends_with(".wasm"))
        .expect("the build has a chunk of the row details (cargo xtask build splits it)");
    assert!(
        !page.contains("split_service_details"),
        "the page itself must not load the details' chunk"
    );

    let server = Server::start(&["--seed", "3"]).await;
    let browser = Browser::start().await;
    browser.add_init_script(WATCH_LOADING).await;
    browser.open(&server.url("/env/production")).await;
    // The first screen: the table with its marks, with no chunk fetched yet.
    browser.find("table.services [role=img]").await;
    assert_eq!(
        fetched(&browser, "split_service_details").await,
        0,
        "the table waits for no chunk"
    );

    // Expanded before the background fetch: its details come with the chunk (and their style).
    let first = expand(&browser, 0).await;
    assert!(
        browser.eval("return window.__loadingShown").await.as_u64() <= Some(1),
        "at most one loading line"
    );
    let style = browser
        .eval("return getComputedStyle(document.querySelector('.instances-panel')).display")
        .await;
    assert_eq!(style, "grid", "the details' style came with them");

    // Every row expanded after that opens at once.
    let shown = browser.eval("return window.__loadingShown").await;
    let second = expand(&browser, 1).await;
    let third = expand(&browser, 2).await;
    assert!(first != second && second != third);
    assert_eq!(
        browser.eval("return window.__loadingShown").await,
        shown,
        "no loading line once the chunk is in"
    );
    wait_for("the chunk fetched once", Duration::from_secs(5), || async {
        (fetched(&browser, &chunk).await == 1).then_some(())
    })
    .await;
    browser.close().await;
}
