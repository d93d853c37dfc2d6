//! The server's stream never loses a change: a client following an environment topic of the
//! real hub over a socket that drops, resuming from the last applied sequence number (answered
//! from the hub's replay buffer, or with a fresh snapshot when the buffer no longer reaches),
//! ends with the hub's state, having applied every change once, in order (the model's
//! `Cursor` checks the numbers, as the app's does).

use proptest::prelude::*;
use shipwatch_model::protocol::stream::{seq_base, Cursor};
use shipwatch_model::protocol::{
    decode_server, Change, ServerMessage, Snapshot, Topic, MAX_CHANGES_PER_DELTA,
    MAX_SERVER_FRAME_BYTES,
};
use shipwatch_model::{Environment, Instance, RunningStatus, Service, ServiceKind};
use shipwatch_server::hub::{Head, Hub, HubConfig};
use shipwatch_server::platform::PlatformEvent;
use shipwatch_server::subscription::{Next, Subscription};
use std::collections::VecDeque;

#[derive(Clone, Debug)]
enum Op {
    /// The source reports this many service changes, in one batch.
    Write(usize),
    /// This many frames reach the client.
    Deliver(usize),
    /// The socket drops: frames not delivered are lost.
    Drop,
    /// The client reconnects and resubscribes (resuming if it can).
    Reconnect,
    /// The last frame the client got arrives again.
    Resend,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1usize..30).prop_map(Op::Write),
        4 => (1usize..6).prop_map(Op::Deliver),
        1 => Just(Op::Drop),
        2 => Just(Op::Reconnect),
        1 => Just(Op::Resend),
    ]
}

const SERVICES: usize = 5;

fn service(k: usize, version: u64) -> Service {
    Service {
        id: format!("svc-{k}"),
        name: format!("svc-{k}"),
        kind: ServiceKind::Application,
        instances: vec![Instance {
            name: format!("svc-{k}-1"),
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

fn hub(replay: usize, boot: u64) -> Hub {
    Hub::new(
        HubConfig {
            replay,
            max_logs: 4,
            base_seq: seq_base(boot),
        },
        &[Environment {
            id: "prod".into(),
            name: "prod".into(),
            services: (0..SERVICES).map(|k| service(k, 0)).collect(),
            deployment: None,
        }],
    )
}

fn topic() -> Topic {
    Topic::Environment { env: "prod".into() }
}

fn subscribe(hub: &Hub, resume_from: Option<u64>) -> Subscription {
    let cell = hub.topic(&topic()).expect("the topic");
    let start = cell.subscribe(resume_from, false).expect("open");
    Subscription::new("env".into(), cell, start, false, false)
}

#[derive(Default)]
struct Client {
    cursor: Cursor,
    env: Option<Environment>,
    last_frame: Option<String>,
}

impl Client {
    fn apply(&mut self, text: &str) -> Result<(), String> {
        let frame =
            decode_server(text, MAX_SERVER_FRAME_BYTES as usize).map_err(|e| e.to_string())?;
        self.last_frame = Some(text.to_string());
        match frame.msg {
            ServerMessage::Snapshot {
                seq,
                data: Snapshot::Environment { environment },
                ..
            } => {
                self.env = Some(environment);
                self.cursor.snapshot(seq);
            }
            ServerMessage::Resumed { seq, .. } => {
                self.cursor.resumed(seq).map_err(|e| e.to_string())?
            }
            ServerMessage::Delta { seq, changes, .. } => {
                if changes.len() > MAX_CHANGES_PER_DELTA {
                    return Err(format!("a delta of {} changes", changes.len()));
                }
                let range = self
                    .cursor
                    .delta(seq, changes.len())
                    .map_err(|e| e.to_string())?;
                let env = self.env.as_mut().ok_or("a delta before any snapshot")?;
                for change in &changes[range] {
                    let Change::ServiceUpsert(s) = change else {
                        return Err(format!("not a service upsert: {change:?}"));
                    };
                    let at = env
                        .services
                        .iter()
                        .position(|x| x.id == s.id)
                        .ok_or("an unknown service")?;
                    env.services[at] = s.clone();
                }
            }
            other => return Err(format!("unexpected {other:?}")),
        }
        Ok(())
    }
}

/// Frames the subscription has for the client now (as its socket's writer would pull them).
fn pull(sub: &mut Subscription, wire: &mut VecDeque<String>) {
    loop {
        match sub.next_frame() {
            Next::Frame(f) => wire.push_back(f.as_str().to_string()),
            Next::Idle => return,
            Next::Ended(e) => panic!("ended: {e}"),
        }
    }
}

fn run(ops: &[Op], replay: usize, boot: u64) -> Result<(), String> {
    let hub = hub(replay, boot);
    let mut version = 0u64;
    let mut client = Client::default();
    let mut sub = Some(subscribe(&hub, None));
    let mut wire: VecDeque<String> = VecDeque::new();
    for op in ops {
        match op {
            Op::Write(k) => {
                let events: Vec<PlatformEvent> = (0..*k)
                    .map(|i| {
                        version += 1;
                        PlatformEvent::ServiceChanged {
                            env: "prod".into(),
                            service: service(i % SERVICES, version),
                        }
                    })
                    .collect();
                hub.apply(&events);
            }
            Op::Deliver(m) => {
                if let Some(sub) = sub.as_mut() {
                    pull(sub, &mut wire);
                }
                for _ in 0..*m {
                    if let Some(f) = wire.pop_front() {
                        client.apply(&f)?;
                    }
                }
            }
            Op::Drop => {
                wire.clear();
                sub = None;
            }
            Op::Reconnect => {
                wire.clear();
                sub = Some(subscribe(&hub, client.cursor.resume_from()));
            }
            Op::Resend => {
                if let Some(f) = client.last_frame.clone() {
                    if f.contains(r#""type":"delta""#) {
                        client.apply(&f)?;
                    }
                }
            }
        }
    }
    let mut sub = sub.unwrap_or_else(|| subscribe(&hub, client.cursor.resume_from()));
    pull(&mut sub, &mut wire);
    while let Some(f) = wire.pop_front() {
        client.apply(&f)?;
    }
    let cell = hub.topic(&topic()).expect("the topic");
    let (seq, data) = cell.snapshot().expect("nothing staged");
    let Ok(Snapshot::Environment { environment }) = serde_json::from_str(&data) else {
        return Err("the hub's snapshot".into());
    };
    if client.env.as_ref() != Some(&environment) {
        return Err("the client's state is not the hub's".into());
    }
    if client.cursor.last() != Some(seq) {
        return Err(format!(
            "cursor at {:?}, hub at {seq}",
            client.cursor.last()
        ));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_gap_no_duplicate_across_reconnects(
        ops in prop::collection::vec(op(), 0..60),
        replay in 1usize..40,
        boot in 0u64..2_000_000_000_000,
    ) {
        if let Err(e) = run(&ops, replay, boot) {
            return Err(TestCaseError::fail(e));
        }
    }
}

#[test]
fn a_resume_from_a_previous_server_run_gets_a_snapshot() {
    let old = hub(100, 1_000);
    for v in 1..50 {
        old.apply(&[PlatformEvent::ServiceChanged {
            env: "prod".into(),
            service: service(1, v),
        }]);
    }
    let last = old.topic(&topic()).unwrap().seq();
    let new = hub(100, 2_000);
    let start = new
        .topic(&topic())
        .unwrap()
        .subscribe(Some(last), false)
        .unwrap();
    assert!(
        matches!(start.head, Head::Snapshot { .. }),
        "a snapshot, not a resume"
    );
}

#[test]
fn a_long_catch_up_comes_in_deltas_of_at_most_the_protocols_changes() {
    // The removed ones and as many kept, so the backlog does not outweigh the state.
    let envs: Vec<Environment> = (0..2 * 1_234)
        .map(|k| Environment {
            id: format!("e{k}"),
            name: format!("e{k}"),
            services: Vec::new(),
            deployment: None,
        })
        .collect();
    let hub = Hub::new(
        HubConfig {
            replay: 4_096,
            max_logs: 4,
            base_seq: seq_base(1_000),
        },
        &envs,
    );
    let cell = hub.topic(&Topic::Environments).unwrap();
    let first = cell.seq();
    // Small changes, so the count, not the bytes, ends each delta.
    for e in &envs[..1_234] {
        hub.apply(&[PlatformEvent::EnvironmentRemoved { id: e.id.clone() }]);
    }
    let start = cell.subscribe(Some(first), false).unwrap();
    assert!(matches!(start.head, Head::Resumed { .. }));
    let mut sub = Subscription::new("l".into(), cell, start, false, false);
    let mut wire = VecDeque::new();
    pull(&mut sub, &mut wire);
    let mut sizes = Vec::new();
    for f in &wire {
        if let ServerMessage::Delta { changes, .. } = decode_server(f, usize::MAX).unwrap().msg {
            sizes.push(changes.len());
        }
    }
    assert_eq!(sizes.iter().sum::<usize>(), 1_234, "{sizes:?}");
    assert!(
        sizes.iter().all(|&n| n <= MAX_CHANGES_PER_DELTA),
        "{sizes:?}"
    );
    assert!(sizes.contains(&MAX_CHANGES_PER_DELTA), "{sizes:?}");
}
