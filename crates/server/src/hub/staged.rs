//! A batch applied to the topics and not shown yet ([`Staged`]): its changes are numbered and
//! held by the topics, and readers stop before them, until the store has committed them with
//! the change log's rows ([`ChangeRow`]) and the batch is announced. Without a store the hub
//! announces at once ([`super::Hub::apply`]).

use super::since::StatusChange;
use super::topic::{lock, TopicCell, TopicData};
use shipwatch_model::protocol::Topic;
use std::sync::Arc;

/// What a change-log row records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// A topic was created at `seq` (its base); `json` is its snapshot `data` as sent.
    Open,
    /// A change published at `seq`; `json` is the change as sent, `compact` its
    /// `instance_update` form when it has one.
    Change,
    /// The topic ended.
    Close,
}

impl ChangeKind {
    /// The word the change log's `kind` column holds.
    pub fn word(self) -> &'static str {
        match self {
            ChangeKind::Open => "open",
            ChangeKind::Change => "change",
            ChangeKind::Close => "close",
        }
    }

    /// The kind a change log's `kind` column holds, if it is one of [`ChangeKind::word`]'s.
    pub fn parse(word: &str) -> Option<ChangeKind> {
        [ChangeKind::Open, ChangeKind::Change, ChangeKind::Close]
            .into_iter()
            .find(|k| k.word() == word)
    }
}

/// One row of the change log (migration 0007), as the hub published it.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeRow {
    /// The topic.
    pub topic: Topic,
    /// The change's sequence number (`Open`: the topic's base; `Close`: its last number).
    pub seq: u64,
    /// What happened.
    pub kind: ChangeKind,
    /// The snapshot data (`Open`) or the change (`Change`), as sent.
    pub json: Option<Arc<str>>,
    /// The change's `instance_update` form, if it has one.
    pub compact: Option<Arc<str>>,
}

/// What a batch did to the topics, in order.
enum Entry {
    /// A topic created (its row made at once: later events of the batch change its state).
    Open(ChangeRow, Arc<TopicCell>),
    /// A topic that published changes (its rows are taken at the end of the batch).
    Changed(Arc<TopicCell>),
    /// A topic that ended (closed at the announce).
    Closed(Arc<TopicCell>),
}

/// The topics a batch touches, as it is applied.
#[derive(Default)]
pub(super) struct Journal {
    entries: Vec<Entry>,
    /// The topics of the `Changed` entries (a batch touches thousands of logs).
    changed: std::collections::HashSet<*const TopicCell>,
}

impl Journal {
    /// A topic was created: its snapshot as it stands now is its `open` row.
    pub(super) fn opened(&mut self, cell: &Arc<TopicCell>) {
        let st = lock(&cell.state);
        self.entries.push(Entry::Open(
            ChangeRow {
                topic: st.data.topic(),
                seq: st.base,
                kind: ChangeKind::Open,
                json: Some(st.snapshot_data()),
                compact: None,
            },
            cell.clone(),
        ));
    }

    /// A topic published a change.
    pub(super) fn touched(&mut self, cell: &Arc<TopicCell>) {
        if self.changed.insert(Arc::as_ptr(cell)) {
            self.entries.push(Entry::Changed(cell.clone()));
        }
    }

    /// A topic ended.
    pub(super) fn closed(&mut self, cell: &Arc<TopicCell>) {
        self.entries.push(Entry::Closed(cell.clone()));
    }

    /// The batch, its rows taken from the topics, and each topic's last number in it.
    pub(super) fn staged(self, statuses: Vec<StatusChange>) -> Staged {
        let mut rows = Vec::new();
        let mut announce = Vec::new();
        let mut close = Vec::new();
        for entry in self.entries {
            match entry {
                Entry::Open(row, cell) => {
                    rows.push(row);
                    let upto = lock(&cell.state).seq;
                    announce.push((cell, upto));
                }
                Entry::Changed(cell) => {
                    let (topic, upto) = {
                        let st = lock(&cell.state);
                        (st.data.topic(), st.seq)
                    };
                    rows.extend(cell.take_unlogged().into_iter().map(|c| ChangeRow {
                        topic: topic.clone(),
                        seq: c.seq,
                        kind: ChangeKind::Change,
                        json: Some(c.json.clone()),
                        compact: c.as_instance_update.clone(),
                    }));
                    announce.push((cell, upto));
                }
                Entry::Closed(cell) => {
                    let st = lock(&cell.state);
                    rows.push(ChangeRow {
                        topic: st.data.topic(),
                        seq: st.seq,
                        kind: ChangeKind::Close,
                        json: None,
                        compact: None,
                    });
                    drop(st);
                    close.push(cell);
                }
            }
        }
        Staged {
            rows,
            announce,
            close,
            statuses,
            mark: None,
        }
    }
}

/// A batch applied to the topics and shown to nobody yet.
pub struct Staged {
    /// The change log's rows of the batch, in order.
    pub rows: Vec<ChangeRow>,
    /// Topics to announce (created or changed), each with its last number in the batch: a
    /// later batch may be staged on the same topic before this one is shown.
    announce: Vec<(Arc<TopicCell>, u64)>,
    /// Topics to end.
    close: Vec<Arc<TopicCell>>,
    /// The services' and environments' status changes the batch made (see
    /// [`super::since`]); the store's writer takes them into the batch's transaction.
    pub statuses: Vec<StatusChange>,
    /// Its number, for logs opened from the store with its changes (hub/held_logs.rs).
    pub(super) mark: Option<super::held_logs::BatchMark>,
}

impl Staged {
    /// Shows the batch: every topic it created or changed announces its last number in the
    /// batch, and the topics it ended end. Returns its status changes, for the store's
    /// timeline.
    pub fn announce(self) -> Vec<StatusChange> {
        for (cell, upto) in &self.announce {
            cell.announce_upto(*upto);
        }
        for cell in &self.close {
            cell.close();
        }
        if let Some(mark) = self.mark {
            mark.shown();
        }
        self.statuses
    }

    /// Whether a page waits for a snapshot of a topic this batch holds staged: the store
    /// stages no further batch before this one is shown, so the snapshot is built then.
    pub fn snapshot_wanted(&self) -> bool {
        self.announce
            .iter()
            .any(|(cell, _)| lock(&cell.state).snapshot_wanted)
    }
}

impl TopicData {
    /// The topic this is the state of.
    pub(super) fn topic(&self) -> Topic {
        match self {
            TopicData::Environments(_) => Topic::Environments,
            TopicData::Environment(e) => Topic::Environment { env: e.id.clone() },
            TopicData::Logs { header, .. } => Topic::Logs {
                deployment: header.id.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{prod_hub, service};
    use super::super::{Head, ReplayRead, Resync};

    /// The store stages a batch while the one before it commits: announcing the first shows
    /// its numbers only, and a snapshot waits for the second.
    #[test]
    fn a_batch_shows_its_own_numbers_while_the_next_one_is_staged() {
        let (hub, topic) = prod_hub(64);
        let first = hub.stage(&[service("v1")]);
        let second = hub.stage(&[service("v2"), service("v3")]);
        assert_eq!(topic.seq(), 100, "nothing is shown before its commit");
        first.announce();
        assert_eq!(topic.seq(), 101, "the first batch only");
        match topic.read_from(101, 10, 1 << 20, false) {
            ReplayRead::Items(items) => assert_eq!(items.len(), 1),
            _ => panic!("the first batch's change is readable"),
        }
        let start = topic.subscribe(None, false).unwrap();
        assert!(
            matches!(start.head, Head::Pending),
            "the state holds staged changes"
        );
        assert!(
            second.snapshot_wanted(),
            "the writer waits for the second batch"
        );
        second.announce();
        assert_eq!(topic.seq(), 103);
        let start = topic.subscribe(None, false).unwrap();
        assert!(matches!(start.head, Head::Snapshot { seq: 103, .. }));
    }

    /// A batch staged while the one before it commits does not push shown changes out of the
    /// replay buffer: a reader a little behind still reads them instead of a snapshot.
    #[test]
    fn staged_changes_do_not_crowd_shown_ones_out_of_the_replay_buffer() {
        let (hub, topic) = prod_hub(2);
        hub.stage(&[service("v1"), service("v2")]).announce();
        let next = hub.stage(&[service("v3"), service("v4"), service("v5")]);
        match topic.read_from(101, 10, 1 << 20, false) {
            ReplayRead::Items(items) => assert_eq!(items.len(), 2, "the shown changes only"),
            _ => panic!("the shown changes are still in the buffer"),
        }
        next.announce();
        hub.stage(&[service("v6")]).announce();
        hub.stage(&[service("v7")]).announce();
        hub.stage(&[service("v8")]).announce();
        match topic.read_from(104, 10, 1 << 20, false) {
            ReplayRead::Items(items) => assert_eq!(items.len(), 5),
            _ => panic!("the newest changes are read"),
        }
        assert!(matches!(
            topic.read_from(101, 10, 1 << 20, false),
            ReplayRead::Resync
        ));
    }

    /// A batch larger than the replay buffer's bound (one long commit's) is held whole while
    /// it and the one after it are the two newest shown: a page still reading it when the
    /// next is shown and another is staged reads on, not a snapshot.
    #[test]
    fn the_two_newest_batches_are_held_whole_past_the_bound() {
        let (hub, topic) = prod_hub(1);
        hub.stage(&[service("v1")]).announce();
        let long: Vec<_> = (2..=9).map(|v| service(&format!("v{v}"))).collect();
        hub.stage(&long).announce();
        hub.stage(&[service("v10")]).announce();
        let staged = hub.stage(&[service("v11")]);
        match topic.read_from(102, 100, 1 << 20, false) {
            ReplayRead::Items(items) => assert_eq!(items.len(), 9, "the long batch and the next"),
            _ => panic!("the long batch is held whole"),
        }
        staged.announce();
        hub.stage(&[service("v12")]);
        assert!(
            matches!(
                topic.read_from(102, 100, 1 << 20, false),
                ReplayRead::Resync
            ),
            "three batches later, the bound holds again"
        );
    }

    /// Why a reader gets a snapshot instead of deltas (the reason the server logs): a number
    /// past the topic, changes gone from the buffer, or a backlog heavier than the state.
    #[test]
    fn the_reason_for_a_snapshot_says_what_refused_the_deltas() {
        let (hub, topic) = prod_hub(2);
        for v in 1..=10 {
            hub.stage(&[service(&format!("v{v}"))]).announce();
        }
        assert_eq!(topic.seq(), 110);
        assert_eq!(topic.resync_reason(111, false), None, "up to date");
        assert_eq!(
            topic.resync_reason(112, false),
            Some(Resync::Ahead {
                from: 112,
                visible: 110
            })
        );
        // The buffer holds its 2 besides what was held whole when 110 was kept (108-110).
        assert_eq!(
            topic.resync_reason(102, false),
            Some(Resync::NotHeld {
                from: 102,
                oldest: Some(106),
                batches_after: 108
            })
        );
        assert_eq!(
            topic.resync_reason(109, false),
            None,
            "in the newest batches"
        );
        let (hub, topic) = prod_hub(64);
        for v in 1..=20 {
            hub.stage(&[service(&format!("v{v}"))]).announce();
        }
        match topic.resync_reason(101, false) {
            Some(Resync::Outweighs {
                from: 101,
                upto: 118,
                backlog,
                state,
            }) => assert!(backlog > 3 * state, "{backlog} against {state}"),
            other => panic!("a backlog of 18 whole services outweighs one: {other:?}"),
        }
        assert!(matches!(
            topic.read_from(101, 100, 1 << 20, false),
            ReplayRead::Resync
        ));
        let text = topic.resync_reason(101, false).unwrap().to_string();
        assert!(text.starts_with("changes 101..=118 weigh "), "{text}");
    }
}
