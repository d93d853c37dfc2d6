//! What a resume or a laggard is served from: a topic's published changes, each serialized
//! once ([`PublishedChange`]), kept in a [`ReplayBuffer`], and what reading it from a
//! sequence number gives ([`ReplayRead`]).

use super::line_json::LineParts;
use std::collections::VecDeque;
use std::sync::Arc;

/// One published change, serialized once and shared by every subscriber.
#[derive(Debug)]
pub struct PublishedChange {
    /// Its sequence number in its topic.
    pub seq: u64,
    /// The change as JSON.
    pub json: Arc<str>,
    /// The same change as an `instance_update`, when one instance is all that changed: for
    /// subscriptions that asked for those.
    pub as_instance_update: Option<Arc<str>>,
    /// Bytes of JSON of the topic's changes up to and including this one: the size of any
    /// backlog is a subtraction.
    pub sent_so_far: SentBytes,
    /// For a `line` change: what a `lines` frame needs of it, pointing into `json`.
    pub line: Option<LineParts>,
}

/// Bytes of JSON of a run of changes, in the two forms subscriptions read them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SentBytes {
    /// As sent to subscriptions without `instance_updates` (whole services).
    pub whole: u64,
    /// As sent to subscriptions with `instance_updates`.
    pub with_instance_updates: u64,
}

impl SentBytes {
    /// The bytes in the form a subscription reads (`instance_updates`: it asked for those).
    pub fn read_as(&self, instance_updates: bool) -> u64 {
        if instance_updates {
            self.with_instance_updates
        } else {
            self.whole
        }
    }

    /// These bytes and one more change: `json`, and its `instance_update` form if any.
    pub fn plus(self, json: &str, as_instance_update: Option<&str>) -> Self {
        Self {
            whole: self.whole + json.len() as u64,
            with_instance_updates: self.with_instance_updates
                + as_instance_update.unwrap_or(json).len() as u64,
        }
    }
}

impl PublishedChange {
    /// The change as sent to a subscription with (`compact`) or without `instance_updates`.
    pub fn text(&self, compact: bool) -> &Arc<str> {
        match &self.as_instance_update {
            Some(short) if compact => short,
            _ => &self.json,
        }
    }
}

/// What the replay buffer holds from a sequence number on.
#[derive(Debug)]
pub enum ReplayRead {
    /// Changes from the asked number on (at most the asked count and, past the first, bytes).
    Items(Vec<Arc<PublishedChange>>),
    /// Nothing newer.
    UpToDate,
    /// Take a fresh snapshot: the asked number is no longer in the buffer, or the changes
    /// from it on weigh more than the state.
    Resync,
}

/// A topic's published changes, kept to answer resumes and laggards.
pub(super) enum ReplayBuffer {
    /// The last `cap` changes.
    Bounded(VecDeque<Arc<PublishedChange>>, usize),
    /// Every change since seq 1 (logs: a resume always works).
    Full(Vec<Arc<PublishedChange>>),
}

impl ReplayBuffer {
    /// Adds a change while `recent` changes (this one included) are the two newest batches
    /// shown and the ones staged after them: a bounded buffer keeps its bound of older changes
    /// besides them. So a page that keeps up reads those batches whole however many changes
    /// one long commit gathered in them, and a batch staged while the one before it commits
    /// does not push out what readers may still ask for.
    pub(super) fn push_staged(&mut self, change: Arc<PublishedChange>, recent: usize) {
        match self {
            Self::Full(all) => all.push(change),
            Self::Bounded(buf, cap) => {
                while buf.len() >= *cap + recent && !buf.is_empty() {
                    buf.pop_front();
                }
                buf.push_back(change);
            }
        }
    }

    /// The change at position `k`.
    pub(super) fn get(&self, k: usize) -> Option<&Arc<PublishedChange>> {
        match self {
            Self::Full(all) => all.get(k),
            Self::Bounded(buf, _) => buf.get(k),
        }
    }

    /// The changes from position `k` on.
    pub(super) fn starting_at(
        &self,
        k: usize,
    ) -> Box<dyn Iterator<Item = &Arc<PublishedChange>> + '_> {
        match self {
            Self::Full(all) => Box::new(all.iter().skip(k)),
            Self::Bounded(buf, _) => Box::new(buf.iter().skip(k)),
        }
    }

    /// Every change held, oldest first.
    pub(super) fn all(&self) -> Vec<Arc<PublishedChange>> {
        match self {
            Self::Full(all) => all.clone(),
            Self::Bounded(buf, _) => buf.iter().cloned().collect(),
        }
    }
}
