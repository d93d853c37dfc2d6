//! Sequence bookkeeping for both ends of a subscription, so that a stream never loses a change
//! and never applies one twice, across reconnects (`docs/protocol.md`, "Sequence numbers" and
//! "Resume").
//!
//! - The server keeps, per topic, a [`Backlog`] of its last changes, and answers a subscribe
//!   with `resume_from` by [`Backlog::since`]: the changes after it (send `resumed` then deltas)
//!   or `None` (send a snapshot).
//! - The client keeps, per subscription, a [`Cursor`]: it says which changes of a delta to
//!   apply (skipping any it already has) and detects a gap (then it resubscribes with
//!   [`Cursor::resume_from`]).

use super::{Change, ServerFrame, ServerMessage};
use std::collections::VecDeque;
use std::ops::Range;

/// Why a frame does not fit a subscription's sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeqError {
    /// A delta or `resumed` arrived before any snapshot: nothing to apply it to.
    NoBase,
    /// A delta starts after the next expected sequence number: changes were lost.
    Gap {
        /// The sequence number the client expected next.
        expected: u64,
        /// The first sequence number of the delta.
        got: u64,
    },
    /// `resumed` names a sequence number other than the client's last applied one.
    ResumeMismatch {
        /// The client's last applied sequence number.
        have: u64,
        /// The `seq` of the `resumed` frame.
        got: u64,
    },
}

impl std::fmt::Display for SeqError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoBase => f.write_str("a delta arrived before the snapshot"),
            Self::Gap { expected, got } => {
                write!(f, "gap: expected seq {expected}, got {got}")
            }
            Self::ResumeMismatch { have, got } => {
                write!(f, "resumed at seq {got}, but the last applied is {have}")
            }
        }
    }
}

impl std::error::Error for SeqError {}

/// Client side: the last sequence number a subscription applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    last: Option<u64>,
}

impl Cursor {
    /// A cursor that has applied nothing yet (waits for a snapshot).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The last sequence number applied, if any.
    #[must_use]
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// What to send as `resume_from` when resubscribing to the same topic.
    #[must_use]
    pub fn resume_from(&self) -> Option<u64> {
        self.last
    }

    /// A snapshot as of `seq` replaced the state.
    pub fn snapshot(&mut self, seq: u64) {
        self.last = Some(seq);
    }

    /// The server confirmed a resume from `seq`: the state is kept and deltas follow.
    ///
    /// # Errors
    /// [`SeqError::NoBase`] without a prior snapshot, [`SeqError::ResumeMismatch`] if `seq` is
    /// not the last applied sequence number: resubscribe without `resume_from`.
    pub fn resumed(&mut self, seq: u64) -> Result<(), SeqError> {
        match self.last {
            None => Err(SeqError::NoBase),
            Some(have) if have == seq => Ok(()),
            Some(have) => Err(SeqError::ResumeMismatch { have, got: seq }),
        }
    }

    /// A delta whose first change has sequence number `seq` and which holds `len` changes:
    /// returns the index range of the changes to apply (those after the last applied; empty if
    /// all were applied already) and advances the cursor.
    ///
    /// # Errors
    /// [`SeqError::NoBase`] without a prior snapshot; [`SeqError::Gap`] if `seq` is beyond the
    /// next expected number (then resubscribe with [`Cursor::resume_from`]). The cursor is left
    /// unchanged on error.
    pub fn delta(&mut self, seq: u64, len: usize) -> Result<Range<usize>, SeqError> {
        let last = self.last.ok_or(SeqError::NoBase)?;
        let expected = last.saturating_add(1);
        if seq > expected {
            return Err(SeqError::Gap { expected, got: seq });
        }
        // Changes with seq <= last were applied already (a resend): skip them.
        let skip = usize::try_from(expected - seq).unwrap_or(usize::MAX);
        if skip >= len {
            return Ok(len..len);
        }
        let applied = (len - skip) as u64;
        self.last = Some(last.saturating_add(applied));
        Ok(skip..len)
    }
}

/// The first sequence number of a topic for a server that booted at `boot_millis` (ms since
/// the Unix epoch): seq numbers never repeat across server restarts (as long as a topic sees
/// fewer than a million changes per second on average), so a resume from a previous server's
/// seq always falls outside the new backlog and gets a snapshot.
#[must_use]
pub fn seq_base(boot_millis: u64) -> u64 {
    boot_millis.saturating_mul(1000)
}

/// Server side: a topic's last changes, to answer resumes.
#[derive(Clone, Debug)]
pub struct Backlog<T> {
    entries: VecDeque<T>,
    /// Sequence number of the last change (or of the initial state when none was pushed).
    last: u64,
    capacity: usize,
}

impl<T> Backlog<T> {
    /// An empty backlog whose state is at `start_seq` and that keeps up to `capacity` changes.
    #[must_use]
    pub fn new(start_seq: u64, capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            last: start_seq,
            capacity: capacity.max(1),
        }
    }

    /// Sequence number of the last change: a snapshot taken now has this `seq`.
    #[must_use]
    pub fn last_seq(&self) -> u64 {
        self.last
    }

    /// Oldest `resume_from` still answerable with deltas.
    #[must_use]
    pub fn oldest_resumable(&self) -> u64 {
        self.last - self.entries.len() as u64
    }

    /// Records a change and returns its sequence number.
    pub fn push(&mut self, change: T) -> u64 {
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(change);
        self.last += 1;
        self.last
    }

    /// The changes after `resume_from`, oldest first, with the sequence number of the first
    /// one (`resume_from + 1`); `None` when the backlog no longer holds them all, or when
    /// `resume_from` is in the future (another server's numbers): send a snapshot then.
    #[must_use]
    pub fn since(&self, resume_from: u64) -> Option<(u64, impl Iterator<Item = &T>)> {
        if resume_from > self.last || resume_from < self.oldest_resumable() {
            return None;
        }
        let skip = usize::try_from(resume_from - self.oldest_resumable()).ok()?;
        Some((resume_from + 1, self.entries.iter().skip(skip)))
    }
}

/// Splits `changes`, whose first has sequence number `first_seq`, into `delta` frames of at
/// most `max_per_frame` changes each, numbered without gaps.
#[must_use]
pub fn split_deltas(
    sub: &str,
    first_seq: u64,
    changes: Vec<Change>,
    max_per_frame: usize,
) -> Vec<ServerFrame> {
    let max = max_per_frame.max(1);
    let mut frames = Vec::with_capacity(changes.len().div_ceil(max));
    let mut seq = first_seq;
    let mut rest = changes.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: Vec<Change> = rest.by_ref().take(max).collect();
        let n = chunk.len() as u64;
        frames.push(ServerFrame::new(ServerMessage::Delta {
            sub: sub.to_string(),
            seq,
            changes: chunk,
        }));
        seq += n;
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_skips_resends_and_detects_gaps() {
        let mut c = Cursor::new();
        assert_eq!(c.delta(1, 1), Err(SeqError::NoBase));
        c.snapshot(10);
        assert_eq!(c.delta(11, 3), Ok(0..3));
        assert_eq!(c.last(), Some(13));
        assert_eq!(c.delta(12, 4), Ok(2..4));
        assert_eq!(c.last(), Some(15));
        assert_eq!(c.delta(3, 2), Ok(2..2));
        assert_eq!(
            c.delta(17, 1),
            Err(SeqError::Gap {
                expected: 16,
                got: 17
            })
        );
        assert_eq!(c.resumed(15), Ok(()));
        assert!(c.resumed(14).is_err());
        assert!(c.delta(u64::MAX, usize::MAX).is_err());
    }

    #[test]
    fn backlog_answers_resumes_in_its_window() {
        let mut b = Backlog::new(100, 3);
        for i in 0..5 {
            b.push(i);
        }
        assert_eq!(b.last_seq(), 105);
        assert_eq!(b.oldest_resumable(), 102);
        assert!(b.since(101).is_none());
        assert!(b.since(106).is_none());
        let (first, items) = b.since(103).expect("in window");
        assert_eq!(first, 104);
        assert_eq!(items.copied().collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(b.since(105).expect("caught up").1.count(), 0);
    }
}
