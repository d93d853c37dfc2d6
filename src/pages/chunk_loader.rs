//! How a split build shows a view whose code is a wasm chunk of its own (the log viewer, the
//! deployment history): a loading line while the chunk is fetched, then the view, or why the
//! chunk could not be downloaded with a button to try again. Each route keeps its own
//! `#[wasm_split]` point (a chunk is one split point); this is what they share around it.

use leptos::prelude::*;
use leptos::wasm_split::SplitLoaderError;
use std::future::Future;

/// Why the chunk could not be loaded (network, server restarted with a new build).
pub struct LoadFailed(pub String);

impl From<SplitLoaderError> for LoadFailed {
    fn from(e: SplitLoaderError) -> Self {
        LoadFailed(e.to_string())
    }
}

/// Loads a chunk with `load_chunk` (its split point) and shows `build` of what it hands
/// back; `loading` while it loads, and an alert naming `what` ("The log viewer") if it fails.
pub fn view<M, F>(
    load_chunk: impl Fn() -> F + Copy + Send + Sync + 'static,
    loading: fn() -> AnyView,
    what: &'static str,
    build: impl Fn(M) -> AnyView + Send + Sync + 'static,
) -> AnyView
where
    M: Clone + Send + Sync + 'static,
    F: Future<Output = Result<M, LoadFailed>> + 'static,
{
    // None while loading; what the chunk handed back, or why it could not be loaded.
    let loaded = RwSignal::new(None::<Result<M, String>>);
    let load = move || {
        loaded.set(None);
        leptos::task::spawn_local(async move {
            let result = load_chunk().await.map_err(|LoadFailed(why)| why);
            // The page may have been left meanwhile.
            let _ = loaded.try_set(Some(result));
        });
    };
    load();
    (move || match loaded.get() {
        None => loading(),
        Some(Ok(made)) => build(made),
        Some(Err(why)) => view! {
            <p class="notice notice--error" role="alert" title=why>
                {format!(
                    "{what} could not be downloaded (is the server reachable?). If the console \
                     was updated meanwhile, reload the page. "
                )}
                <button type="button" class="notice__action" on:click=move |_| load()>
                    "Try again"
                </button>
            </p>
        }
        .into_any(),
    })
    .into_any()
}
