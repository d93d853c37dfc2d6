//! The push API (v1), a source of the core: CI jobs, scripts, the `shipwatch` reporter and
//! the forges' webhooks report environments, services, instances, deployments and their logs,
//! and the core keeps and shows them like the simulator's. Documented in `docs/push-api.md`
//! and `docs/openapi.yaml`.
//!
//! - [`core`]: the operations as plain Rust methods ([`PushCore`]), for the HTTP handlers and
//!   the webhooks; [`messages`]: what they take and answer.
//! - [`routes`]: the HTTP handlers over them.
//! - [`registry`]: what was pushed, as it stands (restored from the store at start).
//! - [`lines`]: log line batches (JSON array or NDJSON) and what a batch does to a log.
//! - [`validate`] and [`error`]: checks before anything is applied, and the errors they give.
//! - [`ttl`]: an instance's time-to-live (`--instance-ttl`).

pub mod core;
pub mod error;
pub mod lines;
pub mod messages;
pub mod registry;
pub mod routes;
pub mod ttl;
pub mod validate;

pub use self::core::{
    Appended, DeploymentView, EnvironmentUpsert, InstanceReport, NewDeployment, PushConfig,
    PushCore, ServiceUpsert, Upserted,
};
pub use error::PushError;
pub use routes::routes;
