//! The viewer's shared state: display settings, the filtered row view, follow/pause, the
//! selection, and the scroll maths that ties rows to pixels.

use super::model::LogModel;
use super::search::SearchState;
use leptos::html::Div;
use leptos::prelude::*;
use shipwatch_logview::{FilteredView, LineFilter, LineSpan, LogStore, VirtualList};
use shipwatch_model::entities::Millis;

/// Height of one row in px when lines don't wrap (matches `.log-row` in log_viewer.css). Its
/// line number is a link: 24 px, the least target size of WCAG 2.5.8 (a column of links
/// 20 px apart cannot meet its spacing exception either).
pub const ROW_HEIGHT: f64 = 24.0;

/// Rows kept in the DOM when lines wrap (rows then have no fixed height, so the viewer shows
/// a page of lines around what the user reads instead of a pixel-exact window).
pub const WRAP_PAGE: usize = 400;

/// Rows rendered above the viewport while following the tail (the usual margin otherwise).
const FOLLOW_OVERSCAN: usize = 3;

/// How far from the bottom (px) still counts as "at the end" (fractional scroll positions).
const BOTTOM_TOLERANCE: f64 = 4.0;

/// How timestamps are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeMode {
    /// UTC time of day.
    Absolute,
    /// Time since the deployment started.
    Relative,
    /// No timestamp column.
    Hidden,
}

/// Where the user reads when not following: the line at the top and how far into it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Anchor {
    n: u64,
    offset: f64,
}

/// Everything the viewer's parts share (copyable handles).
#[derive(Clone, Copy)]
pub struct Viewer {
    /// The lines.
    pub model: LogModel,
    view: StoredValue<FilteredView, LocalStorage>,
    /// Which lines are rows (stage, problems only).
    pub filter: RwSignal<LineFilter>,
    /// The user picked the filter (so the failing stage is no longer picked for them).
    pub filter_chosen: RwSignal<bool>,
    /// Wrap long lines.
    pub wrap: RwSignal<bool>,
    /// Timestamp column.
    pub time: RwSignal<TimeMode>,
    /// Keep the newest line in view.
    pub following: RwSignal<bool>,
    /// Lines received (ever) when following stopped: "N new lines" counts from here.
    pub paused_at: RwSignal<u64>,
    /// The scroller's scroll top (px).
    pub scroll_top: RwSignal<f64>,
    /// The scroller's height (px).
    pub viewport: RwSignal<f64>,
    /// Selected line(s), from `#L12` / `#L10-L20` or a click on a line number.
    pub selection: RwSignal<Option<LineSpan>>,
    /// With wrap on: one past the last row of the page shown while not following.
    pub page_end: RwSignal<usize>,
    /// Find in the log.
    pub search: SearchState,
    /// When the deployment started (for relative timestamps).
    pub start: Signal<Option<Millis>>,
    /// The deployment is still running (its last stage is in progress).
    pub live: Signal<bool>,
    /// A short message for the polite live region ("Copied line 12").
    pub announce: RwSignal<String>,
    /// The scroll container.
    pub scroller: NodeRef<Div>,
    /// The scroll content (its height is the list's).
    pub content: NodeRef<Div>,
    anchor: StoredValue<Option<Anchor>>,
}

/// The rows to render and where.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// First row rendered.
    pub start: usize,
    /// One past the last row rendered.
    pub end: usize,
    /// `translateY` of the first row (fixed mode).
    pub offset_top: f64,
    /// Height of the scroll content (fixed mode).
    pub content_height: f64,
    /// Rows in the view.
    pub total: usize,
    /// Lines wrap (page mode).
    pub wrap: bool,
    /// The batch and the filter it was computed for: the same rows numbers after a new
    /// batch or filter may still be other lines.
    pub version: u64,
    /// See `version`.
    pub filter: LineFilter,
}

impl Viewer {
    /// Fresh state for a model.
    pub fn new(model: LogModel, start: Signal<Option<Millis>>, live: Signal<bool>) -> Self {
        Viewer {
            model,
            view: StoredValue::new_local(FilteredView::new(LineFilter::default())),
            filter: RwSignal::new(LineFilter::default()),
            filter_chosen: RwSignal::new(false),
            wrap: RwSignal::new(false),
            time: RwSignal::new(TimeMode::Absolute),
            following: RwSignal::new(true),
            paused_at: RwSignal::new(0),
            scroll_top: RwSignal::new(0.0),
            viewport: RwSignal::new(600.0),
            selection: RwSignal::new(None),
            page_end: RwSignal::new(0),
            search: SearchState::new(),
            start,
            live,
            announce: RwSignal::new(String::new()),
            scroller: NodeRef::new(),
            content: NodeRef::new(),
            anchor: StoredValue::new(None),
        }
    }

    /// Runs `f` with the up-to-date row view and the store (untracked).
    pub fn with_rows<R>(&self, f: impl FnOnce(&FilteredView, &LogStore) -> R) -> R {
        self.model.with(|store| {
            self.view.update_value(|v| v.update(store));
            self.view.with_value(|v| f(v, store))
        })
    }

    /// Number of rows (untracked).
    pub fn total_rows(&self) -> usize {
        self.with_rows(|v, s| v.len(s))
    }

    /// Shows other lines; keeps following if it was, else keeps the anchor line in view.
    pub fn set_filter(&self, filter: LineFilter) {
        self.view.set_value(FilteredView::new(filter));
        self.filter.set(filter);
        self.search.refilter(*self, filter);
    }

    /// The virtual list for the current rows (untracked).
    pub fn list(&self) -> VirtualList {
        VirtualList::new(self.total_rows(), ROW_HEIGHT, self.viewport.get_untracked())
    }

    /// The rows to render (tracked: lines, filter, scroll, size, wrap, follow).
    pub fn layout(&self) -> Layout {
        let version = self.model.version();
        let filter = self.filter.get();
        let wrap = self.wrap.get();
        let total = self.total_rows();
        if wrap {
            let end = if self.following.get() {
                total
            } else {
                self.page_end.get().min(total)
            };
            return Layout {
                start: end.saturating_sub(WRAP_PAGE),
                end,
                offset_top: 0.0,
                content_height: 0.0,
                total,
                wrap,
                version,
                filter,
            };
        }
        let following = self.following.get();
        let mut list = VirtualList::new(total, ROW_HEIGHT, self.viewport.get());
        // Following: the tail, whatever the scroll position says until `sync_scroll` moves
        // it there; so a batch renders its rows once, not once before and once after the
        // scroll catches up. And a small margin: at the tail there is nothing below, and
        // while lines stream the rows above are replaced before anyone scrolls to them.
        let top = if following {
            list = list.with_overscan(FOLLOW_OVERSCAN);
            list.max_scroll_top()
        } else {
            self.scroll_top.get()
        };
        let w = list.window(top);
        Layout {
            start: w.start,
            end: w.end,
            offset_top: w.offset_top,
            content_height: w.content_height,
            total,
            wrap,
            version,
            filter,
        }
    }

    /// Lines received since following stopped (tracked).
    pub fn new_lines(&self) -> u64 {
        if self.following.get() {
            return 0;
        }
        let received = self.model.with_tracked(LogStore::end_position);
        received.saturating_sub(self.paused_at.get())
    }

    /// Starts or stops following the tail.
    pub fn set_following(&self, on: bool) {
        if self.following.get_untracked() == on {
            return;
        }
        if !on {
            self.paused_at.set(self.model.with(LogStore::end_position));
            self.page_end.set(self.total_rows());
        }
        self.following.set(on);
    }

    /// The scroller moved (by the user or by us): reaching the bottom follows, moving up
    /// pauses; note the anchor.
    pub fn on_scroll(&self) {
        let Some(el) = self.scroller.get_untracked() else {
            return;
        };
        let top = f64::from(el.scroll_top());
        let height = f64::from(el.client_height());
        if (height - self.viewport.get_untracked()).abs() > 0.5 {
            self.viewport.set(height);
        }
        let before = self.scroll_top.get_untracked();
        self.scroll_top.set(top);
        let at_bottom = shipwatch_logview::is_at_bottom(
            top,
            height,
            f64::from(el.scroll_height()),
            BOTTOM_TOLERANCE,
        );
        // Only a move up pauses: a scroll event that lands after new lines grew the list
        // (but before we scrolled to them) is not the user leaving the tail.
        if at_bottom {
            self.set_following(true);
        } else if top < before - 1.0 {
            self.set_following(false);
        }
        if !self.wrap.get_untracked() {
            let list = self.list();
            let anchor = list.row_at(top).and_then(|row| {
                let n = self.line_number_at(row)?;
                let offset = list.virtual_top(top) - row as f64 * ROW_HEIGHT;
                Some(Anchor { n, offset })
            });
            self.anchor.set_value(anchor);
        }
    }

    /// The line number shown at a row.
    pub fn line_number_at(&self, row: usize) -> Option<u64> {
        self.with_rows(|v, s| s.line(v.index(s, row)?).map(|l| l.n))
    }

    /// After lines arrived or the filter, size or wrap changed: keep the tail in view when
    /// following, else keep the line the user reads where it is.
    pub fn sync_scroll(&self) {
        let Some(el) = self.scroller.get_untracked() else {
            return;
        };
        if self.wrap.get_untracked() {
            if self.following.get_untracked() {
                // Rows render in the next tick; scroll once they are there.
                let me = *self;
                request_animation_frame(move || {
                    if let Some(el) = me.scroller.get_untracked() {
                        el.set_scroll_top(el.scroll_height());
                    }
                });
            }
            return;
        }
        let list = self.list();
        self.set_content_height(list.content_height());
        let target = if self.following.get_untracked() {
            list.max_scroll_top()
        } else {
            let Some(anchor) = self.anchor.get_value() else {
                return;
            };
            let Some(row) = self.with_rows(|v, s| v.row_at_or_after_number(s, anchor.n)) else {
                return;
            };
            let offset = if list.is_scaled() { 0.0 } else { anchor.offset };
            list.scroll_top_for_row(row) + offset
        };
        if (f64::from(el.scroll_top()) - target).abs() >= 1.0 {
            el.set_scroll_top(target.round() as i32);
        }
        self.scroll_top.set(f64::from(el.scroll_top()));
    }

    fn set_content_height(&self, height: f64) {
        if let Some(content) = self.content.get_untracked() {
            let el: &web_sys::HtmlElement = &content;
            let _ = el.style().set_property("height", &format!("{height}px"));
        }
    }

    /// Brings a row into view (centred) and stops following.
    pub fn reveal_row(&self, row: usize) {
        self.set_following(false);
        let Some(el) = self.scroller.get_untracked() else {
            return;
        };
        if self.wrap.get_untracked() {
            let total = self.total_rows();
            self.page_end
                .set((row + WRAP_PAGE / 2).min(total).max(row + 1));
            let Some(n) = self.line_number_at(row) else {
                return;
            };
            request_animation_frame(move || {
                let css = format!(".log-row[data-line='{n}']");
                if let Ok(Some(found)) = el.query_selector(&css) {
                    let opts = web_sys::ScrollIntoViewOptions::new();
                    opts.set_block(web_sys::ScrollLogicalPosition::Center);
                    found.scroll_into_view_with_scroll_into_view_options(&opts);
                }
            });
            return;
        }
        let list = self.list();
        self.set_content_height(list.content_height());
        let target = list.scroll_top_to_center_row(row);
        el.set_scroll_top(target.round() as i32);
        let top = f64::from(el.scroll_top());
        self.scroll_top.set(top);
        self.anchor.set_value(
            list.row_at(top)
                .and_then(|r| self.line_number_at(r))
                .map(|n| Anchor { n, offset: 0.0 }),
        );
    }

    /// Brings line number `n` into view (or the nearest row after it).
    pub fn reveal_line(&self, n: u64) -> bool {
        match self.with_rows(|v, s| v.row_at_or_after_number(s, n)) {
            Some(row) => {
                self.reveal_row(row);
                true
            }
            None => false,
        }
    }

    /// Jumps to the first row (Home).
    pub fn go_first(&self) {
        self.set_following(false);
        if self.wrap.get_untracked() {
            self.page_end.set(WRAP_PAGE.min(self.total_rows()));
        }
        if let Some(el) = self.scroller.get_untracked() {
            el.set_scroll_top(0);
        }
        self.scroll_top.set(0.0);
        self.anchor.set_value(None);
    }

    /// Jumps to the newest line and follows again (End, "jump to latest").
    pub fn go_latest(&self) {
        self.set_following(true);
        self.sync_scroll();
    }
}
