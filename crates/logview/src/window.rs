//! Virtual scrolling maths: which rows of a long, fixed-row-height list to put in the DOM
//! for a given scroll position, and where.
//!
//! # Scaling for huge lists
//!
//! Browsers cap an element's height: about 16.7M px in Firefox and older Chromium (33.5M in
//! current Chromium), and Safari misbehaves near its own limits. A million log rows of 24 px
//! need 24M px. So the scrollable height is capped at [`VirtualList::max_scroll_height`]
//! (default [`MAX_SCROLL_HEIGHT`], 10M px, well under every limit). Below the cap everything is
//! 1:1. Above it, the scroll position maps *proportionally*: scrolling a fraction `f` of the
//! way down shows the rows a fraction `f` of the way down the "virtual" (natural-height)
//! list. Formally, with `natural = rows × row_height` and `content = min(natural, cap)`:
//!
//! ```text
//! virtual_top = scroll_top × (natural − viewport) / (content − viewport)
//! ```
//!
//! so the top and the bottom of the list are reached exactly, and one pixel of scrolling
//! moves `(natural − viewport) / (content − viewport)` pixels of rows (2.4 for a million
//! 24 px rows: still smooth). Browsers may round `scrollTop` to whole pixels, so a jump to a
//! row can land up to that ratio of pixels off; [`VirtualList::row_at`] tolerates it.
//!
//! # Rendering
//!
//! Give the scroll container an inner element of height [`Window::content_height`] with
//! `position: relative; overflow: hidden`, and in it the rows `start..end` of the [`Window`],
//! moved down by `transform: translateY(offset_top px)`. With scaling, `offset_top` can be
//! slightly negative near the top and the overscan rows can reach past the content's bottom:
//! the `overflow: hidden` clips exactly those, which are off screen anyway. Without scaling,
//! the spacer form (`top_spacer` / `bottom_spacer` divs around the rows) is exact too.

use std::ops::Range;

/// The default cap on the scrollable height in px (see the module docs).
pub const MAX_SCROLL_HEIGHT: f64 = 10_000_000.0;

/// The default number of extra rows rendered above and below the viewport, so that fast
/// scrolling doesn't show blank space before the next frame.
pub const DEFAULT_OVERSCAN: usize = 10;

/// A list of fixed-height rows seen through a viewport.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VirtualList {
    /// Number of rows.
    pub total_rows: usize,
    /// Height of every row in px (invalid values are read as 1).
    pub row_height: f64,
    /// Height of the visible area in px (invalid values are read as 0).
    pub viewport_height: f64,
    /// Rows rendered beyond each edge of the viewport.
    pub overscan: usize,
    /// Cap on the scrollable height in px (see the module docs).
    pub max_scroll_height: f64,
}

/// What to render for one scroll position.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// First row to render.
    pub start: usize,
    /// One past the last row to render.
    pub end: usize,
    /// Where row `start` goes in the scroll content, in px (`translateY`).
    pub offset_top: f64,
    /// Height of a spacer above the rows (`offset_top`, never negative).
    pub top_spacer: f64,
    /// Height of a spacer below the rows (never negative).
    pub bottom_spacer: f64,
    /// Height of the scrollable content, in px (capped).
    pub content_height: f64,
}

impl Window {
    /// The rows to render.
    pub fn rows(&self) -> Range<usize> {
        self.start..self.end
    }

    /// How many rows to render.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True if there is nothing to render.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

impl VirtualList {
    /// A list with the default overscan and height cap.
    pub fn new(total_rows: usize, row_height: f64, viewport_height: f64) -> Self {
        VirtualList {
            total_rows,
            row_height,
            viewport_height,
            overscan: DEFAULT_OVERSCAN,
            max_scroll_height: MAX_SCROLL_HEIGHT,
        }
    }

    /// The same list with another overscan.
    pub fn with_overscan(self, overscan: usize) -> Self {
        VirtualList { overscan, ..self }
    }

    /// The same list with another height cap.
    pub fn with_max_scroll_height(self, max_scroll_height: f64) -> Self {
        VirtualList {
            max_scroll_height,
            ..self
        }
    }

    fn row_h(&self) -> f64 {
        if self.row_height.is_finite() && self.row_height > 0.0 {
            self.row_height
        } else {
            1.0
        }
    }

    fn viewport(&self) -> f64 {
        if self.viewport_height.is_finite() && self.viewport_height > 0.0 {
            self.viewport_height
        } else {
            0.0
        }
    }

    /// The list's height without the cap.
    pub fn natural_height(&self) -> f64 {
        self.total_rows as f64 * self.row_h()
    }

    /// The height to give the scroll content: natural, or the cap when scaled.
    pub fn content_height(&self) -> f64 {
        let natural = self.natural_height();
        let cap = if self.max_scroll_height.is_finite() && self.max_scroll_height > 0.0 {
            self.max_scroll_height
        } else {
            MAX_SCROLL_HEIGHT
        };
        // A cap below two viewports (a misconfiguration) would leave little or nothing
        // to scroll: keep at least that much.
        natural.min(cap.max(2.0 * self.viewport()))
    }

    /// True if scroll positions are scaled (the natural height exceeds the cap).
    pub fn is_scaled(&self) -> bool {
        self.natural_height() > self.content_height()
    }

    /// The largest scroll top: the list scrolled to the bottom (follow-tail target).
    pub fn max_scroll_top(&self) -> f64 {
        (self.content_height() - self.viewport()).max(0.0)
    }

    /// Largest virtual top (natural-height coordinates).
    fn max_virtual_top(&self) -> f64 {
        (self.natural_height() - self.viewport()).max(0.0)
    }

    fn clamp_scroll(&self, scroll_top: f64) -> f64 {
        if scroll_top.is_finite() {
            scroll_top.clamp(0.0, self.max_scroll_top())
        } else {
            0.0
        }
    }

    /// The position in the natural-height list shown at the viewport's top.
    pub fn virtual_top(&self, scroll_top: f64) -> f64 {
        let s = self.clamp_scroll(scroll_top);
        let max_scroll = self.max_scroll_top();
        if !self.is_scaled() || max_scroll <= 0.0 {
            return s.min(self.max_virtual_top());
        }
        (s / max_scroll * self.max_virtual_top()).min(self.max_virtual_top())
    }

    /// The scroll top that shows a natural-height position at the viewport's top.
    fn scroll_top_for_virtual(&self, virtual_top: f64) -> f64 {
        let v = virtual_top.clamp(0.0, self.max_virtual_top());
        let max_virtual = self.max_virtual_top();
        if !self.is_scaled() || max_virtual <= 0.0 {
            return v.min(self.max_scroll_top());
        }
        v / max_virtual * self.max_scroll_top()
    }

    /// The row at the viewport's top for a scroll position (`None` if there are no rows).
    pub fn row_at(&self, scroll_top: f64) -> Option<usize> {
        if self.total_rows == 0 {
            return None;
        }
        // A hair of tolerance so that a scroll top computed for row r (then rounded back
        // through floating point) reads as row r, not the row above.
        let row = ((self.virtual_top(scroll_top) + 1e-6) / self.row_h()).floor() as usize;
        Some(row.min(self.total_rows - 1))
    }

    /// The most rows that can be at least partly visible at once.
    pub fn max_visible_rows(&self) -> usize {
        ((self.viewport() / self.row_h()).ceil() as usize).saturating_add(1)
    }

    /// The rows to render for a scroll position, and where to put them.
    pub fn window(&self, scroll_top: f64) -> Window {
        let content_height = self.content_height();
        let Some(first_visible) = self.row_at(scroll_top) else {
            return Window {
                start: 0,
                end: 0,
                offset_top: 0.0,
                top_spacer: 0.0,
                bottom_spacer: content_height,
                content_height,
            };
        };
        let rh = self.row_h();
        let s = self.clamp_scroll(scroll_top);
        let vt = self.virtual_top(scroll_top);
        // Rows overlapping [vt, vt + viewport), capped by what can fit (float-safe).
        let visible_end = (((vt + self.viewport()) / rh).ceil() as usize)
            .max(first_visible + 1)
            .min(first_visible.saturating_add(self.max_visible_rows()))
            .min(self.total_rows);
        let start = first_visible.saturating_sub(self.overscan);
        let end = visible_end
            .saturating_add(self.overscan)
            .min(self.total_rows);
        // Row `start` sits `start*rh - vt` px from the viewport's top, which is at `s`.
        let offset_top = s + start as f64 * rh - vt;
        let rendered = (end - start) as f64 * rh;
        Window {
            start,
            end,
            offset_top,
            top_spacer: offset_top.max(0.0),
            bottom_spacer: (content_height - offset_top.max(0.0) - rendered).max(0.0),
            content_height,
        }
    }

    /// The scroll top that puts a row at the viewport's top (clamped at the bottom),
    /// e.g. for a permalink `#L123`.
    pub fn scroll_top_for_row(&self, row: usize) -> f64 {
        self.scroll_top_for_virtual(row.min(self.total_rows) as f64 * self.row_h())
    }

    /// The scroll top that puts a row in the middle of the viewport (search navigation:
    /// the match keeps context above and below).
    pub fn scroll_top_to_center_row(&self, row: usize) -> f64 {
        let rh = self.row_h();
        let v = row.min(self.total_rows) as f64 * rh - (self.viewport() - rh) / 2.0;
        self.scroll_top_for_virtual(v.max(0.0))
    }

    /// The scroll top that brings a row fully into view by scrolling as little as possible,
    /// or `None` if it is already fully visible.
    pub fn scroll_top_to_reveal(&self, row: usize, scroll_top: f64) -> Option<f64> {
        let rh = self.row_h();
        let vt = self.virtual_top(scroll_top);
        let top = row.min(self.total_rows) as f64 * rh;
        if top < vt {
            Some(self.scroll_top_for_virtual(top))
        } else if top + rh > vt + self.viewport() {
            Some(self.scroll_top_for_virtual(top + rh - self.viewport()))
        } else {
            None
        }
    }

    /// True if the viewport shows the end of the list (see [`is_at_bottom`]).
    pub fn is_at_bottom(&self, scroll_top: f64, tolerance: f64) -> bool {
        is_at_bottom(
            scroll_top,
            self.viewport(),
            self.content_height(),
            tolerance,
        )
    }
}

/// Follow-tail helper: true if the viewport's bottom is within `tolerance` px of the
/// content's bottom (the user is at the end, so new lines should keep it there; scrolling up
/// stops following). A tolerance of a few px absorbs fractional scroll positions on zoomed
/// or high-DPI screens. Content shorter than the viewport is always at the bottom.
pub fn is_at_bottom(scroll_top: f64, viewport: f64, content: f64, tolerance: f64) -> bool {
    if !(scroll_top.is_finite() && viewport.is_finite() && content.is_finite()) {
        return true;
    }
    let tolerance = if tolerance.is_finite() {
        tolerance.max(0.0)
    } else {
        0.0
    };
    scroll_top + viewport >= content - tolerance
}

/// Rows of one height where at most one row is taller (an expanded table row showing its
/// details), seen through a viewport that may start above or below the list (the page scrolls,
/// not the list). Unscaled: meant for thousands of rows, not millions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TallRowList {
    /// Number of rows.
    pub total_rows: usize,
    /// Height of every ordinary row in px (invalid values are read as 1).
    pub row_height: f64,
    /// The taller row and how many px it adds to an ordinary row.
    pub tall: Option<(usize, f64)>,
    /// Rows rendered beyond each edge of the viewport.
    pub overscan: usize,
}

impl TallRowList {
    fn row_h(&self) -> f64 {
        if self.row_height.is_finite() && self.row_height > 0.0 {
            self.row_height
        } else {
            1.0
        }
    }

    /// The taller row, if it is in the list, and its extra height (never negative).
    fn tall(&self) -> Option<(usize, f64)> {
        self.tall
            .filter(|(i, _)| *i < self.total_rows)
            .map(|(i, extra)| {
                (
                    i,
                    if extra.is_finite() {
                        extra.max(0.0)
                    } else {
                        0.0
                    },
                )
            })
    }

    /// Where row `i` starts, from the list's top (`i == total_rows` gives the list's height).
    pub fn top_of(&self, i: usize) -> f64 {
        let i = i.min(self.total_rows);
        let extra = match self.tall() {
            Some((t, extra)) if i > t => extra,
            _ => 0.0,
        };
        i as f64 * self.row_h() + extra
    }

    /// The list's height.
    pub fn height(&self) -> f64 {
        self.top_of(self.total_rows)
    }

    /// The row under a position (clamped to the list).
    fn row_at(&self, y: f64) -> usize {
        if self.total_rows == 0 {
            return 0;
        }
        let h = self.row_h();
        let y = if y.is_finite() { y.max(0.0) } else { 0.0 };
        let row = match self.tall() {
            Some((t, extra)) if y >= self.top_of(t) + h + extra => ((y - extra) / h) as usize,
            Some((t, _)) if y >= self.top_of(t) => t,
            _ => (y / h) as usize,
        };
        row.min(self.total_rows - 1)
    }

    /// What to render when the viewport shows `view_top..view_top + view_height` of the list
    /// (`view_top` is negative while the list starts below the viewport's top). The
    /// `offset_top` and `top_spacer` of the window are the height of the rows above `start`.
    pub fn window(&self, view_top: f64, view_height: f64) -> Window {
        let height = self.height();
        let view_height = if view_height.is_finite() {
            view_height.max(0.0)
        } else {
            0.0
        };
        let view_top = if view_top.is_finite() { view_top } else { 0.0 };
        let (start, end) = if self.total_rows == 0 || view_top + view_height <= 0.0 {
            // The list is below the viewport: render its first rows, ready for scrolling.
            (0, self.overscan.min(self.total_rows))
        } else if view_top >= height {
            // The list is above the viewport: its last rows.
            (
                self.total_rows.saturating_sub(self.overscan),
                self.total_rows,
            )
        } else {
            let first = self.row_at(view_top);
            let last = self.row_at(view_top + view_height);
            (
                first.saturating_sub(self.overscan),
                (last + 1 + self.overscan).min(self.total_rows),
            )
        };
        let top = self.top_of(start);
        Window {
            start,
            end,
            offset_top: top,
            top_spacer: top,
            bottom_spacer: (height - self.top_of(end)).max(0.0),
            content_height: height,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_list_renders_visible_rows_plus_overscan() {
        let list = VirtualList::new(1_000, 20.0, 200.0).with_overscan(5);
        assert!(!list.is_scaled());
        assert_eq!(list.content_height(), 20_000.0);
        let w = list.window(0.0);
        assert_eq!(w.rows(), 0..15);
        assert_eq!((w.offset_top, w.top_spacer), (0.0, 0.0));
        assert_eq!(w.bottom_spacer, 20_000.0 - 15.0 * 20.0);
        let w = list.window(1_010.0); // row 50 half hidden at the top
        assert_eq!(w.rows(), 45..(51 + 10 + 5));
        assert_eq!(w.offset_top, 45.0 * 20.0);
        assert_eq!(
            w.top_spacer + w.len() as f64 * 20.0 + w.bottom_spacer,
            20_000.0
        );
        let w = list.window(1e9); // clamped to the bottom
        assert_eq!(w.end, 1_000);
        assert_eq!(w.start, 1_000 - 10 - 5);
    }

    #[test]
    fn empty_and_short_lists() {
        let w = VirtualList::new(0, 20.0, 500.0).window(100.0);
        assert!(w.is_empty());
        assert_eq!(w.content_height, 0.0);
        let list = VirtualList::new(3, 20.0, 500.0);
        assert_eq!(list.window(50.0).rows(), 0..3);
        assert_eq!(list.max_scroll_top(), 0.0);
        assert!(list.is_at_bottom(0.0, 0.0));
    }

    #[test]
    fn a_million_rows_are_scaled_under_the_cap() {
        let list = VirtualList::new(1_000_000, 20.0, 800.0);
        assert!(list.is_scaled());
        assert_eq!(list.content_height(), MAX_SCROLL_HEIGHT);
        // Top and bottom are reached exactly.
        assert_eq!(list.row_at(0.0), Some(0));
        let bottom = list.max_scroll_top();
        let w = list.window(bottom);
        assert_eq!(w.end, 1_000_000);
        assert_eq!(list.row_at(bottom), Some(1_000_000 - 40));
        // Last row's bottom is at the content's bottom.
        let last_offset = w.offset_top + (w.len() - 1) as f64 * 20.0;
        assert!((last_offset + 20.0 - MAX_SCROLL_HEIGHT).abs() < 1e-3);
        // Halfway down shows the middle of the log.
        let mid = list.row_at(bottom / 2.0).unwrap();
        assert!((499_950..=500_050).contains(&mid), "{mid}");
    }

    #[test]
    fn jumping_to_a_row_shows_it_at_the_top() {
        for list in [
            VirtualList::new(5_000, 18.0, 600.0),
            VirtualList::new(1_000_000, 20.0, 800.0),
            VirtualList::new(3_000_000, 17.5, 913.0),
        ] {
            for row in [0, 1, 123, 2_500, 4_000] {
                let s = list.scroll_top_for_row(row);
                assert_eq!(list.row_at(s), Some(row), "{list:?} row {row}");
                let w = list.window(s);
                assert!(w.rows().contains(&row));
                // The row's content position is the viewport's top.
                let y = w.offset_top + (row - w.start) as f64 * list.row_height;
                assert!(
                    (y - s).abs() < 1e-3 * list.row_height.max(1.0),
                    "{y} vs {s}"
                );
            }
            // A row past the end clamps to the bottom.
            assert_eq!(list.scroll_top_for_row(usize::MAX), list.max_scroll_top());
        }
    }

    #[test]
    fn centre_and_reveal() {
        let list = VirtualList::new(1_000, 20.0, 200.0);
        assert_eq!(list.scroll_top_to_center_row(100), 100.0 * 20.0 - 90.0);
        assert_eq!(list.scroll_top_to_center_row(0), 0.0);
        assert_eq!(list.scroll_top_to_reveal(12, 100.0), None);
        assert_eq!(list.scroll_top_to_reveal(2, 100.0), Some(40.0));
        assert_eq!(
            list.scroll_top_to_reveal(20, 100.0),
            Some(21.0 * 20.0 - 200.0)
        );
    }

    #[test]
    fn follow_tail() {
        assert!(is_at_bottom(800.0, 200.0, 1_000.0, 0.0));
        assert!(is_at_bottom(799.5, 200.0, 1_000.0, 1.0));
        assert!(!is_at_bottom(700.0, 200.0, 1_000.0, 2.0));
        assert!(is_at_bottom(0.0, 500.0, 100.0, 0.0));
        let list = VirtualList::new(1_000_000, 20.0, 800.0);
        assert!(list.is_at_bottom(list.max_scroll_top(), 1.0));
        assert!(!list.is_at_bottom(list.max_scroll_top() - 50.0, 1.0));
    }

    #[test]
    fn invalid_inputs_are_tolerated() {
        let list = VirtualList::new(100, f64::NAN, -5.0);
        let w = list.window(f64::INFINITY);
        assert!(w.end <= 100 && w.start <= w.end);
        let list = VirtualList::new(100, 0.0, f64::NAN).with_max_scroll_height(-1.0);
        assert_eq!(list.window(-50.0).start, 0);
        // A cap smaller than the viewport still scrolls through everything.
        let list = VirtualList::new(1_000, 20.0, 500.0).with_max_scroll_height(100.0);
        assert_eq!(list.content_height(), 1_000.0);
        assert_eq!(list.window(0.0).start, 0);
        assert_eq!(list.window(list.max_scroll_top()).end, 1_000);
        assert_eq!(list.row_at(list.max_scroll_top()), Some(1_000 - 25));
    }

    fn tall(total_rows: usize, tall: Option<(usize, f64)>) -> TallRowList {
        TallRowList {
            total_rows,
            row_height: 40.0,
            tall,
            overscan: 2,
        }
    }

    #[test]
    fn tall_row_list_renders_what_the_viewport_shows() {
        let list = tall(1000, None);
        assert_eq!(list.height(), 40_000.0);
        // Scrolled 4,000 px into the list, 800 px high: rows 100..=120 visible, 2 of margin.
        let w = list.window(4_000.0, 800.0);
        assert_eq!(w.rows(), 98..123);
        assert_eq!(w.top_spacer, 98.0 * 40.0);
        assert_eq!(
            w.top_spacer + w.len() as f64 * 40.0 + w.bottom_spacer,
            40_000.0
        );
    }

    #[test]
    fn tall_row_list_below_or_above_the_viewport() {
        let list = tall(1000, None);
        // The list starts 300 px below the top of an 800 px viewport: its first 13 rows show.
        assert_eq!(list.window(-300.0, 800.0).rows(), 0..15);
        // The list starts below the viewport's bottom: a few first rows only.
        assert_eq!(list.window(-900.0, 800.0).rows(), 0..2);
        // The list ended above the viewport.
        assert_eq!(list.window(50_000.0, 800.0).rows(), 998..1000);
        assert!(tall(0, None).window(0.0, 800.0).is_empty());
    }

    #[test]
    fn an_expanded_row_pushes_the_rows_below_it_down() {
        let list = tall(1000, Some((10, 400.0)));
        assert_eq!(list.height(), 40_400.0);
        assert_eq!(list.top_of(10), 400.0);
        assert_eq!(list.top_of(11), 840.0);
        // Inside the expanded row's details: it stays rendered.
        let w = list.window(700.0, 100.0);
        assert_eq!(w.rows(), 8..13);
        // Below it: rows shift by its extra height.
        let w = list.window(4_400.0, 800.0);
        assert_eq!(w.rows(), 98..123);
        assert_eq!(w.top_spacer, 98.0 * 40.0 + 400.0);
        assert_eq!(
            w.top_spacer + w.len() as f64 * 40.0 + w.bottom_spacer,
            40_400.0
        );
        // A stale expanded index (the list shrank) is ignored.
        assert_eq!(tall(5, Some((10, 400.0))).height(), 200.0);
    }
}
