//! The viewer's controls besides search: timestamps, wrap, problems only, copy, download
//! (folded behind "Options" on a phone), and the follow state.

use super::browser::copy_text;
use super::state::{TimeMode, Viewer};
use super::summary::download_kept;
use leptos::prelude::*;
use shipwatch_logview::LineFilter;
use shipwatch_model::number_format::grouped;

/// Display toggles and actions.
#[component]
pub fn Toolbar(
    viewer: Viewer,
    #[prop(into)] file_name: Signal<String>,
    whole_log: MaybeProp<String>,
) -> impl IntoView {
    let time_button = move |mode: TimeMode, label: &'static str, title: &'static str| {
        view! {
            <button
                type="button"
                class="log-btn log-btn--toggle"
                title=title
                aria-pressed=move || (viewer.time.get() == mode).to_string()
                on:click=move |_| viewer.time.set(mode)
            >{label}</button>
        }
    };
    let download = move |_| {
        let name = file_name.get_untracked();
        if download_kept(viewer, &name) {
            viewer.announce.set(format!("Downloading {name}"));
        } else {
            viewer.announce.set("Download failed".into());
        }
    };
    // What the download holds: the whole log, or only the lines the page kept.
    let held = Memo::new(move |_| {
        viewer
            .model
            .with_tracked(|s| (s.evicted() > 0).then(|| (s.len(), s.end_position())))
    });
    // Once lines were let go, the whole log comes from the server (when it has one). A memo
    // of its own: `held` changes with every evicting batch, this only when eviction starts.
    let whole_href = Memo::new(move |_| {
        held.with(Option::is_some)
            .then(|| whole_log.get())
            .flatten()
    });
    let download_label = move || {
        if held.with(Option::is_some) {
            "Download kept lines"
        } else {
            "Download"
        }
    };
    let download_title = move || match held.get() {
        None => "Download the whole log as plain text".to_string(),
        Some((kept, total)) => format!(
            "Download the newest {} of {} lines as plain text: the page did not keep \
             the earlier ones (the file says so in its first line)",
            grouped(kept),
            grouped(total)
        ),
    };
    let whole_title = move || {
        let kept = grouped(held.get().map_or(0, |h| h.0));
        format!(
            "Download every line of the log from the server as plain text (this page keeps \
             only the newest {kept})"
        )
    };
    let download_control = move || match whole_href.get() {
        Some(href) => view! {
            <a
                class="log-btn"
                href=href
                download=move || file_name.get()
                title=whole_title
                on:click=move |_| viewer.announce.set("Downloading the whole log".into())
            >"Download whole log"</a>
        }
        .into_any(),
        None => view! {
            <button type="button" class="log-btn" on:click=download title=download_title>
                {download_label}
            </button>
        }
        .into_any(),
    };
    let copy_selection = move |_| {
        let Some(span) = viewer.selection.get_untracked() else {
            return;
        };
        let text = viewer.model.with(|s| {
            let mut out = String::new();
            for n in span.first..=span.last {
                if let Some(l) = s.line_by_number(n) {
                    out.push_str(l.plain);
                    out.push('\n');
                }
            }
            out
        });
        let what = if span.first == span.last {
            format!("Copied line {}", span.first)
        } else {
            format!("Copied lines {}–{}", span.first, span.last)
        };
        copy_text(viewer, text, what);
    };
    view! {
        <div class="log-toolbar__group" role="group" aria-label="Timestamps">
            <span class="log-toolbar__label" aria-hidden="true">"Time"</span>
            {time_button(TimeMode::Absolute, "UTC", "Absolute time (UTC)")}
            {time_button(TimeMode::Relative, "Since start", "Time since the deployment started")}
            {time_button(TimeMode::Hidden, "Off", "Hide timestamps")}
        </div>
        <div class="log-toolbar__group">
            <button
                type="button"
                class="log-btn log-btn--toggle"
                aria-pressed=move || viewer.wrap.get().to_string()
                on:click=move |_| {
                    viewer.wrap.update(|w| *w = !*w);
                    viewer.go_latest();
                }
            >"Wrap lines"</button>
            <button
                type="button"
                class="log-btn log-btn--toggle"
                aria-pressed=move || viewer.filter.with(|f| f.problems_only).to_string()
                on:click=move |_| {
                    let f = viewer.filter.get_untracked();
                    viewer.filter_chosen.set(true);
                    viewer.set_filter(LineFilter { problems_only: !f.problems_only, ..f });
                    viewer.go_latest();
                }
            >"Errors & warnings only"</button>
        </div>
        <div class="log-toolbar__group">
            {move || viewer.selection.get().map(|s| {
                let label = if s.first == s.last {
                    format!("Copy line {}", s.first)
                } else {
                    format!("Copy lines {}–{}", s.first, s.last)
                };
                view! { <button type="button" class="log-btn" on:click=copy_selection>{label}</button> }
            })}
            {download_control}
        </div>
    }
}

/// The id of the element that holds the [`Toolbar`]'s controls.
pub const OPTIONS_ID: &str = "log-toolbar-options";

/// On a phone the toolbar's controls besides search fold behind this button, so the lines
/// keep the height (style/log_viewer.css hides it on wider windows, where they all show).
#[component]
pub fn OptionsToggle(open: RwSignal<bool>) -> impl IntoView {
    view! {
        <button
            type="button"
            class="log-btn log-toolbar__more"
            aria-controls=OPTIONS_ID
            aria-expanded=move || open.get().to_string()
            on:click=move |_| open.update(|o| *o = !*o)
        >"Options"</button>
    }
}

/// "Following" / "Paused" and the jump-to-latest control with its count of new lines.
#[component]
pub fn FollowControl(viewer: Viewer) -> impl IntoView {
    let new_lines = Memo::new(move |_| viewer.new_lines());
    move || {
        if viewer.following.get() {
            view! { <p class="log-follow log-follow--on" aria-live="off">"Following the newest lines"</p> }.into_any()
        } else {
            let n = new_lines.get();
            let label = match n {
                0 => "Jump to latest".to_string(),
                1 => "Jump to latest (1 new line)".to_string(),
                n => format!("Jump to latest ({n} new lines)"),
            };
            view! {
                <button
                    type="button"
                    class="log-btn log-jump"
                    data-new-lines=n
                    on:click=move |_| {
                        viewer.go_latest();
                        if let Some(el) = viewer.scroller.get_untracked() {
                            let _ = el.focus();
                        }
                    }
                >
                    <span aria-hidden="true">"↓ "</span>{label}
                </button>
            }
            .into_any()
        }
    }
}
