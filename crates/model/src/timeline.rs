//! A service's status timeline: the running statuses it went through over a window (the last
//! hour), as the server's store recorded them, and the strip the page draws of them.

use crate::entities::Millis;
use crate::{DeploymentStatus, RunningStatus};
use serde::{Deserialize, Serialize};

/// The answer of the timeline endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// The window's start.
    pub from: Millis,
    /// The window's end (the server's now).
    pub to: Millis,
    /// The statuses over the window, in order, not overlapping; the first may start after
    /// `from` (nothing recorded before it).
    pub segments: Vec<Segment>,
}

/// One stretch of time in one status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Its start (at least the window's start).
    pub from: Millis,
    /// Its end; none while it goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Millis>,
    /// The running status.
    pub running: RunningStatus,
    /// The deployment status, if there was a deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentStatus>,
}

/// One part of the strip, ready to draw: where it starts and how wide it is, in per cent of
/// the window, and what a screen reader says of it.
#[derive(Clone, Debug, PartialEq)]
pub struct StripPart {
    /// The running status (its colour and shape).
    pub running: RunningStatus,
    /// Left edge, 0 to 100.
    pub left: f64,
    /// Width, 0 to 100.
    pub width: f64,
    /// Its start and end.
    pub from: Millis,
    /// Its end (the window's end while it goes on).
    pub to: Millis,
}

/// The strip of `timeline` at `now`: its segments clipped to the window, in order; an
/// ongoing one runs to `now` (or the window's end, if later).
#[must_use]
pub fn strip(timeline: &Timeline, now: Millis) -> Vec<StripPart> {
    let end = now.max(timeline.to);
    let span = end.saturating_sub(timeline.from).max(1) as f64;
    timeline
        .segments
        .iter()
        .filter_map(|s| {
            let from = s.from.clamp(timeline.from, end);
            let to = s.to.unwrap_or(end).clamp(from, end);
            (to > from).then(|| StripPart {
                running: s.running,
                left: (from - timeline.from) as f64 * 100.0 / span,
                width: (to - from) as f64 * 100.0 / span,
                from,
                to,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use RunningStatus as R;

    fn seg(from: Millis, to: Option<Millis>, running: R) -> Segment {
        Segment {
            from,
            to,
            running,
            deployment: None,
        }
    }

    #[test]
    fn segments_fill_the_window_in_proportion() {
        let t = Timeline {
            from: 0,
            to: 1000,
            segments: vec![
                seg(0, Some(250), R::Running),
                seg(250, Some(500), R::Error),
                seg(500, None, R::Running),
            ],
        };
        let parts = strip(&t, 1000);
        let widths: Vec<f64> = parts.iter().map(|p| p.width).collect();
        assert_eq!(widths, vec![25.0, 25.0, 50.0]);
        assert_eq!(parts[1].left, 25.0);
        assert_eq!(parts[1].running, R::Error);
    }

    #[test]
    fn an_empty_or_reversed_segment_is_not_drawn_and_a_late_page_stretches_the_last() {
        let t = Timeline {
            from: 0,
            to: 100,
            segments: vec![
                seg(10, Some(10), R::Starting),
                seg(50, Some(40), R::Stopping),
                seg(60, None, R::Running),
            ],
        };
        let parts = strip(&t, 200);
        assert_eq!(parts.len(), 1);
        assert_eq!((parts[0].from, parts[0].to), (60, 200));
        assert_eq!(parts[0].width, 70.0);
    }
}
