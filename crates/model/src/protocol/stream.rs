//! Sequence bookkeeping for both ends of a subscription, so that a stream never loses a change
//! and never applies one twice, across reconnects (`docs/protocol.md`, "Sequence numbers" and
//! "Resume").
//!
//! - The server numbers each topic from [`seq_base`] (its replay buffer, which answers a
//!   subscribe with `resume_from`, is the hub's: `crates/server/src/hub.rs`).
//! - The client keeps, per subscription, a [`Cursor`]: it says which changes of a delta to
//!   apply (skipping any it already has) and detects a gap (then it resubscribes with
//!   [`Cursor::resume_from`]).

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
}
