//! Wire protocol v1: JSON text frames over one websocket per browser tab. The spec, with an
//! example of every frame, is `docs/protocol.md`.

mod client_frame;
mod decode;
mod fast_client_decode;
mod fast_decode;
pub mod instance_update;
mod json_cursor;
mod limits;
mod line_batch;
pub mod reconnect;
mod server_frame;
mod snapshot_parts;
pub mod stream;

pub use client_frame::{ClientFrame, ClientMessage, Topic};
pub use decode::{
    decode_client, decode_client_bytes, decode_server, decode_server_bytes, encode, DecodeError,
    CLIENT_TYPES, SERVER_TYPES,
};
/// The strict reader of client frames alone: `None` where the generic [`decode_client`] might
/// answer otherwise. For the app, which reads back its loader's frames without the generic
/// decoder.
pub use fast_client_decode::decode as decode_client_fast;
/// The strict reader of [`decode_server`] alone: `None` where it leaves the frame to the
/// generic decoder. For the property tests and benchmarks that compare the two.
#[doc(hidden)]
pub use fast_decode::decode as decode_server_fast;
pub use limits::{
    close_code, cut_line_text, Limits, MAX_CHANGES_PER_DELTA, MAX_LINES_BATCH_BYTES,
    MAX_LINES_PER_BATCH, MAX_LINES_PER_DELTA, MAX_LINE_TEXT_BYTES, MAX_SERVER_FRAME_BYTES,
    MAX_SNAPSHOT_FRAME_BYTES, MAX_SUB_ID_BYTES, RESUME_BACKLOG, RESUME_HELD_BATCHES,
};
pub use line_batch::{level_letter, LineBatch, LinePart};
pub use server_frame::{Change, ErrorCode, Gone, ServerFrame, ServerMessage, Snapshot, StoreState};
pub use snapshot_parts::{split_snapshot, PartError, SnapshotJoin, PART_FRAME_OVERHEAD};

/// The protocol version every frame carries in `v`.
pub const VERSION: u32 = 1;

/// A client-chosen name for one subscription on a socket.
pub type SubId = String;
