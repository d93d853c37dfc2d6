//! The deployment log viewer (see issue 6). Pure logic lives in `crates/logview`.
