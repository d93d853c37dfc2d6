//! The lines of one deployment's log, in order, within a bounded amount of memory.
//!
//! # Memory policy
//!
//! The viewer runs in a browser tab's WebAssembly memory, which never shrinks, so the store
//! keeps a bounded tail of the log and counts what it let go:
//!
//! - at most [`StoreLimits::max_lines`] lines (default **500,000**) and at most
//!   [`StoreLimits::max_bytes`] of accounted memory (default **128 MiB**), whichever is hit
//!   first; the oldest lines are evicted from the front and counted in
//!   [`LogStore::evicted`] so the viewer can say "N earlier lines are not kept in the page;
//!   download the full log";
//! - a single line's raw text is cut at [`StoreLimits::max_line_bytes`] (default **64 KiB**,
//!   flagged in [`LineRef::truncated`]): one minified-JSON line must not eat the budget.
//!
//! Per line the store keeps a fixed 40-byte record on wasm32 (56 on 64-bit hosts): number,
//! timestamp, interned stage id, level, the raw text (ANSI escapes kept, for rendering) and a
//! second, plain copy *only* when the raw text has escapes or control characters (most lines
//! have none, and then the raw text is the plain text). Styled spans are not kept: they are
//! computed with [`crate::ansi::parse`] for the few rows on screen. Hints (error lines only) sit
//! in a side list instead of a field on every line.
//!
//! Numbers, for lines of ~100 visible bytes, a fifth of them coloured: ~40 + 100 + 20 = ~160
//! bytes a line plus allocator headers, so 500,000 lines take ~80-90 MB, and the byte budget
//! caps a log of long lines at 128 MiB plus allocator overhead, within a ~300 MB tab
//! together with the app and a full search (a few MB). The limits are configurable with
//! [`LogStore::with_limits`]; 1,000,000 lines of ~100 bytes fit with `max_lines: 1_000_000`
//! and `max_bytes: 256 MiB` if a deployment needs it.
//!
//! # Order and identity
//!
//! Line numbers `n` come from the server, from 1, without gaps. `push` is idempotent: a line
//! whose `n` is not above the last one is a duplicate (a replay after a reconnect) and is
//! ignored; a jump forward is kept but recorded as a [`Gap`] (it should never happen; the app
//! can resync).
//!
//! Indices (`0..len()`) address the lines kept now and shift when lines are evicted;
//! positions (`evicted() + index`) never change, and line numbers never change either.

use crate::ansi;
use crate::timestamps::format_iso_utc;
use shipwatch_model::entities::Millis;
use shipwatch_model::{LogLevel, LogLine};
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// How much a store may keep (see the module docs for the reasoning behind the defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// Most lines kept; older ones are evicted. At least 1 is always kept.
    pub max_lines: usize,
    /// Most accounted bytes kept (texts plus the fixed per-line record).
    pub max_bytes: usize,
    /// Longest raw text kept for one line, in bytes (cut on a char boundary).
    pub max_line_bytes: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_lines: 500_000,
            max_bytes: 128 * 1024 * 1024,
            max_line_bytes: 64 * 1024,
        }
    }
}

/// The id of a stage within one store: its order of first appearance, from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StageId(pub u32);

/// Whether a stage went wrong, judged from its lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StageStatus {
    /// No error line (so far).
    Ok,
    /// At least one error line.
    Failed,
}

/// What the store knows about one stage, counted over every line ever pushed (evicted
/// lines included, so the stage list stays right for long logs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageInfo {
    /// The stage's name as the server sent it (`build`, `deploy`, ...).
    pub name: String,
    /// Number of its first line.
    pub first_n: u64,
    /// Number of its last line so far.
    pub last_n: u64,
    /// Earliest timestamp among its lines.
    pub first_ts: Millis,
    /// Latest timestamp among its lines.
    pub last_ts: Millis,
    /// How many lines it wrote.
    pub lines: u64,
    /// How many of them are errors.
    pub errors: u64,
    /// How many of them are warnings.
    pub warnings: u64,
}

impl StageInfo {
    /// Time from its earliest to its latest line, in ms.
    pub fn duration_ms(&self) -> u64 {
        self.last_ts - self.first_ts
    }

    /// Failed if it wrote an error line.
    pub fn status(&self) -> StageStatus {
        if self.errors > 0 {
            StageStatus::Failed
        } else {
            StageStatus::Ok
        }
    }
}

/// A copy of the first error line, kept even after the line itself is evicted so the
/// viewer's "first error" banner works for any log length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstError {
    /// Its line number (for the permalink / jump).
    pub n: u64,
    /// When it was written.
    pub ts: Millis,
    /// Its stage.
    pub stage: StageId,
    /// Its visible text.
    pub text: String,
    /// What to do about it: its own hint, or else the first hint a later error line gave
    /// (build tools often print the cause first and the advice with the final error).
    pub hint: Option<String>,
    /// The number of the line that gave the hint.
    pub hint_n: Option<u64>,
}

/// A jump in line numbers: lines `expected..got` never arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    /// The number that should have come next.
    pub expected: u64,
    /// The number that came instead.
    pub got: u64,
}

/// What [`LogStore::push`] did with a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Appended.
    Added,
    /// Appended after a gap in numbering (recorded in [`LogStore::gaps`]).
    AddedAfterGap,
    /// Ignored: its number was not above the last one.
    Duplicate,
}

/// A view of one kept line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineRef<'a> {
    /// Line number (permalink `#L{n}`).
    pub n: u64,
    /// When it was written.
    pub ts: Millis,
    /// Severity (`Unknown` is shown and counted as info).
    pub level: LogLevel,
    /// Its stage's id.
    pub stage: StageId,
    /// Its stage's name.
    pub stage_name: &'a str,
    /// The text as received (possibly cut), ANSI escapes included: render via [`Self::spans`].
    pub raw: &'a str,
    /// The visible text: for search, copy and download.
    pub plain: &'a str,
    /// The hint of an error line.
    pub hint: Option<&'a str>,
    /// True if the raw text was cut at [`StoreLimits::max_line_bytes`].
    pub truncated: bool,
}

impl LineRef<'_> {
    /// The styled spans to render; computed on demand (only rows on screen need them).
    pub fn spans(&self) -> Vec<ansi::Span> {
        ansi::parse(self.raw)
    }
}

/// Which lines a view shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineFilter {
    /// Only this stage's lines; `None` for all stages.
    pub stage: Option<StageId>,
    /// Only errors and warnings.
    pub problems_only: bool,
}

impl LineFilter {
    /// True if the filter lets every line through (the view is then the store itself).
    pub fn is_all(&self) -> bool {
        self.stage.is_none() && !self.problems_only
    }

    /// True if the line passes the filter.
    pub fn accepts(&self, line: &LineRef<'_>) -> bool {
        self.stage.is_none_or(|s| s == line.stage)
            && (!self.problems_only || matches!(line.level, LogLevel::Error | LogLevel::Warning))
    }
}

/// One kept line. Kept lean: this record times the number of lines is most of the memory.
struct Stored {
    n: u64,
    ts: Millis,
    raw: Box<str>,
    /// The visible text when it differs from `raw`; `None` means "same as raw".
    plain: Option<Box<str>>,
    stage: u32,
    level: LogLevel,
    truncated: bool,
}

impl Stored {
    fn plain(&self) -> &str {
        self.plain.as_deref().unwrap_or(&self.raw)
    }

    /// The bytes this line is charged against the budget (its hint is charged separately).
    fn cost(&self) -> usize {
        std::mem::size_of::<Stored>() + self.raw.len() + self.plain.as_ref().map_or(0, |p| p.len())
    }
}

/// Most gaps remembered: a broken feed must not grow this list without bound.
const MAX_GAPS_KEPT: usize = 1_000;

/// Gives each store an identity so that a search can tell it is pointed at another store.
static NEXT_STORE_ID: AtomicU64 = AtomicU64::new(1);

/// The lines of one deployment (see the module docs for the memory policy).
pub struct LogStore {
    id: u64,
    limits: StoreLimits,
    lines: VecDeque<Stored>,
    /// Hints of kept lines, by line number, in increasing order.
    hints: VecDeque<(u64, Box<str>)>,
    stages: Vec<StageInfo>,
    bytes: usize,
    evicted: u64,
    duplicates: u64,
    last_n: Option<u64>,
    gaps: Vec<Gap>,
    gap_count: u64,
    first_error: Option<FirstError>,
    errors: u64,
    warnings: u64,
}

impl Default for LogStore {
    fn default() -> Self {
        LogStore::new()
    }
}

impl fmt::Debug for LogStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogStore")
            .field("len", &self.lines.len())
            .field("evicted", &self.evicted)
            .field("bytes", &self.bytes)
            .field("stages", &self.stages.len())
            .finish_non_exhaustive()
    }
}

impl LogStore {
    /// An empty store with the default limits.
    pub fn new() -> Self {
        LogStore::with_limits(StoreLimits::default())
    }

    /// An empty store with the given limits.
    pub fn with_limits(limits: StoreLimits) -> Self {
        LogStore {
            id: NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed),
            limits,
            lines: VecDeque::new(),
            hints: VecDeque::new(),
            stages: Vec::new(),
            bytes: 0,
            evicted: 0,
            duplicates: 0,
            last_n: None,
            gaps: Vec::new(),
            gap_count: 0,
            first_error: None,
            errors: 0,
            warnings: 0,
        }
    }

    /// This store's identity (unique within the process).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The limits in force.
    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    /// Adds a line unless it is a duplicate (number not above the last), then evicts old
    /// lines beyond the limits.
    pub fn push(&mut self, line: LogLine) -> Pushed {
        let LogLine {
            n,
            ts,
            stage,
            level,
            text,
            hint,
        } = line;
        self.push_parts(n, ts, &stage, level, text, hint)
    }

    /// [`Self::push`] of a line given by its parts: its stage borrowed (a batch of lines in
    /// columns shares one name per run), its text and hint moved in.
    pub fn push_parts(
        &mut self,
        n: u64,
        ts: Millis,
        stage: &str,
        level: LogLevel,
        mut text: String,
        hint: Option<String>,
    ) -> Pushed {
        let mut pushed = Pushed::Added;
        match self.last_n {
            Some(last) if n <= last => {
                self.duplicates += 1;
                return Pushed::Duplicate;
            }
            Some(last) if n > last + 1 => {
                pushed = Pushed::AddedAfterGap;
                self.record_gap(Gap {
                    expected: last + 1,
                    got: n,
                });
            }
            // The first line kept need not be line 1 (the server may start mid-log).
            _ => {}
        }
        self.last_n = Some(n);

        let truncated = text.len() > self.limits.max_line_bytes;
        if truncated {
            let mut cut = self.limits.max_line_bytes;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        let plain = ansi::needs_parsing(&text).then(|| ansi::plain_text(&text).into_boxed_str());
        let stage = self.intern_stage(stage, n, ts, level);

        match level {
            LogLevel::Error => self.errors += 1,
            LogLevel::Warning => self.warnings += 1,
            LogLevel::Info | LogLevel::Unknown => {}
        }
        let stored = Stored {
            n,
            ts,
            raw: text.into_boxed_str(),
            plain,
            stage,
            level,
            truncated,
        };
        if level == LogLevel::Error {
            match self.first_error.as_mut() {
                None => {
                    self.first_error = Some(FirstError {
                        n,
                        ts,
                        stage: StageId(stage),
                        text: stored.plain().to_owned(),
                        hint: hint.clone(),
                        hint_n: hint.as_ref().map(|_| n),
                    });
                }
                Some(first) if first.hint.is_none() && hint.is_some() => {
                    first.hint = hint.clone();
                    first.hint_n = Some(n);
                }
                Some(_) => {}
            }
        }
        if let Some(hint) = hint {
            self.bytes += hint.len();
            self.hints.push_back((n, hint.into_boxed_str()));
        }
        self.bytes += stored.cost();
        self.lines.push_back(stored);
        self.evict();
        pushed
    }

    /// Makes room for `lines` more lines at once (up to the line limit), so that a history
    /// of known length does not regrow and copy the line records as it arrives.
    pub fn reserve(&mut self, lines: usize) {
        let room = self.limits.max_lines.saturating_sub(self.lines.len());
        self.lines.reserve(lines.min(room));
    }

    /// Pushes every line of a batch (e.g. the backlog sent on connect).
    pub fn extend<I: IntoIterator<Item = LogLine>>(&mut self, lines: I) {
        for line in lines {
            self.push(line);
        }
    }

    fn record_gap(&mut self, gap: Gap) {
        self.gap_count += 1;
        if self.gaps.len() < MAX_GAPS_KEPT {
            self.gaps.push(gap);
        }
    }

    /// The id of a stage, registering it (and updating its counters) for this line.
    fn intern_stage(&mut self, name: &str, n: u64, ts: Millis, level: LogLevel) -> u32 {
        // Lines mostly come from the latest stage: look from the end.
        let found = self.stages.iter().rposition(|s| s.name == name);
        let index = match found {
            Some(i) => i,
            None => {
                self.stages.push(StageInfo {
                    name: name.to_owned(),
                    first_n: n,
                    last_n: n,
                    first_ts: ts,
                    last_ts: ts,
                    lines: 0,
                    errors: 0,
                    warnings: 0,
                });
                self.stages.len() - 1
            }
        };
        let info = &mut self.stages[index];
        info.last_n = n;
        info.first_ts = info.first_ts.min(ts);
        info.last_ts = info.last_ts.max(ts);
        info.lines += 1;
        match level {
            LogLevel::Error => info.errors += 1,
            LogLevel::Warning => info.warnings += 1,
            LogLevel::Info | LogLevel::Unknown => {}
        }
        index as u32
    }

    /// Drops lines from the front until both limits hold (always keeping the newest line).
    fn evict(&mut self) {
        let max_lines = self.limits.max_lines.max(1);
        while self.lines.len() > max_lines
            || (self.bytes > self.limits.max_bytes && self.lines.len() > 1)
        {
            let Some(old) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= old.cost();
            self.evicted += 1;
            while self.hints.front().is_some_and(|(hn, _)| *hn <= old.n) {
                if let Some((_, hint)) = self.hints.pop_front() {
                    self.bytes -= hint.len();
                }
            }
        }
    }

    /// Number of lines kept.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// True if no line is kept.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Lines evicted from the front to respect the limits ("N earlier lines not kept").
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Lines ignored as duplicates.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Gaps in numbering seen (the first 1,000; see [`Self::gap_count`]).
    pub fn gaps(&self) -> &[Gap] {
        &self.gaps
    }

    /// How many gaps were seen in all.
    pub fn gap_count(&self) -> u64 {
        self.gap_count
    }

    /// Accounted bytes now kept (texts plus fixed per-line records, not allocator overhead).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of the last line pushed, if any (to resume the feed after it).
    pub fn last_number(&self) -> Option<u64> {
        self.last_n
    }

    /// Error lines ever pushed.
    pub fn error_count(&self) -> u64 {
        self.errors
    }

    /// Warning lines ever pushed.
    pub fn warning_count(&self) -> u64 {
        self.warnings
    }

    /// The position of the first kept line (= [`Self::evicted`]); positions never shift.
    pub fn first_position(&self) -> u64 {
        self.evicted
    }

    /// One past the position of the last kept line.
    pub fn end_position(&self) -> u64 {
        self.evicted + self.lines.len() as u64
    }

    /// The current index of a position, if that line is still kept.
    pub fn index_of_position(&self, position: u64) -> Option<usize> {
        let index = usize::try_from(position.checked_sub(self.evicted)?).ok()?;
        (index < self.lines.len()).then_some(index)
    }

    /// The line at an index (`0..len()`).
    pub fn line(&self, index: usize) -> Option<LineRef<'_>> {
        let s = self.lines.get(index)?;
        // Hints are rare: skip the lookup when there are none at all.
        let hint = if self.hints.is_empty() {
            None
        } else {
            self.hint_of(s.n)
        };
        Some(LineRef {
            n: s.n,
            ts: s.ts,
            level: s.level,
            stage: StageId(s.stage),
            stage_name: self.stages.get(s.stage as usize).map_or("", |i| &i.name),
            raw: &s.raw,
            plain: s.plain(),
            hint,
            truncated: s.truncated,
        })
    }

    /// The visible text of the line at an index (the hot path of search: no other work).
    pub fn plain(&self, index: usize) -> Option<&str> {
        self.lines.get(index).map(Stored::plain)
    }

    fn hint_of(&self, n: u64) -> Option<&str> {
        let i = self.hints.binary_search_by_key(&n, |(hn, _)| *hn).ok()?;
        Some(&self.hints[i].1)
    }

    /// The kept lines, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = LineRef<'_>> + '_ {
        (0..self.lines.len()).filter_map(move |i| self.line(i))
    }

    /// The index of line number `n`, if kept (binary search: numbers increase).
    pub fn index_of_number(&self, n: u64) -> Option<usize> {
        self.lines.binary_search_by_key(&n, |s| s.n).ok()
    }

    /// Line number `n` (permalinks `#L123`), if kept.
    pub fn line_by_number(&self, n: u64) -> Option<LineRef<'_>> {
        self.line(self.index_of_number(n)?)
    }

    /// The first error line ever pushed, with its hint (survives eviction).
    pub fn first_error(&self) -> Option<&FirstError> {
        self.first_error.as_ref()
    }

    /// Stages in order of first appearance.
    pub fn stages(&self) -> &[StageInfo] {
        &self.stages
    }

    /// One stage's facts.
    pub fn stage(&self, id: StageId) -> Option<&StageInfo> {
        self.stages.get(id.0 as usize)
    }

    /// The id of a stage by name.
    pub fn stage_id(&self, name: &str) -> Option<StageId> {
        let i = self.stages.iter().position(|s| s.name == name)?;
        Some(StageId(i as u32))
    }

    /// The stage that failed: the one that wrote the first error line.
    pub fn failing_stage(&self) -> Option<(StageId, &StageInfo)> {
        let id = self.first_error.as_ref()?.stage;
        Some((id, self.stage(id)?))
    }

    /// The indices of the kept lines that pass a filter, in order (a view's rows).
    pub fn filter_indices(&self, filter: &LineFilter) -> Vec<usize> {
        self.filter_indices_from(filter, 0)
    }

    /// Like [`Self::filter_indices`] for the lines from index `start` on: lets a view append
    /// the rows of newly pushed lines instead of refiltering everything. (After an eviction
    /// indices shift by the number evicted: rebuild or shift the view then.)
    pub fn filter_indices_from(&self, filter: &LineFilter, start: usize) -> Vec<usize> {
        if filter.is_all() {
            return (start.min(self.len())..self.len()).collect();
        }
        (start..self.len())
            .filter(|&i| self.line(i).is_some_and(|l| filter.accepts(&l)))
            .collect()
    }

    /// Writes the kept lines as plain text, one line per log line:
    /// `2024-02-29T13:04:05.067Z [build] ERROR text` (level shown for errors and warnings).
    pub fn write_text<W: fmt::Write>(&self, out: &mut W) -> fmt::Result {
        for line in self.iter() {
            write_text_line(out, line.ts, line.stage_name, line.level, line.plain)?;
        }
        Ok(())
    }

    /// The kept lines as plain text for download (see [`Self::write_text`]).
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.bytes.min(1 << 30));
        let _ = self.write_text(&mut out);
        out
    }
}

/// Writes one line of a plain-text log, newline included:
/// `2024-02-29T13:04:05.067Z [build] ERROR text` (level shown for errors and warnings).
/// `plain` is the line's visible text ([`ansi::plain_text`] of its raw text). The page's
/// download and the server's whole-log download both use it, so the two files agree.
pub fn write_text_line<W: fmt::Write>(
    out: &mut W,
    ts: Millis,
    stage: &str,
    level: LogLevel,
    plain: &str,
) -> fmt::Result {
    out.write_str(&format_iso_utc(ts))?;
    write!(out, " [{stage}] ")?;
    match level {
        LogLevel::Error => out.write_str("ERROR ")?,
        LogLevel::Warning => out.write_str("WARN ")?,
        LogLevel::Info | LogLevel::Unknown => {}
    }
    // A tab in a log line is fine; a newline can't be there (stripped by the parser).
    out.write_str(plain)?;
    out.write_char('\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_709_211_845_000;

    fn line(n: u64, stage: &str, level: LogLevel, text: &str) -> LogLine {
        LogLine {
            n,
            ts: T0 + n * 100,
            stage: stage.into(),
            level,
            text: text.into(),
            hint: None,
        }
    }

    fn sample() -> LogStore {
        let mut store = LogStore::new();
        store.push(line(
            1,
            "build",
            LogLevel::Info,
            "#1 [internal] load build definition",
        ));
        store.push(line(
            2,
            "build",
            LogLevel::Warning,
            "\x1b[33mWARN\x1b[0m deprecated: inflight@1.0.6",
        ));
        store.push(line(3, "test", LogLevel::Info, "PASS src/app.test.ts"));
        store.push(LogLine {
            hint: Some("Check the DATABASE_URL secret of the staging environment".into()),
            ..line(
                4,
                "test",
                LogLevel::Error,
                "\x1b[1;31mERROR\x1b[0m connect ECONNREFUSED 10.0.0.5:5432",
            )
        });
        store.push(line(5, "test", LogLevel::Error, "FAIL src/db.test.ts"));
        store.push(line(6, "deploy", LogLevel::Unknown, "skipped"));
        store
    }

    #[test]
    fn keeps_lines_in_order_with_plain_text() {
        let store = sample();
        assert_eq!(store.len(), 6);
        let l = store.line(1).unwrap();
        assert_eq!(l.n, 2);
        assert_eq!(l.plain, "WARN deprecated: inflight@1.0.6");
        assert!(l.raw.starts_with("\x1b[33m"));
        assert_eq!(l.spans().len(), 2);
        assert_eq!(l.stage_name, "build");
        // A line without escapes has no second copy.
        assert_eq!(
            store.line(0).unwrap().plain,
            "#1 [internal] load build definition"
        );
        assert_eq!(
            store.iter().map(|l| l.n).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5, 6]
        );
    }

    #[test]
    fn duplicates_are_ignored_and_gaps_recorded() {
        let mut store = sample();
        assert_eq!(
            store.push(line(3, "test", LogLevel::Info, "replayed")),
            Pushed::Duplicate
        );
        assert_eq!(
            store.push(line(6, "test", LogLevel::Info, "replayed")),
            Pushed::Duplicate
        );
        assert_eq!(store.duplicates(), 2);
        assert_eq!(store.len(), 6);
        assert_eq!(
            store.push(line(7, "deploy", LogLevel::Info, "ok")),
            Pushed::Added
        );
        assert_eq!(
            store.push(line(10, "deploy", LogLevel::Info, "ok")),
            Pushed::AddedAfterGap
        );
        assert_eq!(
            store.gaps(),
            &[Gap {
                expected: 8,
                got: 10
            }]
        );
        assert_eq!(store.gap_count(), 1);
        assert_eq!(store.last_number(), Some(10));
        // The first line may start mid-log without counting as a gap.
        let mut store = LogStore::new();
        assert_eq!(
            store.push(line(500, "build", LogLevel::Info, "x")),
            Pushed::Added
        );
        assert!(store.gaps().is_empty());
    }

    #[test]
    fn first_error_and_failing_stage() {
        let store = sample();
        let err = store.first_error().unwrap();
        assert_eq!(err.n, 4);
        assert_eq!(err.text, "ERROR connect ECONNREFUSED 10.0.0.5:5432");
        assert_eq!(
            err.hint.as_deref(),
            Some("Check the DATABASE_URL secret of the staging environment")
        );
        let (id, stage) = store.failing_stage().unwrap();
        assert_eq!(id, StageId(1));
        assert_eq!(stage.name, "test");
        assert_eq!(store.line_by_number(4).unwrap().hint, err.hint.as_deref());
        assert_eq!(store.line_by_number(5).unwrap().hint, None);
        assert_eq!(err.hint_n, Some(4));
        assert!(LogStore::new().first_error().is_none());
        // A hint given by a later error line completes the first error's summary.
        let mut store = LogStore::new();
        store.push(line(
            1,
            "build",
            LogLevel::Error,
            "error[E0308]: mismatched types",
        ));
        store.push(LogLine {
            hint: Some("Fix the compile error above".into()),
            ..line(2, "build", LogLevel::Error, "exit code: 101")
        });
        store.push(LogLine {
            hint: Some("a later hint".into()),
            ..line(3, "build", LogLevel::Error, "again")
        });
        let err = store.first_error().unwrap();
        assert_eq!((err.n, err.hint_n), (1, Some(2)));
        assert_eq!(err.hint.as_deref(), Some("Fix the compile error above"));
        assert!(LogStore::new().failing_stage().is_none());
    }

    #[test]
    fn stage_facts() {
        let store = sample();
        let names: Vec<_> = store.stages().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, vec!["build", "test", "deploy"]);
        let test = store.stage(StageId(1)).unwrap();
        assert_eq!((test.first_n, test.last_n, test.lines), (3, 5, 3));
        assert_eq!((test.errors, test.warnings), (2, 0));
        assert_eq!(test.duration_ms(), 200);
        assert_eq!(test.status(), StageStatus::Failed);
        let build = store.stage(StageId(0)).unwrap();
        assert_eq!((build.warnings, build.status()), (1, StageStatus::Ok));
        assert_eq!(store.stage_id("deploy"), Some(StageId(2)));
        assert_eq!(store.stage_id("nope"), None);
        assert_eq!((store.error_count(), store.warning_count()), (2, 1));
        assert_eq!(store.index_of_number(test.first_n), Some(2));
    }

    #[test]
    fn filters() {
        let store = sample();
        let test = store.stage_id("test");
        assert_eq!(
            store.filter_indices(&LineFilter::default()),
            vec![0, 1, 2, 3, 4, 5]
        );
        assert_eq!(
            store.filter_indices(&LineFilter {
                stage: test,
                problems_only: false
            }),
            vec![2, 3, 4]
        );
        assert_eq!(
            store.filter_indices(&LineFilter {
                stage: None,
                problems_only: true
            }),
            vec![1, 3, 4]
        );
        assert_eq!(
            store.filter_indices(&LineFilter {
                stage: test,
                problems_only: true
            }),
            vec![3, 4]
        );
        assert_eq!(
            store.filter_indices_from(&LineFilter::default(), 4),
            vec![4, 5]
        );
        assert_eq!(
            store.filter_indices_from(&LineFilter::default(), 40),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn permalinks() {
        let store = sample();
        assert_eq!(
            store.line_by_number(3).unwrap().plain,
            "PASS src/app.test.ts"
        );
        assert!(store.line_by_number(0).is_none());
        assert!(store.line_by_number(7).is_none());
    }

    #[test]
    fn text_download() {
        let store = sample();
        let text = store.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6);
        assert_eq!(
            lines[0],
            "2024-02-29T13:04:05.100Z [build] #1 [internal] load build definition"
        );
        assert_eq!(
            lines[3],
            "2024-02-29T13:04:05.400Z [test] ERROR ERROR connect ECONNREFUSED 10.0.0.5:5432"
        );
        assert_eq!(
            lines[1],
            "2024-02-29T13:04:05.200Z [build] WARN WARN deprecated: inflight@1.0.6"
        );
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn evicts_by_line_count_and_keeps_counts() {
        let mut store = LogStore::with_limits(StoreLimits {
            max_lines: 3,
            ..StoreLimits::default()
        });
        store.push(LogLine {
            hint: Some("fix it".into()),
            ..line(1, "build", LogLevel::Error, "boom")
        });
        for n in 2..=10 {
            store.push(line(n, "build", LogLevel::Info, "step"));
        }
        assert_eq!(store.len(), 3);
        assert_eq!(store.evicted(), 7);
        assert_eq!((store.first_position(), store.end_position()), (7, 10));
        assert_eq!(store.line(0).unwrap().n, 8);
        assert_eq!(store.index_of_position(8), Some(1));
        assert_eq!(store.index_of_position(3), None);
        assert_eq!(store.index_of_position(10), None);
        assert!(store.line_by_number(1).is_none());
        // The facts about evicted lines stay.
        assert_eq!(store.first_error().unwrap().hint.as_deref(), Some("fix it"));
        assert_eq!(store.stages()[0].lines, 10);
        assert_eq!(store.stages()[0].first_n, 1);
        // The evicted hint was released with its line.
        assert!(store.hints.is_empty());
        assert_eq!(store.bytes(), 3 * (std::mem::size_of::<Stored>() + 4));
    }

    #[test]
    fn evicts_by_bytes_and_cuts_huge_lines() {
        let limits = StoreLimits {
            max_lines: 1_000,
            max_bytes: 10 * (std::mem::size_of::<Stored>() + 100),
            max_line_bytes: 100,
        };
        let mut store = LogStore::with_limits(limits);
        for n in 1..=50 {
            // 'é' is two bytes: the cut must land on a char boundary.
            store.push(line(
                n,
                "build",
                LogLevel::Info,
                &format!("x{}", "é".repeat(200)),
            ));
        }
        let l = store.line(0).unwrap();
        assert!(l.truncated);
        assert_eq!(l.raw.len(), 99);
        assert!(store.bytes() <= limits.max_bytes);
        assert!(store.len() >= 10);
        assert_eq!(store.evicted() + store.len() as u64, 50);
        // Even a line bigger than the whole budget is kept (the newest line always is).
        let mut tiny = LogStore::with_limits(StoreLimits {
            max_bytes: 1,
            ..limits
        });
        tiny.push(line(1, "build", LogLevel::Info, "a"));
        tiny.push(line(2, "build", LogLevel::Info, "b"));
        assert_eq!(tiny.len(), 1);
        assert_eq!(tiny.line(0).unwrap().n, 2);
    }

    #[test]
    fn stored_record_stays_small() {
        // The per-line record is what 500,000 lines multiply; keep it from growing unnoticed.
        assert!(std::mem::size_of::<Stored>() <= 56);
    }
}
