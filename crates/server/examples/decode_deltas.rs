//! The page's decoding of the update workload, natively and deterministically: the simulator
//! of one environment of 1,000 services at 10,000 events/s for `SECONDS` simulated seconds
//! (default 10), its changes cut into delta frames exactly as a socket that keeps up gets
//! them (with `instance_update` changes, as the app asks; `full` as third argument: whole
//! services, as a client that does not ask), then every frame decoded `ROUNDS` times (default
//! 3) with the page's decoder (`decode_server`).
//!
//! Meant for instruction counts, which a busy machine does not disturb:
//! `valgrind --tool=callgrind target/release/examples/decode_deltas 1 2`, then
//! `callgrind_annotate --inclusive=yes` and read the line of `decode_server`.

use shipwatch_model::protocol::MAX_CHANGES_PER_DELTA;
use shipwatch_model::protocol::{decode_server, Limits, ServerMessage, Topic};
use shipwatch_server::frames;
use shipwatch_server::hub::{Hub, HubConfig, ReplayRead};
use shipwatch_server::platform::PlatformEvent;
use shipwatch_server::sim::{SimConfig, Simulator};
use shipwatch_server::subscription::MAX_DELTA_BYTES;

/// Random events per 100 ms tick: 10,000 per second, as the update benchmark asks.
const EVENTS_PER_TICK: usize = 1_000;

fn main() {
    let arg = |i: usize, default: u64| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (rounds, seconds) = (arg(1, 3), arg(2, 10));
    let compact = std::env::args().nth(3).as_deref() != Some("full");
    let stream = delta_stream(seconds * 10, compact);
    let bytes: usize = stream.iter().map(String::len).sum();
    let instance_updates: usize = stream
        .iter()
        .map(|f| f.matches(r#""op":"instance_update""#).count())
        .sum();
    let changes = decode_all(&stream, rounds);
    println!(
        "{} delta frames, {bytes} bytes, decoded {rounds} times: {changes} changes \
         ({instance_updates} instance updates)",
        stream.len()
    );
}

/// Decodes every frame `rounds` times; the number of changes decoded. Not inlined, so that
/// a profile shows its cost apart from the simulator's.
#[inline(never)]
fn decode_all(stream: &[String], rounds: u64) -> usize {
    let limit = Limits::default().max_server_frame_bytes as usize;
    let mut changes = 0;
    for _ in 0..rounds {
        for text in stream {
            match decode_server(text, limit).map(|f| f.msg) {
                Ok(ServerMessage::Delta { changes: c, .. }) => changes += c.len(),
                other => panic!("not a delta: {other:?}"),
            }
        }
    }
    changes
}

/// The delta frames a page that keeps up is sent over the run.
fn delta_stream(ticks: u64, compact: bool) -> Vec<String> {
    let start = 1_700_000_000_000;
    let mut sim = Simulator::new(SimConfig {
        environments: 1,
        services: 1_000,
        seed: 7,
        start,
        ..SimConfig::default()
    });
    let hub = Hub::new(
        HubConfig {
            replay: 1 << 20,
            max_logs: 4_000,
            base_seq: 0,
        },
        sim.environments(),
    );
    hub.apply(&platform(sim.take_bootstrap()));
    let topic = Topic::Environment {
        env: sim.environments()[0].id.clone(),
    };
    let cell = hub.topic(&topic).expect("the environment's topic");
    let sub_json = frames::sub_json("env:0");
    let mut next = cell.seq() + 1;
    let mut out = Vec::new();
    for tick in 1..=ticks {
        let now = start + tick * 100;
        let mut events = sim.advance(now);
        for _ in 0..EVENTS_PER_TICK {
            events.extend(sim.random_event(now));
        }
        hub.apply(&platform(events));
        while let ReplayRead::Items(items) =
            cell.read_from(next, MAX_CHANGES_PER_DELTA, MAX_DELTA_BYTES, compact)
        {
            next += items.len() as u64;
            out.push(frames::delta(&sub_json, &items, compact));
        }
    }
    out
}

/// The simulator's events as the hub takes them.
fn platform(events: Vec<shipwatch_server::sim::SimEvent>) -> Vec<PlatformEvent> {
    events.into_iter().map(Into::into).collect()
}
