//! Sequence-number bookkeeping of one subscription: which changes of a delta are new, which
//! were already applied (after a resume), and when a gap means we must resume.

/// What to do with a delta frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Apply `changes[skip..]`; the subscription is then at `last`.
    Apply {
        /// Changes already applied, at the front of the frame.
        skip: usize,
        /// Sequence number after applying.
        last: u64,
    },
    /// Everything in the frame was applied already.
    Duplicate,
    /// Changes are missing between what we have and this frame: resume from `from`.
    Gap {
        /// Last sequence number applied.
        from: u64,
    },
    /// No snapshot yet: a delta cannot be applied to nothing.
    NoBase,
}

/// Decides about a delta whose first change has `seq` and which holds `len` changes, when the
/// last applied change was `last`.
pub fn admit(last: Option<u64>, seq: u64, len: usize) -> Admit {
    let Some(last) = last else {
        return Admit::NoBase;
    };
    if len == 0 {
        return Admit::Duplicate;
    }
    let end = seq.saturating_add(len as u64 - 1);
    if seq > last.saturating_add(1) {
        Admit::Gap { from: last }
    } else if end <= last {
        Admit::Duplicate
    } else {
        Admit::Apply {
            skip: (last + 1 - seq) as usize,
            last: end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_frame_applies_whole() {
        assert_eq!(admit(Some(10), 11, 3), Admit::Apply { skip: 0, last: 13 });
    }

    #[test]
    fn overlap_after_resume_skips_what_we_have() {
        assert_eq!(admit(Some(12), 11, 3), Admit::Apply { skip: 2, last: 13 });
        assert_eq!(admit(Some(13), 11, 3), Admit::Duplicate);
    }

    #[test]
    fn gap_asks_for_resume() {
        assert_eq!(admit(Some(10), 12, 1), Admit::Gap { from: 10 });
    }

    #[test]
    fn delta_before_snapshot_is_refused() {
        assert_eq!(admit(None, 1, 1), Admit::NoBase);
    }
}
