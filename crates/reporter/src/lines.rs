//! A command's output as log lines: bytes split at newlines, whatever the command writes.
//!
//! - ANSI escape sequences are kept (the page renders them);
//! - a line that is not valid UTF-8 is converted lossily (U+FFFD for each bad sequence);
//! - a trailing `\r` (CRLF output) is dropped; other carriage returns stay;
//! - a line longer than the limit is sent as several lines of at most the limit, cut at
//!   character boundaries, so nothing is lost (the server cuts longer texts and keeps only
//!   the start), and memory stays bounded whatever the command writes without a newline.

/// Splits a byte stream into lines of at most `max` bytes of UTF-8 text.
#[derive(Debug)]
pub struct LineSplitter {
    pending: Vec<u8>,
    max: usize,
}

impl LineSplitter {
    /// A splitter whose lines hold at most `max` bytes (at least 4: one character).
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            pending: Vec::new(),
            max: max.max(4),
        }
    }

    /// Takes the next bytes of the stream; appends the lines they complete to `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<String>) {
        while let Some(i) = bytes.iter().position(|&b| b == b'\n') {
            self.pending.extend_from_slice(&bytes[..i]);
            let mut line = std::mem::take(&mut self.pending);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            chunks(&line, self.max, out);
            bytes = &bytes[i + 1..];
        }
        self.pending.extend_from_slice(bytes);
        // A line that keeps growing without a newline goes out in pieces of `max` bytes,
        // never in the middle of a UTF-8 sequence that may still be completed.
        while self.pending.len() > self.max + 3 {
            let mut cut = self.max;
            while cut > self.max - 3 && is_continuation(self.pending[cut]) {
                cut -= 1;
            }
            let head: Vec<u8> = self.pending.drain(..cut).collect();
            chunks(&head, self.max, out);
        }
    }

    /// The stream ended: the last line, if it had no newline.
    pub fn finish(&mut self, out: &mut Vec<String>) {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            chunks(&line, self.max, out);
        }
    }
}

fn is_continuation(b: u8) -> bool {
    b & 0b1100_0000 == 0b1000_0000
}

/// `bytes` as text (lossily), in pieces of at most `max` bytes cut at character boundaries.
fn chunks(bytes: &[u8], max: usize, out: &mut Vec<String>) {
    let text = String::from_utf8_lossy(bytes);
    let mut rest: &str = &text;
    loop {
        if rest.len() <= max {
            out.push(rest.to_string());
            return;
        }
        let mut end = max;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        out.push(rest[..end].to_string());
        rest = &rest[end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(max: usize, parts: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        for p in parts {
            s.push(p, &mut out);
        }
        s.finish(&mut out);
        out
    }

    #[test]
    fn lines_are_split_at_newlines_across_reads_and_keep_ansi() {
        let out = split(100, &[b"one\ntw", b"o\r\n\x1b[31mred\x1b[0m\n\nlast"]);
        assert_eq!(out, ["one", "two", "\u{1b}[31mred\u{1b}[0m", "", "last"]);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        let out = split(100, &[b"ok \xff\xfe bytes\n", b"caf\xc3", b"\xa9\n"]);
        assert_eq!(out, ["ok \u{fffd}\u{fffd} bytes", "café"]);
    }

    #[test]
    fn a_long_line_goes_out_in_pieces_at_character_boundaries() {
        let line = "é".repeat(10); // 20 bytes
        let out = split(7, &[line.as_bytes(), b"\n"]);
        assert!(out.iter().all(|l| l.len() <= 7), "{out:?}");
        assert_eq!(out.concat(), line);
        // Without a newline, the pending bytes stay bounded.
        let mut s = LineSplitter::new(8);
        let mut out = Vec::new();
        for _ in 0..1000 {
            s.push(b"abcdef", &mut out);
            assert!(s.pending.len() <= 11);
        }
        s.finish(&mut out);
        assert_eq!(out.concat().len(), 6000);
        assert!(out.iter().all(|l| l.len() <= 8));
    }

    #[test]
    fn a_multibyte_character_split_between_reads_at_the_limit_survives() {
        // 'é' straddles the limit and the read boundary.
        let out = split(4, &[b"abc\xc3", b"\xa9def\n"]);
        assert_eq!(out.concat(), "abcédef");
        assert!(out.iter().all(|l| !l.contains('\u{fffd}')), "{out:?}");
    }
}
