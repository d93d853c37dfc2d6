//! The `instance_update` change: when a service's new state differs from its old one in one
//! instance only (and, with it, since when its running status holds), that instance and its
//! position say the whole change. An instance's recent events only grow at the end (the
//! oldest dropped past [`MAX_INSTANCE_EVENTS`]), so the change carries the new ones alone.
//! The server finds it ([`between`]); the client applies it ([`apply`]);
//! `apply(old, between(old, new)) == new`.

use crate::entities::{Millis, MAX_INSTANCE_EVENTS};
use crate::{Instance, InstanceEvent, Service};

/// What tells `new` from `old` when one instance is all that changed.
#[derive(Debug, PartialEq)]
pub struct OneInstance {
    /// Its position in the service's instances.
    pub index: u32,
    /// Its new state; without its events when `events_added` says them.
    pub instance: Instance,
    /// The service's new `running_since`, when the instance moved the service's running
    /// status (most instance changes that matter do).
    pub running_since: Option<Millis>,
    /// The events the instance gained since `old` (possibly none); `None` when its events
    /// changed otherwise and `instance` carries them all.
    pub events_added: Option<Vec<InstanceEvent>>,
}

/// The one instance that tells `new` from `old`, if that is all that changed: same id, name,
/// kind, version, deployment, deployment since and number of instances; running since the
/// same, or newly set.
#[must_use]
pub fn between(old: &Service, new: &Service) -> Option<OneInstance> {
    let running_since = match (old.running_since, new.running_since) {
        (a, b) if a == b => None,
        (_, Some(b)) => Some(b),
        (Some(_), None) => return None,
        (None, None) => None,
    };
    let same_service = old.id == new.id
        && old.name == new.name
        && old.kind == new.kind
        && old.version == new.version
        && old.deployment == new.deployment
        && old.deployment_since == new.deployment_since
        && old.instances.len() == new.instances.len();
    if !same_service {
        return None;
    }
    let mut changed = old
        .instances
        .iter()
        .zip(&new.instances)
        .enumerate()
        .filter(|(_, (a, b))| a != b);
    let (index, (was, now)) = changed.next()?;
    if changed.next().is_some() {
        return None;
    }
    let mut instance = now.clone();
    let events_added = added_events(&was.events, &now.events);
    if events_added.is_some() {
        instance.events = Vec::new();
    }
    Some(OneInstance {
        index: u32::try_from(index).ok()?,
        instance,
        running_since,
        events_added,
    })
}

/// The fewest events that, appended to `old` (then cut to the last [`MAX_INSTANCE_EVENTS`]),
/// give `new`; `None` if no such run exists.
fn added_events(old: &[InstanceEvent], new: &[InstanceEvent]) -> Option<Vec<InstanceEvent>> {
    (0..=new.len()).find_map(|k| {
        let added = &new[new.len() - k..];
        (appended(old, added) == new).then(|| added.to_vec())
    })
}

/// `old` followed by `added`, the oldest dropped past [`MAX_INSTANCE_EVENTS`].
fn appended(old: &[InstanceEvent], added: &[InstanceEvent]) -> Vec<InstanceEvent> {
    let mut all: Vec<InstanceEvent> = old.iter().chain(added).cloned().collect();
    let extra = all.len().saturating_sub(MAX_INSTANCE_EVENTS);
    all.drain(..extra);
    all
}

/// `service` with its instance at `index` replaced (its events the old ones followed by
/// `events_added`, when given; its running status's since, when given); `None` if it has no
/// such instance (the client's state is not the server's: it needs a fresh snapshot).
#[must_use]
pub fn apply(
    service: &Service,
    index: u32,
    mut instance: Instance,
    running_since: Option<Millis>,
    events_added: Option<&[InstanceEvent]>,
) -> Option<Service> {
    let index = usize::try_from(index).ok()?;
    let old = service.instances.get(index)?;
    if let Some(added) = events_added {
        instance.events = appended(&old.events, added);
    }
    let mut next = service.clone();
    next.instances[index] = instance;
    if running_since.is_some() {
        next.running_since = running_since;
    }
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RunningStatus, ServiceKind};

    fn instance(name: &str, status: RunningStatus) -> Instance {
        Instance {
            name: name.into(),
            status,
            version: "v1".into(),
            restarts: 0,
            reason: None,
            message: None,
            started_at: Some(1),
            events: Vec::new(),
            last_restart_at: None,
            last_termination: None,
        }
    }

    fn service(statuses: &[RunningStatus]) -> Service {
        Service {
            id: "api".into(),
            name: "api".into(),
            kind: ServiceKind::Application,
            instances: statuses
                .iter()
                .enumerate()
                .map(|(k, s)| instance(&format!("api-{k}"), *s))
                .collect(),
            version: "v1".into(),
            deployment: None,
            deployment_since: None,
            running_since: None,
        }
    }

    #[test]
    fn one_changed_instance_is_found_and_applies_back() {
        use RunningStatus::{Error, Running};
        let old = service(&[Running, Running, Running]);
        let new = service(&[Running, Error, Running]);
        let one = between(&old, &new).expect("one instance changed");
        assert_eq!((one.index, one.instance.status), (1, Error));
        assert_eq!(applied(&old, one).as_ref(), Some(&new));
    }

    fn applied(old: &Service, one: OneInstance) -> Option<Service> {
        let added = one.events_added.as_deref();
        apply(old, one.index, one.instance, one.running_since, added)
    }

    fn event(at: u64) -> InstanceEvent {
        InstanceEvent {
            at,
            reason: "BackOff".into(),
            message: Some(format!("back-off {at}")),
        }
    }

    #[test]
    fn new_events_alone_travel_and_the_oldest_go_past_the_cap() {
        use RunningStatus::{Error, Running};
        let mut old = service(&[Running, Running]);
        old.instances[1].events = (0..MAX_INSTANCE_EVENTS as u64).map(event).collect();
        let mut new = service(&[Running, Error]);
        new.instances[1].events = (2..MAX_INSTANCE_EVENTS as u64 + 2).map(event).collect();
        let one = between(&old, &new).expect("one instance changed");
        let n = MAX_INSTANCE_EVENTS as u64;
        assert_eq!(one.events_added, Some(vec![event(n), event(n + 1)]));
        assert!(one.instance.events.is_empty(), "not sent twice");
        assert_eq!(applied(&old, one).as_ref(), Some(&new));
        // Events that are not the old ones followed by new ones travel whole.
        let mut other = new.clone();
        other.instances[1].events = vec![event(99)];
        old.instances[1].events = vec![event(1), event(2)];
        let one = between(&old, &other).expect("one instance changed");
        assert_eq!(one.events_added, None);
        assert_eq!(one.instance.events, vec![event(99)]);
        assert_eq!(applied(&old, one).as_ref(), Some(&other));
    }

    #[test]
    fn an_instance_that_moves_the_service_s_status_carries_its_new_since() {
        use RunningStatus::{Error, Running};
        let mut old = service(&[Running]);
        old.running_since = Some(1_000);
        let mut new = service(&[Error]);
        new.running_since = Some(9_000);
        let one = between(&old, &new).expect("one instance and the since");
        assert_eq!(one.running_since, Some(9_000));
        assert_eq!(applied(&old, one).as_ref(), Some(&new));
        // A since that goes away is not something an instance update can say.
        new.running_since = None;
        assert!(between(&old, &new).is_none());
    }

    #[test]
    fn anything_more_than_one_instance_is_not_an_instance_update() {
        use RunningStatus::{Error, Running};
        let old = service(&[Running, Running]);
        assert!(between(&old, &old).is_none(), "nothing changed");
        assert!(between(&old, &service(&[Error, Error])).is_none(), "two");
        assert!(between(&old, &service(&[Running])).is_none(), "one fewer");
        let mut other = service(&[Running, Error]);
        other.version = "v2".into();
        assert!(between(&old, &other).is_none(), "the service's version too");
    }

    #[test]
    fn an_index_past_the_service_s_instances_is_refused() {
        let old = service(&[RunningStatus::Running]);
        let one = instance("api-1", RunningStatus::Error);
        assert!(apply(&old, 1, one.clone(), None, None).is_none());
        assert!(apply(&old, u32::MAX, one, None, Some(&[])).is_none());
    }
}
