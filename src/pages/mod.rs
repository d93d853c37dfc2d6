//! One module per routed view.

#[cfg(feature = "split")]
mod chunk_loader;
pub mod deployments_page;
pub mod deployments_route;
pub mod environment_page;
pub mod home_page;
pub mod logs_page;
pub mod logs_route;
pub mod service_details_route;
