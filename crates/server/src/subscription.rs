//! One subscription of a socket: where it stands in its topic, and the next frame it needs.
//!
//! Frames are pulled, not pushed: the socket's writer asks for the next frame only when the
//! previous one was written. A client that keeps up gets each published batch as one delta;
//! a slower one gets what piled up meanwhile in fewer, larger deltas; one that fell so far
//! behind that the changes it missed weigh more than the topic's state gets a fresh snapshot
//! instead (the same frame for every laggard at that moment). So a slow client costs no queue
//! in the server, never slows the publisher or other clients, and still ends at the present.

use crate::frames::{self, Form};
use crate::hub::{Head, ReplayRead, Start, TopicCell};
use axum::extract::ws::Utf8Bytes;
use shipwatch_model::protocol::{
    ErrorCode, ServerMessage, MAX_CHANGES_PER_DELTA, MAX_LINES_BATCH_BYTES,
};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::watch;

/// Bytes of changes in one delta frame (past the first change). A socket's write buffer keeps
/// the size of the largest frame it sent (as resident memory, per client): with deltas this
/// small, that is the snapshot's size, and a longer catch-up is a few more frames.
pub const MAX_DELTA_BYTES: usize = 32 * 1024;
/// Bytes of lines in a subscription's first `lines` frame; each next one may hold twice as
/// many, up to `MAX_LINES_BATCH_BYTES`: the first screen of a long log comes in a small frame,
/// while the page's code is still cold and it paints its first rows.
pub const FIRST_LINES_BATCH_BYTES: usize = 16 * 1024;

/// One subscription.
pub struct Subscription {
    id: String,
    sub_json: String,
    cell: Arc<TopicCell>,
    head: Option<Head>,
    next_seq: u64,
    rx: watch::Receiver<u64>,
    /// The client reads `instance_update` changes.
    compact: bool,
    /// The client reads `lines` frames (logs topics).
    line_batches: bool,
    /// Bytes of lines the next `lines` frame may carry (see [`FIRST_LINES_BATCH_BYTES`]).
    lines_bytes: usize,
    /// The rest of a snapshot sent in parts: sent before anything else of the subscription.
    parts: VecDeque<Utf8Bytes>,
}

/// What a subscription has to send now.
pub enum Next {
    /// This frame.
    Frame(Utf8Bytes),
    /// Nothing: it is up to date.
    Idle,
    /// The topic ended: this error frame, then the subscription is gone.
    Ended(String),
}

impl Subscription {
    /// A subscription `id` of `topic`, from `start`; `compact`: the client asked for
    /// `instance_update` changes; `line_batches`: it reads `lines` frames.
    pub fn new(
        id: String,
        cell: Arc<TopicCell>,
        start: Start,
        compact: bool,
        line_batches: bool,
    ) -> Self {
        Self {
            sub_json: frames::sub_json(&id),
            id,
            cell,
            head: Some(start.head),
            next_seq: start.next_seq,
            rx: start.rx,
            compact,
            line_batches,
            lines_bytes: FIRST_LINES_BATCH_BYTES,
            parts: VecDeque::new(),
        }
    }

    /// The client's id of this subscription.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The next frame to send, built now from what the topic holds.
    pub fn next_frame(&mut self) -> Next {
        if let Some(part) = self.parts.pop_front() {
            return Next::Frame(part);
        }
        // Seen before reading, so a change published after this read wakes `changed`.
        self.rx.borrow_and_update();
        if let Some(head) = self.head.take() {
            return match self.head_frame(head) {
                Some(frame) => Next::Frame(frame),
                None => self.idle(),
            };
        }
        let read = if self.line_batches {
            self.cell.read_run(
                self.next_seq,
                self.lines_bytes,
                MAX_CHANGES_PER_DELTA,
                MAX_DELTA_BYTES,
                self.compact,
            )
        } else {
            self.cell.read_from(
                self.next_seq,
                MAX_CHANGES_PER_DELTA,
                MAX_DELTA_BYTES,
                self.compact,
            )
        };
        match read {
            ReplayRead::Items(items) => {
                self.next_seq += items.len() as u64;
                let form = match (&items[0].line, self.line_batches, self.compact) {
                    (Some(_), true, _) => {
                        self.lines_bytes = (self.lines_bytes * 2).min(MAX_LINES_BATCH_BYTES);
                        Form::Lines
                    }
                    (_, _, true) => Form::CompactDelta,
                    _ => Form::Delta,
                };
                Next::Frame(self.cell.frames.run(&self.sub_json, &items, form))
            }
            ReplayRead::Resync => match self.fresh_snapshot() {
                Some(frame) => {
                    tracing::debug!(sub = self.id, "far behind: fresh snapshot");
                    Next::Frame(frame)
                }
                // The store commits the topic's newest changes: the snapshot at the announce.
                None => self.idle(),
            },
            ReplayRead::UpToDate => self.idle(),
        }
    }

    /// Nothing to send now; or, if the topic ended, the error that ends the subscription.
    fn idle(&self) -> Next {
        if self.cell.is_closed() {
            return Next::Ended(frames::error(
                ErrorCode::UnknownTopic,
                "the topic ended (server shutting down or log expired)",
                Some(&self.id),
            ));
        }
        Next::Idle
    }

    /// Resolves when the topic may have something new, or ended (then at once: `next_frame`
    /// says so, and the subscription is dropped).
    pub async fn changed(&mut self) {
        let _ = self.rx.changed().await;
    }

    fn fresh_snapshot(&mut self) -> Option<Utf8Bytes> {
        let (seq, data) = self.cell.snapshot()?;
        self.next_seq = seq + 1;
        Some(self.snapshot_frames(seq, &data))
    }

    /// The snapshot's first frame; the rest of its parts, if any, are sent next.
    fn snapshot_frames(&mut self, seq: u64, data: &str) -> Utf8Bytes {
        let frames = self.cell.frames.snapshot(&self.sub_json, seq, data);
        self.parts = frames.iter().skip(1).cloned().collect();
        frames[0].clone()
    }

    /// The head's frame; none while a pending snapshot cannot be had yet (the head stays).
    fn head_frame(&mut self, head: Head) -> Option<Utf8Bytes> {
        Some(match head {
            Head::Snapshot { seq, data } => self.snapshot_frames(seq, &data),
            Head::Resumed { seq } => frames::message(ServerMessage::Resumed {
                sub: self.id.clone(),
                seq,
            })
            .into(),
            Head::Pending => match self.fresh_snapshot() {
                Some(frame) => frame,
                None => {
                    self.head = Some(Head::Pending);
                    return None;
                }
            },
        })
    }
}
