//! Limits both sides respect, announced by the server in `hello`, and websocket close codes.

use serde::{Deserialize, Serialize};

/// Limits in force on a socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest client frame the server reads; larger ones close the socket (1009).
    pub max_client_frame_bytes: u32,
    /// Largest server frame the client accepts; larger ones are dropped and counted.
    pub max_server_frame_bytes: u32,
    /// Subscriptions one socket may hold at once.
    pub max_subscriptions: u32,
    /// Client frames per second before `rate_limited` errors, and a close at twice that.
    pub max_client_frames_per_sec: u32,
    /// How often each side pings.
    pub heartbeat_ms: u32,
    /// Silence after which a side deems the other dead and closes (client) or drops (server).
    pub idle_timeout_ms: u32,
}

/// Largest server frame, announced in `hello` as `max_server_frame_bytes`.
pub const MAX_SERVER_FRAME_BYTES: u32 = 1024 * 1024;

/// Largest snapshot frame the server sends whole: a larger snapshot goes in `snapshot_part`
/// frames of at most this many bytes each (a single service or environment larger than that
/// goes alone, in a part of its own). A socket's write buffer keeps the size of the largest
/// frame it sent, for as long as the socket lives, so this bounds the memory each client
/// costs the server; the server's deltas are cut at the same size.
pub const MAX_SNAPSHOT_FRAME_BYTES: usize = 32 * 1024;

/// Most changes one `delta` frame carries: history and catch-ups are sent in deltas of at
/// most this many changes (and never over `max_server_frame_bytes`).
pub const MAX_CHANGES_PER_DELTA: usize = 500;

/// Most log lines one `delta` frame carries (a log's deltas are its lines).
pub const MAX_LINES_PER_DELTA: usize = MAX_CHANGES_PER_DELTA;

/// Most log lines one `lines` frame carries (subscriptions with `line_batches`).
pub const MAX_LINES_PER_BATCH: usize = 4_096;

/// About the most bytes of line columns one `lines` frame carries (past its first line): a
/// history goes out in fewer, larger frames than deltas (each frame costs a client a message
/// event, a copy and a decode), and a socket's write buffer, which keeps the size of the
/// largest frame it sent, stays at a quarter of a megabyte.
pub const MAX_LINES_BATCH_BYTES: usize = 256 * 1024;

/// Longest log line text the server sends, in bytes; longer lines are cut at a character
/// boundary and end with `…`.
pub const MAX_LINE_TEXT_BYTES: usize = 8 * 1024;

/// Cuts a log line's text longer than [`MAX_LINE_TEXT_BYTES`] at a character boundary so
/// that, ending with `…`, it is at most that long. Returns whether it cut.
pub fn cut_line_text(text: &mut String) -> bool {
    if text.len() <= MAX_LINE_TEXT_BYTES {
        return false;
    }
    let mut end = MAX_LINE_TEXT_BYTES - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push('…');
    true
}

/// Longest subscription id a client may choose, in bytes.
pub const MAX_SUB_ID_BYTES: usize = 64;

/// Changes the server keeps per environment topic, by default, to answer a resume (a log
/// keeps all its lines); older resumes get a snapshot.
pub const RESUME_BACKLOG: usize = 4_096;

/// Newest batches of changes the server holds whole besides [`RESUME_BACKLOG`], however
/// many changes they hold: a page still reading one of them when the next is shown keeps up
/// rather than being sent a snapshot.
pub const RESUME_HELD_BATCHES: usize = 2;

/// Websocket close codes the server uses.
pub mod close_code {
    /// Normal close (the other side asked to close).
    pub const NORMAL: u16 = 1000;
    /// Server shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// Origin not allowed or token missing/wrong.
    pub const POLICY: u16 = 1008;
    /// Frame over `max_client_frame_bytes`.
    pub const TOO_BIG: u16 = 1009;
    /// The server failed; reconnect with a back-off.
    pub const INTERNAL: u16 = 1011;
    /// Nothing heard for `idle_timeout_ms`.
    pub const IDLE: u16 = 4000;
    /// Flooding: more than twice `max_client_frames_per_sec`.
    pub const FLOOD: u16 = 4029;
}
