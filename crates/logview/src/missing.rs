//! The sentence that tells which line numbers never reached the page: `Lines 13-20 were not
//! received.`, from the gaps the [`LogStore`](crate::store::LogStore) recorded.

use crate::store::Gap;
use shipwatch_model::number_format::{counted, grouped};

/// Ranges named one by one; past this many the rest are counted, so that a broken feed with
/// hundreds of gaps gives a sentence one can read.
pub const RANGES_NAMED: usize = 3;

/// Which lines were not received, as a sentence; None when no line is missing. `gaps` are
/// the gaps the store kept (the first ones), `count` how many it saw in all.
pub fn missing_lines_sentence(gaps: &[Gap], count: u64) -> Option<String> {
    let shown: Vec<&Gap> = gaps
        .iter()
        .filter(|g| g.got > g.expected)
        .take(RANGES_NAMED)
        .collect();
    let first = shown.first()?;
    let others = count.saturating_sub(shown.len() as u64);
    let single = shown.len() == 1 && others == 0 && first.got - first.expected == 1;
    let named: Vec<String> = shown.iter().map(|g| range(g.expected, g.got - 1)).collect();
    let mut list = named.join(", ");
    if others > 0 {
        list.push_str(&format!(
            " and {}",
            counted(others, "other range", "other ranges")
        ));
    } else if let Some(at) = list.rfind(", ") {
        list.replace_range(at..at + 2, " and ");
    }
    Some(if single {
        format!("Line {list} was not received.")
    } else {
        format!("Lines {list} were not received.")
    })
}

/// `13-20`, or `13` for one line.
fn range(from: u64, to: u64) -> String {
    if from == to {
        grouped(from)
    } else {
        format!("{}-{}", grouped(from), grouped(to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap(expected: u64, got: u64) -> Gap {
        Gap { expected, got }
    }

    #[test]
    fn no_gap_says_nothing() {
        assert_eq!(missing_lines_sentence(&[], 0), None);
    }

    #[test]
    fn one_gap_names_its_lines() {
        // Line 12 arrived, then 21: lines 13 to 20 are missing.
        assert_eq!(
            missing_lines_sentence(&[gap(13, 21)], 1).as_deref(),
            Some("Lines 13-20 were not received.")
        );
    }

    #[test]
    fn one_missing_line_is_singular() {
        assert_eq!(
            missing_lines_sentence(&[gap(13, 14)], 1).as_deref(),
            Some("Line 13 was not received.")
        );
    }

    #[test]
    fn a_few_gaps_are_listed() {
        assert_eq!(
            missing_lines_sentence(&[gap(13, 21), gap(25, 26)], 2).as_deref(),
            Some("Lines 13-20 and 25 were not received.")
        );
        assert_eq!(
            missing_lines_sentence(&[gap(13, 21), gap(25, 26), gap(1_000, 2_001)], 3).as_deref(),
            Some("Lines 13-20, 25 and 1,000-2,000 were not received.")
        );
    }

    #[test]
    fn many_gaps_are_counted_past_the_first_ones() {
        let gaps: Vec<Gap> = (0..5).map(|k| gap(10 * k + 2, 10 * k + 4)).collect();
        assert_eq!(
            missing_lines_sentence(&gaps, 5).as_deref(),
            Some("Lines 2-3, 12-13, 22-23 and 2 other ranges were not received.")
        );
        // The store keeps the first gaps only; the count says how many there were.
        assert_eq!(
            missing_lines_sentence(&gaps[..4], 1_001).as_deref(),
            Some("Lines 2-3, 12-13, 22-23 and 998 other ranges were not received.")
        );
        assert_eq!(
            missing_lines_sentence(&gaps[..1], 2).as_deref(),
            Some("Lines 2-3 and 1 other range were not received.")
        );
    }

    #[test]
    fn the_store_records_what_the_sentence_says() {
        use crate::store::LogStore;
        use shipwatch_model::{LogLevel, LogLine};
        let mut store = LogStore::default();
        for n in (1..=12).chain(21..=30) {
            store.push(LogLine {
                n,
                ts: 0,
                level: LogLevel::Info,
                stage: "deploy".into(),
                text: format!("line {n}"),
                hint: None,
            });
        }
        assert_eq!(
            missing_lines_sentence(store.gaps(), store.gap_count()).as_deref(),
            Some("Lines 13-20 were not received.")
        );
    }
}
