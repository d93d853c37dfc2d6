//! Which rendered row shows its instances. Each row gets its own flag, set by the table when
//! the URL's service changes, instead of every row subscribing to the URL.
//!
//! Why: a reactive source keeps a (dead) entry for every subscriber it ever had until it
//! next changes. Rows come and go all the time in the windowed table (scrolling, re-sorting
//! under a storm of changes), while the URL's service rarely changes: rows subscribing to it
//! grew the wasm memory from 7 to 29 MB in 10 minutes of the update benchmark.

use leptos::prelude::*;
use std::collections::HashMap;

/// The open flags of the rendered rows, by service id, with the serial of the row that
/// registered it (a rebuilt row registers before its predecessor is cleaned up).
#[derive(Clone, Copy)]
pub struct OpenRows(
    StoredValue<HashMap<String, (u64, ArcRwSignal<bool>)>>,
    StoredValue<u64>,
);

impl OpenRows {
    /// Keeps the rows' flags in step with `expanded` (the service in the URL).
    pub fn follow(expanded: Signal<Option<String>>) -> Self {
        let rows = Self(StoredValue::new(HashMap::new()), StoredValue::new(0));
        Effect::new(move |previous: Option<Option<String>>| {
            let now = expanded.get();
            rows.0.with_value(|m| {
                for (id, value) in [(previous.flatten(), false), (now.clone(), true)] {
                    if let Some((_, flag)) = id.and_then(|id| m.get(&id)) {
                        flag.set(value);
                    }
                }
            });
            now
        });
        rows
    }

    /// The flag of a row being created; removed again when the row goes.
    pub fn register(&self, id: &str, expanded: Signal<Option<String>>) -> ArcRwSignal<bool> {
        let open = expanded.with_untracked(|e| e.as_deref() == Some(id));
        let flag = ArcRwSignal::new(open);
        let serial = self.1.get_value() + 1;
        self.1.set_value(serial);
        self.0.update_value(|m| {
            m.insert(id.to_string(), (serial, flag.clone()));
        });
        let (map, id) = (self.0, id.to_string());
        on_cleanup(move || {
            map.try_update_value(|m| {
                if m.get(&id).is_some_and(|(s, _)| *s == serial) {
                    m.remove(&id);
                }
            });
        });
        flag
    }
}
