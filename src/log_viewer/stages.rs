//! The stages of a deployment (build, deploy, ...), each with its status and duration; a
//! click shows only that stage's lines.

use super::state::Viewer;
use crate::components::keyed_list::KeyedList;
use leptos::prelude::*;
use shipwatch_logview::timestamps::format_elapsed;
use shipwatch_logview::{LineFilter, StageId, StageStatus};
use shipwatch_model::number_format::counted;

/// One stage as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
struct StageRow {
    id: StageId,
    name: String,
    status: &'static str,
    mark: &'static str,
    duration: String,
    lines: u64,
    errors: u64,
    warnings: u64,
}

/// The stage list, a filter.
#[component]
pub fn StageList(viewer: Viewer) -> impl IntoView {
    let stages = Memo::new(move |_| {
        let live = viewer.live.get();
        viewer.model.with_tracked(|store| {
            let count = store.stages().len();
            store
                .stages()
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let running = live && i + 1 == count && s.status() == StageStatus::Ok;
                    let (status, mark) = match (s.status(), running) {
                        (StageStatus::Failed, _) => ("failed", "✕"),
                        (StageStatus::Ok, true) => ("running", "◌"),
                        (StageStatus::Ok, false) => ("passed", "✓"),
                    };
                    StageRow {
                        id: StageId(i as u32),
                        name: s.name.clone(),
                        status,
                        mark,
                        duration: format_elapsed(s.duration_ms()),
                        lines: s.lines,
                        errors: s.errors,
                        warnings: s.warnings,
                    }
                })
                .collect::<Vec<_>>()
        })
    });
    let total = move || viewer.model.with_tracked(|s| s.end_position());
    let pick = move |stage: Option<StageId>| {
        viewer.filter_chosen.set(true);
        let filter = LineFilter {
            stage,
            ..viewer.filter.get_untracked()
        };
        viewer.set_filter(filter);
        viewer.go_latest();
    };
    // The list folds (a disclosure) so that a phone gives the lines its height; it starts
    // folded where the stages would stand above the lines rather than beside them.
    let unfolded = !super::browser::narrow_window();
    let chosen = move || {
        let stage = viewer.filter.with(|f| f.stage);
        stage
            .and_then(|id| {
                stages.with(|all| all.iter().find(|s| s.id == id).map(|s| shown_name(&s.name)))
            })
            .unwrap_or_else(|| "All stages".into())
    };
    view! {
        <nav class="log-stages" aria-label="Stages">
            <details class="log-stages__fold" open=unfolded>
            <summary class="log-stages__summary">
                <h2 class="log-stages__title">"Stages"</h2>
                <span class="log-stages__chosen">{chosen}</span>
            </summary>
            <ul>
                <li>
                    <button
                        type="button"
                        class="log-stage"
                        aria-pressed=move || viewer.filter.with(|f| f.stage.is_none()).to_string()
                        on:click=move |_| pick(None)
                    >
                        <span class="log-stage__name">"All stages"</span>
                        <span class="log-stage__meta">{move || counted(total(), "line", "lines")}</span>
                    </button>
                </li>
                <KeyedList
                    each=move || stages.get()
                    key=|s| (s.id, s.status)
                    children=move |s| {
                        let id = s.id;
                        let name = s.name.clone();
                        // The running stage's counts change with every batch: only its text
                        // is updated, the item stays.
                        let meta = move || {
                            stages.with(|all| {
                                all.iter().find(|r| r.id == id).map(|s| {
                                    let errors = counted(s.errors, "error", "errors");
                                    let warnings = counted(s.warnings, "warning", "warnings");
                                    let problems = match (s.errors, s.warnings) {
                                        (0, 0) => String::new(),
                                        (_, 0) => format!(" · {errors}"),
                                        (0, _) => format!(" · {warnings}"),
                                        _ => format!(" · {errors}, {warnings}"),
                                    };
                                    format!("{} · {}{problems}", s.duration, counted(s.lines, "line", "lines"))
                                })
                            })
                        };
                        view! {
                            <li>
                                <button
                                    type="button"
                                    class=format!("log-stage log-stage--{}", s.status)
                                    data-stage=name
                                    aria-pressed=move || viewer.filter.with(|f| f.stage == Some(id)).to_string()
                                    on:click=move |_| pick(Some(id))
                                >
                                    <span class="log-stage__mark" aria-hidden="true">{s.mark}</span>
                                    {stage_name_view(&s.name)}
                                    <span class="log-stage__status">{s.status}</span>
                                    <span class="log-stage__meta">{meta}</span>
                                </button>
                            </li>
                        }
                    }
                />
            </ul>
            </details>
        </nav>
    }
}

/// What a stage is called on the page: lines pushed without a stage are in one with no name,
/// which is called so rather than left blank.
fn shown_name(name: &str) -> String {
    if name.trim().is_empty() {
        UNNAMED.into()
    } else {
        name.to_string()
    }
}

/// The name of a stage that has none.
const UNNAMED: &str = "Unnamed stage";

/// A stage's name in the list (an unnamed one set apart).
fn stage_name_view(name: &str) -> impl IntoView {
    view! {
        <span class="log-stage__name" class:log-stage__name--none=name.trim().is_empty()>{shown_name(name)}</span>
    }
}

#[cfg(test)]
mod tests {
    use super::shown_name;

    #[test]
    fn a_stage_without_a_name_is_called_unnamed() {
        assert_eq!(shown_name("deploy"), "deploy");
        assert_eq!(shown_name(""), "Unnamed stage");
        assert_eq!(shown_name("  "), "Unnamed stage");
    }
}
