//! A strict reader of a subset of JSON, for the fast decoding path (`fast_decode`).
//!
//! It reads the text once, front to back, with no intermediate tree. Where it answers, it
//! gives what serde_json gives for the same text; it answers `None` for anything it does not
//! take exactly as serde_json would (numbers other than plain unsigned integers, strings with
//! unescaped control characters or lone surrogates, ...), and the caller gives up on the frame.
//! Values of unknown fields are skipped ([`Cursor::skip`]) under the same rule: only what
//! serde_json is sure to accept when it buffers them.

use serde::de::{DeserializeOwned, IntoDeserializer};
use std::borrow::Cow;

/// How deep a skipped value may nest: with the frame's own nesting, well under serde_json's
/// limit of 128.
const SKIP_DEPTH: u8 = 64;

/// A position in a JSON text.
pub(super) struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// At the start of `text`.
    pub(super) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Skips JSON whitespace and says which byte follows.
    fn next_byte(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.pos += 1;
        }
        self.peek()
    }

    /// Takes `byte` (after whitespace) if it comes next.
    fn take(&mut self, byte: u8) -> bool {
        let next = self.next_byte() == Some(byte);
        self.pos += usize::from(next);
        next
    }

    /// `byte` (after whitespace), or `None`.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.take(byte).then_some(())
    }

    /// Only whitespace is left.
    pub(super) fn at_end(&mut self) -> bool {
        self.next_byte().is_none()
    }

    /// An object's members, calling `member` with each key to read its value; starts before
    /// `{` or, with `opened`, after `{` and a first member that the caller read.
    pub(super) fn object(
        &mut self,
        opened: bool,
        mut member: impl FnMut(&mut Self, &str) -> Option<()>,
    ) -> Option<()> {
        if !opened {
            self.expect(b'{')?;
            if self.take(b'}') {
                return Some(());
            }
        } else if !self.take(b',') {
            return self.expect(b'}');
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            member(self, &key)?;
            if !self.take(b',') {
                return self.expect(b'}');
            }
        }
    }

    /// An object's first key, after its `{`: `None` for an empty object.
    pub(super) fn first_key(&mut self) -> Option<Cow<'a, str>> {
        self.expect(b'{')?;
        let key = self.string()?;
        self.expect(b':')?;
        Some(key)
    }

    /// An array of items read by `item`.
    pub(super) fn array<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Vec<T>> {
        self.expect(b'[')?;
        let mut out = Vec::new();
        if self.take(b']') {
            return Some(out);
        }
        loop {
            out.push(item(self)?);
            if !self.take(b',') {
                self.expect(b']')?;
                return Some(out);
            }
        }
    }

    /// `null` as `Some(None)`, else what `value` reads.
    pub(super) fn nullable<T>(
        &mut self,
        value: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<Option<T>> {
        if self.next_byte() != Some(b'n') {
            return value(self).map(Some);
        }
        let rest = self.text.get(self.pos..)?;
        rest.starts_with("null").then(|| self.pos += 4)?;
        Some(None)
    }

    /// An unsigned integer written plainly (`0` or digits not starting with 0, no sign, no
    /// fraction or exponent) that fits in a `u64`.
    pub(super) fn uint(&mut self) -> Option<u64> {
        self.next_byte()?;
        let start = self.pos;
        let mut n: u64 = 0;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            n = n.checked_mul(10)?.checked_add(u64::from(digit - b'0'))?;
            self.pos += 1;
        }
        let digits = self.pos - start;
        let leading_zero = digits > 1 && self.text.as_bytes().get(start) == Some(&b'0');
        let fraction = matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        (digits > 0 && !leading_zero && !fraction).then_some(n)
    }

    /// A signed integer written plainly that fits in an `i64`; not `-0` (serde_json may
    /// read it otherwise).
    pub(super) fn int(&mut self) -> Option<i64> {
        if self.next_byte()? != b'-' {
            return self.uint().and_then(|n| i64::try_from(n).ok());
        }
        self.pos += 1;
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return None;
        }
        let n = self.uint()?;
        if n == 0 {
            return None;
        }
        i64::try_from(-i128::from(n)).ok()
    }

    /// A two-element array, its elements read by `a` and `b`.
    pub(super) fn tuple2<A, B>(
        &mut self,
        a: impl FnOnce(&mut Self) -> Option<A>,
        b: impl FnOnce(&mut Self) -> Option<B>,
    ) -> Option<(A, B)> {
        self.expect(b'[')?;
        let first = a(self)?;
        self.expect(b',')?;
        let second = b(self)?;
        self.expect(b']')?;
        Some((first, second))
    }

    /// `true` or `false`.
    pub(super) fn boolean(&mut self) -> Option<bool> {
        self.next_byte()?;
        let rest = self.text.get(self.pos..)?;
        let (value, len) = if rest.starts_with("true") {
            (true, 4)
        } else if rest.starts_with("false") {
            (false, 5)
        } else {
            return None;
        };
        self.pos += len;
        Some(value)
    }

    /// Skips the value of a field the caller does not know, as serde ignores it; `None` for
    /// any value serde_json might refuse (nested deeper than [`SKIP_DEPTH`], a number it may
    /// find out of range, a string it would not take).
    pub(super) fn skip(&mut self) -> Option<()> {
        self.skip_nested(SKIP_DEPTH)
    }

    fn skip_nested(&mut self, depth: u8) -> Option<()> {
        match self.next_byte()? {
            b'{' => self.object(false, |c, _| c.skip_nested(depth.checked_sub(1)?)),
            b'[' => self
                .array(|c| c.skip_nested(depth.checked_sub(1)?))
                .map(drop),
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.number(),
            _ => ["null", "true", "false"].into_iter().find_map(|word| {
                let rest = self.text.get(self.pos..)?;
                rest.starts_with(word).then(|| self.pos += word.len())
            }),
        }
    }

    /// Any JSON number whose value is well within the range of an `f64`: serde_json refuses
    /// only numbers out of that range (and a value near its ends might round either way).
    fn number(&mut self) -> Option<()> {
        self.pos += usize::from(self.peek() == Some(b'-'));
        let start = self.pos;
        let int = self.digits();
        if int == 0 || (int > 1 && self.text.as_bytes().get(start) == Some(&b'0')) {
            return None;
        }
        // Where the first significant digit stands, in powers of ten, before the exponent.
        let lead = self.text.as_bytes()[start..self.pos]
            .iter()
            .position(|&d| d != b'0');
        let mut magnitude = lead.map(|z| (int - z) as i64);
        if self.peek() == Some(b'.') {
            self.pos += 1;
            let fraction = self.pos;
            if self.digits() == 0 {
                return None;
            }
            if magnitude.is_none() {
                let bytes = &self.text.as_bytes()[fraction..self.pos];
                magnitude = bytes.iter().position(|&d| d != b'0').map(|z| -(z as i64));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            let negative = self.peek() == Some(b'-');
            self.pos += usize::from(matches!(self.peek(), Some(b'+' | b'-')));
            let digits = self.pos;
            if !(1..=4).contains(&self.digits()) {
                return None;
            }
            let exp: i64 = self.text.get(digits..self.pos)?.parse().ok()?;
            magnitude = magnitude.map(|m| if negative { m - exp } else { m + exp });
        }
        // Zero whatever its exponent; otherwise well inside the range of an f64.
        magnitude
            .is_none_or(|m| (-290..290).contains(&m))
            .then_some(())
    }

    /// Skips decimal digits and says how many there were.
    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// An owned string.
    pub(super) fn owned(&mut self) -> Option<String> {
        self.string().map(Cow::into_owned)
    }

    /// A string naming a unit variant of `T` (serde's own decoding of it, unknown words included).
    pub(super) fn word<T: DeserializeOwned>(&mut self) -> Option<T> {
        let word = self.string()?;
        let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            (*word).into_deserializer();
        T::deserialize(de).ok()
    }

    /// A string, borrowed from the text unless it holds escapes.
    pub(super) fn string(&mut self) -> Option<Cow<'a, str>> {
        self.expect(b'"')?;
        // Made only once an escape is met.
        let mut unescaped: Option<String> = None;
        loop {
            let run = self.pos;
            while self
                .peek()
                .is_some_and(|b| !matches!(b, b'"' | b'\\' | 0..=0x1f))
            {
                self.pos += 1;
            }
            let chunk = self.text.get(run..self.pos)?;
            let end = self.peek()?;
            self.pos += 1;
            match (end, unescaped.as_mut()) {
                (b'"', None) => return Some(Cow::Borrowed(chunk)),
                (b'"', Some(s)) => {
                    s.push_str(chunk);
                    return unescaped.map(Cow::Owned);
                }
                (b'\\', _) => {
                    let s = unescaped.get_or_insert_with(String::new);
                    s.push_str(chunk);
                    s.push(self.escape()?);
                }
                _ => return None,
            }
        }
    }

    /// The character of an escape, after its backslash.
    fn escape(&mut self) -> Option<char> {
        let b = self.peek()?;
        self.pos += 1;
        Some(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4()?;
                if !(0xD800..0xDC00).contains(&high) {
                    // A lone low surrogate is not a char: `from_u32` says so.
                    return char::from_u32(high);
                }
                let rest = self.text.get(self.pos..)?;
                rest.starts_with("\\u").then(|| self.pos += 2)?;
                let low = self.hex4()?;
                if !(0xDC00..0xE000).contains(&low) {
                    return None;
                }
                char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))?
            }
            _ => return None,
        })
    }

    /// Four hex digits.
    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        self.pos += 4;
        digits
            .bytes()
            .try_fold(0, |n, d| Some(n * 16 + char::from(d).to_digit(16)?))
    }
}
