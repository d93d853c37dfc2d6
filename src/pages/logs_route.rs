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
    use leptos::prelude::*;
    use leptos::wasm_split::{wasm_split, SplitLoaderError};

    /// Why the chunk could not be loaded (network, server restarted with a new build).
    pub struct LoadFailed(String);

    impl From<SplitLoaderError> for LoadFailed {
        fn from(e: SplitLoaderError) -> Self {
            LoadFailed(e.to_string())
        }
    }

    /// Builds the page; its code (and all only it uses) lives in the chunk.
    type MakePage = fn() -> AnyView;

    // `fallible`: a failed fetch is an answer on the page, not a panic that aborts the app.
    // It hands back a constructor rather than the view, so that the page is built and
    // mounted in one go, as the router builds any other page (a view built ahead of its
    // mounting measured its scroller before it had a size).
    #[wasm_split(
        log_viewer,
        wasm_split_path = ::leptos::wasm_split,
        fallible,
        preload(preload_log_viewer)
    )]
    fn log_viewer_page() -> Result<MakePage, LoadFailed> {
        Ok(|| view! { <LogsPage /> }.into_any())
    }

    pub fn prefetch() {
        leptos::task::spawn_local(async {
            // A failure here is retried (and reported) when a log is opened.
            let _ = preload_log_viewer().await;
        });
    }

    pub fn view() -> AnyView {
        // None while loading; the page's constructor, or why it could not be loaded.
        let loaded = RwSignal::new(None::<Result<MakePage, String>>);
        let load = move || {
            loaded.set(None);
            leptos::task::spawn_local(async move {
                let result = log_viewer_page().await.map_err(|LoadFailed(why)| why);
                // The page may have been left meanwhile.
                let _ = loaded.try_set(Some(result));
            });
        };
        load();
        (move || match loaded.get() {
            None => view! { <p class="notice">"Loading the log viewer…"</p> }.into_any(),
            Some(Ok(make)) => make(),
            Some(Err(why)) => view! {
                <p class="notice notice--error" role="alert" title=why>
                    "The log viewer could not be downloaded (is the server reachable?). If the \
                     console was updated meanwhile, reload the page. "
                    <button type="button" class="notice__action" on:click=move |_| load()>
                        "Try again"
                    </button>
                </p>
            }
            .into_any(),
        })
        .into_any()
    }
}
