//! A new simulated world on a new store: its first write (the world itself, about 400 facts
//! per service) is one long commit. The simulator holds still until it is stored. Before, its
//! events piled up behind that commit into one batch of seconds' worth, which a page that
//! opened at the start read on top of the live stream: it fell out of the replay buffer and
//! was sent a second snapshot (the page benchmark's one resync per run with the store on).

mod common;

use serde_json::Value;
use std::time::{Duration, Instant};

/// The store's part of `/api/health`.
async fn store_health(h: &shipwatch_server::ServerHandle) -> Value {
    let (status, _, body) = common::http(h, "GET", "/api/health", &[]).await;
    assert_eq!(status, 200);
    let health: Value = serde_json::from_slice(&body).unwrap();
    health["store"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_holds_still_until_its_new_world_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let h = common::start(&[
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--environments",
        "1",
        "--services",
        "1000",
        "--rate",
        "2000",
        "--seed",
        "7",
    ])
    .await;
    let started = Instant::now();
    let mut waited = Duration::ZERO;
    // While nothing is committed, the world's write is the only one waiting: the simulator
    // made nothing meanwhile (it ticks every 100 ms, and each tick's events are a write).
    loop {
        let store = store_health(&h).await;
        if store["events_written"].as_u64().unwrap() > 0 {
            break;
        }
        waited = started.elapsed();
        let pending = store["pending_writes"].as_u64().unwrap();
        assert!(
            pending <= 1,
            "{pending} writes wait behind the new world's after {waited:?}: the simulator ran \
             before its world was stored"
        );
        assert!(
            waited < Duration::from_secs(120),
            "the world is never stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Otherwise the test could not tell (a world committed before the simulator's first
    // ticks); a debug build takes seconds over 1,000 services' world.
    assert!(
        waited > Duration::from_millis(500),
        "the world was stored within {waited:?}: too fast to see the simulator hold"
    );
    // Then the simulator runs.
    let world = store_health(&h).await["events_written"].as_u64().unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let written = store_health(&h).await["events_written"].as_u64().unwrap();
        if written > world {
            break;
        }
        assert!(Instant::now() < until, "no event after the world's in 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.shutdown();
}
