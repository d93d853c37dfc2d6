//! What the simulator reports of an instance's life beyond its status, as Kubernetes would:
//! how its last run ended (reason, exit code, when), when it last restarted, and its recent
//! events, a few at most.

use shipwatch_model::entities::{Millis, MAX_INSTANCE_EVENTS};
use shipwatch_model::{Instance, InstanceEvent, Termination};

/// Its container ended: `reason` as the platform words it (`OOMKilled`, `Error`) and the exit
/// code; an event says why it will be restarted.
pub fn terminated(i: &mut Instance, reason: &str, exit_code: i32, now: Millis) {
    i.last_termination = Some(Termination {
        reason: Some(reason.into()),
        exit_code: Some(exit_code),
        at: Some(now),
    });
    let message = match reason {
        "OOMKilled" => format!(
            "Container {} was OOM-killed (exit code {exit_code})",
            i.name
        ),
        _ => format!("Back-off restarting failed container (exit code {exit_code})"),
    };
    event(
        i,
        now,
        if reason == "OOMKilled" {
            "OOMKilling"
        } else {
            "BackOff"
        },
        message,
    );
}

/// It is restarted after a back-off: the restart's time and a `Started` event.
pub fn restarted(i: &mut Instance, now: Millis) {
    i.last_restart_at = Some(now);
    let message = format!("Started container {}", i.name);
    event(i, now, "Started", message);
}

/// Its readiness probe fails (it stays STARTING).
pub fn not_ready(i: &mut Instance, now: Millis) {
    event(
        i,
        now,
        "Unhealthy",
        "Readiness probe failed: GET /ready -> 503".into(),
    );
}

fn event(i: &mut Instance, at: Millis, reason: &str, message: String) {
    i.events.push(InstanceEvent {
        at,
        reason: reason.into(),
        message: Some(message),
    });
    let extra = i.events.len().saturating_sub(MAX_INSTANCE_EVENTS);
    i.events.drain(..extra);
}

#[cfg(test)]
mod tests {
    use super::*;
    use shipwatch_model::RunningStatus;

    #[test]
    fn a_crash_loop_keeps_its_last_termination_and_a_few_events() {
        let mut i = super::super::world::running_instance("api-1".into(), "v2", 0);
        for k in 0..10 {
            terminated(&mut i, "Error", 1, 1000 * k);
            restarted(&mut i, 1000 * k + 500);
        }
        assert_eq!(i.status, RunningStatus::Running);
        let t = i.last_termination.as_ref().unwrap();
        assert_eq!(
            (t.reason.as_deref(), t.exit_code, t.at),
            (Some("Error"), Some(1), Some(9000))
        );
        assert_eq!(i.last_restart_at, Some(9500));
        assert_eq!(i.events.len(), MAX_INSTANCE_EVENTS);
        assert_eq!(i.events.last().unwrap().reason, "Started");
    }
}
