//! Unit-test fixtures: a hub holding one empty environment, `prod`, at base number 100, and
//! the event that changes its one service.

use super::{Hub, HubConfig, TopicCell};
use crate::platform::PlatformEvent;
use shipwatch_model::protocol::Topic;
use shipwatch_model::{Environment, Service, ServiceKind};
use std::sync::Arc;

/// A hub with environment `prod` (no services, numbered from 100, `replay` changes kept),
/// and that environment's topic.
pub fn prod_hub(replay: usize) -> (Hub, Arc<TopicCell>) {
    let env = Environment {
        id: "prod".into(),
        name: "prod".into(),
        services: Vec::new(),
        deployment: None,
    };
    let cfg = HubConfig {
        replay,
        max_logs: 8,
        base_seq: 100,
    };
    let hub = Hub::new(cfg, &[env]);
    let topic = hub
        .topic(&Topic::Environment { env: "prod".into() })
        .expect("prod's topic");
    (hub, topic)
}

/// `prod`'s service `api` now runs `version`.
pub fn service(version: &str) -> PlatformEvent {
    PlatformEvent::ServiceChanged {
        env: "prod".into(),
        service: Service {
            id: "api".into(),
            name: "api".into(),
            kind: ServiceKind::Application,
            instances: Vec::new(),
            version: version.into(),
            deployment: None,
            running_since: None,
            deployment_since: None,
        },
    }
}
