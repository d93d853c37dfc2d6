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

#[cfg(test)]
mod tests {
    use super::{counted, grouped};

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
