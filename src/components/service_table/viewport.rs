//! Where the service list is in the browser's viewport, and how tall its rows are, measured
//! on scroll, resize and re-render (the page scrolls, not the table), so that only the rows
//! near the screen are rendered.

use leptos::ev;
use leptos::html;
use leptos::prelude::*;

/// Row height assumed until a row has been measured, in px.
pub const DEFAULT_ROW_HEIGHT: f64 = 42.0;

/// What the window maths needs from the page.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Viewport {
    /// The viewport's top relative to the list's top, in px (negative while the list starts
    /// below the viewport's top).
    pub view_top: f64,
    /// The viewport's height.
    pub view_height: f64,
    /// Height of an ordinary row.
    pub row_height: f64,
    /// How much taller the expanded row is than an ordinary one (0 if none is rendered).
    pub expanded_extra: f64,
    /// Whether this was measured in the page, rather than assumed before the first render.
    pub measured: bool,
}

/// Tracks the viewport of the list that starts at `list_top` (the element just above the
/// first row) inside `table`. Re-measure after a render with the returned closure.
pub fn track(
    list_top: NodeRef<html::Tbody>,
    table: NodeRef<html::Table>,
) -> (ReadSignal<Viewport>, impl Fn() + Copy + 'static) {
    let (viewport, set_viewport) = signal(Viewport {
        view_top: 0.0,
        view_height: window_height(),
        row_height: DEFAULT_ROW_HEIGHT,
        expanded_extra: 0.0,
        measured: false,
    });
    let measure = move || {
        let (Some(top), Some(table)) = (list_top.get_untracked(), table.get_untracked()) else {
            return;
        };
        let old = viewport.get_untracked();
        let row_height = table
            .query_selector(".service-row")
            .ok()
            .flatten()
            .map(|r| r.get_bounding_client_rect().height())
            .filter(|h| *h >= 8.0)
            .unwrap_or(old.row_height);
        let expanded_extra = table
            .query_selector(".service--open")
            .ok()
            .flatten()
            .map(|b| (b.get_bounding_client_rect().height() - row_height).max(0.0))
            .unwrap_or(0.0);
        let next = Viewport {
            view_top: -top.get_bounding_client_rect().top(),
            view_height: window_height(),
            row_height,
            expanded_extra,
            measured: true,
        };
        // Sub-pixel jitter is not worth a re-render.
        let moved = |a: f64, b: f64| (a - b).abs() >= 0.5;
        if !old.measured
            || moved(next.view_top, old.view_top)
            || moved(next.view_height, old.view_height)
            || moved(next.row_height, old.row_height)
            || moved(next.expanded_extra, old.expanded_extra)
        {
            set_viewport.try_set(next);
        }
    };
    // Scroll and resize: measured once per animation frame, however many events come.
    let pending = StoredValue::new(false);
    let schedule = move || {
        if pending.get_value() {
            return;
        }
        pending.set_value(true);
        let run = move || {
            if pending.try_set_value(false).is_none() {
                measure();
            }
        };
        if viewport.get_untracked().measured {
            request_animation_frame(run);
        } else {
            // The first measure forces a layout and brings in the rows around the screenful:
            // after the frame that paints the first rows (a task queued from an animation
            // frame runs after its rendering), not before it.
            request_animation_frame(move || set_timeout(run, std::time::Duration::ZERO));
        }
    };
    let scroll = window_event_listener(ev::scroll, move |_| schedule());
    let resize = window_event_listener(ev::resize, move |_| schedule());
    on_cleanup(move || {
        scroll.remove();
        resize.remove();
    });
    (viewport, move || schedule())
}

fn window_height() -> f64 {
    window()
        .inner_height()
        .ok()
        .and_then(|h| h.as_f64())
        .filter(|h| *h > 0.0)
        .unwrap_or(800.0)
}
