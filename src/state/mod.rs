//! Reactive state fed by the feed: one store per subscribed topic, the clock of relative times
//! and the announcer of changes that matter.

pub mod announcer;
pub mod clock;
pub mod deployment_history;
pub mod environment;
pub mod environments;
pub mod fresh_readers;
pub mod time_in_state;
