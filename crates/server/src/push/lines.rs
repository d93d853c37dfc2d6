//! Log line batches as they are pushed (a JSON array, or NDJSON: one JSON object a line), and
//! what a batch does to a log numbered by its sender: which lines are new, which are resends,
//! and which numbers it skips (a gap the log records).

use super::error::PushError;
use super::validate::{self, Fields};
use shipwatch_model::entities::Millis;
use shipwatch_model::LogLevel;

/// Longest stage name a line may carry, in bytes.
pub const MAX_STAGE_BYTES: usize = 100;

/// One pushed line, its types checked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PushedLine {
    /// Its number in the deployment's log, from 1, as the sender numbers them.
    pub n: u64,
    /// Its text (ANSI kept); cut to the protocol's line limit where lines enter the core.
    pub text: String,
    /// Its level; none: info.
    pub level: Option<LogLevel>,
    /// The stage that wrote it; none: the deployment's current stage.
    pub stage: Option<String>,
    /// When it was written (Unix ms); none: when it arrived.
    pub ts: Option<Millis>,
}

/// The fields a line takes.
const LINE_FIELDS: [&str; 5] = ["n", "text", "level", "stage", "ts"];

/// A level's wire word. `debug` is taken and shown as info: the console has no debug level.
pub fn level(word: &str) -> Option<LogLevel> {
    match word {
        "debug" | "info" => Some(LogLevel::Info),
        "warning" => Some(LogLevel::Warning),
        "error" => Some(LogLevel::Error),
        _ => None,
    }
}

/// Line `index` of a batch, from its JSON.
pub fn line(value: &serde_json::Value, index: usize) -> Result<PushedLine, PushError> {
    let at = format!("lines[{index}]");
    let f = Fields::of(value, &at)?;
    f.only(&LINE_FIELDS)?;
    let n = f.req_uint("n", i64::MAX as u64)?;
    if n == 0 {
        let path = f.path("n");
        return Err(PushError::bad(&path, format!("`{path}` counts from 1")));
    }
    let text = f.req_str("text")?.to_string();
    let level = match f.str("level")? {
        None => None,
        Some(word) => Some(level(word).ok_or_else(|| {
            let path = f.path("level");
            let shown: String = word.chars().take(40).collect();
            PushError::bad(
                &path,
                format!("`{path}` is `{shown}`: use debug, info, warning or error"),
            )
        })?),
    };
    let stage = match f.str("stage")? {
        Some(s) => {
            validate::text(&f.path("stage"), s, MAX_STAGE_BYTES)?;
            Some(s.to_string())
        }
        None => None,
    };
    let ts = f.uint("ts", i64::MAX as u64)?;
    Ok(PushedLine {
        n,
        text,
        level,
        stage,
        ts,
    })
}

/// A JSON array of lines.
pub fn from_json(body: &[u8]) -> Result<Vec<PushedLine>, PushError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        PushError::bad_body(format!(
            "the body is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    let value = validate::parse_json(text)?;
    let serde_json::Value::Array(items) = value else {
        return Err(PushError::bad_body(
            "the body must be a JSON array of lines (or send NDJSON as application/x-ndjson)",
        ));
    };
    items.iter().enumerate().map(|(i, v)| line(v, i)).collect()
}

/// NDJSON: one line object per text line; blank lines are skipped and do not count.
pub fn from_ndjson(body: &[u8]) -> Result<Vec<PushedLine>, PushError> {
    let mut out = Vec::new();
    for raw in body.split(|b| *b == b'\n') {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let index = out.len();
        let at = format!("lines[{index}]");
        let text = std::str::from_utf8(raw).map_err(|e| {
            PushError::bad(
                &at,
                format!(
                    "`{at}` is not valid UTF-8 (at byte {} of it)",
                    e.valid_up_to()
                ),
            )
        })?;
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            PushError::bad(
                &at,
                format!("`{at}` is not valid JSON: {e} (column {})", e.column()),
            )
        })?;
        out.push(line(&value, index)?);
    }
    Ok(out)
}

/// What a batch does to a log whose next number is `next_line`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Indexes (in the batch) of the lines at or past `next_line`: to append.
    pub fresh: Vec<usize>,
    /// Indexes of lines numbered before `next_line`: resends to check against what is stored.
    pub resent: Vec<usize>,
    /// Numbers the batch skips past `next_line`, as inclusive ranges.
    pub gaps: Vec<(u64, u64)>,
    /// The log's next number once the batch is applied.
    pub next_line: u64,
}

/// Plans a batch: numbers must rise within it (a batch is one run of the sender's output).
pub fn plan(next_line: u64, lines: &[PushedLine]) -> Result<Plan, PushError> {
    let mut plan = Plan {
        next_line,
        ..Plan::default()
    };
    let mut previous: Option<u64> = None;
    for (i, line) in lines.iter().enumerate() {
        if let Some(p) = previous {
            if line.n <= p {
                let path = format!("lines[{i}].n");
                return Err(PushError::bad(
                    &path,
                    format!(
                        "`{path}` is {}, not after the line before it ({p}): a batch's numbers rise",
                        line.n
                    ),
                ));
            }
        }
        previous = Some(line.n);
        if line.n < plan.next_line {
            plan.resent.push(i);
            continue;
        }
        if line.n > plan.next_line {
            plan.gaps.push((plan.next_line, line.n - 1));
        }
        plan.fresh.push(i);
        plan.next_line = line.n + 1;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(n: u64) -> PushedLine {
        PushedLine {
            n,
            text: format!("line {n}"),
            level: None,
            stage: None,
            ts: None,
        }
    }

    #[test]
    fn a_batch_appends_resends_and_gaps() {
        let lines: Vec<_> = [3, 4, 5, 9, 10, 15].into_iter().map(l).collect();
        let p = plan(5, &lines).unwrap();
        assert_eq!(p.resent, [0, 1]);
        assert_eq!(p.fresh, [2, 3, 4, 5]);
        assert_eq!(p.gaps, [(6, 8), (11, 14)]);
        assert_eq!(p.next_line, 16);
        // Everything already stored: nothing fresh, the log's next number unchanged.
        let p = plan(20, &lines).unwrap();
        assert!(p.fresh.is_empty() && p.gaps.is_empty());
        assert_eq!(p.next_line, 20);
    }

    #[test]
    fn numbers_rise_within_a_batch() {
        let lines: Vec<_> = [1, 2, 2].into_iter().map(l).collect();
        let e = plan(1, &lines).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("lines[2].n"));
    }

    #[test]
    fn ndjson_names_the_line_at_fault() {
        let ok = from_ndjson(
            b"{\"n\":1,\"text\":\"a\"}\r\n\n{\"n\":2,\"text\":\"b\",\"level\":\"debug\"}\n",
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].level, Some(LogLevel::Info));
        let e =
            from_ndjson(b"{\"n\":1,\"text\":\"a\"}\n{\"n\":2,\"text\":\"b\",\"level\":\"loud\"}")
                .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("lines[1].level"));
        let e = from_ndjson(b"{\"n\":1,\"text\":\"a\"}\n{\"n\":2,\"text\":\"\xff\"}").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("lines[1]"));
        let e = from_ndjson(b"{\"n\":1,\"text\":\"a\"}\n{\"n\":0,\"text\":\"b\"}").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("lines[1].n"));
    }

    #[test]
    fn a_json_batch_is_an_array() {
        assert_eq!(from_json(b"[]").unwrap(), []);
        let e = from_json(b"{\"n\":1}").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("body"));
        let e = from_json(b"[{\"n\":1,\"text\":7}]").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("lines[0].text"));
        let e = from_json(b"[\"\xc3\x28\"]").unwrap_err();
        assert!(e.error.contains("UTF-8"), "{}", e.error);
    }
}
