//! Line permalinks in the URL fragment: `#L123` for one line, `#L10-L20` for a range.

/// A selected line or range of lines (inclusive, `first <= last`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LineSpan {
    /// First line number.
    pub first: u64,
    /// Last line number (equal to `first` for one line).
    pub last: u64,
}

impl LineSpan {
    /// One line.
    pub fn one(n: u64) -> Self {
        LineSpan { first: n, last: n }
    }

    /// The span between two lines, in either order.
    pub fn between(a: u64, b: u64) -> Self {
        LineSpan {
            first: a.min(b),
            last: a.max(b),
        }
    }

    /// True if line `n` is in the span.
    pub fn contains(&self, n: u64) -> bool {
        (self.first..=self.last).contains(&n)
    }

    /// The fragment for this span, without `#`: `L12` or `L10-L20`.
    pub fn fragment(&self) -> String {
        if self.first == self.last {
            format!("L{}", self.first)
        } else {
            format!("L{}-L{}", self.first, self.last)
        }
    }

    /// Reads a fragment (with or without its `#`); anything else is `None`.
    pub fn parse(fragment: &str) -> Option<Self> {
        let f = fragment.strip_prefix('#').unwrap_or(fragment);
        let (a, b) = match f.split_once('-') {
            Some((a, b)) => (a, b),
            None => (f, f),
        };
        let num = |s: &str| -> Option<u64> {
            let digits = s.strip_prefix('L')?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse().ok().filter(|&n| n > 0)
        };
        Some(LineSpan::between(num(a)?, num(b)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(LineSpan::parse("#L123"), Some(LineSpan::one(123)));
        assert_eq!(LineSpan::parse("L7"), Some(LineSpan::one(7)));
        assert_eq!(
            LineSpan::parse("#L20-L10"),
            Some(LineSpan {
                first: 10,
                last: 20
            })
        );
        assert_eq!(LineSpan::between(3, 9).fragment(), "L3-L9");
        assert_eq!(LineSpan::one(3).fragment(), "L3");
        assert!(LineSpan::between(3, 9).contains(9));
        assert!(!LineSpan::between(3, 9).contains(10));
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "",
            "#",
            "#L",
            "#L0",
            "#Lx",
            "#L1-",
            "#L-2",
            "#l12",
            "#L1-L2-L3",
            "#L+1",
            "#L99999999999999999999999",
        ] {
            assert_eq!(LineSpan::parse(bad), None, "{bad}");
        }
    }
}
