//! A page reading one deployment's log as the on-demand load tests do: the snapshot, then a
//! second of live lines, each line's number checked once and in order.

use super::{Client, Got};
use shipwatch_model::protocol::{Change, ServerMessage};
use std::time::{Duration, Instant};

/// Reads `page`'s already-subscribed log: up to 20 s for the read (a long log on a loaded
/// machine), then a second of live lines. Panics on an error frame, a close or a resync;
/// returns the line numbers in the order they came.
pub async fn read_log(page: &mut Client, round: usize) -> Vec<u64> {
    let mut numbers: Vec<u64> = Vec::new();
    let mut snapshots = 0;
    let mut until = Instant::now() + Duration::from_secs(20);
    while let Ok(got) = tokio::time::timeout_at(until.into(), page.next()).await {
        match got {
            Got::Frame(f) => match f.msg {
                ServerMessage::Snapshot { .. } => {
                    snapshots += 1;
                    if snapshots == 1 {
                        until = Instant::now() + Duration::from_secs(1);
                    }
                }
                ServerMessage::Delta { changes, .. } => {
                    numbers.extend(changes.into_iter().filter_map(|c| match c {
                        Change::Line(l) => Some(l.n),
                        _ => None,
                    }))
                }
                ServerMessage::Error { .. } => panic!("round {round}: {f:?}"),
                _ => {}
            },
            Got::Closed(code) => panic!("round {round}: closed ({code:?})"),
        }
    }
    assert_eq!(snapshots, 1, "round {round}: one snapshot, no resync");
    numbers
}

/// Lines 1..n each once, in order, and more than `before` of them (the log and live lines
/// after it).
pub fn assert_each_line_once(numbers: &[u64], before: u64, round: usize) {
    let expected: Vec<u64> = (1..=numbers.len() as u64).collect();
    if numbers != expected {
        let at = numbers
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(numbers.len().min(expected.len()));
        panic!(
            "round {round}: lines 1..{} each once, in order; they differ at index {at}: {:?}",
            numbers.len(),
            &numbers[at.saturating_sub(3)..(at + 3).min(numbers.len())]
        );
    }
    assert!(
        numbers.len() as u64 > before,
        "round {round}: the log and live lines after it ({} lines)",
        numbers.len()
    );
}
