//! How a split build shows a view whose code is a wasm chunk of its own (the log viewer, the
//! deployment history, an expanded row's details): a loading line while the chunk is fetched,
//! then the view, or why the chunk could not be downloaded with a button to try again. Once a
//! chunk is in, its views are built at once, with no loading line. Each view keeps its own
//! `#[wasm_split]` point (a chunk is one split point); this is what they share around it.

use leptos::prelude::*;
use leptos::wasm_split::SplitLoaderError;
use std::future::Future;
use std::sync::OnceLock;

/// Why the chunk could not be loaded (network, server restarted with a new build).
pub struct LoadFailed(pub String);

impl From<SplitLoaderError> for LoadFailed {
    fn from(e: SplitLoaderError) -> Self {
        LoadFailed(e.to_string())
    }
}

/// What `load_chunk` (a split point) hands back, kept in `loaded` once the chunk is in.
pub async fn load<M, F>(
    load_chunk: impl Fn() -> F,
    loaded: &'static OnceLock<M>,
) -> Result<M, LoadFailed>
where
    M: Clone + Send + Sync + 'static,
    F: Future<Output = Result<M, LoadFailed>>,
{
    if let Some(made) = loaded.get() {
        return Ok(made.clone());
    }
    let made = load_chunk().await?;
    let _ = loaded.set(made.clone());
    Ok(made)
}

/// Fetches a chunk in the background, so that its view needs no wait when it is first shown.
pub fn prefetch<M, F>(load_chunk: impl Fn() -> F + 'static, loaded: &'static OnceLock<M>)
where
    M: Clone + Send + Sync + 'static,
    F: Future<Output = Result<M, LoadFailed>> + 'static,
{
    leptos::task::spawn_local(async move {
        // A failure here is retried (and reported) when the view is shown.
        let _ = load(load_chunk, loaded).await;
    });
}

/// Shows `build` of what the chunk of `load_chunk` hands back: at once if it is in
/// (`loaded`), else `loading` while it loads, and an alert naming `what` ("The log viewer")
/// if it fails.
pub fn view<M, F>(
    load_chunk: impl Fn() -> F + Copy + Send + Sync + 'static,
    loaded: &'static OnceLock<M>,
    loading: fn() -> AnyView,
    what: &'static str,
    build: impl Fn(M) -> AnyView + Send + Sync + 'static,
) -> AnyView
where
    M: Clone + Send + Sync + 'static,
    F: Future<Output = Result<M, LoadFailed>> + 'static,
{
    if let Some(made) = loaded.get() {
        return build(made.clone());
    }
    // None while loading; what the chunk handed back, or why it could not be loaded.
    let outcome = RwSignal::new(None::<Result<M, String>>);
    let load_now = move || {
        outcome.set(None);
        leptos::task::spawn_local(async move {
            let result = load(load_chunk, loaded)
                .await
                .map_err(|LoadFailed(why)| why);
            // The page may have been left meanwhile.
            let _ = outcome.try_set(Some(result));
        });
    };
    load_now();
    (move || match outcome.get() {
        None => loading(),
        Some(Ok(made)) => build(made),
        Some(Err(why)) => view! {
            <p class="notice notice--error" role="alert" title=why>
                {format!(
                    "{what} could not be downloaded (is the server reachable?). If the console \
                     was updated meanwhile, reload the page. "
                )}
                <button type="button" class="notice__action" on:click=move |_| load_now()>
                    "Try again"
                </button>
            </p>
        }
        .into_any(),
    })
    .into_any()
}
