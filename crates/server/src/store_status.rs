//! Whether the store commits, for the pages: one `watch` per server that the websockets asked
//! for it (`/ws?status=1`) follow, and turn into `status` frames (docs/protocol.md). It reads
//! the store's health every [`PERIOD`]: a database that went away is seen at the writer's next
//! failed commit, and one that came back at its next good one. On PostgreSQL it also asks the
//! database every [`PROBE_EVERY`]: a follower writes nothing, and a leader with nothing to
//! write would not notice the database gone either, yet neither gets a change through then.

use crate::store::schema::Backend;
use crate::store::Store;
use shipwatch_model::protocol::StoreState;
use std::time::Duration;
use tokio::sync::watch;

/// How often the store's health is read.
pub const PERIOD: Duration = Duration::from_millis(250);

/// How often PostgreSQL is asked whether it answers (`SELECT 1`), in [`PERIOD`]s: once a
/// second.
const PROBE_EVERY: u32 = 4;

/// How long the database has to answer that.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

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

    /// This, or unavailable with `probe`'s error when the database did not answer.
    fn or_probe(self, probe: &Option<String>) -> StoreStatus {
        match probe {
            Some(e) if self.is_ok() => StoreStatus {
                state: StoreState::Unavailable,
                message: Some(cut(e)),
            },
            _ => self,
        }
    }
}

/// Asks the database whether it answers: its error, or None when it did.
async fn probe(store: &Store) -> Option<String> {
    store.answers(PROBE_TIMEOUT).await.err()
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
    let probes = store.backend() == Backend::Postgres;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut ticks, mut probed) = (0u32, None);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
                _ = tx.closed() => return,
            }
            ticks = ticks.wrapping_add(1);
            if probes && ticks % PROBE_EVERY == 0 {
                probed = probe(&store).await;
            }
            let now = StoreStatus::of(Some(&store)).or_probe(&probed);
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
