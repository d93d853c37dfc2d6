//! Bringing a shown list to a new order by moving only the items whose place changed, a few
//! at a time where they are on screen.
//!
//! The service table re-sorts under a storm of status changes. Rebuilding its order at once
//! replaced most of its rendered rows in one frame (22-37 ms of wasm, then as much of style
//! and layout). Here the items that keep their relative order stay (the longest run of them
//! in the new order's sequence), the others are taken out and put in their new place one by
//! one, top first, and a step moves at most `budget` items that are, or land, before
//! `costly_before` (the end of the rendered rows): the moves further down cost no DOM and are
//! not counted.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

/// What one [`step_towards`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Items moved, inserted or removed.
    pub moved: usize,
    /// Of those, the ones before `costly_before`.
    pub costly: usize,
    /// Whether `shown` is now `target`.
    pub done: bool,
}

/// Moves the items of `shown` towards the order of `target` (items of `target` not shown
/// are inserted, items shown but not in `target` removed), stopping before the move that
/// would make more than `budget` moves before `costly_before`. Items whose relative order
/// stays are never moved; `moving` is told of each item that is (not of those inserted or
/// removed). Call again until [`Step::done`].
pub fn step_towards<T: Clone + Eq + Hash>(
    shown: &mut Vec<T>,
    target: &[T],
    costly_before: usize,
    budget: usize,
    mut moving: impl FnMut(&T),
) -> Step {
    let mut step = Step {
        moved: 0,
        costly: 0,
        done: false,
    };
    // A move before `costly_before` spends the budget; false when it is spent.
    let spend = |step: &mut Step, at: usize| {
        if at < costly_before {
            if step.costly == budget {
                return false;
            }
            step.costly += 1;
        }
        step.moved += 1;
        true
    };
    // Gone items first, top first.
    let wanted: HashSet<&T> = target.iter().collect();
    let mut i = 0;
    while i < shown.len() {
        if wanted.contains(&shown[i]) {
            i += 1;
            continue;
        }
        if !spend(&mut step, i) {
            return step;
        }
        shown.remove(i);
    }
    // Items that stay: the longest sequence of shown items already in the target's order.
    let place: HashMap<&T, usize> = target.iter().enumerate().map(|(i, t)| (t, i)).collect();
    let places: Vec<usize> = shown.iter().map(|s| place[s]).collect();
    let mut stays = vec![false; target.len()];
    for p in longest_increasing(&places) {
        stays[p] = true;
    }
    // The others, in target order: each goes right after the item before it in the target,
    // which stayed or was placed already.
    for (p, item) in target.iter().enumerate() {
        if stays[p] {
            continue;
        }
        let from = shown.iter().position(|s| s == item);
        let after = if p == 0 {
            0
        } else {
            shown
                .iter()
                .position(|s| *s == target[p - 1])
                .map_or(0, |i| i + 1)
        };
        if !spend(&mut step, from.unwrap_or(after).min(after)) {
            return step;
        }
        let to = match from {
            Some(from) => {
                let item = shown.remove(from);
                moving(&item);
                let to = if from < after { after - 1 } else { after };
                shown.insert(to, item);
                to
            }
            None => {
                shown.insert(after, item.clone());
                after
            }
        };
        debug_assert!(shown[to] == *item);
    }
    step.done = true;
    step
}

/// The places in `values` of one longest strictly increasing subsequence, returned as its
/// values (patience sorting, O(n log n)).
fn longest_increasing(values: &[usize]) -> Vec<usize> {
    // tails[k]: index in `values` of the smallest tail of an increasing run of length k + 1.
    let mut tails: Vec<usize> = Vec::new();
    let mut before: Vec<Option<usize>> = vec![None; values.len()];
    for (i, v) in values.iter().enumerate() {
        let k = tails.partition_point(|&t| values[t] < *v);
        before[i] = k.checked_sub(1).map(|k| tails[k]);
        if k == tails.len() {
            tails.push(i);
        } else {
            tails[k] = i;
        }
    }
    let mut run = Vec::with_capacity(tails.len());
    let mut at = tails.last().copied();
    while let Some(i) = at {
        run.push(values[i]);
        at = before[i];
    }
    run.reverse();
    run
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn settle(
        shown: &mut Vec<char>,
        target: &[char],
        costly_before: usize,
        budget: usize,
    ) -> (usize, usize) {
        let (mut steps, mut moved) = (0, 0);
        loop {
            let step = step_towards(shown, target, costly_before, budget, |_| {});
            steps += 1;
            moved += step.moved;
            assert!(step.costly <= budget, "{step:?}");
            if step.done {
                return (steps, moved);
            }
            assert!(
                step.moved > 0,
                "a step that is not the last moves something"
            );
        }
    }

    #[test]
    fn one_item_that_changed_place_is_the_one_moved() {
        let mut shown = ids("abcd");
        let mut moving = Vec::new();
        let step = step_towards(&mut shown, &ids("bcda"), 100, 100, |c| moving.push(*c));
        assert_eq!(shown, ids("bcda"));
        assert_eq!(
            (step.moved, step.done),
            (1, true),
            "only a moves, not b, c and d"
        );
        assert_eq!(moving, ['a'], "and it is the one reported moving");
        let mut shown = ids("abcdef");
        let step = step_towards(&mut shown, &ids("aebcdf"), 100, 100, |_| {});
        assert_eq!((shown, step.moved), (ids("aebcdf"), 1));
    }

    #[test]
    fn the_same_order_moves_nothing() {
        let mut shown = ids("abc");
        let step = step_towards(&mut shown, &ids("abc"), 3, 0, |_| {});
        assert_eq!(
            step,
            Step {
                moved: 0,
                costly: 0,
                done: true
            }
        );
    }

    #[test]
    fn new_items_come_in_and_gone_ones_leave() {
        let mut shown = ids("abcd");
        let step = step_towards(&mut shown, &ids("xbdy"), 100, 100, |_| {});
        assert_eq!(shown, ids("xbdy"));
        assert_eq!(step.moved, 4, "a and c out, x and y in");
    }

    #[test]
    fn moves_on_screen_are_spread_over_steps_and_moves_below_it_are_free() {
        // The first 2 places are on screen, one costly move a step.
        let mut shown = ids("abcdefgh");
        let target = ids("hgabcdef");
        let step = step_towards(&mut shown, &target, 2, 1, |_| {});
        assert_eq!((step.costly, step.done), (1, false));
        assert_eq!(shown, ids("habcdefg"), "h first, the rest waits");
        let step = step_towards(&mut shown, &target, 2, 1, |_| {});
        assert_eq!((step.costly, step.done), (1, true));
        assert_eq!(shown, target);
        // Below the screen, any number of moves in one step.
        let mut shown = ids("abcdefgh");
        let step = step_towards(&mut shown, &ids("abhgfedc"), 2, 0, |_| {});
        assert!(step.done && step.moved >= 5, "{step:?}");
        assert_eq!(shown, ids("abhgfedc"));
    }

    #[test]
    fn longest_increasing_run() {
        let run = longest_increasing(&[3, 0, 1, 4, 2, 5]);
        assert_eq!(run.len(), 4);
        assert!(
            run.windows(2).all(|w| w[0] < w[1]) && run[0] == 0 && run[3] == 5,
            "{run:?}"
        );
        assert_eq!(longest_increasing(&[]), Vec::<usize>::new());
        assert_eq!(longest_increasing(&[2, 1, 0]).len(), 1);
    }

    proptest! {
        /// Any change of order settles on the target, each step within its budget, and
        /// moves exactly the items that could not stay (removed, inserted, or out of order).
        #[test]
        fn any_change_settles_on_the_target_moving_only_what_must_move(
            before in proptest::sample::subsequence((0..40u8).collect::<Vec<_>>(), 0..40).prop_shuffle(),
            after in proptest::sample::subsequence((0..40u8).collect::<Vec<_>>(), 0..40).prop_shuffle(),
            costly_before in 0usize..45,
            budget in 1usize..6,
        ) {
            let to_char = |v: &Vec<u8>| v.iter().map(|b| char::from(b'0' + b)).collect::<Vec<_>>();
            let (mut shown, target) = (to_char(&before), to_char(&after));
            let common: Vec<usize> = shown
                .iter()
                .filter_map(|s| target.iter().position(|t| t == s))
                .collect();
            let must_move = (shown.len() - common.len())
                + (target.len() - common.len())
                + (common.len() - longest_increasing(&common).len());
            let (steps, moved) = settle(&mut shown, &target, costly_before, budget);
            prop_assert_eq!(&shown, &target);
            prop_assert_eq!(moved, must_move);
            prop_assert!(steps <= must_move / budget + 2);
        }
    }
}
