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
    MAX_SNAPSHOT_FRAME_BYTES,
};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Bytes of changes in one delta frame (past the first change). A socket's write buffer keeps
/// the size of the largest frame it sent (as resident memory, per client): deltas are cut at
/// the size snapshots are sent in parts of, and a longer catch-up is a few more frames.
pub const MAX_DELTA_BYTES: usize = MAX_SNAPSHOT_FRAME_BYTES;
/// Bytes of lines in a subscription's first `lines` frame; each next one may hold twice as
/// many, up to `MAX_LINES_BATCH_BYTES`: the first screen of a long log comes in a small frame,
/// while the page's code is still cold and it paints its first rows.
pub const FIRST_LINES_BATCH_BYTES: usize = 16 * 1024;
/// How long a page that resumes on a follower from a number its topic has not reached there
/// waits for it (a follower behind the replica the page read that number from catches up in
/// milliseconds, as the leader commits): after that, an error frame rather than a state older
/// than one the page already showed. Under the 3 s after which a page asks again.
pub const RESUME_AHEAD_WAIT: Duration = Duration::from_secs(2);

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
    /// A resume from a number the topic has not reached: nothing is sent before it does.
    ahead: Option<Ahead>,
}

/// The page's number, ahead of the topic here, and how long it is waited for.
struct Ahead {
    from: u64,
    until: Instant,
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
            ahead: None,
        }
    }

    /// The subscription resumes from `resume_from` (the client's number): if its topic here
    /// has not reached it (a follower behind the replica the page read it from), its start
    /// is a state older than one the page showed, so it waits until the topic gets there
    /// (at most [`RESUME_AHEAD_WAIT`]) and starts again from the number.
    pub fn resuming_from(mut self, resume_from: Option<u64>) -> Self {
        let resumed = matches!(self.head, Some(Head::Resumed { .. }));
        if let Some(from) = resume_from.filter(|&r| !resumed && r >= self.next_seq) {
            tracing::debug!(
                sub = self.id,
                from,
                at = self.next_seq - 1,
                "resume ahead: waiting"
            );
            self.head = None;
            self.ahead = Some(Ahead {
                from,
                until: Instant::now() + RESUME_AHEAD_WAIT,
            });
        }
        self
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
        if self.ahead.is_some() {
            if let Some(next) = self.wait_ahead() {
                return next;
            }
        }
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
            ReplayRead::Resync => {
                let why = self.cell.resync_reason(self.next_seq, self.compact);
                match self.fresh_snapshot() {
                    Some(frame) => {
                        let why = why.map_or("gone by now".to_string(), |w| w.to_string());
                        match self.cell.log_limit.admit() {
                            Some(held_back) => tracing::info!(
                                sub = self.id,
                                why,
                                held_back,
                                "snapshot instead of deltas"
                            ),
                            None => {
                                tracing::debug!(sub = self.id, why, "snapshot instead of deltas")
                            }
                        }
                        Next::Frame(frame)
                    }
                    // The store commits the topic's newest changes: the snapshot at the announce.
                    None => self.idle(),
                }
            }
            ReplayRead::UpToDate => self.idle(),
        }
    }

    /// While the topic is behind the page's number: nothing (or, past the wait, the error
    /// that ends the subscription); None once it got there, the subscription started again
    /// from the number.
    fn wait_ahead(&mut self) -> Option<Next> {
        let Ahead { from, until } = *self.ahead.as_ref()?;
        let at = self.cell.seq();
        if at < from {
            if Instant::now() < until {
                return Some(self.idle());
            }
            tracing::info!(
                sub = self.id,
                from,
                at,
                "resume ahead of this replica: refused"
            );
            return Some(Next::Ended(frames::error(
                ErrorCode::Behind,
                format!(
                    "this server has not caught up with the state the page showed (change \
                     {from}; it is at {at}): subscribe again"
                ),
                Some(&self.id),
            )));
        }
        self.ahead = None;
        match self.cell.subscribe(Some(from), self.compact) {
            Some(start) => {
                self.head = Some(start.head);
                self.next_seq = start.next_seq;
                self.rx = start.rx;
                self.rx.borrow_and_update();
                None
            }
            None => Some(self.idle()),
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
        match &self.ahead {
            // The wait's end is news too: the error frame is due.
            Some(a) => {
                let until = a.until;
                tokio::select! {
                    _ = self.rx.changed() => {}
                    _ = tokio::time::sleep_until(until) => {}
                }
            }
            None => {
                let _ = self.rx.changed().await;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::fixtures::{prod_hub, service};

    fn first_frame(sub: &mut Subscription) -> Option<String> {
        match sub.next_frame() {
            Next::Frame(f) => Some(f.to_string()),
            Next::Idle => None,
            Next::Ended(e) => Some(e),
        }
    }

    /// A page resumes from change 102 on a replica whose topic stands at 101 (a follower
    /// behind): it gets nothing until the topic reaches 102, then `resumed`; never the
    /// snapshot at 101, older than what the page showed.
    #[tokio::test]
    async fn a_resume_ahead_of_the_topic_waits_for_it_and_never_gets_an_older_snapshot() {
        let (hub, cell) = prod_hub(64);
        hub.apply(&[service("v1")]);
        assert_eq!(cell.seq(), 101);
        let start = cell.subscribe(Some(102), false).unwrap();
        let mut sub = Subscription::new("s".into(), cell.clone(), start, false, false)
            .resuming_from(Some(102));
        assert_eq!(
            first_frame(&mut sub),
            None,
            "nothing while the topic is behind"
        );
        hub.apply(&[service("v2")]);
        let frame = first_frame(&mut sub).expect("a frame once the topic got there");
        assert!(frame.contains("\"resumed\""), "{frame}");
        assert!(frame.contains("102"), "{frame}");
        // From there on, its changes.
        hub.apply(&[service("v3")]);
        let frame = first_frame(&mut sub).expect("the next change");
        assert!(
            frame.contains("\"delta\"") && frame.contains("v3"),
            "{frame}"
        );
    }

    /// A topic that does not get there in [`RESUME_AHEAD_WAIT`]: an error frame ends the
    /// subscription (the page asks again), not an older state.
    #[tokio::test]
    async fn a_resume_the_topic_does_not_reach_in_time_ends_with_an_error() {
        let (_hub, cell) = prod_hub(64);
        let start = cell.subscribe(Some(500), false).unwrap();
        let mut sub =
            Subscription::new("s".into(), cell, start, false, false).resuming_from(Some(500));
        assert_eq!(first_frame(&mut sub), None);
        let waited = Instant::now();
        sub.changed().await;
        assert!(waited.elapsed() >= RESUME_AHEAD_WAIT - Duration::from_millis(50));
        let frame = first_frame(&mut sub).expect("the error at the wait's end");
        assert!(
            frame.contains("\"code\":\"behind\"") && frame.contains("has not caught up"),
            "{frame}"
        );
    }
}
