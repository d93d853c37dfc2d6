//! `<KeyedList>`: Leptos' `<For>`, except that the owners of rows that are gone are given back.
//!
//! Why: `<For>` (leptos 0.8) registers each row's owner as a child of the list's owner, and
//! that list of children is emptied only when the list itself is cleaned up. A windowed list
//! (the service table, the log lines) creates rows all the time, so it kept an entry and a
//! memory block for every row it ever showed: under a storm of status changes or a fast log
//! the page's memory grew without end. Here rows are owned by a *generation* owner, replaced
//! every [`ROWS_PER_GENERATION`] rows and kept alive only by its rows (and by the list while it
//! is the current one): once its rows are gone, the generation and its list of children are
//! dropped. Contexts still resolve through the generation to the list's owner, and cleaning
//! up the list still cleans up every row.

use leptos::prelude::*;
use leptos::tachys::reactive_graph::OwnedView;
use leptos::tachys::view::keyed::{keyed, SerializableKey};
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

/// Rows created under one generation owner: the list keeps one entry per generation.
const ROWS_PER_GENERATION: usize = 256;

/// A keyed list: `each` gives the items, `key` their stable identity, `children` a row.
/// A row whose key stays keeps its DOM; only new keys build rows.
#[component]
pub fn KeyedList<IF, I, T, EF, N, KF, K>(each: IF, key: KF, children: EF) -> impl IntoView
where
    IF: Fn() -> I + Send + 'static,
    I: IntoIterator<Item = T> + Send + 'static,
    EF: Fn(T) -> N + Send + Clone + 'static,
    N: IntoView + 'static,
    KF: Fn(&T) -> K + Send + Clone + 'static,
    K: Eq + Hash + SerializableKey + 'static,
    T: Send + 'static,
{
    let list = Owner::current().expect("a KeyedList renders under a reactive owner");
    let generation = Arc::new(Mutex::new((list.with(Owner::new), 0_usize)));
    let row = move |_, item| {
        let current = {
            let mut g = generation.lock().unwrap_or_else(PoisonError::into_inner);
            if g.1 == ROWS_PER_GENERATION {
                *g = (list.with(Owner::new), 0);
            }
            g.1 += 1;
            g.0.clone()
        };
        let owner = current.with(Owner::new);
        let view = owner.with(|| {
            // The row keeps its generation alive; the generation goes with its last row.
            on_cleanup(move || drop(current));
            children(item)
        });
        // No index setter: rows do not show their position.
        (drop, OwnedView::new_with_owner(view, owner))
    };
    move || keyed(each(), key.clone(), row.clone())
}
