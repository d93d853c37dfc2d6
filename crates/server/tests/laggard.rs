//! A subscriber whose socket queue stays full falls behind the replay buffer: the real
//! forwarding loop must re-synchronise it with a fresh snapshot and then continue without a
//! gap, with bounded memory. (Over TCP, kernel buffers hide this for megabytes; here the
//! socket queue is the bounded channel itself.)

use shipwatch_model::protocol::{decode_server, Change, ServerMessage, Snapshot, Topic};
use shipwatch_model::{Environment, Instance, RunningStatus, Service, ServiceKind};
use shipwatch_server::hub::{Hub, HubConfig};
use shipwatch_server::sim::SimEvent;
use shipwatch_server::subscription::forward;
use std::time::Duration;
use tokio::sync::mpsc;

fn service(version: u32) -> Service {
    Service {
        id: "api".into(),
        name: "API".into(),
        kind: ServiceKind::Application,
        instances: vec![Instance {
            name: "api-1".into(),
            status: if version.is_multiple_of(2) {
                RunningStatus::Running
            } else {
                RunningStatus::Starting
            },
            version: format!("v{version}"),
            restarts: 0,
            reason: None,
            message: None,
            started_at: None,
        }],
        version: format!("v{version}"),
        deployment: None,
    }
}

#[tokio::test]
async fn a_laggard_gets_a_fresh_snapshot_then_contiguous_deltas_and_the_present_state() {
    let env = Environment {
        id: "production".into(),
        name: "Production".into(),
        services: vec![service(0)],
        deployment: None,
    };
    let hub = Hub::new(
        HubConfig {
            replay: 8,
            broadcast: 4,
            max_logs: 4,
            base_seq: 1000,
        },
        &[env],
    );
    let cell = hub
        .topic(&Topic::Environment {
            env: "production".into(),
        })
        .unwrap();
    let start = cell.subscribe(None).unwrap();
    // The socket's queue holds 2 frames and nobody reads it for now.
    let (out, mut socket) = mpsc::channel::<String>(2);
    let task = tokio::spawn(forward("p".into(), cell.clone(), start, out));
    for v in 1..=200 {
        hub.apply(vec![SimEvent::Service {
            env: "production".into(),
            service: service(v),
        }]);
        tokio::task::yield_now().await;
    }
    // Now read: the first snapshot, maybe some deltas, then a fresh snapshot, then deltas.
    let (mut snapshots, mut last, mut state) = (0, 0u64, None::<Environment>);
    while last < cell.seq() {
        let text = tokio::time::timeout(Duration::from_secs(5), socket.recv())
            .await
            .unwrap()
            .unwrap();
        match decode_server(&text, 1 << 20).unwrap().msg {
            ServerMessage::Snapshot {
                seq,
                data: Snapshot::Environment { environment },
                ..
            } => {
                snapshots += 1;
                last = seq;
                state = Some(environment);
            }
            ServerMessage::Delta { seq, changes, .. } => {
                assert_eq!(seq, last + 1, "no gap, no duplicate after re-synchronising");
                last = seq + changes.len() as u64 - 1;
                for change in changes {
                    if let Change::ServiceUpsert(s) = change {
                        state.as_mut().unwrap().services[0] = s;
                    }
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        snapshots >= 2,
        "fell behind 8 buffered changes: re-snapshot expected, got {snapshots}"
    );
    assert_eq!(
        state.unwrap().services[0].version,
        "v200",
        "ends at the present state"
    );
    task.abort();
}
