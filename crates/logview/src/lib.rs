//! The logic of Shipwatch's deployment log viewer, kept free of any web dependency so it is
//! tested with plain `cargo test` and stays small inside the WebAssembly app:
//!
//! - [`ansi`]: a line's raw text with ANSI escapes -> styled spans and plain text;
//! - [`search`]: plain or regex queries over every kept line, with match navigation;
//! - [`store`]: the lines of one deployment, with a bounded memory policy and per-stage facts;
//! - [`window`]: virtual scrolling maths, including scaling for logs taller than browsers allow;
//! - [`timestamps`]: UTC and relative time formatting without a date library;
//! - [`highlight`]: search matches laid over ANSI spans;
//! - [`missing`]: which line numbers never arrived, as the page says it;
//! - [`permalink`]: `#L123` / `#L10-L20` line links;
//! - [`reorder`]: a shown list brought to a new order moving only what changed place (the
//!   service table's re-sort);
//! - [`view`]: the rows a (possibly filtered) viewer shows, mapped to store indices.

pub mod ansi;
pub mod highlight;
pub mod missing;
pub mod permalink;
pub mod reorder;
pub mod search;
pub mod store;
pub mod timestamps;
pub mod view;
pub mod window;

pub use ansi::{parse, plain_text, Colour, Span, Style};
pub use highlight::{mark_spans, Piece};
pub use permalink::LineSpan;
pub use search::{Direction, Hit, Matcher, Query, SearchError, StoreSearch};
pub use store::{
    FirstError, Gap, LineFilter, LineRef, LogStore, StageId, StageInfo, StageStatus, StoreLimits,
};
pub use view::FilteredView;
pub use window::{is_at_bottom, TallRowList, VirtualList, Window};
