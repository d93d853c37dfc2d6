//! Resume: many clients, all following the feed, lose their sockets at once and reconnect at once with `resume_from`;
//! how long until every one of them is live again, and whether the server could resume them
//! (`resumed`) or had to send a fresh snapshot.

use crate::client::{connect, Ws};
use crate::frame::{self, Kind};
use crate::stats::{figure, percentile};
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

/// What to run.
pub struct Opts {
    /// Websocket URL of the server.
    pub url: String,
    /// Environment id to subscribe to.
    pub env: String,
    /// Number of clients.
    pub clients: usize,
    /// How long the clients follow the feed, once all are live, before their sockets drop.
    pub warm_seconds: f64,
    /// Prefix of the figure names.
    pub prefix: String,
}

/// How one client came back.
enum Back {
    Resumed(Duration),
    Snapshot(Duration),
    Failed(String),
}

/// Runs the resume measurement and prints its figures.
pub async fn run(o: Opts) {
    let p = &o.prefix;
    let (drop_tx, drop_rx) = watch::channel(false);
    let live = Arc::new(AtomicUsize::new(0));
    let mut followers = Vec::new();
    for _ in 0..o.clients {
        let (url, env, rx, live) = (o.url.clone(), o.env.clone(), drop_rx.clone(), live.clone());
        followers.push(tokio::spawn(async move {
            let ws = connect(&url, &env, None).await.ok()?;
            follow(ws, rx, live).await
        }));
    }
    // Every client following (or a minute gone), then some deltas, then the sockets drop.
    let deadline = Instant::now() + Duration::from_secs(60);
    while live.load(Ordering::Relaxed) < o.clients && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs_f64(o.warm_seconds)).await;
    let _ = drop_tx.send(true);
    let mut last = Vec::new();
    for f in followers {
        last.push(f.await.ok().flatten());
    }
    let following = last.iter().filter(|l| l.is_some()).count();

    let t0 = Instant::now();
    let mut back = Vec::new();
    for resume_from in last.into_iter().flatten() {
        let (url, env) = (o.url.clone(), o.env.clone());
        back.push(tokio::spawn(async move {
            let attempt = async {
                let mut ws = connect(&url, &env, Some(resume_from)).await?;
                let mut parts = frame::Parts::default();
                loop {
                    match ws.next().await {
                        Some(Ok(Message::Text(t))) => match frame::kind(&t) {
                            Kind::Resumed => return Ok(Back::Resumed(t0.elapsed())),
                            Kind::Snapshot => return Ok(Back::Snapshot(t0.elapsed())),
                            Kind::SnapshotPart => match frame::part(&t).map(|p| parts.add(p)) {
                                Some(frame::Joined::Whole { .. }) => {
                                    return Ok(Back::Snapshot(t0.elapsed()))
                                }
                                Some(frame::Joined::Pending) => {}
                                _ => return Err("snapshot parts that do not join".into()),
                            },
                            _ => {}
                        },
                        Some(Ok(_)) => {}
                        other => return Err(format!("{other:?}")),
                    }
                }
            };
            let result = tokio::time::timeout(Duration::from_secs(60), attempt).await;
            match result {
                Ok(Ok(b)) => b,
                Ok(Err(e)) => Back::Failed(e),
                Err(_) => Back::Failed("not live after 60 s".into()),
            }
        }));
    }
    let (mut resumed, mut snapshots, mut failed) = (0, 0, 0);
    let mut times = Vec::new();
    for b in back {
        match b.await {
            Ok(Back::Resumed(t)) => {
                resumed += 1;
                times.push(t.as_secs_f64() * 1000.0);
            }
            Ok(Back::Snapshot(t)) => {
                snapshots += 1;
                times.push(t.as_secs_f64() * 1000.0);
            }
            Ok(Back::Failed(e)) => {
                failed += 1;
                eprintln!("loadgen: resume failed: {e}");
            }
            Err(e) => {
                failed += 1;
                eprintln!("loadgen: resume task: {e}");
            }
        }
    }
    figure(&format!("{p}_clients"), following, "clients");
    let all = times.iter().copied().fold(0.0, f64::max);
    figure(&format!("{p}_all_live"), format!("{all:.0}"), "ms");
    if let Some(p50) = percentile(&mut times, 50.0) {
        figure(&format!("{p}_p50"), format!("{p50:.0}"), "ms");
    }
    figure(&format!("{p}_resumed"), resumed, "clients");
    figure(&format!("{p}_snapshots"), snapshots, "clients");
    figure(&format!("{p}_failed"), failed, "clients");
}

/// Follows the feed until told to drop, answering pings; returns the last sequence number
/// applied, or None if the socket failed.
async fn follow(
    mut ws: Ws,
    mut drop_now: watch::Receiver<bool>,
    live: Arc<AtomicUsize>,
) -> Option<u64> {
    let mut last: Option<u64> = None;
    let mut parts = frame::Parts::default();
    loop {
        let msg = tokio::select! {
            _ = drop_now.changed() => return last,
            m = ws.next() => m,
        };
        let Some(Ok(Message::Text(t))) = msg else {
            match msg {
                Some(Ok(_)) => continue,
                _ => return None,
            }
        };
        let whole = match frame::kind(&t) {
            Kind::Snapshot | Kind::Resumed => frame::number(&t, "seq"),
            Kind::SnapshotPart => match frame::part(&t).map(|p| parts.add(p)) {
                Some(frame::Joined::Whole { seq }) => Some(seq),
                Some(frame::Joined::Pending) => None,
                // The snapshot is lost: this client cannot follow.
                _ => return None,
            },
            Kind::Delta => {
                if let Some(seq) = frame::number(&t, "seq") {
                    last = Some(seq + frame::changes(&t) - 1);
                }
                None
            }
            Kind::Ping => {
                let _ = ws.send(Message::Text(frame::pong(&t).into())).await;
                None
            }
            Kind::Other => None,
        };
        if let Some(seq) = whole {
            if last.is_none() {
                live.fetch_add(1, Ordering::Relaxed);
            }
            last = Some(seq);
        }
    }
}
