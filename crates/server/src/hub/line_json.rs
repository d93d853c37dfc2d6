//! A log line's `line` change as JSON, laid out so that a `lines` frame can be spliced from
//! it: where its stage and text end ([`LineParts`]), and its columns read back
//! ([`LineView`]).

use shipwatch_model::{LogLevel, LogLine};

/// Where a `line` change's JSON (laid out by [`line_json`]) ends its stage and its text, and
/// its level: with the JSON, all a `lines` frame needs of the line, spliced from the same
/// text ([`LineParts::view`]). Twelve bytes a line: a million-line log is held once more
/// only in these.
#[derive(Debug, Clone, Copy)]
pub struct LineParts {
    level: LogLevel,
    stage_end: u32,
    text_end: u32,
}

/// A line's columns, read from its `line` change's JSON; strings as JSON strings (escaped).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineView<'a> {
    /// Line number.
    pub n: u64,
    /// Timestamp.
    pub ts: u64,
    /// Severity.
    pub level: LogLevel,
    /// The stage as a JSON string.
    pub stage: &'a str,
    /// The text as a JSON string.
    pub text: &'a str,
    /// The hint as a JSON string, if any.
    pub hint: Option<&'a str>,
}

/// How [`line_json`] starts every line.
const LINE_PREFIX: &str = r#"{"op":"line","n":"#;

impl LineParts {
    /// The line's columns in `json`, its change's JSON (None only for JSON that
    /// [`line_json`] did not write).
    pub fn view<'a>(&self, json: &'a str) -> Option<LineView<'a>> {
        let digits = |from: usize| -> Option<(u64, usize)> {
            let len = json
                .get(from..)?
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            Some((json.get(from..from + len)?.parse().ok()?, from + len))
        };
        let (n, after_n) = digits(LINE_PREFIX.len())?;
        let (ts, after_ts) = digits(after_n + r#","ts":"#.len())?;
        let stage_start = after_ts + r#","stage":"#.len();
        let (stage_end, text_end) = (self.stage_end as usize, self.text_end as usize);
        let text_start =
            stage_end + r#","level":"#.len() + level_json(self.level).len() + r#","text":"#.len();
        let hint = json
            .get(text_end..json.len().checked_sub(1)?)?
            .strip_prefix(r#","hint":"#);
        Some(LineView {
            n,
            ts,
            level: self.level,
            stage: json.get(stage_start..stage_end)?,
            text: json.get(text_start..text_end)?,
            hint: hint.filter(|h| !h.is_empty()),
        })
    }
}

impl LineView<'_> {
    /// Bytes this line adds to a `lines` frame, about (its text, a timestamp difference, a
    /// level letter and separators).
    pub fn cost(&self) -> usize {
        self.text.len() + 8
    }
}

/// A level as `encode` writes it.
fn level_json(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Info => r#""info""#,
        LogLevel::Warning => r#""warning""#,
        LogLevel::Error => r#""error""#,
        LogLevel::Unknown => r#""unknown""#,
    }
}

/// A `line` change as JSON, exactly as `encode` writes it, and where its parts end in it.
pub fn line_json(line: &LogLine) -> (String, LineParts) {
    fn string(out: &mut String, s: &str) -> u32 {
        out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
        out.len() as u32
    }
    let mut out = String::with_capacity(line.text.len() + 96);
    out.push_str(&format!(
        r#"{LINE_PREFIX}{},"ts":{},"stage":"#,
        line.n, line.ts
    ));
    let stage_end = string(&mut out, &line.stage);
    out.push_str(&format!(r#","level":{},"text":"#, level_json(line.level)));
    let text_end = string(&mut out, &line.text);
    if let Some(h) = &line.hint {
        out.push_str(r#","hint":"#);
        string(&mut out, h);
    }
    out.push('}');
    let parts = LineParts {
        level: line.level,
        stage_end,
        text_end,
    };
    (out, parts)
}
