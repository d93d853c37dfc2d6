//! The `lines` frame's payload: a run of consecutive log lines in columns, for clients that
//! ask for it (`line_batches` in `subscribe`). A `line` change spells every field name and
//! repeats the stage and most of the timestamp on every line (~75 bytes a line besides the
//! text); in columns a line costs its text plus a few bytes:
//!
//! - `n`: the first line's number; the others follow it without gaps (a gap starts a new
//!   frame);
//! - `ts`: the first line's timestamp, then each line's difference to the previous one
//!   (negative when the clock went back);
//! - `stage`: runs, `[name, count]`, in order;
//! - `level`: one letter a line, `i`nfo, `w`arning, `e`rror (`u` and any other letter:
//!   unknown);
//! - `text`: one string a line;
//! - `hint`: only where a line has one, `[index in the run, hint]`, in increasing order.
//!
//! Columns that disagree on the number of lines, an empty run, a stage run of zero lines, a
//! hint out of order or past the run: the frame is invalid (both decoders refuse it).

use crate::{LogLevel, LogLine};
use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A run of consecutive log lines of one subscription, in columns (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Columns")]
pub struct LineBatch {
    /// Number of the first line; line `i` of the run has `n + i`.
    pub n: u64,
    /// Timestamps, one a line (absolute here; differences on the wire).
    #[serde(with = "ts_column")]
    pub ts: Vec<u64>,
    /// Stages as runs: a name and how many consecutive lines it wrote (at least 1).
    pub stage: Vec<(String, u32)>,
    /// Levels, one a line (one letter each on the wire).
    #[serde(with = "level_column")]
    pub level: Vec<LogLevel>,
    /// Texts, one a line.
    pub text: Vec<String>,
    /// Hints of the lines that have one: index in the run, hint; indexes increase.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hint: Vec<(u32, String)>,
}

/// The columns as read, before they are checked against each other.
#[derive(Deserialize)]
pub(super) struct Columns {
    pub(super) n: u64,
    #[serde(with = "ts_column")]
    pub(super) ts: Vec<u64>,
    pub(super) stage: Vec<(String, u32)>,
    #[serde(with = "level_column")]
    pub(super) level: Vec<LogLevel>,
    pub(super) text: Vec<String>,
    #[serde(default)]
    pub(super) hint: Vec<(u32, String)>,
}

impl TryFrom<Columns> for LineBatch {
    type Error = String;

    fn try_from(c: Columns) -> Result<Self, String> {
        let k = c.text.len();
        if k == 0 {
            return Err("a `lines` frame holds at least one line".into());
        }
        if c.ts.len() != k || c.level.len() != k {
            return Err(format!(
                "`lines` columns disagree: {k} texts, {} timestamps, {} levels",
                c.ts.len(),
                c.level.len()
            ));
        }
        let mut staged: u64 = 0;
        for (_, count) in &c.stage {
            if *count == 0 {
                return Err("a stage run of zero lines".into());
            }
            staged += u64::from(*count);
        }
        if staged != k as u64 {
            return Err(format!("stage runs cover {staged} lines, not {k}"));
        }
        let mut next = 0u64;
        for (i, _) in &c.hint {
            if u64::from(*i) < next || *i as usize >= k {
                return Err(format!("hint index {i} out of order or past the run"));
            }
            next = u64::from(*i) + 1;
        }
        if c.n.checked_add(k as u64 - 1).is_none() {
            return Err("line numbers past the largest number".into());
        }
        Ok(LineBatch {
            n: c.n,
            ts: c.ts,
            stage: c.stage,
            level: c.level,
            text: c.text,
            hint: c.hint,
        })
    }
}

/// The letter of a level in the `level` column.
#[must_use]
pub fn level_letter(level: LogLevel) -> char {
    match level {
        LogLevel::Info => 'i',
        LogLevel::Warning => 'w',
        LogLevel::Error => 'e',
        LogLevel::Unknown => 'u',
    }
}

/// The levels of a `level` column: any letter but `i`, `w`, `e` is a level this app does
/// not know.
pub(super) fn levels_of(column: &str) -> Vec<LogLevel> {
    column
        .chars()
        .map(|c| match c {
            'i' => LogLevel::Info,
            'w' => LogLevel::Warning,
            'e' => LogLevel::Error,
            _ => LogLevel::Unknown,
        })
        .collect()
}

impl LineBatch {
    /// The lines in runs of consecutive numbers, one batch per run (a gap in `n` starts the
    /// next one). None for no lines.
    #[must_use]
    pub fn runs(lines: &[LogLine]) -> Vec<LineBatch> {
        let mut out = Vec::new();
        let mut start = 0;
        for i in 1..=lines.len() {
            let ends = i == lines.len() || lines[i - 1].n.checked_add(1) != Some(lines[i].n);
            if ends {
                out.push(Self::consecutive(&lines[start..i]));
                start = i;
            }
        }
        out
    }

    /// One batch of lines whose numbers follow each other (the caller checked).
    fn consecutive(lines: &[LogLine]) -> LineBatch {
        let mut stage: Vec<(String, u32)> = Vec::new();
        let mut hint = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            match stage.last_mut() {
                Some((name, count)) if *name == line.stage && *count < u32::MAX => *count += 1,
                _ => stage.push((line.stage.clone(), 1)),
            }
            if let Some(h) = &line.hint {
                hint.push((i as u32, h.clone()));
            }
        }
        LineBatch {
            n: lines.first().map_or(0, |l| l.n),
            ts: lines.iter().map(|l| l.ts).collect(),
            stage,
            level: lines.iter().map(|l| l.level).collect(),
            text: lines.iter().map(|l| l.text.clone()).collect(),
            hint,
        }
    }

    /// Number of lines.
    #[must_use]
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// True for no line (never so for a decoded batch).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Drops the first `k` lines (already applied: a resend after a resume).
    pub fn skip(&mut self, k: usize) {
        let k = k.min(self.len());
        if k == 0 {
            return;
        }
        self.n = self.n.saturating_add(k as u64);
        self.ts.drain(..k);
        self.level.drain(..k);
        self.text.drain(..k);
        let mut left = k as u64;
        while left > 0 {
            let Some((_, count)) = self.stage.first_mut() else {
                break;
            };
            if u64::from(*count) > left {
                *count -= left as u32;
                left = 0;
            } else {
                left -= u64::from(*count);
                self.stage.remove(0);
            }
        }
        self.hint.retain(|(i, _)| *i as usize >= k);
        for (i, _) in &mut self.hint {
            *i -= k as u32;
        }
    }

    /// Hands over every line in order, its stage borrowed (the same name for a whole run),
    /// its text and hint moved: the least work per line for a store.
    pub fn for_each(self, mut line: impl FnMut(LinePart<'_>)) {
        let LineBatch {
            n,
            ts,
            stage,
            level,
            text,
            hint,
        } = self;
        let mut hints = hint.into_iter().peekable();
        let mut stages = stage.iter().flat_map(|(s, k)| (0..*k).map(move |_| s));
        let columns = ts.into_iter().zip(level).zip(text);
        for (i, ((ts, level), text)) in columns.enumerate() {
            let hint = match hints.peek() {
                Some((at, _)) if *at as usize == i => hints.next().map(|(_, h)| h),
                _ => None,
            };
            line(LinePart {
                n: n + i as u64,
                ts,
                stage: stages.next().map_or("", String::as_str),
                level,
                text,
                hint,
            });
        }
    }

    /// The lines, whole.
    #[must_use]
    pub fn into_lines(self) -> Vec<LogLine> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each(|l| {
            out.push(LogLine {
                n: l.n,
                ts: l.ts,
                stage: l.stage.to_owned(),
                level: l.level,
                text: l.text,
                hint: l.hint,
            });
        });
        out
    }
}

/// One line of a [`LineBatch`], as [`LineBatch::for_each`] hands it over.
#[derive(Debug)]
pub struct LinePart<'a> {
    /// Line number.
    pub n: u64,
    /// Timestamp.
    pub ts: u64,
    /// Stage (shared by the run).
    pub stage: &'a str,
    /// Severity.
    pub level: LogLevel,
    /// Raw text.
    pub text: String,
    /// What to do about it, if the server says.
    pub hint: Option<String>,
}

/// The `ts` column: the first timestamp, then differences (wrapping, so any `u64` survives).
pub(super) mod ts_column {
    use super::*;

    /// The difference written for `ts` after `prev`.
    pub(crate) fn delta(prev: u64, ts: u64) -> i64 {
        ts.wrapping_sub(prev) as i64
    }

    pub(crate) fn apply(prev: u64, delta: i64) -> u64 {
        prev.wrapping_add(delta as u64)
    }

    pub fn serialize<S: Serializer>(ts: &[u64], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(ts.len()))?;
        let mut prev = None;
        for &t in ts {
            match prev {
                None => seq.serialize_element(&t)?,
                Some(p) => seq.serialize_element(&delta(p, t))?,
            }
            prev = Some(t);
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        struct Column;
        impl<'de> Visitor<'de> for Column {
            type Value = Vec<u64>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a timestamp then differences")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u64>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                let Some(first) = seq.next_element::<u64>()? else {
                    return Ok(out);
                };
                out.push(first);
                let mut prev = first;
                while let Some(d) = seq.next_element::<i64>()? {
                    prev = apply(prev, d);
                    out.push(prev);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Column)
    }
}

/// The `level` column: one letter a line.
pub(super) mod level_column {
    use super::*;

    pub fn serialize<S: Serializer>(levels: &[LogLevel], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&levels.iter().map(|l| level_letter(*l)).collect::<String>())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<LogLevel>, D::Error> {
        let column = String::deserialize(d)?;
        Ok(levels_of(&column))
    }
}
