//! The websocket feed against a running server: snapshots then ordered deltas, resume with no
//! gap or duplicate (environment and logs topics), a slow reader, heartbeats and shutdown.

mod common;

use common::{start, Client, Got};
use shipwatch_model::protocol::{
    decode_server, instance_update, Change, ClientMessage, ServerMessage, Snapshot, Topic,
};
use shipwatch_model::{DeploymentStatus, Environment};
use std::time::Duration;

fn prod() -> Topic {
    Topic::Environment {
        env: "production".into(),
    }
}

/// Applies an environment topic's change to a local copy, as the app does.
fn apply(env: &mut Environment, change: Change) {
    match change {
        Change::ServiceUpsert(s) => match env.services.iter_mut().find(|x| x.id == s.id) {
            Some(x) => *x = s,
            None => env.services.push(s),
        },
        Change::ServiceRemoved { id } => env.services.retain(|s| s.id != id),
        Change::InstanceUpdate {
            service,
            index,
            instance,
            running_since,
            events_added,
        } => {
            let s = env
                .services
                .iter_mut()
                .find(|s| s.id == service)
                .expect("an instance update names a service the client has");
            let added = events_added.as_deref();
            *s = instance_update::apply(s, index, instance, running_since, added)
                .expect("an instance it has");
        }
        Change::EnvironmentDeployment { deployment } => env.deployment = deployment,
        other => panic!("not an environment change: {other:?}"),
    }
}

/// Follows subscription `sub` on `c`, applying deltas to `env`, until its seq reaches `until`.
/// Asserts every delta starts right after the previous one. Returns the last seq.
async fn follow(
    c: &mut Client,
    sub: &str,
    env: &mut Environment,
    mut last: u64,
    until: u64,
) -> u64 {
    while last < until {
        match c.frame().await.msg {
            ServerMessage::Delta {
                sub: s,
                seq,
                changes,
            } if s == sub => {
                assert_eq!(seq, last + 1, "no gap, no duplicate");
                last = seq + changes.len() as u64 - 1;
                changes.into_iter().for_each(|ch| apply(env, ch));
            }
            ServerMessage::Delta { .. } => {}
            // Fell behind: the server re-synchronised us (see `subscription`).
            ServerMessage::Snapshot {
                sub: s,
                seq,
                data: Snapshot::Environment { environment },
            } if s == sub => {
                *env = environment;
                last = seq;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    last
}

/// A fresh snapshot of production on a new subscription id.
async fn snapshot_of_prod(c: &mut Client, sub: &str) -> (u64, Environment) {
    c.subscribe(sub, prod(), None).await;
    loop {
        if let ServerMessage::Snapshot {
            sub: s,
            seq,
            data: Snapshot::Environment { environment },
        } = c.frame().await.msg
        {
            if s == sub {
                return (seq, environment);
            }
        }
    }
}

/// Takes a fresh snapshot on `check` while still following `sub` (its deltas applied to
/// `env`, `last` moved on); then follows `sub` up to the snapshot and compares.
async fn check_against_snapshot(c: &mut Client, sub: &str, env: &mut Environment, mut last: u64) {
    c.subscribe("check", prod(), None).await;
    let (seq, fresh) = loop {
        match c.frame().await.msg {
            ServerMessage::Snapshot {
                sub: s,
                seq,
                data: Snapshot::Environment { environment },
            } if s == "check" => {
                break (seq, environment);
            }
            ServerMessage::Delta {
                sub: s,
                seq,
                changes,
            } if s == sub => {
                assert_eq!(seq, last + 1, "no gap, no duplicate");
                last = seq + changes.len() as u64 - 1;
                changes.into_iter().for_each(|ch| apply(env, ch));
            }
            _ => {}
        }
    };
    follow(c, sub, env, last, seq).await;
    assert_eq!(
        *env, fresh,
        "the deltas rebuild exactly what a fresh snapshot says"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_deltas_in_order_and_they_rebuild_the_state() {
    let h = start(&["--rate", "40", "--speed", "4"]).await;
    let mut c = Client::connect(&h).await;
    c.subscribe("envs", Topic::Environments, None).await;
    c.subscribe("prod", prod(), None).await;
    let (mut envs_seq, mut prod_seq, mut env) = (None, None, None);
    while envs_seq.is_none() || prod_seq.is_none() {
        match c.frame().await.msg {
            ServerMessage::Snapshot { sub, seq, data } => match data {
                Snapshot::Environments { environments } => {
                    assert_eq!(sub, "envs");
                    let ids: Vec<&str> = environments.iter().map(|e| e.id.as_str()).collect();
                    assert_eq!(ids, ["production", "staging", "preview-pr-142"]);
                    envs_seq = Some(seq);
                }
                Snapshot::Environment { environment } => {
                    assert_eq!(sub, "prod");
                    assert_eq!(environment.services.len(), 8);
                    env = Some(environment);
                    prod_seq = Some(seq);
                }
                other => panic!("unexpected snapshot {other:?}"),
            },
            // Each subscription's snapshot comes before its own deltas; the other one's
            // deltas may come between the two snapshots.
            ServerMessage::Delta { sub, seq, changes } => {
                let last = match sub.as_str() {
                    "envs" => envs_seq.as_mut(),
                    _ => prod_seq.as_mut(),
                }
                .unwrap_or_else(|| panic!("{sub}: a delta before its snapshot"));
                assert_eq!(seq, *last + 1, "{sub}: deltas follow the snapshot");
                *last = seq + changes.len() as u64 - 1;
                if sub == "prod" {
                    let env = env.as_mut().expect("prod's snapshot came");
                    changes.into_iter().for_each(|ch| apply(env, ch));
                }
            }
            other => panic!("expected snapshots first, got {other:?}"),
        }
    }
    let (mut envs_last, mut prod_last, mut env) =
        (envs_seq.unwrap(), prod_seq.unwrap(), env.unwrap());
    let mut deltas = 0;
    while deltas < 20 {
        match c.frame().await.msg {
            ServerMessage::Delta { sub, seq, changes } => {
                deltas += 1;
                assert!(!changes.is_empty());
                let last = if sub == "envs" {
                    &mut envs_last
                } else {
                    &mut prod_last
                };
                assert_eq!(seq, *last + 1, "{sub}: deltas follow each other");
                *last = seq + changes.len() as u64 - 1;
                if sub == "prod" {
                    changes.into_iter().for_each(|ch| apply(&mut env, ch));
                } else {
                    assert!(changes
                        .iter()
                        .all(|ch| matches!(ch, Change::EnvironmentUpsert(_))));
                }
            }
            // A reader that fell behind (a loaded machine) is brought to the present with a
            // fresh snapshot, as the protocol allows; the deltas after it follow it.
            ServerMessage::Snapshot { sub, seq, data } => match (sub.as_str(), data) {
                ("prod", Snapshot::Environment { environment }) => {
                    env = environment;
                    prod_last = seq;
                }
                ("envs", Snapshot::Environments { .. }) => envs_last = seq,
                (sub, other) => panic!("{sub}: unexpected snapshot {other:?}"),
            },
            other => panic!("unexpected {other:?}"),
        }
    }
    check_against_snapshot(&mut c, "prod", &mut env, prod_last).await;
    h.shutdown();
    h.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_topic_resumes_with_no_gap_or_duplicate() {
    // A short gap at a modest rate: what was missed weighs less than the state.
    let h = start(&["--rate", "20", "--speed", "2"]).await;
    let mut c = Client::connect(&h).await;
    let (seq0, mut env) = snapshot_of_prod(&mut c, "p").await;
    let last = follow(&mut c, "p", &mut env, seq0, seq0 + 5).await;
    drop(c);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut c = Client::connect(&h).await;
    c.subscribe("p", prod(), Some(last)).await;
    match c.frame().await.msg {
        ServerMessage::Resumed { sub, seq } => assert_eq!((sub.as_str(), seq), ("p", last)),
        other => panic!("expected resumed, got {other:?}"),
    }
    check_against_snapshot(&mut c, "p", &mut env, last).await;
    // A resume point the server never had gets a fresh snapshot instead.
    c.subscribe("future", prod(), Some(u64::MAX - 1)).await;
    loop {
        if let ServerMessage::Snapshot { sub, .. } = c.frame().await.msg {
            if sub == "future" {
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_after_more_changes_than_the_state_weighs_gets_a_snapshot() {
    // Missed changes that weigh more than the environment itself: a snapshot is the quicker
    // way back, and the client ends with the same state either way.
    let h = start(&["--rate", "400", "--speed", "4"]).await;
    let mut c = Client::connect(&h).await;
    let (seq0, mut env) = snapshot_of_prod(&mut c, "p").await;
    let last = follow(&mut c, "p", &mut env, seq0, seq0 + 5).await;
    drop(c);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let missed = h.app().hub.topic(&prod()).expect("production").seq() - last;
    let mut c = Client::connect(&h).await;
    c.subscribe("p", prod(), Some(last)).await;
    match c.frame().await.msg {
        ServerMessage::Snapshot { sub, seq, data } => {
            assert_eq!(sub, "p");
            assert!(seq >= last + missed, "a snapshot of the present");
            let Snapshot::Environment { environment } = data else {
                panic!("an environment snapshot");
            };
            env = environment;
            check_against_snapshot(&mut c, "p", &mut env, seq).await;
        }
        other => panic!("expected a snapshot after {missed} missed changes, got {other:?}"),
    }
}

/// Deploys production/api through the HTTP API; returns the deployment id.
async fn deploy(h: &shipwatch_server::ServerHandle, outcome: &str) -> String {
    let path = format!("/api/environments/production/services/api/deploy?outcome={outcome}");
    let (status, _, body) = common::http_write(h, "POST", &path).await;
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    v["deployment"]["id"]
        .as_str()
        .expect("deployment id")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_topic_resumes_and_lines_have_no_gap_or_duplicate() {
    let h = start(&["--scenario", "calm", "--speed", "6", "--log-lines", "3000"]).await;
    let dep = deploy(&h, "ok").await;
    let topic = Topic::Logs {
        deployment: dep.clone(),
    };
    let mut c = Client::connect(&h).await;
    c.subscribe("log", topic.clone(), None).await;
    let base = match c.frame().await.msg {
        ServerMessage::Snapshot {
            seq,
            data:
                Snapshot::Logs {
                    env,
                    service,
                    deployment,
                    ..
                },
            ..
        } => {
            assert_eq!(
                (env.as_str(), service.as_deref()),
                ("production", Some("api"))
            );
            assert_eq!(deployment.id, dep);
            seq
        }
        other => panic!("expected a logs snapshot, got {other:?}"),
    };
    assert!(
        base > 1_000_000,
        "a log's seq starts at the boot-time base: {base}"
    );
    let (mut last, mut line_n, mut done) = (base, 0u64, false);
    let read = |changes: Vec<Change>, line_n: &mut u64, done: &mut bool| {
        assert!(changes.len() <= 500, "at most 500 changes per frame");
        for ch in changes {
            match ch {
                Change::Line(l) => {
                    assert_eq!(l.n, *line_n + 1, "line numbers without gaps");
                    *line_n = l.n;
                }
                Change::Deployment(d) => *done = d.status == DeploymentStatus::DeploymentOk,
                other => panic!("not a logs change: {other:?}"),
            }
        }
    };
    while line_n < 100 {
        if let ServerMessage::Delta { seq, changes, .. } = c.frame().await.msg {
            assert_eq!(seq, last + 1);
            last = seq + changes.len() as u64 - 1;
            read(changes, &mut line_n, &mut done);
        }
    }
    drop(c);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut c = Client::connect(&h).await;
    c.subscribe("log", topic, Some(last)).await;
    assert!(matches!(c.frame().await.msg, ServerMessage::Resumed { seq, .. } if seq == last));
    while !done {
        if let ServerMessage::Delta { seq, changes, .. } = c.frame().await.msg {
            assert_eq!(seq, last + 1, "resume continues right after the last seq");
            last = seq + changes.len() as u64 - 1;
            read(changes, &mut line_n, &mut done);
        }
    }
    assert!(line_n >= 2_500, "the whole log arrived: {line_n} lines");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_log_arrives_whole_in_frames_of_at_most_500_lines() {
    let h = start(&["--scenario", "calm", "--log-lines", "1800"]).await;
    let mut c = Client::connect(&h).await;
    c.subscribe(
        "l",
        Topic::Logs {
            deployment: "dep-1".into(),
        },
        None,
    )
    .await;
    let base = match c.frame().await.msg {
        ServerMessage::Snapshot { seq, .. } => seq,
        other => panic!("expected a logs snapshot, got {other:?}"),
    };
    let (mut n, mut next_seq) = (0u64, base + 1);
    while n < 1_800 {
        match c.frame().await.msg {
            ServerMessage::Delta { seq, changes, .. } => {
                assert_eq!(seq, next_seq);
                assert!(changes.len() <= 500);
                next_seq += changes.len() as u64;
                for ch in changes {
                    if let Change::Line(l) = ch {
                        assert_eq!(l.n, n + 1);
                        n = l.n;
                    }
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_does_not_slow_others_and_stays_consistent() {
    let h = start(&["--rate", "150", "--replay", "32", "--log-lines", "5000"]).await;
    let mut slow = Client::connect(&h).await;
    for i in 1..=7 {
        slow.subscribe(
            &format!("log{i}"),
            Topic::Logs {
                deployment: format!("dep-{i}"),
            },
            None,
        )
        .await;
    }
    slow.subscribe("p", prod(), None).await;
    // The slow client reads nothing for a while; a fast one follows production meanwhile.
    let mut fast = Client::connect(&h).await;
    let (seq0, mut env) = snapshot_of_prod(&mut fast, "p").await;
    let started = std::time::Instant::now();
    let last = follow(&mut fast, "p", &mut env, seq0, seq0 + 40).await;
    eprintln!("fast client: 40 changes in {:?}", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the fast client was not held up"
    );
    // Now the slow one reads: whatever it gets for `p` is consistent (contiguous deltas, or a
    // fresh snapshot when it fell behind the replay buffer), and it gets to the present.
    let mut p_last: Option<u64> = None;
    let mut p_env: Option<Environment> = None;
    let mut resnapshots = 0;
    loop {
        match slow.frame().await.msg {
            ServerMessage::Snapshot {
                sub,
                seq,
                data: Snapshot::Environment { environment },
            } if sub == "p" => {
                if p_last.is_some() {
                    resnapshots += 1;
                }
                p_last = Some(seq);
                p_env = Some(environment);
            }
            ServerMessage::Delta { sub, seq, changes } if sub == "p" => {
                let l = p_last.expect("snapshot first");
                assert_eq!(seq, l + 1, "slow client: no gap");
                p_last = Some(seq + changes.len() as u64 - 1);
                changes
                    .into_iter()
                    .for_each(|ch| apply(p_env.as_mut().unwrap(), ch));
            }
            _ => {}
        }
        if p_last.is_some_and(|l| l >= last) {
            break;
        }
    }
    eprintln!("slow client re-snapshots: {resnapshots}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_clients_are_dropped_and_pings_are_answered() {
    let h = start(&[
        "--scenario",
        "calm",
        "--heartbeat-ms",
        "100",
        "--idle-timeout-ms",
        "400",
    ])
    .await;
    let mut c = Client::connect(&h).await;
    c.send(shipwatch_model::protocol::ClientMessage::Ping { nonce: 9 })
        .await;
    assert!(matches!(
        c.frame().await.msg,
        ServerMessage::Pong { nonce: 9 }
    ));
    // Never answer: read raw frames (the helper would answer pings) until the close.
    use futures_util::StreamExt;
    let mut pings = 0;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(5), c.ws.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))
                if t.contains("\"ping\"") =>
            {
                pings += 1
            }
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(f))) => {
                break f.map(|f| u16::from(f.code))
            }
            Some(Ok(_)) => {}
            _ => break None,
        }
    };
    assert!(pings >= 2, "server pings every heartbeat_ms: {pings}");
    assert_eq!(code, Some(4000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_flooded_with_changes_still_gets_its_heartbeats_and_stays_connected() {
    // Far more changes than this client can read: 2,000 events/s of whole services, while it
    // takes 150 ms over each frame. Its heartbeats must still reach it well within the idle
    // timeout (not stuck behind megabytes of data in socket buffers), so that it answers them
    // and is never dropped; and what it reads stays recent.
    let h = start(&[
        "--services",
        "200",
        "--rate",
        "2000",
        "--heartbeat-ms",
        "1000",
        "--idle-timeout-ms",
        "3000",
    ])
    .await;
    let mut c = Client::connect(&h).await;
    c.subscribe("p", prod(), None).await;
    use futures_util::{SinkExt, StreamExt};
    use shipwatch_model::protocol::{decode_server, encode, ClientFrame, ClientMessage};
    use tokio_tungstenite::tungstenite::Message;
    let started = std::time::Instant::now();
    let (mut pings, mut frames, mut last_ping, mut worst_gap) = (0, 0, started, Duration::ZERO);
    let mut last_seq = 0u64;
    while started.elapsed() < Duration::from_secs(10) {
        let msg = tokio::time::timeout(Duration::from_secs(3), c.ws.next())
            .await
            .expect("frames keep coming");
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(f))) => panic!("disconnected after {pings} pings: {f:?}"),
            Some(Ok(_)) => continue,
            other => panic!("socket failed: {other:?}"),
        };
        match decode_server(text.as_str(), 16 << 20)
            .expect("server frames decode")
            .msg
        {
            ServerMessage::Ping { nonce } => {
                pings += 1;
                worst_gap = worst_gap.max(last_ping.elapsed());
                last_ping = std::time::Instant::now();
                let pong = encode(&ClientFrame::new(ClientMessage::Pong { nonce }));
                c.ws.send(Message::Text(pong.into())).await.expect("pong");
            }
            ServerMessage::Snapshot { seq, .. } => {
                last_seq = seq;
                frames += 1;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            // A snapshot of 200 services comes in parts of 32 KiB: read as one slow frame, as
            // it was sent before parts (this reader is slow per frame; one that is slow per
            // byte takes as long over the parts as over the whole).
            ServerMessage::SnapshotPart {
                seq, part, parts, ..
            } if part + 1 == parts => {
                last_seq = seq;
                frames += 1;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            ServerMessage::Delta { seq, changes, .. } => {
                last_seq = seq + changes.len() as u64 - 1;
                frames += 1;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            _ => {}
        }
    }
    let newest = h.app().hub.topic(&prod()).expect("production").seq();
    eprintln!(
        "{pings} pings (worst gap {worst_gap:?}), {frames} frames, behind by {} changes",
        newest - last_seq
    );
    assert!(pings >= 8, "a heartbeat every second: {pings} in 10 s");
    assert!(
        worst_gap < Duration::from_millis(2500),
        "heartbeats reached the slow client well within the 3 s idle timeout: worst gap \
         {worst_gap:?}"
    );
    assert!(
        newest - last_seq < 6_000,
        "the slow client is shown recent states (behind by {} changes, 3 s of them)",
        newest - last_seq
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sockets_with_going_away() {
    let h = start(&["--scenario", "calm"]).await;
    let mut c = Client::connect(&h).await;
    c.subscribe("e", Topic::Environments, None).await;
    assert!(matches!(
        c.frame().await.msg,
        ServerMessage::Snapshot { .. }
    ));
    h.shutdown();
    assert_eq!(c.closed().await, Some(1001));
    h.stopped().await;
    let _ = Got::Closed(None);
}

/// What one subscription of [`instance_updates_rebuild_the_same_state_in_less_text`] got
/// since its snapshot.
#[derive(Default)]
struct Followed {
    env: Option<Environment>,
    last: u64,
    bytes: usize,
    instance_updates: usize,
    service_upserts: usize,
}

impl Followed {
    fn changes(&self) -> usize {
        self.instance_updates + self.service_upserts
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_updates_rebuild_the_same_state_in_less_text() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    // A rate at which a batch of whole services weighs less than the state (else the server
    // sends those subscriptions a snapshot after every batch).
    let h = start(&["--rate", "60", "--speed", "4"]).await;
    let mut c = Client::connect(&h).await;
    // The same topic twice on one socket: whole services, and instance updates where they do.
    c.subscribe_with("whole", prod(), None, false).await;
    c.subscribe_with("short", prod(), None, true).await;
    let mut subs = [Followed::default(), Followed::default()];
    while subs.iter().any(|f| f.changes() < 200) {
        let msg = tokio::time::timeout(Duration::from_secs(10), c.ws.next())
            .await
            .expect("frames keep coming");
        let text = match msg {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
            other => panic!("the socket ended: {other:?}"),
        };
        let frame = decode_server(text.as_str(), 16 << 20).expect("server frames decode");
        let f = match &frame.msg {
            ServerMessage::Snapshot { sub, .. } | ServerMessage::Delta { sub, .. } => {
                &mut subs[usize::from(sub == "short")]
            }
            ServerMessage::Ping { nonce } => {
                c.send(ClientMessage::Pong { nonce: *nonce }).await;
                continue;
            }
            _ => continue,
        };
        match frame.msg {
            ServerMessage::Snapshot {
                seq,
                data: Snapshot::Environment { environment },
                ..
            } => {
                *f = Followed {
                    env: Some(environment),
                    last: seq,
                    ..Followed::default()
                };
            }
            ServerMessage::Delta { seq, changes, .. } => {
                assert_eq!(seq, f.last + 1, "no gap, no duplicate");
                f.last = seq + changes.len() as u64 - 1;
                f.bytes += text.len();
                for change in changes {
                    match &change {
                        Change::InstanceUpdate { .. } => f.instance_updates += 1,
                        Change::ServiceUpsert(_) => f.service_upserts += 1,
                        _ => {}
                    }
                    apply(f.env.as_mut().expect("snapshot first"), change);
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let [whole, short] = subs;
    assert_eq!(whole.instance_updates, 0, "not asked for, not sent");
    assert!(
        short.instance_updates > short.service_upserts,
        "most status events change one instance: {} instance updates, {} services",
        short.instance_updates,
        short.service_upserts
    );
    let per_change = |f: &Followed| f.bytes / f.changes();
    assert!(
        per_change(&short) * 2 < per_change(&whole),
        "instance updates take less than half the text: {} against {} bytes a change",
        per_change(&short),
        per_change(&whole)
    );
    // The changes rebuild what a fresh snapshot says.
    let mut env = short.env.clone().expect("followed");
    check_against_snapshot(&mut c, "short", &mut env, short.last).await;
}
