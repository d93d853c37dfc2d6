//! Whether the store commits, for the pages: one `watch` per server that the websockets asked
//! for it (`/ws?status=1`) follow, and turn into `status` frames (docs/protocol.md). It reads
//! the store's health every [`PERIOD`]: a database that went away is seen at the writer's next
//! failed commit, and one that came back at its next good one.

use crate::store::Store;
use shipwatch_model::protocol::StoreState;
use std::time::Duration;
use tokio::sync::watch;

/// How often the store's health is read.
pub const PERIOD: Duration = Duration::from_millis(250);

/// At most this many bytes of the store's error go to the pages.
const MAX_MESSAGE_BYTES: usize = 200;

/// What a `status` frame says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStatus {
    /// Whether writes commit.
    pub state: StoreState,
    /// The last write error, while they do not.
    pub message: Option<String>,
}

impl StoreStatus {
    /// The store's state now (`Ok` without a store: an ephemeral server has nothing to fail).
    pub fn of(store: Option<&Store>) -> StoreStatus {
        let Some(health) = store.map(Store::health) else {
            return StoreStatus::default();
        };
        if health.ok {
            return StoreStatus::default();
        }
        StoreStatus {
            state: StoreState::Unavailable,
            message: health.error.map(|e| cut(&e)),
        }
    }

    /// Whether writes commit.
    pub fn is_ok(&self) -> bool {
        self.state == StoreState::Ok
    }
}

/// The start of `text`, within [`MAX_MESSAGE_BYTES`], on a character boundary.
fn cut(text: &str) -> String {
    let mut end = text.len().min(MAX_MESSAGE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Follows `store`'s health until `shutdown` (or until nobody follows it any more). A change
/// of the state is announced; a new error message while unavailable is not (pages show the
/// state; the health endpoint has the latest error).
pub fn follow(
    store: Option<Store>,
    mut shutdown: watch::Receiver<bool>,
) -> watch::Receiver<StoreStatus> {
    let (tx, rx) = watch::channel(StoreStatus::of(store.as_ref()));
    let Some(store) = store else {
        return rx;
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
                _ = tx.closed() => return,
            }
            let now = StoreStatus::of(Some(&store));
            tx.send_if_modified(|held| {
                let changed = held.state != now.state;
                if changed {
                    *held = now;
                }
                changed
            });
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_error_is_cut_on_a_character_boundary() {
        let long = "é".repeat(150);
        let cut = cut(&long);
        assert!(cut.len() <= MAX_MESSAGE_BYTES);
        assert_eq!(cut.len(), MAX_MESSAGE_BYTES);
        assert!(long.starts_with(&cut));
        assert_eq!(super::cut("short"), "short");
    }

    #[test]
    fn without_a_store_it_is_ok() {
        assert!(StoreStatus::of(None).is_ok());
    }
}
