//! An instance's optional details (last termination, last restart, recent events) in one JSON
//! column of `instances` (migration 5): the store never queries into them, it keeps them for
//! the page.

use serde::{Deserialize, Serialize};
use shipwatch_model::entities::Millis;
use shipwatch_model::{Instance, InstanceEvent, Termination};

#[derive(Serialize, Deserialize)]
struct Details {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_termination: Option<Termination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_restart_at: Option<Millis>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    events: Vec<InstanceEvent>,
}

/// The details column of `i`; none when it has none.
pub fn column(i: &Instance) -> Option<String> {
    if i.last_termination.is_none() && i.last_restart_at.is_none() && i.events.is_empty() {
        return None;
    }
    serde_json::to_string(&Details {
        last_termination: i.last_termination.clone(),
        last_restart_at: i.last_restart_at,
        events: i.events.clone(),
    })
    .ok()
}

/// Puts a stored details column and exit code back on `i`. A column this version cannot read
/// is left out rather than failing the start: it only adds detail.
pub fn restore(i: &mut Instance, column: Option<&str>, exit_code: Option<i32>) {
    if let Some(d) = column.and_then(|c| serde_json::from_str::<Details>(c).ok()) {
        i.last_termination = d.last_termination;
        i.last_restart_at = d.last_restart_at;
        i.events = d.events;
    }
    i.note_exit_code(exit_code);
}
