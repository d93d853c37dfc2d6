//! Fan-out: many clients subscribed to one environment; how late each delta reaches each
//! client, how much server memory a client costs, and whether any client is dropped.

use crate::client::{connect, Jitter, Ws};
use crate::frame::{self, Kind};
use crate::stats::{figure, missing, percentile, rss_kib, wall_ms};
use futures_util::{SinkExt, StreamExt};
use shipwatch_model::protocol::reconnect::delay_ms;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;

/// What to run.
pub struct Opts {
    /// Websocket URL of the server.
    pub url: String,
    /// Environment id to subscribe to.
    pub env: String,
    /// Number of clients.
    pub clients: usize,
    /// Clients that parse every frame (event-stamp latency, change counts, gaps).
    pub probes: usize,
    /// Length of the measuring window.
    pub seconds: f64,
    /// The servers' process ids (one per replica), for their memory.
    pub server_pids: Vec<u32>,
    /// Prefix of the figure names.
    pub prefix: String,
}

/// Shared between the clients and the conductor.
struct Shared {
    live: AtomicUsize,
    connect_failures: AtomicUsize,
    /// Handshakes refused and tried again.
    connect_retries: AtomicUsize,
    disconnects: AtomicUsize,
    /// Snapshots whose parts did not join (out of order, another `seq`).
    broken_snapshots: AtomicUsize,
    measuring: AtomicBool,
    window_start_ms: std::sync::atomic::AtomicU64,
    reasons: std::sync::Mutex<HashMap<String, usize>>,
}

/// What one client saw during the window.
#[derive(Default)]
struct Report {
    /// (first sequence number of a delta, when it arrived).
    receipts: Vec<(u64, Instant)>,
    frames: u64,
    bytes: u64,
    resyncs: u64,
    /// Probes only.
    changes: u64,
    upserts: u64,
    gaps: u64,
    stamp_latencies_ms: Vec<f64>,
    /// Over the whole run: `snapshot_part` frames, and the snapshots they made whole.
    snapshot_parts: u64,
    snapshots_from_parts: u64,
}

/// Runs the fan-out measurement and prints its figures.
pub async fn run(o: Opts) {
    let p = &o.prefix;
    let shared = Arc::new(Shared {
        live: AtomicUsize::new(0),
        connect_failures: AtomicUsize::new(0),
        connect_retries: AtomicUsize::new(0),
        disconnects: AtomicUsize::new(0),
        broken_snapshots: AtomicUsize::new(0),
        measuring: AtomicBool::new(false),
        window_start_ms: 0.into(),
        reasons: Default::default(),
    });
    let rss = || -> Option<u64> {
        (!o.server_pids.is_empty())
            .then(|| o.server_pids.iter().map(|&pid| rss_kib(pid)).sum())
            .flatten()
    };
    let rss_before = rss();
    let (stop_tx, stop_rx) = watch::channel(false);
    let handshakes = Arc::new(Semaphore::new(256));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(o.clients);
    let probes = o.probes;
    for i in 0..o.clients {
        let (url, env, shared, stop, gate) = (
            o.url.clone(),
            o.env.clone(),
            shared.clone(),
            stop_rx.clone(),
            handshakes.clone(),
        );
        tasks.push(tokio::spawn(async move {
            // A refused handshake (a proxy's 502) is tried again as the page does, with its
            // back-off, up to CONNECT_TRIES times.
            let mut jitter = Jitter::new(i as u64);
            let mut attempt = 0;
            let (ws, permit) = loop {
                let permit = gate.clone().acquire_owned().await.ok();
                match connect(&url, &env, None).await {
                    Ok(ws) => break (ws, permit),
                    Err(e) => {
                        drop(permit);
                        note(&shared, format!("connect: {e}"));
                        attempt += 1;
                        if attempt >= CONNECT_TRIES {
                            shared.connect_failures.fetch_add(1, Ordering::Relaxed);
                            return Report::default();
                        }
                        shared.connect_retries.fetch_add(1, Ordering::Relaxed);
                        let wait = delay_ms(attempt, jitter.unit());
                        tokio::time::sleep(Duration::from_millis(u64::from(wait))).await;
                    }
                }
            };
            client(ws, i < probes, shared, stop, permit).await
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let live = shared.live.load(Ordering::Relaxed);
        let failed = shared.connect_failures.load(Ordering::Relaxed)
            + shared.disconnects.load(Ordering::Relaxed);
        if live + failed >= o.clients || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connected_in = started.elapsed();
    let live_at_start = shared.live.load(Ordering::Relaxed);
    let rss_connected = rss();
    shared.window_start_ms.store(wall_ms(), Ordering::Relaxed);
    shared.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(o.seconds)).await;
    shared.measuring.store(false, Ordering::Relaxed);
    let rss_end = rss();
    let _ = stop_tx.send(true);
    let mut reports = Vec::with_capacity(tasks.len());
    for t in tasks {
        reports.push(t.await.unwrap_or_default());
    }

    figure(&format!("{p}_clients"), o.clients, "clients");
    figure(&format!("{p}_clients_live"), live_at_start, "clients");
    figure(
        &format!("{p}_connect_all"),
        format!("{:.0}", connected_in.as_secs_f64() * 1000.0),
        "ms",
    );
    figure(
        &format!("{p}_connect_failures"),
        shared.connect_failures.load(Ordering::Relaxed),
        "clients",
    );
    figure(
        &format!("{p}_connect_retries"),
        shared.connect_retries.load(Ordering::Relaxed),
        "handshakes",
    );
    figure(
        &format!("{p}_disconnects"),
        shared.disconnects.load(Ordering::Relaxed),
        "clients",
    );
    for (why, n) in shared.reasons.lock().map(|r| r.clone()).unwrap_or_default() {
        eprintln!("loadgen: {n} × {why}");
    }

    // Spread: each delta's arrival at each client, after its first arrival at any client.
    let mut first: HashMap<u64, Instant> = HashMap::new();
    for r in &reports {
        for &(seq, t) in &r.receipts {
            first
                .entry(seq)
                .and_modify(|f| *f = (*f).min(t))
                .or_insert(t);
        }
    }
    let mut spread: Vec<f64> = reports
        .iter()
        .flat_map(|r| r.receipts.iter())
        .map(|(seq, t)| t.duration_since(first[seq]).as_secs_f64() * 1000.0)
        .collect();
    match (percentile(&mut spread, 50.0), percentile(&mut spread, 99.0)) {
        (Some(p50), Some(p99)) => {
            figure(&format!("{p}_spread_p50"), format!("{p50:.1}"), "ms");
            figure(&format!("{p}_spread_p99"), format!("{p99:.1}"), "ms");
        }
        _ => missing(&format!("{p}_spread_p50"), "no delta arrived"),
    }
    // Refresh interval: time between consecutive frames (deltas or snapshots) at each client,
    // so how old a client's view can get between two updates.
    let mut intervals: Vec<f64> = reports
        .iter()
        .flat_map(|r| {
            let mut at: Vec<Instant> = r.receipts.iter().map(|(_, t)| *t).collect();
            at.sort();
            at.windows(2)
                .map(|w| w[1].duration_since(w[0]).as_secs_f64() * 1000.0)
                .collect::<Vec<f64>>()
        })
        .collect();
    if let (Some(p50), Some(p99)) = (
        percentile(&mut intervals, 50.0),
        percentile(&mut intervals, 99.0),
    ) {
        figure(
            &format!("{p}_refresh_interval_p50"),
            format!("{p50:.1}"),
            "ms",
        );
        figure(
            &format!("{p}_refresh_interval_p99"),
            format!("{p99:.1}"),
            "ms",
        );
    }
    let mut stamps: Vec<f64> = reports
        .iter()
        .flat_map(|r| r.stamp_latencies_ms.iter().copied())
        .collect();
    match (percentile(&mut stamps, 50.0), percentile(&mut stamps, 99.0)) {
        (Some(p50), Some(p99)) => {
            figure(&format!("{p}_latency_p50"), format!("{p50:.1}"), "ms");
            figure(&format!("{p}_latency_p99"), format!("{p99:.1}"), "ms");
        }
        _ => missing(&format!("{p}_latency_p50"), "no time-stamped event arrived"),
    }
    let probes: Vec<&Report> = reports.iter().take(o.probes.max(1)).collect();
    let per_probe = |f: fn(&Report) -> u64| {
        probes.iter().map(|r| f(r)).sum::<u64>() as f64 / probes.len() as f64
    };
    figure(
        &format!("{p}_feed_changes_per_s"),
        format!("{:.0}", per_probe(|r| r.changes) / o.seconds),
        "changes/s",
    );
    figure(
        &format!("{p}_feed_service_upserts_per_s"),
        format!("{:.0}", per_probe(|r| r.upserts) / o.seconds),
        "events/s",
    );
    figure(&format!("{p}_probe_gaps"), per_probe(|r| r.gaps), "changes");
    let mut frames: Vec<f64> = reports
        .iter()
        .map(|r| r.frames as f64 / o.seconds)
        .collect();
    if let (Some(lo), Some(mid)) = (percentile(&mut frames, 1.0), percentile(&mut frames, 50.0)) {
        figure(
            &format!("{p}_frames_per_client_p50"),
            format!("{mid:.1}"),
            "frames/s",
        );
        figure(
            &format!("{p}_frames_per_client_p1"),
            format!("{lo:.1}"),
            "frames/s",
        );
    }
    let bytes: u64 = reports.iter().map(|r| r.bytes).sum();
    figure(
        &format!("{p}_received"),
        format!("{:.1}", bytes as f64 / o.seconds / 1e6),
        "MB/s",
    );
    figure(
        &format!("{p}_resyncs"),
        reports.iter().map(|r| r.resyncs).sum::<u64>(),
        "snapshots",
    );
    figure(
        &format!("{p}_snapshot_parts"),
        reports.iter().map(|r| r.snapshot_parts).sum::<u64>(),
        "frames",
    );
    figure(
        &format!("{p}_snapshots_from_parts"),
        reports.iter().map(|r| r.snapshots_from_parts).sum::<u64>(),
        "snapshots",
    );
    figure(
        &format!("{p}_snapshots_broken"),
        shared.broken_snapshots.load(Ordering::Relaxed),
        "snapshots",
    );
    match (rss_before, rss_connected, rss_end) {
        (Some(a), Some(b), Some(c)) => {
            figure(&format!("{p}_server_rss_idle"), a / 1024, "MiB");
            figure(&format!("{p}_server_rss_connected"), b / 1024, "MiB");
            figure(&format!("{p}_server_rss_end"), c / 1024, "MiB");
            let per = (b.max(c) as f64 - a as f64) / live_at_start.max(1) as f64;
            figure(
                &format!("{p}_server_rss_per_client"),
                format!("{per:.1}"),
                "KiB",
            );
        }
        _ => missing(&format!("{p}_server_rss_per_client"), "no server pid"),
    }
}

/// Handshakes a client tries before it counts as failed to connect: as a page, which tries
/// for ever, within the connect phase's 180 s (the back-off between tries grows to 15 s).
const CONNECT_TRIES: u32 = 20;

/// How long a client waits for its first snapshot before it counts as failed to connect.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(30);

/// Marks a snapshot's sequence number in `Report::receipts` (deltas use theirs as is).
const SNAPSHOT_KEY: u64 = 1 << 63;

/// What a probe knows of each service: its newest stamp and the digest of its state.
type Known = HashMap<String, (u64, u64)>;

/// Takes in the services of a probe's frame (or of a snapshot's parts): when `measure`, the latency of every stamp newer
/// than what the probe knew. Returns how many services changed state (a delta's upserts all
/// do; a snapshot's services only if they differ from what the probe had).
fn stamps(
    services: Vec<frame::Seen>,
    r: &mut Report,
    known: &mut Known,
    shared: &Shared,
    measure: bool,
) -> u64 {
    let start = shared.window_start_ms.load(Ordering::Relaxed);
    let received = wall_ms();
    let mut changed = 0;
    for seen in services {
        let (prev, digest) = known
            .insert(seen.id, (seen.stamp, seen.digest))
            .unwrap_or((0, 0));
        if digest != seen.digest {
            changed += 1;
        }
        if measure && seen.stamp > prev && seen.stamp >= start {
            r.stamp_latencies_ms
                .push(received.saturating_sub(seen.stamp) as f64);
        }
    }
    changed
}

fn note(shared: &Shared, why: String) {
    if let Ok(mut r) = shared.reasons.lock() {
        *r.entry(why).or_default() += 1;
    }
}

async fn client(
    mut ws: Ws,
    probe: bool,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    // Held until the snapshot arrives, so that only so many handshakes run at once.
    mut handshake: Option<tokio::sync::OwnedSemaphorePermit>,
) -> Report {
    let mut r = Report::default();
    let mut live = false;
    let mut next_seq: Option<u64> = None;
    let mut known = Known::new();
    let mut parts = frame::Parts::default();
    // A probe's services of the parts so far.
    let mut parted: Vec<frame::Seen> = Vec::new();
    // A client whose snapshot does not come gives up its handshake slot, so that one stuck
    // server does not hold every slot and stop the others connecting.
    let snapshot_due = tokio::time::Instant::now() + SNAPSHOT_WAIT;
    loop {
        let msg = tokio::select! {
            _ = stop.changed() => {
                let _ = ws.close(None).await;
                return r;
            }
            _ = tokio::time::sleep_until(snapshot_due), if !live => {
                shared.connect_failures.fetch_add(1, Ordering::Relaxed);
                note(&shared, format!("no snapshot within {SNAPSHOT_WAIT:?}"));
                let _ = ws.close(None).await;
                return r;
            }
            m = ws.next() => m,
        };
        let now = Instant::now();
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(c))) => {
                shared.disconnects.fetch_add(1, Ordering::Relaxed);
                note(&shared, format!("closed by server: {c:?}"));
                return r;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                shared.disconnects.fetch_add(1, Ordering::Relaxed);
                note(&shared, format!("socket error: {e}"));
                return r;
            }
            None => {
                shared.disconnects.fetch_add(1, Ordering::Relaxed);
                note(&shared, "socket ended".into());
                return r;
            }
        };
        let measuring = shared.measuring.load(Ordering::Relaxed);
        let kind = frame::kind(&text);
        // A snapshot, whole or as its last part, with the services a probe read in it.
        let snapshot = match kind {
            Kind::Ping => {
                if ws
                    .send(Message::Text(frame::pong(&text).into()))
                    .await
                    .is_err()
                {
                    shared.disconnects.fetch_add(1, Ordering::Relaxed);
                    note(&shared, "pong failed".into());
                    return r;
                }
                None
            }
            Kind::Snapshot | Kind::Resumed => {
                let services = if probe && kind == Kind::Snapshot {
                    frame::service_stamps(&text)
                } else {
                    Vec::new()
                };
                Some((frame::number(&text, "seq"), services))
            }
            Kind::SnapshotPart => {
                r.snapshot_parts += 1;
                if measuring && live {
                    r.bytes += text.len() as u64;
                }
                if probe {
                    parted.extend(frame::service_stamps(&text));
                }
                match frame::part(&text).map(|p| parts.add(p)) {
                    Some(frame::Joined::Pending) => None,
                    Some(frame::Joined::Whole { seq }) => {
                        r.snapshots_from_parts += 1;
                        Some((Some(seq), std::mem::take(&mut parted)))
                    }
                    Some(frame::Joined::Broken) | None => {
                        parted.clear();
                        shared.broken_snapshots.fetch_add(1, Ordering::Relaxed);
                        note(&shared, "snapshot parts that do not join".into());
                        None
                    }
                }
            }
            Kind::Delta => {
                let Some(seq) = frame::number(&text, "seq") else {
                    continue;
                };
                if measuring {
                    r.receipts.push((seq, now));
                    r.frames += 1;
                    r.bytes += text.len() as u64;
                }
                if probe {
                    let n = frame::changes(&text);
                    if measuring {
                        r.changes += n;
                        if let Some(expected) = next_seq {
                            r.gaps += seq.saturating_sub(expected);
                        }
                        let services = frame::service_stamps(&text);
                        r.upserts += stamps(services, &mut r, &mut known, &shared, true);
                    }
                    next_seq = Some(seq + n);
                }
                None
            }
            Kind::Other => None,
        };
        if let Some((seq, services)) = snapshot {
            let was_live = live;
            if !live {
                live = true;
                drop(handshake.take());
                shared.live.fetch_add(1, Ordering::Relaxed);
            } else if measuring {
                r.resyncs += 1;
            }
            if measuring && was_live {
                if let Some(seq) = seq {
                    // A snapshot sent to laggards is one frame too: its own spread.
                    r.receipts.push((seq | SNAPSHOT_KEY, now));
                }
                if kind != Kind::SnapshotPart {
                    r.bytes += text.len() as u64;
                }
            }
            if probe {
                // A snapshot tells of every change it folds in: those count as received
                // now (a laggard is sent the present state rather than each change).
                let changed = stamps(services, &mut r, &mut known, &shared, measuring && was_live);
                if measuring && was_live {
                    r.upserts += changed;
                }
            }
            next_seq = seq.map(|s| s + 1);
        }
    }
}
