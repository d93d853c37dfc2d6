//! What a subscriber receives, and the handler that receives it.

use shipwatch_model::protocol::{Change, ErrorCode, Gone, LineBatch, Snapshot};
use std::rc::Rc;

/// What a subscriber receives, in order.
#[derive(Clone, Debug)]
pub enum SubEvent {
    /// Replace your state with this.
    Snapshot(Snapshot),
    /// Apply these changes, in order (already deduplicated).
    Changes(Vec<Change>),
    /// Append these log lines (already deduplicated; logs topics only).
    Lines(LineBatch),
    /// The server refused the subscription (with, for a log it no longer keeps, why).
    Refused(ErrorCode, String, Option<Gone>),
}

/// A subscriber's handler; shared, so that a claimed loader subscription can take it.
pub(super) type Handler = Rc<dyn Fn(SubEvent)>;
