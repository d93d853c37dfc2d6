//! Status changes are stored with the change that made them: the real binary on a real store
//! (the data directory, and a real PostgreSQL) is killed with `kill -9` right after a page was
//! shown a status change, and after the restart the status timelines hold every status the
//! page was shown, in order, the last one included.

#[macro_use]
mod common;

use common::binary::Server;
use common::postgres::{store_on, Backend};
use common::{http_at, Client, Got};
use shipwatch_model::protocol::{Change, ServerMessage, Snapshot, Topic};
use shipwatch_model::rules::service_running_status;
use shipwatch_model::timeline::Timeline;
use shipwatch_model::{DeploymentStatus, RunningStatus, Service};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A subject's statuses: running, and deployment if any.
type Pair = (RunningStatus, Option<DeploymentStatus>);

/// What the page was shown: each subject's statuses in order, a repeat not counted again.
/// The key is the service's id, `""` for the environment itself.
#[derive(Default)]
struct Shown {
    statuses: BTreeMap<String, Vec<Pair>>,
}

impl Shown {
    /// Takes a subject's statuses; whether they changed.
    fn take(&mut self, subject: &str, pair: Pair) -> bool {
        let seen = self.statuses.entry(subject.to_string()).or_default();
        if seen.last() == Some(&pair) {
            return false;
        }
        seen.push(pair);
        true
    }

    fn service(&mut self, s: &Service) -> bool {
        let pair = (
            service_running_status(s),
            s.deployment.as_ref().map(|d| d.status),
        );
        self.take(&s.id, pair)
    }

    /// Takes a frame; whether it showed a status change.
    fn frame(&mut self, msg: ServerMessage) -> bool {
        let mut changed = false;
        match msg {
            ServerMessage::Snapshot {
                data: Snapshot::Environment { environment },
                ..
            } => {
                for s in &environment.services {
                    self.service(s);
                }
            }
            ServerMessage::Snapshot {
                data: Snapshot::Environments { environments },
                ..
            } => {
                for e in environments.iter().filter(|e| e.id == "production") {
                    self.take("", (e.running, e.deployment));
                }
            }
            ServerMessage::Delta { changes, .. } => {
                for c in &changes {
                    changed |= match c {
                        Change::ServiceUpsert(s) => self.service(s),
                        Change::EnvironmentUpsert(e) if e.id == "production" => {
                            self.take("", (e.running, e.deployment))
                        }
                        _ => false,
                    };
                }
            }
            _ => {}
        }
        changed
    }

    /// Status changes shown after the first statuses.
    fn changes(&self) -> usize {
        self.statuses.values().map(|v| v.len() - 1).sum()
    }
}

/// The statuses of a subject's timeline over the last hour, in order.
async fn timeline(addr: SocketAddr, subject: &str) -> Vec<Pair> {
    let path = if subject.is_empty() {
        "/api/v1/environments/production/timeline".to_string()
    } else {
        format!("/api/v1/environments/production/services/{subject}/timeline")
    };
    // A restarted server on PostgreSQL loads its environments as a follower first.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, body) = http_at(addr, "GET", &path, &[]).await;
        if status == 200 {
            let t: Timeline = serde_json::from_slice(&body).expect("a timeline");
            return t
                .segments
                .iter()
                .map(|s| (s.running, s.deployment))
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "{path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether `shown` appears in `timeline` in order (the timeline may hold more: what the
/// restarted server changed).
fn in_order(shown: &[Pair], timeline: &[Pair]) -> bool {
    let mut rest = timeline.iter();
    shown.iter().all(|p| rest.any(|t| t == p))
}

async fn every_status_shown_before_kill_9_is_in_the_timeline(at: Backend) {
    let (_pg, store) = store_on(at);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let flags: Vec<&str> = ["--rate", "20", "--services", "6"]
        .into_iter()
        .chain(store.iter().map(String::as_str))
        .collect();
    let server = Server::start(&data, &flags).await;
    let mut c = Client::connect_to(server.addr).await;
    c.subscribe("envs", Topic::Environments, None).await;
    c.subscribe(
        "env",
        Topic::Environment {
            env: "production".into(),
        },
        None,
    )
    .await;
    let mut shown = Shown::default();
    // A few seconds of changes, then the kill right after the page is shown one: its status
    // change was committed a moment before, with nothing after it to carry it.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "status changes within 30 s");
        let Got::Frame(frame) = c.next().await else {
            panic!("the socket closed");
        };
        let changed = shown.frame(frame.msg);
        if changed && started.elapsed() > Duration::from_secs(3) && shown.changes() >= 10 {
            server.kill();
            break;
        }
    }

    let flags: Vec<&str> = ["--scenario", "calm"]
        .into_iter()
        .chain(store.iter().map(String::as_str))
        .collect();
    let server = Server::start(&data, &flags).await;
    for (subject, statuses) in &shown.statuses {
        let stored = timeline(server.addr, subject).await;
        assert!(
            in_order(statuses, &stored),
            "{at:?} `{subject}`: the page was shown {statuses:?}, the timeline after kill -9 \
             holds {stored:?}"
        );
    }
}

on_both!(every_status_shown_before_kill_9_is_in_the_timeline);
