//! Fan-out: many clients subscribed to one environment; how late each delta reaches each
//! client, how much server memory a client costs, and whether any client is dropped.

use crate::client::Jitter;
use crate::cpu::{self, Group, Sample};
use crate::frame::{self, Kind};
use crate::stats::{figure, missing, percentile, rss_kib, wall_ms};
use crate::wire::{Incoming, Socket};
use shipwatch_model::protocol::reconnect::delay_ms;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};

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
    /// New clients per second (0: as fast as [`HANDSHAKES`] handshakes at a time allow).
    pub connect_rate: f64,
    /// Process trees whose CPU time is reported per phase.
    pub cpu: Vec<Group>,
    /// Prefix of the figure names.
    pub prefix: String,
}

/// Handshakes under way at once (a client holds its place until its snapshot is in).
const HANDSHAKES: usize = 256;

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

/// What one client saw: during the window, and how its run ended.
#[derive(Default)]
struct Report {
    /// It received its snapshot.
    live: bool,
    /// Its socket closed or failed (by the server, nginx, or a failed pong).
    disconnected: bool,
    /// Deltas (over the whole run) whose first number did not follow the last change
    /// applied: a gap or a repeat. A fresh snapshot starts the count of numbers anew.
    seq_breaks: u64,
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
    let handshakes = Arc::new(Semaphore::new(HANDSHAKES));
    let started = Instant::now();
    let cpu_start = Sample::take(&o.cpu);
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
        // Paced: client i starts i / rate seconds in.
        let start_at = (o.connect_rate > 0.0).then(|| {
            tokio::time::Instant::from_std(started)
                + Duration::from_secs_f64(i as f64 / o.connect_rate)
        });
        tasks.push(tokio::spawn(async move {
            if let Some(at) = start_at {
                tokio::time::sleep_until(at).await;
            }
            // A refused handshake (a proxy's 502) is tried again as the page does, with its
            // back-off, up to CONNECT_TRIES times.
            let mut jitter = Jitter::new(i as u64);
            let mut attempt = 0;
            let (ws, permit) = loop {
                let permit = gate.clone().acquire_owned().await.ok();
                match subscribed(&url, &env, i as u64).await {
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
    // The connect phase: the paced ramp, and 30 s more for the last handshakes (or 180 s
    // unpaced).
    let phase = if o.connect_rate > 0.0 {
        Duration::from_secs_f64(o.clients as f64 / o.connect_rate + 30.0)
    } else {
        Duration::from_secs(180)
    };
    let deadline = started + phase;
    let mut next_note = started + Duration::from_secs(10);
    loop {
        let live = shared.live.load(Ordering::Relaxed);
        let failed = shared.connect_failures.load(Ordering::Relaxed)
            + shared.disconnects.load(Ordering::Relaxed);
        if live + failed >= o.clients || Instant::now() > deadline {
            break;
        }
        if Instant::now() >= next_note {
            next_note += Duration::from_secs(10);
            eprintln!(
                "loadgen: {:.0} s: {live} with their snapshot, {failed} failed or closed",
                started.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connected_in = started.elapsed();
    let live_at_start = shared.live.load(Ordering::Relaxed);
    let rss_connected = rss();
    let cpu_connected = Sample::take(&o.cpu);
    shared.window_start_ms.store(wall_ms(), Ordering::Relaxed);
    shared.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(o.seconds)).await;
    shared.measuring.store(false, Ordering::Relaxed);
    let cpu_end = Sample::take(&o.cpu);
    let rss_end = rss();
    let _ = stop_tx.send(true);
    let mut reports = Vec::with_capacity(tasks.len());
    for t in tasks {
        reports.push(t.await.unwrap_or_default());
    }

    // Live: the snapshot came, the socket is open at the end of the window, changes came
    // during the window, and every delta followed the one before it.
    let open = |r: &&Report| r.live && !r.disconnected;
    let live_at_end = reports
        .iter()
        .filter(open)
        .filter(|r| r.frames > 0 && r.seq_breaks == 0)
        .count();
    figure(&format!("{p}_clients"), o.clients, "clients");
    figure(&format!("{p}_clients_live"), live_at_end, "clients");
    figure(&format!("{p}_clients_snapshot"), live_at_start, "clients");
    figure(
        &format!("{p}_clients_silent"),
        reports
            .iter()
            .filter(open)
            .filter(|r| r.frames == 0)
            .count(),
        "clients",
    );
    figure(
        &format!("{p}_clients_seq_broken"),
        reports.iter().filter(|r| r.seq_breaks > 0).count(),
        "clients",
    );
    if o.connect_rate > 0.0 {
        figure(&format!("{p}_connect_rate"), o.connect_rate, "clients/s");
    }
    for (phase, a, b) in [
        ("connect", &cpu_start, &cpu_connected),
        ("window", &cpu_connected, &cpu_end),
    ] {
        let spent = cpu::spent(&o.cpu, a, b);
        for (name, s) in spent.seconds {
            figure(
                &format!("{p}_cpu_{phase}_{name}"),
                format!("{:.0}", 100.0 * s / spent.wall.max(1e-3)),
                "% of one core",
            );
        }
    }
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
        // A service's stamp only grows: an instance update carries one instance's stamp.
        let (prev, digest) = known.get(&seen.id).copied().unwrap_or((0, 0));
        known.insert(seen.id, (seen.stamp.max(prev), seen.digest));
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

/// A socket through the lean client, subscribed to environment `env`.
async fn subscribed(url: &str, env: &str, seed: u64) -> Result<Socket, String> {
    let mut ws = Socket::connect(url, seed).await?;
    // As the page subscribes: an instance's change is an `instance_update`, not its service.
    ws.send_text(&frame::subscribe(env, None, true)).await?;
    Ok(ws)
}

/// Counts a socket that closed or failed once connected; its report says so.
fn disconnected(mut r: Report, shared: &Shared, why: String) -> Report {
    shared.disconnects.fetch_add(1, Ordering::Relaxed);
    note(shared, why);
    r.disconnected = true;
    r
}

fn note(shared: &Shared, why: String) {
    if let Ok(mut r) = shared.reasons.lock() {
        *r.entry(why).or_default() += 1;
    }
}

async fn client(
    mut ws: Socket,
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
                ws.close().await;
                return r;
            }
            _ = tokio::time::sleep_until(snapshot_due), if !live => {
                shared.connect_failures.fetch_add(1, Ordering::Relaxed);
                note(&shared, format!("no snapshot within {SNAPSHOT_WAIT:?}"));
                ws.close().await;
                return r;
            }
            m = ws.next() => m,
        };
        let now = Instant::now();
        let bytes = match msg {
            Some(Ok(Incoming::Text(t))) => t,
            Some(Ok(Incoming::Close(c))) => {
                return disconnected(r, &shared, format!("closed by server: {c:?}"));
            }
            Some(Err(e)) => return disconnected(r, &shared, format!("socket error: {e}")),
            None => return disconnected(r, &shared, "socket ended".into()),
        };
        // Checked as UTF-8 by the socket.
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let measuring = shared.measuring.load(Ordering::Relaxed);
        let kind = frame::kind(text);
        // A snapshot, whole or as its last part, with the services a probe read in it.
        let snapshot = match kind {
            Kind::Ping => {
                if ws.send_text(&frame::pong(text)).await.is_err() {
                    return disconnected(r, &shared, "pong failed".into());
                }
                None
            }
            Kind::Snapshot | Kind::Resumed => {
                let services = if probe && kind == Kind::Snapshot {
                    frame::service_stamps(text)
                } else {
                    Vec::new()
                };
                Some((frame::number(text, "seq"), services))
            }
            Kind::SnapshotPart => {
                r.snapshot_parts += 1;
                if measuring && live {
                    r.bytes += text.len() as u64;
                }
                if probe {
                    parted.extend(frame::service_stamps(text));
                }
                match frame::part(text).map(|p| parts.add(p)) {
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
                let Some(seq) = frame::number(text, "seq") else {
                    continue;
                };
                if measuring {
                    r.receipts.push((seq, now));
                    r.frames += 1;
                    r.bytes += text.len() as u64;
                }
                let n = frame::changes(text);
                if next_seq.is_some_and(|expected| seq != expected) {
                    r.seq_breaks += 1;
                    note(
                        &shared,
                        "a delta that does not follow the last change".into(),
                    );
                }
                if probe && measuring {
                    r.changes += n;
                    if let Some(expected) = next_seq {
                        r.gaps += seq.saturating_sub(expected);
                    }
                    let services = frame::service_stamps(text);
                    r.upserts += stamps(services, &mut r, &mut known, &shared, true);
                }
                next_seq = Some(seq + n);
                None
            }
            Kind::Other => None,
        };
        if let Some((seq, services)) = snapshot {
            let was_live = live;
            if !live {
                live = true;
                r.live = true;
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
