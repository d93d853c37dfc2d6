//! The logs routes' view. In a split release build (cargo feature `split`, set by
//! `cargo xtask build`) the log viewer is a wasm chunk of its own, fetched in the background
//! once the console has started and at the latest when a log is opened, so the environment
//! page's first load does not carry it (docs/benchmarks.md, "First load"). Other builds
//! (tests, profiles) link it in as usual.

use super::logs_page::LogsPage;
use leptos::prelude::*;

/// The deployment log page, its code loaded on first use in a split build.
#[component]
pub fn LogsRoute() -> impl IntoView {
    #[cfg(feature = "split")]
    return split::view();
    #[cfg(not(feature = "split"))]
    view! { <LogsPage /> }.into_any()
}

/// Starts fetching the log viewer's chunk in the background (no-op unless split).
pub fn prefetch() {
    #[cfg(feature = "split")]
    split::prefetch();
}

#[cfg(feature = "split")]
mod split {
    use super::LogsPage;
    use crate::pages::chunk_loader::{self, LoadFailed};
    use leptos::prelude::*;
    use leptos::wasm_split::wasm_split;
    use std::sync::OnceLock;

    /// Builds the page; its code (and all only it uses) lives in the chunk.
    type MakePage = fn() -> AnyView;

    /// The constructor once the chunk is in: later views are built without waiting.
    static LOADED: OnceLock<MakePage> = OnceLock::new();

    // `fallible`: a failed fetch is an answer on the page, not a panic that aborts the app.
    // It hands back a constructor rather than the view, so that the page is built and
    // mounted in one go, as the router builds any other page (a view built ahead of its
    // mounting measured its scroller before it had a size).
    #[wasm_split(
        log_viewer,
        wasm_split_path = ::leptos::wasm_split,
        fallible
    )]
    fn log_viewer_page() -> Result<MakePage, LoadFailed> {
        Ok(|| view! { <LogsPage /> }.into_any())
    }

    pub fn prefetch() {
        chunk_loader::prefetch(log_viewer_page, &LOADED);
    }

    pub fn view() -> AnyView {
        chunk_loader::view(
            log_viewer_page,
            &LOADED,
            || view! { <p class="notice">"Loading the log viewer…"</p> }.into_any(),
            "The log viewer",
            |make: MakePage| make(),
        )
    }
}
