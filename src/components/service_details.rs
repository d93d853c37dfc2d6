//! What an expanded service row shows: its instances with their details and the status
//! timeline (`instance_list.rs`), and a link to the service's deployment history. A split
//! build loads it as a wasm chunk of its own (`pages/service_details_route.rs`): the first
//! screen (the table) does not carry it.

use super::instance_list::InstanceList;
use crate::routes;
use leptos::prelude::*;
use shipwatch_model::Service;

/// What the expanded row hands to its details.
#[derive(Clone)]
pub struct ServiceDetailsProps {
    /// The environment.
    pub env_id: String,
    /// The service, live.
    pub service: ArcRwSignal<Service>,
}

/// The instance details' and timeline's style: it comes with the details' chunk.
const STYLE: &str = include_str!("../../style/service_details.css");

/// The id of the `<style>` element that holds [`STYLE`].
const STYLE_ID: &str = "service-details-style";

/// The details of one service, under its row.
#[component]
pub fn ServiceDetailsPanel(props: ServiceDetailsProps) -> impl IntoView {
    crate::style_sheet::add_once(STYLE_ID, STYLE);
    let ServiceDetailsProps { env_id, service } = props;
    let s = service.clone();
    let name = Memo::new(move |_| s.with(|s| s.name.clone()));
    let s = service.clone();
    let history_href = move || s.with(|s| routes::service_deployments(&env_id, &s.id));
    view! {
        <InstanceList service=service />
        <p class="instances-row__history">
            <a href=history_href>{move || format!("Deployment history of {}", name.get())}</a>
        </p>
    }
}
