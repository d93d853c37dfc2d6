//! Platform events turned into the topics' changes: what the hub publishes for each event a
//! source reports.

use super::replay::ReplayBuffer;
use super::since::{now_ms, stamp_service, stamp_summary, StatusChange};
use super::staged::{Journal, Staged};
use super::topic::{lock, TopicCell, TopicData};
use super::{summarize, Hub};
use crate::platform::PlatformEvent;
use shipwatch_model::entities::Millis;
use shipwatch_model::protocol::{instance_update, Change};
use shipwatch_model::{Deployment, Environment};
use std::collections::VecDeque;
use std::sync::Arc;

impl Hub {
    /// Applies platform events and shows them at once (no store: nothing to wait for).
    /// Returns the services' and environments' status changes it saw (see [`super::since`]).
    pub fn apply(&self, events: &[PlatformEvent]) -> Vec<StatusChange> {
        self.stage(events).announce()
    }

    /// Applies platform events, in order, to the topics without showing them: their changes
    /// are numbered and kept, readers stop before them, and [`Staged::announce`] wakes the
    /// subscribers of every topic that changed, once. The environment list gets one summary
    /// per changed environment at the end of the batch, not one per service change: a summary
    /// runs the rules over every service of the environment, which at thousands of events per
    /// second was most of the server's time. One caller at a time (the store's writer, or
    /// [`crate::ingest`] without a store).
    pub fn stage<'a>(&self, events: impl IntoIterator<Item = &'a PlatformEvent>) -> Staged {
        let now = now_ms();
        let mark = self.held_logs.next_batch();
        let mut statuses = Vec::new();
        let mut journal = Journal::default();
        for cell in self.take_unopened() {
            journal.opened(&cell);
        }
        let journal = std::cell::RefCell::new(journal);
        let touch = |cell: &Arc<TopicCell>| journal.borrow_mut().touched(cell);
        let mut changed: Vec<String> = Vec::new();
        let env_changed = |env: &str, changed: &mut Vec<String>| {
            if !changed.iter().any(|e| e == env) {
                changed.push(env.to_string());
            }
        };
        for event in events {
            match event {
                PlatformEvent::EnvironmentChanged { id, name } => {
                    if let Some(cell) = self.environment(id, name) {
                        journal.borrow_mut().opened(&cell);
                    }
                    env_changed(id, &mut changed);
                }
                PlatformEvent::EnvironmentRemoved { id } => {
                    if let Some((cell, list)) = self.environment_removed(id) {
                        journal.borrow_mut().closed(&cell);
                        touch(&list);
                    }
                }
                PlatformEvent::ServiceChanged { env, service } => {
                    if let Some(cell) = self.service(env, service.clone(), now, &mut statuses) {
                        touch(&cell);
                        env_changed(env, &mut changed);
                    }
                }
                PlatformEvent::ServiceRemoved { env, service } => {
                    if let Some(cell) = self.service_removed(env, service) {
                        touch(&cell);
                        env_changed(env, &mut changed);
                    }
                }
                PlatformEvent::InstanceChanged {
                    env,
                    service,
                    instance,
                    exit_code,
                } => {
                    // The exit code travels in the instance's last termination.
                    let mut instance = instance.clone();
                    instance.note_exit_code(*exit_code);
                    let updated = self.with_service(env, service, |s| {
                        match s.instances.iter_mut().find(|i| i.name == instance.name) {
                            Some(i) => *i = instance,
                            None => s.instances.push(instance),
                        }
                    });
                    if let Some(cell) =
                        updated.and_then(|s| self.service(env, s, now, &mut statuses))
                    {
                        touch(&cell);
                        env_changed(env, &mut changed);
                    }
                }
                PlatformEvent::InstanceRemoved { env, service, name } => {
                    let updated = self.with_service(env, service, |s| {
                        s.instances.retain(|i| i.name != *name);
                    });
                    if let Some(cell) =
                        updated.and_then(|s| self.service(env, s, now, &mut statuses))
                    {
                        touch(&cell);
                        env_changed(env, &mut changed);
                    }
                }
                PlatformEvent::DeploymentQueued {
                    env,
                    service,
                    deployment,
                } => {
                    let log =
                        self.created(env, service.clone(), deployment.clone(), self.cfg.base_seq);
                    journal.borrow_mut().opened(&log);
                    if service.is_none() {
                        if let Some(cell) = self.env_deployment(env, deployment) {
                            touch(&cell);
                            env_changed(env, &mut changed);
                        }
                    }
                }
                // Stages travel in the lines' `stage`; the wire has no stage change of its own.
                PlatformEvent::DeploymentStage { .. } => {}
                PlatformEvent::DeploymentStatus { deployment } => {
                    let cell = self.read().logs.get(&deployment.id).cloned();
                    // Not held: a log being loaded keeps it (hub/held_logs.rs).
                    let cell = cell.or_else(|| {
                        let change = Change::Deployment(deployment.clone());
                        self.hold_log_change(&deployment.id, &mark, [change])
                    });
                    if let Some(cell) = cell {
                        let env_wide = {
                            let mut st = lock(&cell.state);
                            TopicCell::publish(
                                &mut st,
                                &Change::Deployment(deployment.clone()),
                                None,
                            );
                            match &st.data {
                                TopicData::Logs {
                                    env, service: None, ..
                                } => Some(env.clone()),
                                _ => None,
                            }
                        };
                        touch(&cell);
                        if let Some(env) = env_wide {
                            if let Some(cell) = self.env_deployment(&env, deployment) {
                                touch(&cell);
                                env_changed(&env, &mut changed);
                            }
                        }
                    }
                }
                PlatformEvent::LogAppended { deployment, lines } => {
                    let cell = self.read().logs.get(deployment).cloned();
                    // Not held: a log being loaded keeps them (hub/held_logs.rs).
                    let cell = cell.or_else(|| {
                        let changes = lines.iter().map(|l| Change::Line(l.clone()));
                        self.hold_log_change(deployment, &mark, changes)
                    });
                    if let Some(cell) = cell {
                        let mut st = lock(&cell.state);
                        for line in lines {
                            TopicCell::publish(&mut st, &Change::Line(line.clone()), None);
                        }
                        drop(st);
                        touch(&cell);
                    }
                }
            }
        }
        for env in changed {
            if let Some(cell) = self.summary(&env, now, &mut statuses) {
                touch(&cell);
            }
        }
        let mut staged = journal.into_inner().staged(statuses);
        staged.mark = Some(mark);
        staged
    }

    /// Creates an environment's topic (shown at the announce), or renames it; the topic if
    /// it is new.
    fn environment(&self, id: &str, name: &str) -> Option<Arc<TopicCell>> {
        if let Some(cell) = self.read().envs.get(id).cloned() {
            let mut st = lock(&cell.state);
            if let TopicData::Environment(e) = &mut st.data {
                if e.name != name {
                    // Shown to subscribers from their next snapshot; the list says it now.
                    e.name = name.to_string();
                    st.cached = None;
                }
            }
            return None;
        }
        let env = Environment {
            id: id.to_string(),
            name: name.to_string(),
            services: Vec::new(),
            deployment: None,
        };
        let bounded = ReplayBuffer::Bounded(VecDeque::new(), self.cfg.replay.max(1));
        let cell = TopicCell::hidden(self.cfg.base_seq, bounded, TopicData::Environment(env));
        let mut t = self.topics.write().unwrap_or_else(|p| p.into_inner());
        t.envs.insert(id.to_string(), cell.clone());
        Some(cell)
    }

    /// Takes an environment's topic off the registry and the list (the caller ends it at the
    /// announce); the topic and the list.
    fn environment_removed(&self, id: &str) -> Option<(Arc<TopicCell>, Arc<TopicCell>)> {
        let (cell, list) = {
            let mut t = self.topics.write().unwrap_or_else(|p| p.into_inner());
            (t.envs.remove(id)?, t.environments.clone())
        };
        let mut st = lock(&list.state);
        if let TopicData::Environments(all) = &mut st.data {
            all.retain(|s| s.id != id);
        }
        TopicCell::publish(
            &mut st,
            &Change::EnvironmentRemoved { id: id.to_string() },
            None,
        );
        drop(st);
        Some((cell, list))
    }

    /// A copy of a service changed by `f`, if the environment has it.
    fn with_service(
        &self,
        env: &str,
        service: &str,
        f: impl FnOnce(&mut shipwatch_model::Service),
    ) -> Option<shipwatch_model::Service> {
        let cell = self.read().envs.get(env)?.clone();
        let st = lock(&cell.state);
        let TopicData::Environment(e) = &st.data else {
            return None;
        };
        let mut s = e.services.iter().find(|s| s.id == service)?.clone();
        drop(st);
        f(&mut s);
        Some(s)
    }

    /// Publishes a service change to its environment, stamped with its times in state; the
    /// topic, if that changed it. The service is the caller's copy (stamped, then kept by the
    /// topic), found once: at thousands of changes a second, copies of services with
    /// their instances were most of what staging a batch cost.
    fn service(
        &self,
        env: &str,
        mut service: shipwatch_model::Service,
        now: Millis,
        statuses: &mut Vec<StatusChange>,
    ) -> Option<Arc<TopicCell>> {
        let cell = self.read().envs.get(env)?.clone();
        let mut st = lock(&cell.state);
        let TopicData::Environment(e) = &mut st.data else {
            return None;
        };
        let at = e.services.iter().position(|s| s.id == service.id);
        let old = at.map(|k| &e.services[k]);
        let change = stamp_service(env, old, &mut service, now);
        if old == Some(&service) {
            return None;
        }
        statuses.extend(change);
        let compact = old.and_then(|old| {
            instance_update::between(old, &service).map(|one| Change::InstanceUpdate {
                service: service.id.clone(),
                index: one.index,
                instance: one.instance,
                running_since: one.running_since,
                events_added: one.events_added,
            })
        });
        // Encoded from the change, then kept by the topic: no further copy.
        let change = Change::ServiceUpsert(service);
        TopicCell::publish(&mut st, &change, compact.as_ref());
        let Change::ServiceUpsert(service) = change else {
            unreachable!("built above as a service upsert")
        };
        let TopicData::Environment(e) = &mut st.data else {
            return None;
        };
        match at {
            Some(k) => e.services[k] = service,
            None => e.services.push(service),
        }
        drop(st);
        Some(cell)
    }

    /// Publishes a service's removal; the topic, if it had the service.
    fn service_removed(&self, env: &str, service: &str) -> Option<Arc<TopicCell>> {
        let cell = self.read().envs.get(env)?.clone();
        let mut st = lock(&cell.state);
        let TopicData::Environment(e) = &mut st.data else {
            return None;
        };
        let before = e.services.len();
        e.services.retain(|s| s.id != service);
        if e.services.len() == before {
            return None;
        }
        TopicCell::publish(
            &mut st,
            &Change::ServiceRemoved {
                id: service.to_string(),
            },
            None,
        );
        drop(st);
        Some(cell)
    }

    /// Publishes an environment-wide deployment to its environment; the topic.
    fn env_deployment(&self, env: &str, deployment: &Deployment) -> Option<Arc<TopicCell>> {
        let cell = self.read().envs.get(env)?.clone();
        let mut st = lock(&cell.state);
        let TopicData::Environment(e) = &mut st.data else {
            return None;
        };
        e.deployment = Some(deployment.clone());
        TopicCell::publish(
            &mut st,
            &Change::EnvironmentDeployment {
                deployment: Some(deployment.clone()),
            },
            None,
        );
        drop(st);
        Some(cell)
    }

    /// Publishes the environment's summary to the environment list; the list, if it changed.
    fn summary(
        &self,
        env: &str,
        now: Millis,
        statuses: &mut Vec<StatusChange>,
    ) -> Option<Arc<TopicCell>> {
        let (cell, list) = {
            let topics = self.read();
            (topics.envs.get(env)?.clone(), topics.environments.clone())
        };
        let mut summary = {
            let st = lock(&cell.state);
            let TopicData::Environment(e) = &st.data else {
                return None;
            };
            summarize(e)
        };
        let mut st = lock(&list.state);
        let TopicData::Environments(all) = &mut st.data else {
            return None;
        };
        let old = all.iter().find(|s| s.id == summary.id);
        statuses.extend(stamp_summary(old, &mut summary, now));
        match all.iter_mut().find(|s| s.id == summary.id) {
            Some(s) if *s == summary => return None,
            Some(s) => *s = summary.clone(),
            None => all.push(summary.clone()),
        }
        TopicCell::publish(&mut st, &Change::EnvironmentUpsert(summary), None);
        drop(st);
        Some(list)
    }
}
