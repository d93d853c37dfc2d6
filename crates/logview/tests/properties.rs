//! Property tests: the ANSI parser never panics and agrees with itself; the virtual window
//! always stays in bounds, shows the row at the scroll top and renders a bounded count.

use proptest::prelude::*;
use shipwatch_logview::ansi::{parse, plain_text};
use shipwatch_logview::search::Query;
use shipwatch_logview::window::VirtualList;

/// Strings rich in the characters the parser cares about, mixed with arbitrary ones.
fn terminalish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<char>().prop_map(String::from),
        Just("\x1b".to_string()),
        Just("\x1b[".to_string()),
        Just("\x1b]".to_string()),
        Just("\r".to_string()),
        Just("\x07".to_string()),
        Just("\x1b\\".to_string()),
        Just("\u{9b}".to_string()),
        "[0-9;:]{0,12}[mKAHJ?]".prop_map(|s| s),
        "\\x1b\\[[0-9;:]{0,16}m".prop_map(|s| s),
        "[a-zA-Z é日%\t]{0,8}".prop_map(|s| s),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn ansi_never_panics_and_spans_agree_with_plain_text(text in terminalish()) {
        let plain = plain_text(&text);
        let spans = parse(&text);
        prop_assert!(!plain.contains('\x1b'));
        prop_assert!(!plain.chars().any(|c| c.is_control() && c != '\t'));
        let joined: String = spans.iter().map(|s| s.text.as_str()).collect();
        prop_assert_eq!(&joined, &plain);
        prop_assert!(spans.iter().all(|s| !s.text.is_empty()));
        prop_assert!(spans.windows(2).all(|w| w[0].style != w[1].style));
        for span in &spans {
            let _ = span.style.css_classes();
            let _ = span.style.css_inline();
        }
    }

    #[test]
    fn ansi_handles_any_string(text in any::<String>()) {
        let plain = plain_text(&text);
        prop_assert!(!plain.contains('\x1b'));
        let joined: String = parse(&text).iter().map(|s| s.text.as_str()).collect();
        prop_assert_eq!(joined, plain);
    }

    #[test]
    fn text_without_controls_is_unchanged(text in "[^\\x00-\\x1f\\x7f-\\u{9f}]{0,64}") {
        prop_assert_eq!(plain_text(&text), text);
    }

    #[test]
    fn search_ranges_are_sorted_disjoint_non_empty_on_boundaries(
        text in "[aAéÉİi\u{307}x ]{0,24}",
        pattern in "[aAéÉİi\u{307}x]{1,3}",
        case_sensitive in any::<bool>(),
        regex in any::<bool>(),
    ) {
        let query = Query { pattern, case_sensitive, regex };
        let matcher = query.compile().unwrap();
        let ranges = matcher.find_in(&text);
        let mut last_end = 0;
        for r in &ranges {
            prop_assert!(r.start < r.end);
            prop_assert!(r.start >= last_end);
            prop_assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
            last_end = r.end;
        }
        prop_assert_eq!(matcher.count_in(&text), ranges.len());
        prop_assert_eq!(matcher.is_match(&text), !ranges.is_empty());
    }

    #[test]
    fn window_stays_in_bounds_and_shows_the_top_row(
        total in 0usize..3_000_000,
        row_height in 1.0f64..64.0,
        viewport in 0.0f64..4_000.0,
        overscan in 0usize..50,
        fraction in -0.1f64..1.1,
    ) {
        let list = VirtualList::new(total, row_height, viewport).with_overscan(overscan);
        let scroll_top = fraction * list.max_scroll_top().max(1.0);
        let w = list.window(scroll_top);
        prop_assert!(w.start <= w.end && w.end <= total);
        prop_assert!(w.content_height <= list.max_scroll_height.max(2.0 * viewport) + 1e-6);
        let bound = (viewport / row_height).ceil() as usize + 1 + 2 * overscan;
        prop_assert!(w.len() <= bound, "{} rows > bound {}", w.len(), bound);
        prop_assert!(w.top_spacer >= 0.0 && w.bottom_spacer >= 0.0);
        match list.row_at(scroll_top) {
            None => prop_assert_eq!(total, 0),
            Some(top) => {
                prop_assert!(w.rows().contains(&top));
                // The top row is drawn where the viewport's top is (within a row).
                let s = scroll_top.clamp(0.0, list.max_scroll_top());
                let y = w.offset_top + (top - w.start) as f64 * row_height;
                prop_assert!(y <= s + 1e-6 * s.max(1.0) && y + row_height > s - 1e-6 * s.max(1.0));
            }
        }
    }

    #[test]
    fn scroll_to_row_round_trips(
        total in 1usize..3_000_000,
        row_height in 1.0f64..64.0,
        viewport in 0.0f64..2_000.0,
        row_fraction in 0.0f64..1.0,
    ) {
        let list = VirtualList::new(total, row_height, viewport);
        let row = ((total as f64 * row_fraction) as usize).min(total - 1);
        let s = list.scroll_top_for_row(row);
        prop_assert!(s >= 0.0 && s <= list.max_scroll_top());
        let top = list.row_at(s).unwrap();
        // Either the row is at the top, or the list is at the bottom (row in view).
        prop_assert!(top == row || (top < row && list.window(s).rows().contains(&row)));
    }
}
