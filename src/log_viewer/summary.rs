//! What the user should see first: the first error with its hint (one click from its line),
//! and notices about lines the page does not hold.

use super::browser::download_text;
use super::state::Viewer;
use leptos::prelude::*;
use shipwatch_logview::missing::missing_lines_sentence;
use shipwatch_logview::{LineFilter, LineSpan};
use shipwatch_model::number_format::grouped;

/// The first error, summarised.
#[component]
pub fn FirstErrorSummary(viewer: Viewer) -> impl IntoView {
    let first = Memo::new(move |_| {
        viewer.model.with_tracked(|s| {
            s.first_error().map(|e| {
                let stage = s.stage(e.stage).map(|i| i.name.clone()).unwrap_or_default();
                (
                    e.n,
                    stage,
                    e.text.clone(),
                    e.hint.clone().map(|h| (h, e.hint_n)),
                    s.error_count(),
                )
            })
        })
    });
    let go = move |n: u64| {
        // The line may be filtered out: show its stage (or everything) first.
        let visible = viewer.with_rows(|v, s| {
            s.index_of_number(n)
                .and_then(|i| v.row_of_index(s, i))
                .is_some()
        });
        if !visible {
            let stage = viewer.model.with(|s| s.first_error().map(|e| e.stage));
            viewer.set_filter(LineFilter {
                stage,
                problems_only: false,
            });
        }
        viewer.selection.set(Some(LineSpan::one(n)));
        super::browser::set_fragment(&LineSpan::one(n).fragment());
        viewer.reveal_line(n);
    };
    // Open beside the lines on a wide screen; folded to its title on a phone, where the lines
    // need the height. The user's choice holds while new errors update the summary.
    let open = RwSignal::new(!super::browser::narrow_window());
    move || {
        first.get().map(|(n, stage, text, hint, errors)| {
            view! {
                <section class="log-first-error" aria-label="First error">
                    <details
                        class="log-first-error__fold"
                        prop:open=move || open.get()
                        on:toggle=move |ev| {
                            let now = event_target::<web_sys::Element>(&ev).has_attribute("open");
                            if now != open.get_untracked() {
                                open.set(now);
                            }
                        }
                    >
                        <summary class="log-first-error__summary">
                            <span class="log-badge log-badge--error">"ERROR"</span>
                            <span class="log-first-error__title">
                                {first_error_title(n, &stage)}
                                {(errors > 1).then(|| format!(" ({errors} error lines in all)"))}
                            </span>
                        </summary>
                        <div class="log-first-error__body">
                            <p class="log-first-error__text"><code>{text}</code></p>
                            {hint.map(|(h, from)| {
                                let whence = from.filter(|&f| f != n).map(|f| format!(" (from line {f})"));
                                view! { <p class="log-first-error__hint"><strong>"Hint: "</strong>{h}{whence}</p> }
                            })}
                        </div>
                    </details>
                    <button type="button" class="log-btn log-first-error__go" on:click=move |_| go(n)>
                        {format!("Go to line {n}")}
                    </button>
                </section>
            }
        })
    }
}

/// Says when lines were evicted by the memory policy, or never arrived.
///
/// The notices are built once and only their figures change: while a long log streams at
/// the cap, lines are evicted on every batch, and rebuilding the notice each time would cost
/// a frame's work and make screen readers repeat it (the start of eviction is announced
/// once, politely, instead).
#[component]
pub fn KeptNotice(
    viewer: Viewer,
    #[prop(into)] file_name: Signal<String>,
    whole_log: MaybeProp<String>,
) -> impl IntoView {
    let facts = Memo::new(move |_| {
        viewer
            .model
            .with_tracked(|s| (s.evicted(), s.len(), s.limits().max_lines, s.gap_count()))
    });
    let evicting = Memo::new(move |_| facts.with(|f| f.0 > 0));
    // Which lines are missing, named: changes only when a new gap opens.
    let missing = Memo::new(move |_| {
        facts
            .with(|f| f.3 > 0)
            .then(|| {
                viewer
                    .model
                    .with(|s| missing_lines_sentence(s.gaps(), s.gap_count()))
            })
            .flatten()
    });
    let gapped = Memo::new(move |_| missing.with(|m| m.is_some()));
    Effect::new(move |was: Option<bool>| {
        let now = evicting.get();
        if now && was == Some(false) {
            viewer
                .announce
                .set("Earlier lines are no longer kept in this page".into());
        }
        now
    });
    let kept = move |_: leptos::ev::MouseEvent| {
        if !download_kept(viewer, &file_name.get_untracked()) {
            viewer.announce.set("Download failed".into());
        }
    };
    let evicted_notice = move || {
        evicting.get().then(|| {
            view! {
                <p class="log-notice log-notice--evicted" role="note">
                    <strong>{move || format!("{} earlier lines are not kept in this page", grouped(facts.get().0))}</strong>
                    {move || {
                        let (_, kept, max, _) = facts.get();
                        let (kept, max) = (grouped(kept), grouped(max));
                        format!(
                            " (memory limit: {max} lines or 256 MiB). Showing the newest {kept} lines; \
                             search, stages and the first error still count every line. "
                        )
                    }}
                    {move || match whole_log.get() {
                        Some(href) => view! {
                            <a
                                class="log-btn"
                                href=href
                                download=move || file_name.get()
                                on:click=move |_| viewer.announce.set("Downloading the whole log".into())
                            >"Download whole log"</a>
                            <button type="button" class="log-btn log-btn--quiet" on:click=kept>
                                "or only the kept lines"
                            </button>
                        }
                        .into_any(),
                        None => view! {
                            <button type="button" class="log-btn" on:click=kept>
                                "Download the kept lines"
                            </button>
                        }
                        .into_any(),
                    }}
                </p>
            }
        })
    };
    let gap_notice = move || {
        gapped.get().then(|| {
            view! {
                <p class="log-notice log-notice--gap" role="status">
                    {move || missing.get().unwrap_or_default()}
                </p>
            }
        })
    };
    (evicted_notice, gap_notice)
}

/// Downloads the lines the page holds; when earlier lines were evicted the file says so in
/// its first line, so a saved log never passes for the whole one.
pub fn download_kept(viewer: Viewer, name: &str) -> bool {
    let text = viewer.model.with(|s| {
        let mut text = String::new();
        if s.evicted() > 0 {
            text.push_str(&format!(
                "# Lines {} to {} of {}: the {} earlier lines were not kept in the page.\n",
                s.iter().next().map_or(0, |l| l.n),
                s.last_number().unwrap_or(0),
                s.end_position(),
                s.evicted()
            ));
        }
        text.push_str(&s.to_text());
        text
    });
    download_text(name, &text).is_ok()
}

/// The first error's title: "First error, line 306 in stage deploy"; a log whose lines name
/// no stage (pushed without one) says the line alone.
pub fn first_error_title(n: u64, stage: &str) -> String {
    if stage.trim().is_empty() {
        format!("First error, line {n}")
    } else {
        format!("First error, line {n} in stage {stage}")
    }
}

#[cfg(test)]
mod tests {
    use super::first_error_title;

    #[test]
    fn the_title_names_the_stage_when_there_is_one() {
        assert_eq!(
            first_error_title(306, "deploy"),
            "First error, line 306 in stage deploy"
        );
        assert_eq!(first_error_title(151, ""), "First error, line 151");
        assert_eq!(first_error_title(151, " "), "First error, line 151");
    }
}
