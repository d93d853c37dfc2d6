//! A service's status timeline over the last hour, in its expanded row: a strip of segments,
//! each coloured and shaped as its status's mark, each with its status word and times for
//! screen readers. Read from the server's store (`GET .../timeline`), again every
//! [`REFRESH`] while shown.

use crate::read_api::{get_json, ReadError};
use crate::state::clock::Clock;
use crate::state::time_in_state::{offset_min, server_time};
use leptos::prelude::*;
use shipwatch_model::time_in_state::clock_words;
use shipwatch_model::timeline::{strip, Timeline};

/// How often a shown timeline is read again.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(15);

/// Segments narrower than this (per cent of the strip) show no word (they keep their
/// screen-reader text and their title).
const WORD_MIN_WIDTH: f64 = 12.0;

/// The timeline of `service` in `env`, read when it mounts and every [`REFRESH`].
#[component]
pub fn StatusTimeline(
    env: String,
    service: String,
    #[prop(into)] name: Signal<String>,
) -> impl IntoView {
    let clock = Clock::use_clock();
    let data = RwSignal::new(None::<Result<Timeline, ReadError>>);
    let url = format!("/api/v1/environments/{env}/services/{service}/timeline");
    let load = move || {
        let url = url.clone();
        leptos::task::spawn_local(async move {
            let got = get_json::<Timeline>(&url).await;
            // The row may have closed meanwhile.
            data.try_set(Some(got));
        });
    };
    load();
    if let Ok(handle) = set_interval_with_handle(load, REFRESH) {
        on_cleanup(move || handle.clear());
    }
    let parts = move || {
        let now = server_time().now(clock);
        data.with(|d| match d {
            None => view! { <p class="timeline__note">"Loading the last hour…"</p> }.into_any(),
            Some(Err(ReadError::NoStore(why) | ReadError::Failed(why))) => {
                view! { <p class="timeline__note">{format!("No timeline: {why}")}</p> }.into_any()
            }
            Some(Ok(t)) if t.segments.is_empty() => view! {
                <p class="timeline__note">"No status recorded in the last hour."</p>
            }
            .into_any(),
            Some(Ok(t)) => {
                let offset = offset_min();
                let items = strip(t, now)
                    .into_iter()
                    .map(|p| {
                        let word = p.running.word();
                        let to = if p.to >= now.saturating_sub(1_000) {
                            "now".to_string()
                        } else {
                            clock_words(p.to, now, offset)
                        };
                        let label =
                            format!("{word} from {} to {to}", clock_words(p.from, now, offset));
                        let class = format!(
                            "timeline__seg colour--{} shape--{} timeline__seg--{}",
                            p.running.colour().slug(),
                            p.running.shape().slug(),
                            p.running.slug()
                        );
                        let title = label.clone();
                        let style = format!("left:{:.3}%;width:{:.3}%", p.left, p.width);
                        view! {
                            <li class=class style=style data-status=word title=title>
                                {(p.width >= WORD_MIN_WIDTH).then(|| view! {
                                    <span class="timeline__word" aria-hidden="true">{word}</span>
                                })}
                                <span class="sr-only">{label}</span>
                            </li>
                        }
                    })
                    .collect_view();
                view! { <ol class="timeline__strip">{items}</ol> }.into_any()
            }
        })
    };
    view! {
        <section class="timeline" aria-label=move || format!("Status timeline of {}, last hour", name.get())>
            <h4 class="timeline__title">"Status, last hour"</h4>
            {parts}
            <div class="timeline__axis" aria-hidden="true">
                <span>"60 min ago"</span>
                <span>"now"</span>
            </div>
        </section>
    }
}
