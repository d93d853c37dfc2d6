//! The log a viewer shows: a [`LogStore`] kept outside the reactive graph, and a version
//! signal bumped once per screen update, so a million lines never sit in a signal.
//!
//! Lines go into the store as they arrive; the screen is told at most once per animation
//! frame, and while lines stream fast at most every [`MIN_PUBLISH_MS`]: at 10,000 lines a
//! second every frame would otherwise rebuild every row on screen (each batch scrolls the
//! whole window away), which costs more than a frame on a busy machine and shows nothing a
//! reader could follow. A quiet log still updates on the next frame.

use leptos::prelude::*;
use shipwatch_logview::{LogStore, StoreLimits};
use shipwatch_model::protocol::{Change, LineBatch};
use shipwatch_model::{Deployment, LogLine};

/// The memory policy of the viewer: up to a million lines or 256 MiB of line text and
/// records, whichever comes first; older lines are evicted (and said so on screen) and
/// lines longer than 64 KiB are cut. See `shipwatch_logview::store` for the arithmetic.
pub const VIEWER_LIMITS: StoreLimits = StoreLimits {
    max_lines: 1_000_000,
    max_bytes: 256 * 1024 * 1024,
    max_line_bytes: 64 * 1024,
};

/// Least time between two screen updates (ms): 20 a second while lines stream.
pub const MIN_PUBLISH_MS: f64 = 50.0;

/// A handle to one deployment's lines (cheap to copy; lives as long as its owner).
#[derive(Clone, Copy)]
pub struct LogModel {
    store: StoredValue<LogStore, LocalStorage>,
    version: RwSignal<u64>,
    publish: StoredValue<Publish>,
    /// How many lines the server said the log held when it started sending it (the logs
    /// snapshot's `line_count`): the progress count while the history arrives.
    expected: RwSignal<Option<u64>>,
}

/// When the screen was last told about new lines, and whether it will be.
#[derive(Clone, Copy, Default)]
struct Publish {
    scheduled: bool,
    last_ms: f64,
}

impl Default for LogModel {
    fn default() -> Self {
        LogModel::new()
    }
}

impl LogModel {
    /// An empty log with the viewer's memory policy.
    pub fn new() -> Self {
        LogModel::with_limits(VIEWER_LIMITS)
    }

    /// An empty log with other limits (tests of the eviction notice use tiny ones).
    pub fn with_limits(limits: StoreLimits) -> Self {
        LogModel {
            store: StoredValue::new_local(LogStore::with_limits(limits)),
            version: RwSignal::new(0),
            publish: StoredValue::new(Publish::default()),
            expected: RwSignal::new(None),
        }
    }

    /// Appends a batch of lines (duplicates by number are ignored by the store); the
    /// screen follows on the next update (see the module docs).
    pub fn push_lines(&self, lines: impl IntoIterator<Item = LogLine>) {
        self.store.update_value(|s| s.extend(lines));
        self.schedule_publish();
    }

    /// Appends a `lines` frame's run straight from its columns (no line record in between;
    /// the stage name is shared by its run).
    pub fn push_batch(&self, batch: LineBatch) {
        self.store.update_value(|s| {
            batch.for_each(|l| {
                s.push_parts(l.n, l.ts, l.stage, l.level, l.text, l.hint);
            });
        });
        self.schedule_publish();
    }

    /// The server's count of the log's lines when it started sending it, if it said.
    pub fn set_expected(&self, lines: Option<u64>) {
        if let Some(n) = lines {
            // Room for the history at once, rather than regrown (and copied) as it arrives.
            let more = n.saturating_sub(self.with(|s| s.end_position()));
            self.store
                .update_value(|s| s.reserve(usize::try_from(more).unwrap_or(usize::MAX)));
        }
        self.expected.set(lines);
    }

    /// Lines arrived and lines expected while the log's history is still arriving (tracked):
    /// `None` once every line the server announced is here, or when it announced none.
    pub fn progress(&self) -> Option<(u64, u64)> {
        let expected = self.expected.get()?;
        let received = self.with_tracked(|s| s.last_number().unwrap_or(0));
        (received < expected).then_some((received, expected))
    }

    /// Tells the screen about the new lines on the next animation frame at least
    /// [`MIN_PUBLISH_MS`] after the last time; batches arriving meanwhile join this one.
    fn schedule_publish(&self) {
        let Some(p) = self.publish.try_get_value() else {
            return;
        };
        if p.scheduled {
            return;
        }
        self.publish.set_value(Publish {
            scheduled: true,
            ..p
        });
        let me = *self;
        let wait = p.last_ms + MIN_PUBLISH_MS - now_ms();
        if wait <= 0.0 {
            request_animation_frame(move || me.publish());
        } else {
            set_timeout(
                move || request_animation_frame(move || me.publish()),
                std::time::Duration::from_millis(wait.ceil() as u64),
            );
        }
    }

    fn publish(&self) {
        let done = Publish {
            scheduled: false,
            last_ms: now_ms(),
        };
        if self.publish.try_set_value(done).is_none() {
            let _ = self.version.try_update(|v| *v += 1);
        }
    }

    /// Takes in the changes of one delta of a log subscription: its lines go to the store in
    /// one batch; returns the newest deployment record among them, if any. This is the one
    /// path from the feed to the viewer (the logs page and the benchmark's stream use it).
    pub fn apply_changes(&self, changes: Vec<Change>) -> Option<Deployment> {
        let mut deployment = None;
        let mut lines: Vec<LogLine> = Vec::with_capacity(changes.len());
        for c in changes {
            match c {
                Change::Line(line) => lines.push(line),
                Change::Deployment(d) => deployment = Some(d),
                _ => {}
            }
        }
        if !lines.is_empty() {
            self.push_lines(lines);
        }
        deployment
    }

    /// Forgets every line (another deployment).
    pub fn clear(&self) {
        let limits = self.store.with_value(LogStore::limits);
        self.store.set_value(LogStore::with_limits(limits));
        self.expected.set(None);
        self.version.update(|v| *v += 1);
    }

    /// True when the screen has been told about every line pushed (no update pending).
    pub fn is_published(&self) -> bool {
        self.publish.try_get_value().is_none_or(|p| !p.scheduled)
    }

    /// Reads the store without subscribing to changes.
    pub fn with<R>(&self, f: impl FnOnce(&LogStore) -> R) -> R {
        self.store.with_value(f)
    }

    /// Reads the store and subscribes the caller to the next batch.
    pub fn with_tracked<R>(&self, f: impl FnOnce(&LogStore) -> R) -> R {
        self.version.track();
        self.store.with_value(f)
    }

    /// The batch counter (to track in effects).
    pub fn version(&self) -> u64 {
        self.version.get()
    }
}

fn now_ms() -> f64 {
    window().performance().map_or(0.0, |p| p.now())
}
