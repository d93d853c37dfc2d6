//! Search highlights laid over ANSI spans: a row's styled spans cut at match boundaries, so
//! the app renders each piece as one text node with the span's classes and, inside a match,
//! a `<mark>`.
//!
//! Match ranges are byte ranges in the line's plain text, and the spans' texts joined are
//! that plain text (see [`crate::ansi::parse`]), so both index the same string.

use crate::ansi::{Span, Style};
use std::ops::Range;

/// A run of text in one style, inside at most one match.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Piece {
    /// The visible text.
    pub text: String,
    /// Its ANSI look.
    pub style: Style,
    /// The index (in the given ranges) of the match this piece belongs to, if any.
    pub mark: Option<usize>,
}

/// Cuts spans at the boundaries of `ranges` (sorted, non-overlapping byte ranges into the
/// spans' joined text). Ranges that fall outside the text or off char boundaries are
/// clipped or ignored rather than trusted: this never panics.
pub fn mark_spans(spans: &[Span], ranges: &[Range<usize>]) -> Vec<Piece> {
    let mut out = Vec::with_capacity(spans.len() + 2 * ranges.len());
    let mut offset = 0;
    let mut r = 0;
    for span in spans {
        let text = span.text.as_str();
        let end = offset + text.len();
        let mut at = offset;
        while at < end {
            // Skip ranges that ended before this point.
            while r < ranges.len() && ranges[r].end <= at {
                r += 1;
            }
            let (cut, mark) = match ranges.get(r) {
                Some(m) if m.start <= at => (m.end.min(end), Some(r)),
                Some(m) if m.start < end => (m.start, None),
                _ => (end, None),
            };
            let (from, to) = (at - offset, cut - offset);
            let piece = match text.get(from..to) {
                Some(p) => p,
                // A range off a char boundary: give up on marking the rest of this span.
                None => {
                    push(&mut out, &text[from..], span.style, None);
                    break;
                }
            };
            push(&mut out, piece, span.style, mark);
            at = cut;
        }
        offset = end;
    }
    out
}

fn push(out: &mut Vec<Piece>, text: &str, style: Style, mark: Option<usize>) {
    if text.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(last) if last.style == style && last.mark == mark => last.text.push_str(text),
        _ => out.push(Piece {
            text: text.to_owned(),
            style,
            mark,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ansi::parse;

    fn joined(pieces: &[Piece]) -> String {
        pieces.iter().map(|p| p.text.as_str()).collect()
    }

    #[test]
    fn no_ranges_keeps_spans() {
        let spans = parse("\x1b[31mred\x1b[0m plain");
        let pieces = mark_spans(&spans, &[]);
        assert_eq!(pieces.len(), 2);
        assert_eq!(joined(&pieces), "red plain");
        assert!(pieces.iter().all(|p| p.mark.is_none()));
    }

    #[test]
    fn a_match_across_two_styles_is_cut_in_two_marked_pieces() {
        let spans = parse("\x1b[31mERR\x1b[0mOR here");
        let pieces = mark_spans(&spans, std::slice::from_ref(&(1..5)));
        let view: Vec<(&str, Option<usize>)> =
            pieces.iter().map(|p| (p.text.as_str(), p.mark)).collect();
        assert_eq!(
            view,
            vec![
                ("E", None),
                ("RR", Some(0)),
                ("OR", Some(0)),
                (" here", None)
            ]
        );
        assert_ne!(pieces[1].style, pieces[2].style);
    }

    #[test]
    fn several_matches_in_one_span() {
        let spans = parse("abcabcabc");
        let pieces = mark_spans(&spans, &[0..3, 6..9]);
        let view: Vec<(&str, Option<usize>)> =
            pieces.iter().map(|p| (p.text.as_str(), p.mark)).collect();
        assert_eq!(
            view,
            vec![("abc", Some(0)), ("abc", None), ("abc", Some(1))]
        );
    }

    #[test]
    fn bad_ranges_never_panic() {
        let spans = parse("héllo");
        // 2 is inside 'é'.
        let pieces = mark_spans(&spans, &[2..4, 40..50]);
        assert_eq!(joined(&pieces), "héllo");
        let pieces = mark_spans(&spans, std::slice::from_ref(&(0..100)));
        assert_eq!(joined(&pieces), "héllo");
        assert_eq!(pieces[0].mark, Some(0));
    }
}
