//! How the table's order follows the services' statuses. A new sort or filter, or services
//! coming and going, take effect at once. Status changes re-sort at most once per period
//! (leading and trailing edge), so rows under a storm don't jump about every frame; and a
//! re-sort is applied on animation frames, moving only the rows whose place changed and at
//! most a few of them on screen per frame (`shipwatch_logview::reorder`), instead of
//! rebuilding the order and most of the rendered rows in one task.

use leptos::prelude::*;
use shipwatch_logview::reorder::step_towards;
use shipwatch_model::triage::TableRows;
use std::collections::HashMap;
use std::time::Duration;

/// Rows that may move on screen in one frame. One: the keyed list (tachys 0.2) moves in the
/// DOM every row that shifts by more than the rows added before it so far, so two rows put
/// in at the top in one update move the rows after the first as well; one at a time moves
/// nothing else (a row moving down moves at most its new neighbour).
const MOVES_ON_SCREEN_PER_FRAME: usize = 1;

/// The state of the re-sorting, shared by the frames it schedules.
#[derive(Clone, Copy)]
pub struct Resort {
    rows: RwSignal<TableRows>,
    /// The order a re-sort is moving the rows to, while it does.
    goal: StoredValue<Option<Vec<String>>>,
    /// A status changed since the goal was taken.
    changed: StoredValue<bool>,
    /// A frame or a wait is scheduled.
    scheduled: StoredValue<bool>,
    /// When the last re-sort started (ms, `performance.now()`).
    started: StoredValue<f64>,
    /// How many times each service's row was moved: part of the row's key (see [`Resort::key`]).
    moves: StoredValue<HashMap<String, u32>>,
    period_ms: f64,
}

impl Resort {
    /// Keeps `rows` in the order `sorted` computes (untracked, from the current state).
    /// `at_once` tracks what re-orders at once (sort, filters, the set of services);
    /// `statuses` what re-sorts through the period; `on_screen_end` is the end of the
    /// rendered rows (moves below it touch no DOM).
    pub fn follow(
        rows: RwSignal<TableRows>,
        sorted: impl Fn() -> Vec<String> + Copy + Send + Sync + 'static,
        at_once: impl Fn() + 'static,
        statuses: impl Fn() + 'static,
        on_screen_end: impl Fn() -> usize + Copy + Send + Sync + 'static,
        period: Duration,
    ) -> Self {
        let resort = Self {
            rows,
            goal: StoredValue::new(None),
            changed: StoredValue::new(false),
            scheduled: StoredValue::new(false),
            started: StoredValue::new(f64::NEG_INFINITY),
            moves: StoredValue::new(HashMap::new()),
            period_ms: period.as_secs_f64() * 1000.0,
        };
        Effect::new(move |_| {
            at_once();
            resort.goal.set_value(None);
            resort.changed.set_value(false);
            let ids = sorted();
            resort.rows.maybe_update(|r| {
                let differs = r.ids != ids;
                r.ids = ids;
                differs
            });
        });
        Effect::new(move |first: Option<()>| {
            statuses();
            if first.is_some() {
                resort.changed.set_value(true);
                resort.schedule(sorted, on_screen_end);
            }
        });
        resort
    }

    /// Asks for a frame: the next one while a re-sort is moving rows, else once the period
    /// since the last re-sort is over.
    fn schedule(
        self,
        sorted: impl Fn() -> Vec<String> + Copy + Send + Sync + 'static,
        on_screen_end: impl Fn() -> usize + Copy + Send + Sync + 'static,
    ) {
        if self.scheduled.get_value() {
            return;
        }
        self.scheduled.set_value(true);
        let frame = move || {
            request_animation_frame(move || self.frame(sorted, on_screen_end));
        };
        let wait = self.started.get_value() + self.period_ms - now();
        if self.goal.with_value(Option::is_some) || wait <= 0.0 {
            frame();
        } else {
            set_timeout(frame, Duration::from_secs_f64(wait / 1000.0));
        }
    }

    /// One animation frame: takes a new goal if statuses changed and the period allows, then
    /// moves a few rows towards the goal.
    fn frame(
        self,
        sorted: impl Fn() -> Vec<String> + Copy + Send + Sync + 'static,
        on_screen_end: impl Fn() -> usize + Copy + Send + Sync + 'static,
    ) {
        // The table may be gone by now.
        if self.scheduled.try_set_value(false).is_some() {
            return;
        }
        let at = now();
        if self.changed.get_value() && at - self.started.get_value() >= self.period_ms {
            self.changed.set_value(false);
            self.started.set_value(at);
            self.goal.set_value(Some(sorted()));
        }
        let end = on_screen_end();
        let done = self.goal.with_value(|goal| {
            let Some(goal) = goal else {
                return true;
            };
            let mut done = true;
            self.rows.maybe_update(|r| {
                let moved = |id: &String| {
                    self.moves
                        .update_value(|m| *m.entry(id.clone()).or_default() += 1)
                };
                let step = step_towards(&mut r.ids, goal, end, MOVES_ON_SCREEN_PER_FRAME, moved);
                done = step.done;
                step.moved > 0
            });
            done
        });
        if done {
            self.goal.set_value(None);
        }
        if !done || self.changed.get_value() {
            self.schedule(sorted, on_screen_end);
        }
    }
}

impl Resort {
    /// The key of a service's row in the keyed list: its id and how often it moved. A moved
    /// row is built anew in its place rather than moved: the keyed list (tachys 0.2) moves
    /// every row between a moved row's old and new places in the DOM, while a row that comes
    /// and goes moves nothing else.
    pub fn key(&self, id: &str) -> (String, u32) {
        let moves = self
            .moves
            .try_with_value(|m| m.get(id).copied().unwrap_or(0))
            .unwrap_or(0);
        (id.to_string(), moves)
    }
}

fn now() -> f64 {
    window().performance().map_or(0.0, |p| p.now())
}
