//! Failover: clients follow one environment through a load balancer in front of several
//! replicas; one replica is killed (SIGKILL, by this program, so the clock starts at the
//! kill). The clients whose socket it held reconnect as the page does (the model's back-off:
//! `reconnect::delay_ms`, full jitter, 125-500 ms before the first retry) through the same
//! address, subscribe again with `resume_from` (their last applied sequence number), and
//! count as live again at the first delta after the `resumed` (or fresh snapshot): how long
//! until the pages of a dead replica show changes again.

use crate::client::{connect, Jitter, Ws};
use crate::frame::{self, Kind};
use crate::stats::{figure, missing, percentile};
use futures_util::{SinkExt, StreamExt};
use shipwatch_model::protocol::reconnect::delay_ms;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::tungstenite::Message;

/// What to run.
pub struct Opts {
    /// Websocket URL of the load balancer.
    pub url: String,
    /// Environment id to subscribe to.
    pub env: String,
    /// Clients connected through the load balancer (it spreads them over the replicas).
    pub clients: usize,
    /// The replica killed.
    pub kill_pid: u32,
    /// How long the clients follow the feed, once all are live, before the kill.
    pub warm_seconds: f64,
    /// How long the clients of the dead replica have to be live again.
    pub timeout_seconds: f64,
    /// Prefix of the figure names.
    pub prefix: String,
}

/// How the failure of a client that never was live begins.
const NOT_LIVE: &str = "never live";

/// How a client's run ended.
#[derive(Debug)]
enum Outcome {
    /// Its socket outlived the kill (it was on another replica).
    Kept,
    /// Its replica died and it came back: times since the kill.
    Back {
        resubscribed: Duration,
        receiving: Duration,
        resumed: bool,
        attempts: u32,
    },
    /// It never was live, or did not come back in time.
    Failed(String),
}

/// Runs the failover measurement and prints its figures.
pub async fn run(o: Opts) {
    let p = &o.prefix;
    let live = Arc::new(AtomicUsize::new(0));
    // Clients that failed before they were live.
    let lost = Arc::new(AtomicUsize::new(0));
    let (killed_tx, killed_rx) = watch::channel::<Option<Instant>>(None);
    let handshakes = Arc::new(Semaphore::new(256));
    let timeout = Duration::from_secs_f64(o.timeout_seconds);
    let mut tasks = Vec::with_capacity(o.clients);
    for i in 0..o.clients {
        let (url, env, live, lost, killed, gate) = (
            o.url.clone(),
            o.env.clone(),
            live.clone(),
            lost.clone(),
            killed_rx.clone(),
            handshakes.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let outcome = client(i as u64, &url, &env, live, killed, gate, timeout).await;
            if matches!(&outcome, Outcome::Failed(why) if why.starts_with(NOT_LIVE)) {
                lost.fetch_add(1, Ordering::Relaxed);
            }
            outcome
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    while live.load(Ordering::Relaxed) + lost.load(Ordering::Relaxed) < o.clients
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let live_before = live.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(o.warm_seconds)).await;

    let killed_at = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-KILL", &o.kill_pid.to_string()])
        .status();
    if !kill.is_ok_and(|s| s.success()) {
        missing(&format!("{p}_live_p50"), "could not kill the replica");
        let _ = killed_tx.send(Some(killed_at));
        return;
    }
    let _ = killed_tx.send(Some(killed_at));

    let mut outcomes = Vec::with_capacity(tasks.len());
    for t in tasks {
        outcomes.push(
            t.await
                .unwrap_or_else(|e| Outcome::Failed(format!("task: {e}"))),
        );
    }
    let s = summarize(&outcomes);
    figure(&format!("{p}_clients"), o.clients, "clients");
    figure(&format!("{p}_clients_live"), live_before, "clients");
    figure(&format!("{p}_on_killed_replica"), s.moved, "clients");
    figure(&format!("{p}_kept"), s.kept, "clients");
    figure(&format!("{p}_failed"), s.failed, "clients");
    figure(&format!("{p}_resumed"), s.resumed, "clients");
    figure(&format!("{p}_snapshots"), s.moved - s.resumed, "clients");
    for (name, mut samples) in [("live", s.receiving), ("resubscribed", s.resubscribed)] {
        match (
            percentile(&mut samples, 50.0),
            percentile(&mut samples, 99.0),
            percentile(&mut samples, 100.0),
        ) {
            (Some(p50), Some(p99), Some(max)) => {
                figure(&format!("{p}_{name}_p50"), format!("{p50:.0}"), "ms");
                figure(&format!("{p}_{name}_p99"), format!("{p99:.0}"), "ms");
                figure(&format!("{p}_{name}_max"), format!("{max:.0}"), "ms");
            }
            _ => missing(
                &format!("{p}_{name}_p50"),
                "no client of the killed replica came back",
            ),
        }
    }
    figure(&format!("{p}_attempts_max"), s.attempts_max, "attempts");
    for why in s.reasons.iter().take(5) {
        eprintln!("loadgen: failover: {why}");
    }
}

/// The outcomes, counted.
#[derive(Debug, Default)]
struct Summary {
    kept: usize,
    /// Clients whose replica died and that came back.
    moved: usize,
    resumed: usize,
    failed: usize,
    /// Milliseconds from the kill to the first delta, and to the `resumed` or snapshot.
    receiving: Vec<f64>,
    resubscribed: Vec<f64>,
    attempts_max: u32,
    reasons: Vec<String>,
}

fn summarize(outcomes: &[Outcome]) -> Summary {
    let mut s = Summary::default();
    for o in outcomes {
        match o {
            Outcome::Kept => s.kept += 1,
            Outcome::Back {
                resubscribed,
                receiving,
                resumed,
                attempts,
            } => {
                s.moved += 1;
                s.resumed += usize::from(*resumed);
                s.receiving.push(receiving.as_secs_f64() * 1000.0);
                s.resubscribed.push(resubscribed.as_secs_f64() * 1000.0);
                s.attempts_max = s.attempts_max.max(*attempts);
            }
            Outcome::Failed(why) => {
                s.failed += 1;
                s.reasons.push(why.clone());
            }
        }
    }
    s
}

/// One client: live through the balancer, then (if its socket dies after the kill) back.
async fn client(
    id: u64,
    url: &str,
    env: &str,
    live: Arc<AtomicUsize>,
    mut killed: watch::Receiver<Option<Instant>>,
    gate: Arc<Semaphore>,
    timeout: Duration,
) -> Outcome {
    // A refused handshake (a proxy's 502) is tried again with the page's back-off.
    let mut jitter = Jitter::new(id);
    let mut attempt = 0;
    let mut ws = loop {
        let first = {
            let _permit = gate.acquire().await;
            connect(url, env, None).await
        };
        match first {
            Ok(ws) => break ws,
            Err(e) if attempt >= 5 => return Outcome::Failed(format!("{NOT_LIVE}: connect: {e}")),
            Err(_) => {
                attempt += 1;
                let wait = delay_ms(attempt, jitter.unit());
                tokio::time::sleep(Duration::from_millis(u64::from(wait))).await;
            }
        }
    };
    let mut feed = Feed::default();
    let mut counted = false;
    // Follow until the kill was made and this socket died, or the kill was made and the
    // socket outlived it for a while (it is on a replica that lives).
    loop {
        let after_kill = *killed.borrow();
        let read = match after_kill {
            None => tokio::select! {
                _ = killed.changed() => continue,
                m = ws.next() => m,
            },
            Some(at) => {
                let kept_until = at + Duration::from_secs(3);
                match tokio::time::timeout_at(kept_until.into(), ws.next()).await {
                    Ok(m) => m,
                    Err(_) => {
                        let _ = ws.close(None).await;
                        return if counted {
                            Outcome::Kept
                        } else {
                            Outcome::Failed(NOT_LIVE.into())
                        };
                    }
                }
            }
        };
        match read {
            Some(Ok(Message::Text(t))) => {
                if let Some(pong) = feed.take(&t) {
                    let _ = ws.send(Message::Text(pong.into())).await;
                }
                if feed.whole && !counted {
                    counted = true;
                    live.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some(Ok(_)) => {}
            _ => match after_kill {
                // Its replica was killed: come back as the page does.
                Some(at) if counted => return come_back(id, url, env, &feed, at, timeout).await,
                _ if counted => return Outcome::Failed("socket lost before the kill".into()),
                _ => return Outcome::Failed(format!("{NOT_LIVE}: socket lost")),
            },
        }
    }
}

/// What a client knows of its subscription.
#[derive(Debug, Default)]
struct Feed {
    /// The last sequence number applied.
    last: Option<u64>,
    /// Whether it holds the topic's state (a snapshot, or `resumed`).
    whole: bool,
    parts: frame::Parts,
}

impl Feed {
    /// Takes in a frame; the pong to send, for a ping.
    fn take(&mut self, t: &str) -> Option<String> {
        match frame::kind(t) {
            Kind::Snapshot | Kind::Resumed => {
                self.last = frame::number(t, "seq");
                self.whole = true;
            }
            Kind::SnapshotPart => match frame::part(t).map(|p| self.parts.add(p)) {
                Some(frame::Joined::Whole { seq }) => {
                    self.last = Some(seq);
                    self.whole = true;
                }
                Some(frame::Joined::Pending) => {}
                _ => self.whole = false,
            },
            Kind::Delta => {
                if let Some(seq) = frame::number(t, "seq") {
                    self.last = Some(seq + frame::changes(t).max(1) - 1);
                }
            }
            Kind::Ping => return Some(frame::pong(t)),
            Kind::Other => {}
        }
        None
    }
}

/// Reconnects with the page's back-off until subscribed again and a delta arrived.
async fn come_back(
    id: u64,
    url: &str,
    env: &str,
    before: &Feed,
    killed_at: Instant,
    timeout: Duration,
) -> Outcome {
    let deadline = killed_at + timeout;
    let mut random = Jitter::new(id);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let wait = Duration::from_millis(u64::from(delay_ms(attempt, random.unit())));
        if Instant::now() + wait > deadline {
            return Outcome::Failed(format!("not live again after {timeout:?}"));
        }
        tokio::time::sleep(wait).await;
        let tried = tokio::time::timeout_at(
            deadline.into(),
            resubscribe(url, env, before.last, killed_at),
        )
        .await;
        match tried {
            Ok(Ok((resubscribed, receiving, resumed))) => {
                return Outcome::Back {
                    resubscribed,
                    receiving,
                    resumed,
                    attempts: attempt,
                }
            }
            Ok(Err(_)) => {}
            Err(_) => return Outcome::Failed(format!("not live again after {timeout:?}")),
        }
    }
}

/// One attempt: connect, subscribe with `resume_from`, wait for the `resumed` (or a whole
/// snapshot), then for a delta. Times since the kill, and whether it was resumed.
async fn resubscribe(
    url: &str,
    env: &str,
    resume_from: Option<u64>,
    killed_at: Instant,
) -> Result<(Duration, Duration, bool), String> {
    let mut ws: Ws = connect(url, env, resume_from).await?;
    let mut feed = Feed::default();
    let mut subscribed: Option<(Duration, bool)> = None;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let kind = frame::kind(&t);
                if let Some(pong) = feed.take(&t) {
                    ws.send(Message::Text(pong.into()))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                match (subscribed, kind) {
                    (None, _) if feed.whole => {
                        subscribed = Some((killed_at.elapsed(), kind == Kind::Resumed));
                    }
                    (Some((at, resumed)), Kind::Delta) => {
                        let _ = ws.close(None).await;
                        return Ok((at, killed_at.elapsed(), resumed));
                    }
                    _ => {}
                }
            }
            Some(Ok(_)) => {}
            other => return Err(format!("socket ended: {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_follows_sequence_numbers_through_parts_and_deltas() {
        let mut f = Feed::default();
        let part = |p, n| {
            format!(
                r#"{{"v":1,"type":"snapshot_part","sub":"e","seq":40,"part":{p},"parts":{n},"data":{{}}}}"#
            )
        };
        assert_eq!(f.take(&part(0, 2)), None);
        assert!(!f.whole, "half a snapshot");
        f.take(&part(1, 2));
        assert!(f.whole);
        assert_eq!(f.last, Some(40));
        f.take(r#"{"v":1,"type":"delta","sub":"e","seq":41,"changes":[{"op":"a"},{"op":"b"}]}"#);
        assert_eq!(f.last, Some(42), "the last change applied");
        assert_eq!(
            f.take(r#"{"v":1,"type":"ping","nonce":3}"#).as_deref(),
            Some(r#"{"v":1,"type":"pong","nonce":3}"#)
        );
    }

    #[test]
    fn counts_who_moved_and_how_long_it_took() {
        let ms = Duration::from_millis;
        let back = |r, l, resumed| Outcome::Back {
            resubscribed: ms(r),
            receiving: ms(l),
            resumed,
            attempts: 1,
        };
        let s = summarize(&[
            Outcome::Kept,
            back(300, 400, true),
            back(500, 700, false),
            Outcome::Failed("x".into()),
        ]);
        assert_eq!((s.kept, s.moved, s.resumed, s.failed), (1, 2, 1, 1));
        assert_eq!(s.receiving, vec![400.0, 700.0]);
        assert_eq!(s.resubscribed, vec![300.0, 500.0]);
    }
}
