//! While a log's history arrives: how many of its lines are here ("312,500 of 1,000,000
//! lines"), from the count the server announced in the logs snapshot. Gone once every
//! announced line is here (a log that keeps growing then just streams).

use super::state::Viewer;
use leptos::prelude::*;
use shipwatch_model::number_format::grouped;

/// The arrival count and bar, in the toolbar's row (it takes no height of the scroller's).
#[component]
pub fn LoadProgress(viewer: Viewer) -> impl IntoView {
    let progress = Memo::new(move |_| viewer.model.progress());
    move || {
        progress.get().map(|(received, expected)| {
            let text = format!("{} of {} lines", grouped(received), grouped(expected));
            view! {
                <span class="log-progress" data-received=received data-expected=expected>
                    <progress
                        class="log-progress__bar"
                        max=expected.to_string()
                        value=received.to_string()
                        aria-label="Log lines received"
                        aria-valuetext=text.clone()
                    ></progress>
                    <span class="log-progress__text">{text}</span>
                </span>
            }
        })
    }
}
