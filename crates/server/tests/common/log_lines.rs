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

/// Posts lines `ns` (`line N` each) of deployment `dep` to the server at `addr` with the test
/// write token, as a reporter does; panics unless they are taken.
pub async fn post_lines(addr: std::net::SocketAddr, dep: &str, ns: std::ops::RangeInclusive<u64>) {
    let lines: Vec<serde_json::Value> = ns
        .map(|n| serde_json::json!({"n": n, "text": format!("line {n}")}))
        .collect();
    let (k, v) = super::write_auth();
    let (status, _, body) = super::request_at(
        addr,
        "POST",
        &format!("/api/v1/deployments/{dep}/logs"),
        &[(k, v.as_str()), ("Content-Type", "application/json")],
        &serde_json::to_vec(&lines).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

/// A long log: lines `1..=lines` of `dep`, posted to `addr` 1,000 at a time (reading it
/// from the store then takes a while).
pub async fn write_long_log(addr: std::net::SocketAddr, dep: &str, lines: u64) {
    for k in 0..lines.div_ceil(1_000) {
        post_lines(addr, dep, k * 1_000 + 1..=((k + 1) * 1_000).min(lines)).await;
    }
}

/// A reporter sending a deployment's next lines to a server, 5 at a time without pause,
/// until [`Reporter::stop`].
pub struct Reporter {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Reporter {
    /// Starts sending lines `after + 1`, ... of `dep` to the server at `addr`.
    pub fn start(addr: std::net::SocketAddr, dep: &str, after: u64) -> Reporter {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (stopped, dep) = (stop.clone(), dep.to_string());
        let task = tokio::spawn(async move {
            let mut sent = after;
            while !stopped.load(Ordering::SeqCst) {
                post_lines(addr, &dep, sent + 1..=sent + 5).await;
                sent += 5;
            }
        });
        Reporter { stop, task }
    }

    /// Stops it, and waits until its last lines were taken.
    pub async fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.task.await.expect("the reporter");
    }
}

/// Subscribes `page` to deployment `dep`'s log as `sub`, from its start.
pub async fn subscribe_log(page: &mut Client, sub: &str, dep: &str) {
    let topic = shipwatch_model::protocol::Topic::Logs {
        deployment: dep.to_string(),
    };
    page.subscribe(sub, topic, None).await;
}
