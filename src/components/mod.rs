//! Reusable pieces of the console.

pub mod connection_indicator;
pub mod deployment_label;
pub mod env_header;
pub mod env_switcher;
pub mod service_table;
pub mod status_dot;
pub mod tooltip;
