//! The Deployments tab's view. In a split release build (cargo feature `split`, set by
//! `cargo xtask build`) the deployment history is a wasm chunk of its own, fetched when the
//! tab is first opened (and in the background once the console is up), so the first load
//! does not carry it, as the log viewer (`logs_route.rs`). Other builds link it in.

use super::deployments_page::{DeploymentsPage, DeploymentsProps};
use leptos::prelude::*;

/// The deployment history, its code loaded on first use in a split build.
pub fn deployments_view(props: DeploymentsProps) -> AnyView {
    #[cfg(feature = "split")]
    return split::view(props);
    #[cfg(not(feature = "split"))]
    view! { <DeploymentsPage props /> }.into_any()
}

/// Starts fetching the chunk in the background (no-op unless split).
pub fn prefetch() {
    #[cfg(feature = "split")]
    split::prefetch();
}

#[cfg(feature = "split")]
mod split {
    use super::{DeploymentsPage, DeploymentsProps};
    use crate::pages::chunk_loader::{self, LoadFailed};
    use leptos::prelude::*;
    use leptos::wasm_split::wasm_split;
    use std::sync::OnceLock;

    /// Builds the view; its code (and all only it uses) lives in the chunk.
    type MakeView = fn(DeploymentsProps) -> AnyView;

    /// The constructor once the chunk is in: later views are built without waiting.
    static LOADED: OnceLock<MakeView> = OnceLock::new();

    // As the log viewer's: `fallible`, and a constructor rather than a view.
    #[wasm_split(
        deployment_history,
        wasm_split_path = ::leptos::wasm_split,
        fallible
    )]
    fn deployment_history_view() -> Result<MakeView, LoadFailed> {
        Ok(|props| view! { <DeploymentsPage props /> }.into_any())
    }

    pub fn prefetch() {
        chunk_loader::prefetch(deployment_history_view, &LOADED);
    }

    pub fn view(props: DeploymentsProps) -> AnyView {
        chunk_loader::view(
            deployment_history_view,
            &LOADED,
            || view! { <p class="loading">"Loading the deployment history…"</p> }.into_any(),
            "The deployment history",
            move |make: MakeView| make(props),
        )
    }
}
