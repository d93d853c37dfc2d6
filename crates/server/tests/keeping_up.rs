//! Pages that keep up with a steady stream of batches on a server with the store on get one
//! snapshot each, then every change as deltas: a batch the store commits is read whole, however
//! many changes it holds against the replay buffer's bound or however much it weighs against
//! the topic's state, while the next batches are staged.
//!
//! The bound (`--replay 1`) and the environment (3 services) are small so that every batch of
//! the simulator outgrows both, as one long commit's batch does at the benchmark's 10,000
//! events/s on 1,000 services (a page was sent a snapshot about once in 20 s there).

mod common;

use common::keeping_up::{three_pages_keep_up, BIG_BATCHES};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_that_keep_up_with_the_store_on_get_no_second_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut flags = vec!["--data-dir", dir.path().to_str().unwrap()];
    flags.extend(BIG_BATCHES);
    let h = common::start(&flags).await;
    // A page keeps up when it read every batch before the two newest. Without the newest
    // batches held whole and left out of the backlog, a page got a snapshot every few
    // batches (11 to 65 in the window).
    three_pages_keep_up(h.addr(), Duration::from_secs(8)).await;
    h.shutdown();
}
