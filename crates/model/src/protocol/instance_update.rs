//! The `instance_update` change: when a service's new state differs from its old one in one
//! instance only, that instance and its position say the whole change. The server finds it
//! ([`between`]); the client applies it ([`apply`]); `apply(old, between(old, new)) == new`.

use crate::{Instance, Service};

/// The one instance (position, new state) that tells `new` from `old`, if that is all that
/// changed: same id, name, kind, version, deployment, times in state and number of instances.
#[must_use]
pub fn between<'a>(old: &Service, new: &'a Service) -> Option<(u32, &'a Instance)> {
    let same_service = old.id == new.id
        && old.name == new.name
        && old.kind == new.kind
        && old.version == new.version
        && old.deployment == new.deployment
        && old.running_since == new.running_since
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
    let (index, (_, instance)) = changed.next()?;
    if changed.next().is_some() {
        return None;
    }
    Some((u32::try_from(index).ok()?, instance))
}

/// `service` with its instance at `index` replaced; `None` if it has no such instance (the
/// client's state is not the server's: it needs a fresh snapshot).
#[must_use]
pub fn apply(service: &Service, index: u32, instance: Instance) -> Option<Service> {
    let index = usize::try_from(index).ok()?;
    if index >= service.instances.len() {
        return None;
    }
    let mut next = service.clone();
    next.instances[index] = instance;
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
        let (index, one) = between(&old, &new).expect("one instance changed");
        assert_eq!((index, one.status), (1, Error));
        assert_eq!(apply(&old, index, one.clone()).as_ref(), Some(&new));
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
        assert!(apply(&old, 1, one.clone()).is_none());
        assert!(apply(&old, u32::MAX, one).is_none());
    }
}
