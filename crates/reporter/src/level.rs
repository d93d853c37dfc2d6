//! The level of a line: what the page colours and what its error summary picks.
//!
//! stdout is `info` and stderr `warning` (tools write progress and warnings there, not only
//! failures), unless the line looks like an error: then `error`, from either stream.

use shipwatch_model::LogLevel;

/// Which pipe a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The command's standard output.
    Stdout,
    /// The command's standard error.
    Stderr,
}

/// The level of `text`, written on `stream`.
#[must_use]
pub fn level_of(stream: Stream, text: &str) -> LogLevel {
    if looks_like_error(text) {
        LogLevel::Error
    } else if stream == Stream::Stderr {
        LogLevel::Warning
    } else {
        LogLevel::Info
    }
}

/// Whether a line reads as a failure: it starts with an error word (`error`, `fatal`,
/// `panic`, `failed`, `exception`, `traceback`, as compilers, shells and runtimes begin
/// theirs), carries a logger's error level (`[error]`, `level=error`, ` ERROR `), Rust's
/// `panicked at`, or is written in red (an ANSI red foreground at its start). "0 errors" and
/// "error-free" do not count.
#[must_use]
pub fn looks_like_error(text: &str) -> bool {
    if starts_red(text) {
        return true;
    }
    let plain = strip_ansi(text);
    let trimmed = plain.trim_start();
    let lower = trimmed.to_ascii_lowercase();
    const STARTS: [&str; 9] = [
        "error:",
        "error[",
        "error ",
        "fatal",
        "panic:",
        "failed",
        "failure:",
        "exception",
        "traceback (most recent call last)",
    ];
    if STARTS.iter().any(|s| lower.starts_with(s)) || lower == "error" {
        return true;
    }
    const ANYWHERE: [&str; 6] = [
        "[error]",
        "level=error",
        "\"level\":\"error\"",
        "panicked at",
        " error: ",
        "[fatal]",
    ];
    if ANYWHERE.iter().any(|s| lower.contains(s)) {
        return true;
    }
    // A logger's upper-case level as a word of its own: `12:00:01 ERROR connection refused`.
    plain
        .split(|c: char| c.is_whitespace() || c == '|' || c == ':')
        .take(6)
        .any(|w| w == "ERROR" || w == "FATAL" || w == "CRITICAL")
}

/// Whether the text opens with an SGR sequence that sets a red foreground (31, 91, or
/// 38;5;1/9), as most tools colour their errors.
fn starts_red(text: &str) -> bool {
    let mut rest = text;
    while let Some(after) = rest.strip_prefix("\u{1b}[") {
        let Some(end) = after.find(|c: char| !(c.is_ascii_digit() || c == ';')) else {
            return false;
        };
        if !after[end..].starts_with('m') {
            return false;
        }
        let params: Vec<&str> = after[..end].split(';').collect();
        let red = params.iter().any(|p| *p == "31" || *p == "91")
            || params
                .windows(3)
                .any(|w| w[0] == "38" && w[1] == "5" && (w[2] == "1" || w[2] == "9"));
        if red {
            return true;
        }
        rest = &after[end + 1..];
    }
    false
}

/// The text without ANSI escape sequences (CSI and OSC), for matching words.
#[must_use]
pub fn strip_ansi(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\u{1b}') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('[') => {
                chars.next();
                // Parameters and intermediates, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                chars.next();
                // Up to BEL or ST (ESC \).
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {
                chars.next();
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use LogLevel::{Error, Info, Warning};

    #[test]
    fn stderr_is_a_warning_unless_it_looks_like_an_error() {
        let cases: [(Stream, &str, LogLevel); 18] = [
            (Stream::Stdout, "Compiling api v0.1.0", Info),
            (Stream::Stderr, "Compiling api v0.1.0", Warning),
            (Stream::Stderr, "warning: unused variable", Warning),
            (Stream::Stderr, "error: could not compile `api`", Error),
            (Stream::Stderr, "error[E0308]: mismatched types", Error),
            (Stream::Stdout, "Error: connection refused", Error),
            (
                Stream::Stderr,
                "  FATAL: role \"api\" does not exist",
                Error,
            ),
            (
                Stream::Stderr,
                "thread 'main' panicked at src/main.rs:3:5",
                Error,
            ),
            (
                Stream::Stdout,
                "2026-12-05T07:00:00Z ERROR readiness probe failed",
                Error,
            ),
            (Stream::Stdout, "level=error msg=\"rollout failed\"", Error),
            (Stream::Stdout, "[error] timeout waiting for api-2", Error),
            (Stream::Stderr, "Traceback (most recent call last):", Error),
            (Stream::Stderr, "\u{1b}[31mdeploy failed\u{1b}[0m", Error),
            (Stream::Stderr, "\u{1b}[1;91mno such host\u{1b}[0m", Error),
            (
                Stream::Stdout,
                "\u{1b}[32mok\u{1b}[0m 0 errors, 2 warnings",
                Info,
            ),
            (Stream::Stdout, "the build is error-free", Info),
            (Stream::Stdout, "handling errors gracefully", Info),
            (Stream::Stderr, "\u{1b}[0Kerror: exit status 1", Error),
        ];
        for (stream, text, want) in cases {
            assert_eq!(level_of(stream, text), want, "{stream:?} {text:?}");
        }
    }

    #[test]
    fn ansi_is_stripped_for_matching_only() {
        assert_eq!(strip_ansi("\u{1b}[1;31mred\u{1b}[0m plain"), "red plain");
        assert_eq!(
            strip_ansi("\u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{1b}\\"),
            "link"
        );
    }
}
