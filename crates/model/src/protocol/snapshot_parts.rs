//! Snapshots in parts. A snapshot whose frame would be over [`MAX_SNAPSHOT_FRAME_BYTES`] (an
//! environment of more than 40 to 60 services, or more than about 150 environments) goes as
//! `snapshot_part` frames within that size, each a snapshot of the same kind and `seq` holding
//! a run of the list (an environment's services, or the environments), which the client joins
//! in order. So a socket's write buffer, which keeps the size of the largest frame it sent,
//! does not grow to the snapshot's size. A client that predates parts drops them (a type it
//! does not know) and never gets such a snapshot.
//!
//! [`MAX_SNAPSHOT_FRAME_BYTES`]: super::MAX_SNAPSHOT_FRAME_BYTES

use super::{encode, Snapshot};
use std::fmt;

/// Room a part's frame keeps for what surrounds its `data`: `v`, `type`, `seq`, `part`,
/// `parts` and a subscription id of up to `MAX_SUB_ID_BYTES`, each byte escaped at worst as
/// `\u00XX`.
pub const PART_FRAME_OVERHEAD: usize = 1024;

/// Splits `snapshot` into parts whose frames stay within `max_frame_bytes` (a single list
/// item larger than that still goes alone). A snapshot that fits, or that has no list (a
/// log's header), is one part.
#[must_use]
pub fn split_snapshot(snapshot: Snapshot, max_frame_bytes: usize) -> Vec<Snapshot> {
    let budget = max_frame_bytes.saturating_sub(PART_FRAME_OVERHEAD);
    if encode(&snapshot).len() <= budget {
        return vec![snapshot];
    }
    match snapshot {
        Snapshot::Environment { mut environment } => {
            let services = std::mem::take(&mut environment.services);
            let room = budget.saturating_sub(encode(&environment).len());
            runs(services, room)
                .into_iter()
                .map(|services| {
                    let mut environment = environment.clone();
                    environment.services = services;
                    Snapshot::Environment { environment }
                })
                .collect()
        }
        Snapshot::Environments { environments } => {
            let room = budget.saturating_sub(
                encode(&Snapshot::Environments {
                    environments: Vec::new(),
                })
                .len(),
            );
            runs(environments, room)
                .into_iter()
                .map(|environments| Snapshot::Environments { environments })
                .collect()
        }
        logs @ Snapshot::Logs { .. } => vec![logs],
    }
}

/// `items` in consecutive runs of at most `room` bytes of JSON (commas counted), each run at
/// least one item; no items is one empty run.
fn runs<T: serde::Serialize>(items: Vec<T>, room: usize) -> Vec<Vec<T>> {
    let mut out = vec![Vec::new()];
    let mut used = 0;
    for item in items {
        let len = encode(&item).len() + 1;
        let run = out.last_mut().expect("never empty");
        if !run.is_empty() && used + len > room {
            out.push(Vec::new());
            used = 0;
        }
        used += len;
        out.last_mut().expect("never empty").push(item);
    }
    out
}

/// Why parts could not be joined: the client asks for a fresh snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartError {
    /// A part other than the next one, or of another `seq`.
    OutOfOrder {
        /// The part expected (`part`, `seq`).
        expected: (u32, u64),
        /// The part received.
        got: (u32, u64),
    },
    /// A part of another kind, or of another environment, than the first part.
    Mismatch,
    /// `parts` is zero, or `part` is not below it.
    BadCount,
}

impl fmt::Display for PartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfOrder { expected, got } => write!(
                f,
                "snapshot part {} of seq {} where part {} of seq {} was due",
                got.0, got.1, expected.0, expected.1
            ),
            Self::Mismatch => f.write_str("a snapshot part unlike the first part"),
            Self::BadCount => f.write_str("a snapshot part numbered past its count"),
        }
    }
}

/// A snapshot being joined from its parts.
#[derive(Clone, Debug, Default)]
pub struct SnapshotJoin {
    /// `seq` and the snapshot so far, with the number of parts joined and expected.
    partial: Option<(u64, Snapshot, u32, u32)>,
}

impl SnapshotJoin {
    /// Whether parts of a snapshot are awaited.
    #[must_use]
    pub fn in_progress(&self) -> bool {
        self.partial.is_some()
    }

    /// Forgets a snapshot being joined (a whole snapshot or a new subscription replaces it).
    pub fn clear(&mut self) {
        self.partial = None;
    }

    /// Adds part `part` of `parts` of the snapshot at `seq`: the whole snapshot once its last
    /// part is in. On an error the parts so far are forgotten.
    pub fn add(
        &mut self,
        seq: u64,
        part: u32,
        parts: u32,
        data: Snapshot,
    ) -> Result<Option<Snapshot>, PartError> {
        if part >= parts {
            self.partial = None;
            return Err(PartError::BadCount);
        }
        let partial = match self.partial.take() {
            None if part == 0 => (seq, data, 1, parts),
            None => {
                return Err(PartError::OutOfOrder {
                    expected: (0, seq),
                    got: (part, seq),
                })
            }
            Some((at, _, joined, _)) if part == 0 || at != seq || part != joined => {
                return Err(PartError::OutOfOrder {
                    expected: (joined, at),
                    got: (part, seq),
                })
            }
            Some((at, whole, joined, expected)) => {
                if expected != parts {
                    return Err(PartError::BadCount);
                }
                (at, append(whole, data)?, joined + 1, expected)
            }
        };
        if partial.2 == partial.3 {
            Ok(Some(partial.1))
        } else {
            self.partial = Some(partial);
            Ok(None)
        }
    }
}

/// `next`'s list after `whole`'s; everything else is the first part's.
fn append(whole: Snapshot, next: Snapshot) -> Result<Snapshot, PartError> {
    match (whole, next) {
        (Snapshot::Environment { mut environment }, Snapshot::Environment { environment: e })
            if e.id == environment.id =>
        {
            environment.services.extend(e.services);
            Ok(Snapshot::Environment { environment })
        }
        (
            Snapshot::Environments { mut environments },
            Snapshot::Environments { environments: more },
        ) => {
            environments.extend(more);
            Ok(Snapshot::Environments { environments })
        }
        _ => Err(PartError::Mismatch),
    }
}
