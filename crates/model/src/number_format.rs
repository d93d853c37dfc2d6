//! Counts as people read them: `1,050,000 lines`, not `1050000 lines`.

/// The count `n` (any unsigned integer) with its digits grouped by thousands (`1,050,000`).
pub fn grouped(n: impl std::fmt::Display) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// The count `n` grouped, with the noun in the number it takes: `1 error`, `2,000 errors`.
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { one } else { many })
}

/// `v` pixels as a CSS length with at most two decimals (`12.5px`, `-3px`), written with integer
/// formatting: `f64`'s `Display` would bring `core`'s float printing (Grisu and Dragon) into the
/// page's first chunk. A hundredth of a pixel is below what a screen shows; not finite reads
/// as `0px`.
#[must_use]
pub fn css_px(v: f64) -> String {
    // Past 2^53 hundredths an f64 has no fractional digits left to show.
    let hundredths = if v.is_finite() {
        (v * 100.0).round().clamp(-9.0e15, 9.0e15) as i64
    } else {
        0
    };
    let (sign, abs) = if hundredths < 0 {
        ("-", hundredths.unsigned_abs())
    } else {
        ("", hundredths.unsigned_abs())
    };
    let (whole, frac) = (abs / 100, abs % 100);
    match frac {
        0 => format!("{sign}{whole}px"),
        f if f % 10 == 0 => format!("{sign}{whole}.{}px", f / 10),
        f => format!("{sign}{whole}.{f:02}px"),
    }
}

#[cfg(test)]
mod tests {
    use super::{counted, css_px, grouped};

    #[test]
    fn css_px_reads_as_the_float_would_to_two_decimals() {
        assert_eq!(css_px(0.0), "0px");
        assert_eq!(css_px(-0.0), "0px");
        assert_eq!(css_px(12.0), "12px");
        assert_eq!(css_px(12.5), "12.5px");
        assert_eq!(css_px(-3.25), "-3.25px");
        assert_eq!(css_px(0.05), "0.05px");
        assert_eq!(css_px(1234.567), "1234.57px");
        assert_eq!(css_px(-0.004), "0px");
        assert_eq!(css_px(f64::NAN), "0px");
        assert_eq!(css_px(f64::INFINITY), "0px");
        // What the float's own Display writes, where it has two decimals or fewer.
        for v in [0.5, 1.75, 28.0, 31.2, 4096.0, -17.5, 123_456.25] {
            assert_eq!(css_px(v), format!("{v}px"));
        }
    }

    #[test]
    fn nouns_agree_with_their_count() {
        assert_eq!(counted(0, "error", "errors"), "0 errors");
        assert_eq!(counted(1, "error", "errors"), "1 error");
        assert_eq!(counted(2, "line", "lines"), "2 lines");
        assert_eq!(counted(1_000_000, "line", "lines"), "1,000,000 lines");
    }

    #[test]
    fn groups_by_thousands() {
        assert_eq!(grouped(0_u64), "0");
        assert_eq!(grouped(999_u64), "999");
        assert_eq!(grouped(1_000_u64), "1,000");
        assert_eq!(grouped(50_000_u64), "50,000");
        assert_eq!(grouped(1_050_000_u64), "1,050,000");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
    }
}
