//! The wake-up of a follower: `LISTEN shipwatch_changes` on a connection of its own (sqlx's
//! `PgListener`, outside the store's `Any` pool). The leader's writer ends each transaction
//! with `pg_notify('shipwatch_changes', '<last id>')`, delivered at commit. A notification
//! only says "read the change log": a lost one (the listener reconnecting) costs the follower
//! at most its one-second read, never a change.

use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// The channel the leader's writer notifies.
pub const CHANNEL: &str = "shipwatch_changes";

/// Wait before listening again after the connection failed.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Listens on `url` until `stop` says so, waking `wake` at each notification (and after each
/// reconnection, when notifications may have been missed).
pub async fn run(url: String, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let listening = async {
            let mut listener = PgListener::connect(&url).await?;
            listener.listen(CHANNEL).await?;
            wake.notify_one();
            loop {
                // None: the connection was lost and re-established; notifications sent
                // meanwhile are gone, so read anyway.
                listener.try_recv().await?;
                wake.notify_one();
            }
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        };
        tokio::select! {
            result = listening => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "change-log listener lost its connection");
                }
                tokio::select! {
                    _ = tokio::time::sleep(RETRY_AFTER) => {}
                    _ = stop.changed() => {}
                }
            }
            _ = stop.changed() => {}
        }
    }
}
