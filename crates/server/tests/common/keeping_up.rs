//! A page that keeps up, as the keeping-up tests read it (`keeping_up.rs` on a leader,
//! `replicas.rs` on a follower): every frame as fast as it comes, counting the snapshots.

use super::Client;
use shipwatch_model::protocol::{ServerMessage, Topic};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The simulator's flags for a steady stream of batches that each outgrow the replay buffer's
/// bound (`--replay 1`) and weigh more than the environment's state (3 services), as one long
/// commit's batch does at the benchmark's 10,000 events/s on 1,000 services.
pub const BIG_BATCHES: [&str; 10] = [
    "--environments",
    "1",
    "--services",
    "3",
    "--rate",
    "2000",
    "--replay",
    "1",
    "--seed",
    "7",
];

/// Three pages on the server at `addr`, each following the production environment as the app
/// does (with `instance_update`s) for `window`; panics unless each kept up ([`kept_up`]).
pub async fn three_pages_keep_up(addr: SocketAddr, window: Duration) {
    let mut pages = Vec::new();
    for _ in 0..3 {
        let mut c = Client::connect_to(addr).await;
        let env = Topic::Environment {
            env: "production".into(),
        };
        c.subscribe_with("e", env, None, true).await;
        pages.push(tokio::spawn(follow(c, window)));
    }
    for page in pages {
        kept_up(&page.await.unwrap());
    }
}

/// What one page saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub snapshots: u32,
    pub deltas: u32,
    pub changes: u64,
}

/// Reads as the page does, as fast as frames come, for `window`; panics on a gap.
pub async fn follow(mut c: Client, window: Duration) -> Seen {
    let mut seen = Seen::default();
    let mut last = 0u64;
    let until = Instant::now() + window;
    while Instant::now() < until {
        match c.frame().await.msg {
            ServerMessage::Snapshot { seq, .. } => {
                seen.snapshots += 1;
                last = seq;
            }
            ServerMessage::Delta { seq, changes, .. } => {
                assert_eq!(seq, last + 1, "no gap, no duplicate");
                last += changes.len() as u64;
                seen.deltas += 1;
                seen.changes += changes.len() as u64;
            }
            ServerMessage::Status { .. } => {}
            other => panic!("unexpected frame: {other:?}"),
        }
    }
    seen
}

/// Asserts what a page that kept up saw: a steady stream of changes, and no snapshot but its
/// first, or one more for a socket starved a whole batch on a loaded machine (then the
/// snapshot is a laggard's, by the same rules).
pub fn kept_up(seen: &Seen) {
    assert!(seen.changes > 1_000, "a steady stream of changes: {seen:?}");
    assert!(
        seen.snapshots <= 2,
        "the first snapshot, and at most one for a starved socket: {seen:?}"
    );
}
