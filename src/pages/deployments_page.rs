//! `/env/:env/deployments` and `/env/:env/service/:service/deployments`: the Deployments tab
//! of the environment page, the environment's (or one service's) deployment history, live.
//! It lives in the environment page, which holds the environment's subscription.

use crate::components::deployment_list::DeploymentList;
use crate::routes;
use crate::state::environment::EnvironmentState;
use leptos::prelude::*;

/// What the tab needs from the environment page.
#[derive(Clone, Copy)]
pub struct DeploymentsProps {
    /// The environment.
    pub env_id: Signal<String>,
    /// The service whose list this is, if it is one service's.
    pub service: Signal<Option<String>>,
    /// The environment's live state (for liveness, service names and the tab's dots).
    pub state: EnvironmentState,
}

/// The history's style: it comes with the view's chunk, not with the first load.
const STYLE: &str = include_str!("../../style/deployment_history.css");

/// The id of the `<style>` element that holds [`STYLE`].
const STYLE_ID: &str = "deployment-history-style";

/// The deployment history view.
#[component]
pub fn DeploymentsPage(props: DeploymentsProps) -> impl IntoView {
    crate::style_sheet::add_once(STYLE_ID, STYLE);
    let DeploymentsProps {
        env_id,
        service,
        state,
    } = props;
    let service_name = move || {
        service.get().map(|id| {
            state
                .triage
                .with(|t| t.get(&id).map(|s| s.name.clone()))
                .unwrap_or(id)
        })
    };
    view! {
        <section class="deployments-page" aria-labelledby="deployments-title">
            {move || match service_name() {
                Some(name) => view! {
                    <div class="deployments-page__head">
                        <h2 id="deployments-title">{format!("Deployments of {name}")}</h2>
                        <a class="deployments-page__all" href=move || routes::env_deployments(&env_id.get())>
                            {move || format!("All deployments of {}", state.name.get())}
                        </a>
                    </div>
                }.into_any(),
                None => view! { <h2 id="deployments-title" class="sr-only">"Deployments"</h2> }.into_any(),
            }}
            <DeploymentList env_id fixed_service=service state />
        </section>
    }
}
