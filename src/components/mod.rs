//! Reusable pieces of the console.

pub mod announcements;
pub mod connection_indicator;
pub mod deployment_label;
pub mod deployment_list;
pub mod env_header;
pub mod env_switcher;
pub mod env_tabs;
pub mod instance_list;
pub mod keyed_list;
pub mod service_details;
pub mod service_table;
pub mod status_dot;
pub mod status_timeline;
pub mod stuck_badge;
pub mod tab_status;
pub mod tooltip;
pub mod top_bar;
