//! Snapshots larger than the snapshot frame limit (`MAX_SNAPSHOT_FRAME_BYTES`, 32 KiB) arrive
//! in `snapshot_part` frames within it, on a new subscription and to a laggard re-synchronised
//! with a fresh snapshot; joined, they are the topic's state, and the deltas after them follow
//! without a gap.

mod common;

use common::{start, Client};
use futures_util::StreamExt;
use shipwatch_model::protocol::{
    decode_server, Change, ClientMessage, ServerMessage, Snapshot, SnapshotJoin, Topic,
    MAX_SERVER_FRAME_BYTES, MAX_SNAPSHOT_FRAME_BYTES,
};
use shipwatch_model::{Environment, Instance, RunningStatus, Service, ServiceKind};
use shipwatch_server::frames;
use shipwatch_server::hub::{Hub, HubConfig};
use shipwatch_server::platform::PlatformEvent;
use shipwatch_server::subscription::{Next, Subscription};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const LIMIT: usize = MAX_SERVER_FRAME_BYTES as usize;

/// Joins the parts of a snapshot from frames' text; returns it with its seq and how many
/// frames it took. Every frame is within the snapshot frame limit.
fn join(frames: impl IntoIterator<Item = String>) -> (u64, Snapshot, usize) {
    let mut join = SnapshotJoin::default();
    for (k, text) in frames.into_iter().enumerate() {
        assert!(
            text.len() <= MAX_SNAPSHOT_FRAME_BYTES,
            "frame {k} is {} bytes, over {MAX_SNAPSHOT_FRAME_BYTES}",
            text.len()
        );
        match decode_server(&text, LIMIT).expect("decodes").msg {
            ServerMessage::Snapshot { seq, data, .. } => return (seq, data, k + 1),
            ServerMessage::SnapshotPart {
                seq,
                part,
                parts,
                data,
                ..
            } => {
                if let Some(whole) = join.add(seq, part, parts, data).expect("parts in order") {
                    return (seq, whole, k + 1);
                }
            }
            other => panic!("a snapshot's part expected, got {other:?}"),
        }
    }
    panic!("frames ended before the snapshot's last part");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_environment_of_3000_services_arrives_in_parts_within_the_frame_limit() {
    let h = start(&["--environments", "1", "--services", "3000"]).await;
    let mut c = Client::connect(&h).await;
    c.subscribe(
        "big",
        Topic::Environment {
            env: "production".into(),
        },
        None,
    )
    .await;
    let texts = snapshot_texts(&mut c).await;
    assert!(
        texts
            .iter()
            .all(|t| t.contains(r#""type":"snapshot_part""#)),
        "a 1.4 MB snapshot sent in parts"
    );
    let (seq, snapshot, frames) = join(texts);
    assert!(frames >= 2, "more than one part");
    let Snapshot::Environment { environment } = snapshot else {
        panic!("an environment snapshot")
    };
    assert_eq!(environment.services.len(), 3000, "every service arrives");
    let ids: std::collections::HashSet<_> = environment.services.iter().map(|s| &s.id).collect();
    assert_eq!(ids.len(), 3000, "each once");
    // The subscription goes on after the snapshot's seq.
    loop {
        match c.frame().await.msg {
            ServerMessage::Delta { seq: s, sub, .. } if sub == "big" => {
                assert_eq!(s, seq + 1, "the first delta follows the snapshot");
                break;
            }
            _ => {}
        }
    }
    h.shutdown();
}

/// The text of the frames of the next snapshot on `c` (its parts, or the whole), read raw so
/// that their sizes are measured as sent; pings are answered.
async fn snapshot_texts(c: &mut Client) -> Vec<String> {
    let mut texts = Vec::new();
    let mut join = SnapshotJoin::default();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), c.ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("open")
            .expect("no error");
        let Message::Text(t) = msg else { continue };
        let text = t.as_str().to_string();
        match decode_server(&text, 16 << 20).expect("decodes").msg {
            ServerMessage::SnapshotPart {
                seq,
                part,
                parts,
                data,
                ..
            } => {
                texts.push(text);
                if join.add(seq, part, parts, data).unwrap().is_some() {
                    return texts;
                }
            }
            ServerMessage::Snapshot { .. } => {
                texts.push(text);
                return texts;
            }
            ServerMessage::Ping { nonce } => c.send(ClientMessage::Pong { nonce }).await,
            _ => {}
        }
    }
}

/// A 100-service environment (55 KB here; 72 to 94 KB once the simulator has run a while; sent
/// whole before parts were cut at 32 KiB) and a list of 200 environments arrive in parts, each
/// frame within the snapshot frame limit; joined, each is the snapshot the topic holds, as
/// one frame would have carried it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_over_32_kib_come_in_parts_within_it_that_join_to_the_whole() {
    for (flags, topic, at_least) in [
        (
            ["--environments", "1", "--services", "100"],
            Topic::Environment {
                env: "production".into(),
            },
            2,
        ),
        (
            ["--environments", "200", "--services", "1"],
            Topic::Environments,
            2,
        ),
    ] {
        // Nothing changes: the topic's snapshot is the one sent.
        let h = start(&[&flags[..], &["--rate", "0"]].concat()).await;
        let mut c = Client::connect(&h).await;
        c.subscribe("s", topic.clone(), None).await;
        let texts = snapshot_texts(&mut c).await;
        let (seq, joined, count) = join(texts.clone());
        assert!(
            count >= at_least,
            "{topic:?}: {count} frames of {:?} bytes",
            texts.iter().map(String::len).collect::<Vec<_>>()
        );
        let (at, data) = h.app().hub.topic(&topic).unwrap().snapshot().unwrap();
        assert_eq!(seq, at, "{topic:?}: nothing changed meanwhile");
        let one = frames::snapshot(&frames::sub_json("s"), at, &data);
        assert!(one.len() > MAX_SNAPSHOT_FRAME_BYTES, "{topic:?} is large");
        let ServerMessage::Snapshot { data: whole, .. } = decode_server(&one, LIMIT).unwrap().msg
        else {
            panic!("a snapshot")
        };
        assert_eq!(joined, whole, "{topic:?}: the parts join to the whole");
        h.shutdown();
    }
}

fn service(k: usize, version: u32) -> Service {
    Service {
        id: format!("svc-{k:05}"),
        // Long names: 3,000 services weigh over a megabyte.
        name: format!("service-{k:05}-{}", "x".repeat(300)),
        kind: ServiceKind::Application,
        instances: vec![Instance {
            name: format!("svc-{k:05}-1"),
            status: RunningStatus::Running,
            version: format!("v{version}"),
            restarts: 0,
            reason: None,
            message: None,
            started_at: None,
            events: Vec::new(),
            last_restart_at: None,
            last_termination: None,
        }],
        version: format!("v{version}"),
        deployment: None,
        deployment_since: None,
        running_since: None,
    }
}

fn drain(sub: &mut Subscription) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        match sub.next_frame() {
            Next::Frame(f) => out.push(f.as_str().to_string()),
            Next::Idle => return out,
            Next::Ended(e) => panic!("ended: {e}"),
        }
    }
}

#[test]
fn a_laggard_is_resynchronised_with_a_snapshot_in_parts_then_deltas() {
    let env = Environment {
        id: "production".into(),
        name: "Production".into(),
        services: (0..3000).map(|k| service(k, 0)).collect(),
        deployment: None,
    };
    let hub = Hub::new(
        HubConfig {
            replay: 8,
            max_logs: 4,
            base_seq: 1000,
        },
        &[env],
    );
    let topic = Topic::Environment {
        env: "production".into(),
    };
    let cell = hub.topic(&topic).unwrap();
    let mut sub = Subscription::new(
        "p".into(),
        cell.clone(),
        cell.subscribe(None, false).unwrap(),
        false,
        false,
    );
    let (_, first, parts) = join(drain(&mut sub));
    assert!(parts >= 2, "the head snapshot in parts");
    assert!(
        matches!(first, Snapshot::Environment { ref environment } if environment.services.len() == 3000)
    );

    // Falls out of the 8 buffered changes: a fresh snapshot, again in parts.
    for v in 1..=20 {
        hub.apply(&[PlatformEvent::ServiceChanged {
            env: "production".into(),
            service: service(v as usize, v),
        }]);
    }
    let frames = drain(&mut sub);
    let (seq, again, parts) = join(frames.clone());
    assert!(parts >= 2);
    assert_eq!(parts, frames.len(), "nothing but the parts");
    assert_eq!(seq, cell.seq());
    let Snapshot::Environment { environment } = again else {
        panic!()
    };
    assert_eq!(environment.services.len(), 3000);
    assert_eq!(environment.services[20].version, "v20", "the present state");

    // Then deltas, from the snapshot on.
    hub.apply(&[PlatformEvent::ServiceChanged {
        env: "production".into(),
        service: service(7, 99),
    }]);
    let frames = drain(&mut sub);
    assert_eq!(frames.len(), 1);
    match decode_server(&frames[0], LIMIT).unwrap().msg {
        ServerMessage::Delta {
            seq: s, changes, ..
        } => {
            assert_eq!(s, seq + 1);
            assert!(matches!(&changes[0], Change::ServiceUpsert(s) if s.version == "v99"));
        }
        other => panic!("a delta expected, got {other:?}"),
    }
}
