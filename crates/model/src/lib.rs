//! The single source of truth of Shipwatch: status words and their meanings, the rules that
//! aggregate instance statuses into service and environment statuses, and the wire protocol
//! spoken between the feed server and the app. Pure Rust: no web, no async.

#![warn(missing_docs)]

pub mod appearance;
pub mod deployment_status;
pub mod entities;
pub mod exit_code;
pub mod instances;
pub mod log_line;
pub mod number_format;
pub mod protocol;
pub mod rules;
pub mod running_status;
pub mod service_kind;
pub mod stuck;
pub mod time_in_state;
pub mod timeline;
pub mod triage;

pub use appearance::{ColourRole, ShapeRole};
pub use deployment_status::DeploymentStatus;
pub use entities::{
    Deployment, Environment, EnvironmentSummary, Instance, InstanceEvent, Service, Termination,
};
pub use log_line::{LogLevel, LogLine, LogLineId};
pub use rules::{
    aggregate, aggregate_status, environment_deployment, environment_running, service_deployment,
    service_running, service_running_status, Member, Rule, Verdict,
};
pub use running_status::{RunningStatus, Scope};
pub use service_kind::ServiceKind;
