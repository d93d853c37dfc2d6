//! The platform as the core sees it: the events sources report ([`event`]) and the trait every
//! source implements ([`source`]).

pub mod event;
pub mod source;

pub use event::PlatformEvent;
pub use source::{ActError, Acted, Action, Sink, Source};
