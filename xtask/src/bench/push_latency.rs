//! Push to socket: the time from an instance report's request being sent
//! (`PUT .../instances/{name}`) to its change arriving on a websocket client subscribed to
//! the environment as the page is (`instance_updates`). The reports go one at a time, each
//! awaited on the socket before the next, on a server that does nothing else: what one
//! status a CI job pushes takes to reach the pages, the store's commit included (a change is
//! shown once committed, just before it is acknowledged, so the socket may get it before
//! the answer: the clock starts at the send).

use super::push::Conn;
use super::record::{percentile, Figures};
use super::socket::Socket;
use crate::cmd::Result;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Reports sent, one at a time.
pub const REPORTS: u64 = 300;
/// Restart counts of the reports start here, so that each one's change is told apart from
/// those of the workloads before.
const FIRST_RESTARTS: u64 = 1_000_000;

/// Measures `{p}_socket_ms_p50` and `_p99` on environment `env`'s service `service`.
pub fn measure(addr: &str, p: &str, env: &str, service: &str, figures: &mut Figures) -> Result {
    let (seen_tx, seen_rx) = mpsc::channel::<(u64, Instant)>();
    let (ready_tx, ready_rx) = mpsc::channel::<Result>();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (addr, env, stop) = (addr.to_string(), env.to_string(), stop.clone());
        std::thread::spawn(move || watch(&addr, &env, &stop, ready_tx, seen_tx))
    };
    ready_rx
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| "no snapshot on the latency watcher".to_string())??;
    let result = reports(addr, env, service, &seen_rx);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = watcher.join();
    let ms = result?;
    let (ack, socket): (Vec<f64>, Vec<f64>) = ms.into_iter().unzip();
    let pct = |v: &[f64], q| percentile(v, q).map_or(f64::NAN, |x| (x * 10.0).round() / 10.0);
    eprintln!(
        "bench: {p}: {REPORTS} reports one at a time: answered p50 {} ms, on the socket p50 {} ms, p99 {} ms",
        pct(&ack, 50.0),
        pct(&socket, 50.0),
        pct(&socket, 99.0)
    );
    figures.put(&format!("{p}_socket_ms_p50"), pct(&socket, 50.0), "ms");
    figures.put(&format!("{p}_socket_ms_p99"), pct(&socket, 99.0), "ms");
    Ok(())
}

/// Sends the reports; for each, ms from its send to its answer and to its change on the
/// socket.
fn reports(
    addr: &str,
    env: &str,
    service: &str,
    seen: &mpsc::Receiver<(u64, Instant)>,
) -> Result<Vec<(f64, f64)>> {
    let mut conn = Conn::open(addr)?;
    let path = format!("/api/v1/environments/{env}/services/{service}/instances/{service}-latency");
    let mut ms = Vec::new();
    for i in 0..REPORTS {
        let restarts = FIRST_RESTARTS + i;
        let status = if i % 2 == 0 { "ERROR" } else { "RUNNING" };
        let body = format!(r#"{{"status":"{status}","restarts":{restarts}}}"#);
        let sent = Instant::now();
        conn.expect("PUT", &path, &body, &[200, 201])?;
        let answered = sent.elapsed();
        let arrived = loop {
            match seen.recv_timeout(Duration::from_secs(30)) {
                Ok((r, at)) if r == restarts => break at,
                Ok(_) => continue,
                Err(_) => return Err(format!("report {i}'s change did not reach the socket")),
            }
        };
        let on_socket = arrived.saturating_duration_since(sent);
        ms.push((
            answered.as_secs_f64() * 1000.0,
            on_socket.as_secs_f64() * 1000.0,
        ));
    }
    Ok(ms)
}

/// Follows the environment as the page does; says when its snapshot came, then sends the
/// restart counts of the instances in each delta, with when it arrived.
fn watch(
    addr: &str,
    env: &str,
    stop: &std::sync::atomic::AtomicBool,
    ready: mpsc::Sender<Result>,
    seen: mpsc::Sender<(u64, Instant)>,
) {
    let mut ws = match Socket::connect(addr) {
        Ok(ws) => ws,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let sub = format!(
        r#"{{"v":1,"type":"subscribe","sub":"env","topic":{{"kind":"environment","env":"{env}"}},"instance_updates":true}}"#
    );
    if let Err(e) = ws.send(sub) {
        let _ = ready.send(Err(e));
        return;
    }
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let frame = match ws.next() {
            Ok(Some(frame)) => frame,
            Ok(None) => continue,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let at = Instant::now();
        if frame["type"] == "snapshot" {
            let _ = ready.send(Ok(()));
        }
        for r in restarts(&frame) {
            let _ = seen.send((r, at));
        }
    }
    ws.close();
}

/// The restart counts of the instances a delta carries (`instance_update`s, and the
/// instances of `service_upsert`s).
fn restarts(frame: &serde_json::Value) -> Vec<u64> {
    if frame["type"] != "delta" {
        return Vec::new();
    }
    let mut out = Vec::new();
    for c in frame["changes"].as_array().into_iter().flatten() {
        match c["op"].as_str() {
            Some("instance_update") => out.extend(c["instance"]["restarts"].as_u64()),
            Some("service_upsert") => out.extend(
                c["instances"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i["restarts"].as_u64()),
            ),
            _ => {}
        }
    }
    out
}
