//! Reactive state fed by the feed: one store per subscribed topic.

pub mod environment;
pub mod environments;
