//! `/env/:env/deployments/:dep/logs` and `/env/:env/service/:service/deployments/:dep/logs`:
//! one deployment's log, streamed live into the log viewer, under a header that says whose
//! deployment it is, its status, its duration, and leads back.

use crate::components::deployment_label::DeploymentLabel;
use crate::feed::{use_subscription, SubEvent, SubscriptionHandle, UseSubscriptionOptions};
use crate::log_viewer::bench::{self, BenchPlan};
use crate::log_viewer::{LogModel, LogViewer};
use crate::read_api::get_json;
use crate::router::use_location;
use crate::routes;
use crate::routes::Route;
use crate::state::deployment_history::{human_duration, HistoryEntry, Neighbours};
use crate::state::environments::EnvironmentsState;
use crate::state::time_in_state::server_time;
use leptos::prelude::*;
use shipwatch_model::protocol::{ErrorCode, Snapshot, Topic};
use shipwatch_model::{Deployment, DeploymentStatus};

/// Delay before asking again for a log the server does not know (yet): after a server
/// restart a deployment's log comes back once the simulator recreates it.
const RETRY_MS: u64 = 2_000;

/// The log viewer's style: it comes with the page's chunk, not with the first load.
const STYLE: &str = include_str!("../../style/log_viewer.css");

/// The id of the `<style>` element that holds [`STYLE`].
const STYLE_ID: &str = "log-viewer-style";

/// The class the page's root element has while a log page is shown: the page then fills the
/// window and the lines take what the header leaves (`style/log_viewer.css`).
const ROOT_CLASS: &str = "log-page-open";

thread_local! {
    /// Log pages in the document: when one log page replaces another, the old one may be
    /// cleaned up after the new one is built, so the root's class goes with the last one.
    static OPEN_PAGES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Marks the root element while this page is shown.
fn mark_root_while_shown() {
    let set = |on: bool| {
        if let Some(root) = document().document_element() {
            let _ = root.class_list().toggle_with_force(ROOT_CLASS, on);
        }
    };
    OPEN_PAGES.with(|n| n.set(n.get() + 1));
    set(true);
    on_cleanup(move || {
        let left = OPEN_PAGES.with(|n| {
            n.set(n.get().saturating_sub(1));
            n.get()
        });
        if left == 0 {
            set(false);
        }
    });
}

/// A log route's environment, service and deployment.
type LogIds = (String, Option<String>, String);

/// The deployment log page.
#[component]
pub fn LogsPage() -> impl IntoView {
    crate::style_sheet::add_once(STYLE_ID, STYLE);
    mark_root_while_shown();
    let location = use_location();
    // The route's ids, kept while the route leaves the log (this page is going away).
    let ids = Memo::new(move |kept: Option<&LogIds>| match location.route.get() {
        Some(Route::Logs {
            env,
            service,
            deployment,
        }) => (env, service, deployment),
        _ => kept.cloned().unwrap_or_default(),
    });
    let env_id = Memo::new(move |_| ids.with(|i| i.0.clone()));
    let service_id = Memo::new(move |_| ids.with(|i| i.1.clone()));
    let dep_id = Memo::new(move |_| ids.with(|i| i.2.clone()));
    let model = LogModel::new();
    let deployment = RwSignal::new(None::<Deployment>);
    let refused = RwSignal::new(None::<String>);
    // The server no longer keeps this log (retention): the page shows why, and nothing else.
    let gone = RwSignal::new(false);
    let bench_plan = BenchPlan::from_url();
    // A benchmark's lines are made up in the page: the server has no log to download.
    let served = bench_plan.is_none();

    if let Some(plan) = bench_plan {
        deployment.set(Some(Deployment {
            id: "bench".into(),
            status: DeploymentStatus::Building,
            version: "synthetic".into(),
            previous_version: None,
            started_at: bench::BENCH_START,
            finished_at: None,
            triggered_by: None,
            url: None,
        }));
        bench::run(plan, model);
    } else {
        subscribe(model, dep_id, deployment, refused, gone);
    }

    let neighbours = RwSignal::new(None::<Neighbours>);
    if served {
        follow_neighbours(env_id, dep_id, deployment, neighbours);
    }

    let envs = use_context::<EnvironmentsState>();
    let env_name = Memo::new(move |_| {
        let id = env_id.get();
        envs.and_then(|e| {
            e.list
                .with(|l| l.iter().find(|x| x.id == id).map(|x| x.name.clone()))
        })
        .unwrap_or(id)
    });
    let subject = move || service_id.get().unwrap_or_else(|| env_name.get());
    let back = move || match service_id.get() {
        Some(s) => routes::service(&env_id.get(), &s),
        None => routes::env(&env_id.get()),
    };
    let self_href = move || match service_id.get() {
        Some(s) => routes::service_logs(&env_id.get(), &s, &dep_id.get()),
        None => routes::env_logs(&env_id.get(), &dep_id.get()),
    };
    let status = Signal::derive(move || deployment.with(|d| d.as_ref().map(|d| d.status)));
    let live = Signal::derive(move || status.get().is_some_and(DeploymentStatus::in_progress));
    let start = Signal::derive(move || deployment.with(|d| d.as_ref().map(|d| d.started_at)));
    let explanation = Signal::derive(move || {
        deployment.with(|d| match d {
            Some(d) => format!("Deployment {} of version {}.", d.id, d.version),
            None => "Waiting for the deployment.".into(),
        })
    });
    let file_name =
        Signal::derive(move || format!("{}-{}-{}.log", env_id.get(), subject(), dep_id.get()));
    let whole_log = Signal::derive(move || served.then(|| whole_log_url(&dep_id.get())));
    // The clock for a running deployment's duration.
    // By the server's clock: a page whose clock is behind would count from 0s late.
    let server_now = || js_sys::Date::now() + server_time().skew.get_untracked();
    let now = RwSignal::new(server_now());
    let tick = set_interval_with_handle(
        move || now.set(server_now()),
        std::time::Duration::from_secs(1),
    )
    .ok();
    on_cleanup(move || {
        if let Some(t) = tick {
            t.clear();
        }
    });
    let duration = move || {
        deployment.with(|d| {
            d.as_ref().map(|d| {
                let end = d
                    .finished_at
                    .unwrap_or(now.get().max(d.started_at as f64) as u64);
                let took = human_duration(end.saturating_sub(d.started_at));
                if d.finished_at.is_some() {
                    format!("took {took}")
                } else {
                    format!("running for {took}")
                }
            })
        })
    };
    // On a phone the header keeps to a few short rows: the words in `log-page__long` are
    // read out but not shown there (style/log_viewer.css), so the links stay named in full.
    view! {
        <div class="log-page">
            <header class="log-page__header">
                <a class="log-page__back" href=back title=move || format!("Back to {}", subject())>
                    <span aria-hidden="true">"← "</span>
                    <span class="log-page__long">"Back to "</span>
                    {subject}
                </a>
                <div class="log-page__title">
                    <h1>
                        <span class="log-page__subject">{subject}</span>
                        <span class="log-page__what">
                            {move || service_id.get().is_some().then(|| format!(" in {}", env_name.get()))}
                            <span class="log-page__long">
                                {move || if service_id.get().is_some() {
                                    " · deployment logs"
                                } else {
                                    " · environment deployment logs"
                                }}
                            </span>
                        </span>
                    </h1>
                    {move || (!gone.get()).then(|| view! {
                        <DeploymentLabel status explanation href=Signal::derive(move || Some(self_href())) />
                    })}
                    <span class="log-page__fact">{duration}</span>
                    <span class="log-page__fact">
                        {move || deployment.with(|d| d.as_ref().map(|d| match &d.previous_version {
                            Some(p) => format!("version {} (was {p})", d.version),
                            None => format!("version {}", d.version),
                        }))}
                    </span>
                    <span class="log-page__fact log-page__id">{move || dep_id.get()}</span>
                </div>
                {move || refused.get().map(|m| view! { <p class="notice notice--error" role="status">{m}</p> })}
                {move || served.then(|| view! {
                    <nav class="log-page__neighbours" aria-label=move || format!("Other deployments of {}", subject())>
                        {move || neighbours.with(|n| n.as_ref().and_then(|n| n.previous.clone())).map(|p| view! {
                            <a rel="prev" href=entry_logs(&p)>
                                <span aria-hidden="true">"← "</span>"Previous"
                                <span class="log-page__long">{format!(" deployment: {}", entry_summary(&p))}</span>
                            </a>
                        })}
                        <a href=move || match service_id.get() {
                            Some(s) => routes::service_deployments(&env_id.get(), &s),
                            None => routes::env_deployments(&env_id.get()),
                        }>
                            "All"<span class="log-page__long">{move || format!(" deployments of {}", subject())}</span>
                        </a>
                        {move || neighbours.with(|n| n.as_ref().and_then(|n| n.next.clone())).map(|p| view! {
                            <a rel="next" href=entry_logs(&p)>
                                "Next"
                                <span class="log-page__long">{format!(" deployment: {}", entry_summary(&p))}</span>
                                <span aria-hidden="true">" →"</span>
                            </a>
                        })}
                    </nav>
                })}
            </header>
            // A removed log has nothing to wait for or show: no empty viewer beside the notice.
            {move || (!gone.get()).then(|| view! { <LogViewer model start live file_name whole_log /> })}
        </div>
    }
}

/// Follows the deployment's log: lines go to the model, status changes to `deployment`.
fn subscribe(
    model: LogModel,
    dep_id: Memo<String>,
    deployment: RwSignal<Option<Deployment>>,
    refused: RwSignal<Option<String>>,
    gone: RwSignal<bool>,
) {
    Effect::new(move |prev: Option<String>| {
        let dep = dep_id.get();
        if prev.is_some_and(|p| p != dep) {
            // Another deployment in the same page: start over.
            model.clear();
            deployment.set(None);
            gone.set(false);
        }
        dep
    });
    let handler = move |event: SubEvent, sub: SubscriptionHandle| match event {
        SubEvent::Snapshot(Snapshot::Logs {
            deployment: d,
            line_count,
            ..
        }) => {
            refused.set(None);
            gone.set(false);
            // A fresh snapshot after a resume (e.g. the server restarted) replays the
            // history: the store drops the lines it has, so nothing is cleared here.
            deployment.set(Some(d));
            model.set_expected(line_count);
        }
        SubEvent::Snapshot(_) => {}
        SubEvent::Changes(changes) => {
            if let Some(d) = model.apply_changes(changes) {
                deployment.set(Some(d));
            }
        }
        SubEvent::Lines(batch) => model.push_batch(batch),
        SubEvent::Refused(_, message, Some(_)) => {
            // Removed by retention: asking again would not bring it back.
            refused.set(Some(removed_log_sentence(&message)));
            gone.set(true);
        }
        SubEvent::Refused(code, message, None) => {
            let retry = code == ErrorCode::UnknownTopic;
            refused.set(Some(if retry {
                "This deployment's log is not available on the server (yet); retrying…".into()
            } else {
                format!("The server refused this log: {message}")
            }));
            if retry {
                // A handle whose page is gone by then does nothing.
                set_timeout(
                    move || sub.resubscribe(),
                    std::time::Duration::from_millis(RETRY_MS),
                );
            }
        }
    };
    use_subscription(
        move || Topic::Logs {
            deployment: dep_id.get(),
        },
        UseSubscriptionOptions::default().on_event(handler),
    );
}

/// Asks the server for the deployments of the same service just before and after this one,
/// again when this one's status changes (a newer one may have come meanwhile). A server
/// without a store answers nothing: the links do not show.
fn follow_neighbours(
    env_id: Memo<String>,
    dep_id: Memo<String>,
    deployment: RwSignal<Option<Deployment>>,
    neighbours: RwSignal<Option<Neighbours>>,
) {
    Effect::new(move |_| {
        let (env, dep) = (env_id.get(), dep_id.get());
        deployment.with(|d| d.as_ref().map(|d| d.status));
        leptos::task::spawn_local(async move {
            let answer = get_json::<Neighbours>(&routes::neighbours_api(&env, &dep)).await;
            // The page may be gone, or on another deployment, by now.
            if dep_id.try_get_untracked().as_deref() == Some(dep.as_str()) {
                neighbours.try_set(answer.ok());
            }
        });
    });
}

/// The logs page of a listed deployment.
fn entry_logs(e: &HistoryEntry) -> String {
    routes::deployment_logs(&e.environment, e.service.as_deref(), &e.deployment.id)
}

/// "version 1.4.2, DEPLOYMENT OK".
fn entry_summary(e: &HistoryEntry) -> String {
    format!(
        "version {}, {}",
        e.deployment.version,
        e.deployment.status.word()
    )
}

/// Where the server serves the deployment's whole log, with the page's token if it has one
/// (a download is a navigation: it cannot carry an Authorization header).
fn whole_log_url(dep: &str) -> String {
    let url = routes::log_text(dep);
    match crate::page_token() {
        Some(t) => format!("{url}?token={t}"),
        None => url,
    }
}

/// What the page says of a log the server no longer keeps, from the server's reason (e.g.
/// "this log is older than the 50 kept deployments of api").
pub fn removed_log_sentence(reason: &str) -> String {
    let reason = reason.trim_end_matches('.');
    let mut chars = reason.chars();
    match chars.next() {
        Some(first) => format!(
            "This deployment's log was removed: {}{}.",
            first.to_lowercase(),
            chars.as_str()
        ),
        None => "This deployment's log was removed.".into(),
    }
}
