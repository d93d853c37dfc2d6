//! An expanded service row's details (instances, their details, the status timeline). In a
//! split release build (cargo feature `split`, set by `cargo xtask build`) they are a wasm
//! chunk of their own, fetched in the background once the console is up and at the latest
//! when a row is first expanded, so that the first screen (the table) does not carry them.
//! Once fetched, every row expands at once. Other builds link them in.

use crate::components::service_details::{ServiceDetailsPanel, ServiceDetailsProps};
use leptos::prelude::*;

/// The details of an expanded row, their code loaded on first use in a split build.
pub fn service_details_view(props: ServiceDetailsProps) -> AnyView {
    #[cfg(feature = "split")]
    return split::view(props);
    #[cfg(not(feature = "split"))]
    view! { <ServiceDetailsPanel props /> }.into_any()
}

/// Starts fetching the chunk in the background (no-op unless split).
pub fn prefetch() {
    #[cfg(feature = "split")]
    split::prefetch();
}

#[cfg(feature = "split")]
mod split {
    use super::{ServiceDetailsPanel, ServiceDetailsProps};
    use crate::pages::chunk_loader::{self, LoadFailed};
    use leptos::prelude::*;
    use leptos::wasm_split::wasm_split;
    use std::sync::OnceLock;

    /// Builds the view; its code (and all only it uses) lives in the chunk.
    type MakeView = fn(ServiceDetailsProps) -> AnyView;

    /// The constructor once the chunk is in: later rows are built without waiting.
    static LOADED: OnceLock<MakeView> = OnceLock::new();

    // As the log viewer's: `fallible`, and a constructor rather than a view.
    #[wasm_split(
        service_details,
        wasm_split_path = ::leptos::wasm_split,
        fallible
    )]
    fn service_details_view() -> Result<MakeView, LoadFailed> {
        Ok(|props| view! { <ServiceDetailsPanel props /> }.into_any())
    }

    pub fn prefetch() {
        chunk_loader::prefetch(service_details_view, &LOADED);
    }

    pub fn view(props: ServiceDetailsProps) -> AnyView {
        chunk_loader::view(
            service_details_view,
            &LOADED,
            || view! { <p class="loading">"Loading…"</p> }.into_any(),
            "The service's details",
            move |make: MakeView| make(props.clone()),
        )
    }
}
