//! A subscriber that cannot take frames as fast as they are published: the real subscription
//! logic must catch it up in fewer, larger deltas while the backlog is small, re-synchronise
//! it with a fresh snapshot when the backlog outweighs the state or left the replay buffer,
//! then continue without a gap, and always end at the present state.

use shipwatch_model::protocol::{decode_server, Change, ServerMessage, Snapshot, Topic};
use shipwatch_model::{Environment, Instance, RunningStatus, Service, ServiceKind};
use shipwatch_server::hub::{Hub, HubConfig};
use shipwatch_server::platform::PlatformEvent;
use shipwatch_server::subscription::{Next, Subscription};

fn service(id: &str, version: u32) -> Service {
    Service {
        id: id.into(),
        name: id.to_uppercase(),
        kind: ServiceKind::Application,
        instances: vec![Instance {
            name: format!("{id}-1"),
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

const SERVICES: [&str; 4] = ["api", "web", "worker", "db"];

fn hub(replay: usize) -> Hub {
    let env = Environment {
        id: "production".into(),
        name: "Production".into(),
        services: SERVICES.iter().map(|id| service(id, 0)).collect(),
        deployment: None,
    };
    Hub::new(
        HubConfig {
            replay,
            max_logs: 4,
            base_seq: 1000,
        },
        &[env],
    )
}

fn prod() -> Topic {
    Topic::Environment {
        env: "production".into(),
    }
}

/// `n` changes, one service after the other, each in its own batch; versions from `from`.
fn publish(hub: &Hub, from: u32, n: u32) {
    for v in from..from + n {
        let id = SERVICES[v as usize % SERVICES.len()];
        hub.apply(&[PlatformEvent::ServiceChanged {
            env: "production".into(),
            service: service(id, v),
        }]);
    }
}

/// What a client following the subscription has seen.
#[derive(Default)]
struct Follower {
    snapshots: u32,
    deltas: u32,
    last: u64,
    state: Option<Environment>,
}

impl Follower {
    /// Takes frames until the subscription is idle; panics on a gap or a duplicate.
    fn drain(&mut self, sub: &mut Subscription) {
        loop {
            let text = match sub.next_frame() {
                Next::Frame(f) => f,
                Next::Idle => return,
                Next::Ended(e) => panic!("ended: {e}"),
            };
            match decode_server(text.as_str(), 1 << 20).unwrap().msg {
                ServerMessage::Snapshot {
                    seq,
                    data: Snapshot::Environment { environment },
                    ..
                } => {
                    self.snapshots += 1;
                    self.last = seq;
                    self.state = Some(environment);
                }
                ServerMessage::Delta { seq, changes, .. } => {
                    self.deltas += 1;
                    assert_eq!(seq, self.last + 1, "no gap, no duplicate");
                    self.last = seq + changes.len() as u64 - 1;
                    for change in changes {
                        if let Change::ServiceUpsert(s) = change {
                            let state = self.state.as_mut().expect("a snapshot first");
                            let at = state.services.iter().position(|x| x.id == s.id).unwrap();
                            state.services[at] = s;
                        }
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn version(&self, id: &str) -> String {
        let state = self.state.as_ref().unwrap();
        state
            .services
            .iter()
            .find(|s| s.id == id)
            .unwrap()
            .version
            .clone()
    }
}

#[test]
fn a_short_backlog_comes_as_one_delta_and_a_long_one_as_a_snapshot() {
    let hub = hub(4096);
    let cell = hub.topic(&prod()).unwrap();
    let mut sub = Subscription::new(
        "p".into(),
        cell.clone(),
        cell.subscribe(None, false).unwrap(),
        false,
        false,
    );
    let mut f = Follower::default();
    f.drain(&mut sub);
    assert_eq!((f.snapshots, f.deltas), (1, 0), "the head snapshot");

    // Fewer changes than the state weighs: one delta holding all of them.
    publish(&hub, 1, 3);
    f.drain(&mut sub);
    assert_eq!((f.snapshots, f.deltas), (1, 1), "three changes, one frame");
    assert_eq!(f.last, cell.seq());

    // Far more than the state weighs: a snapshot replaces them.
    publish(&hub, 4, 200);
    f.drain(&mut sub);
    assert_eq!(
        (f.snapshots, f.deltas),
        (2, 1),
        "200 changes of 4 services: a snapshot"
    );
    assert_eq!(f.last, cell.seq());
    assert_eq!(f.version("api"), "v200", "ends at the present state");
    assert_eq!(f.version("db"), "v203");
}

#[test]
fn a_laggard_behind_the_replay_buffer_gets_a_fresh_snapshot_then_contiguous_deltas() {
    let hub = hub(8);
    let cell = hub.topic(&prod()).unwrap();
    let mut sub = Subscription::new(
        "p".into(),
        cell.clone(),
        cell.subscribe(None, false).unwrap(),
        false,
        false,
    );
    let mut f = Follower::default();
    f.drain(&mut sub);
    publish(&hub, 1, 20);
    f.drain(&mut sub);
    assert_eq!(
        f.snapshots, 2,
        "fell out of 8 buffered changes: re-snapshot"
    );
    publish(&hub, 21, 2);
    f.drain(&mut sub);
    assert_eq!(f.snapshots, 2);
    assert_eq!(f.deltas, 1, "then deltas again");
    assert_eq!(f.last, cell.seq());
    assert_eq!(f.version("worker"), "v22");
}

#[test]
fn subscribers_at_the_same_point_share_one_frame() {
    let hub = hub(4096);
    let cell = hub.topic(&prod()).unwrap();
    let mut a = Subscription::new(
        "e".into(),
        cell.clone(),
        cell.subscribe(None, false).unwrap(),
        false,
        false,
    );
    let mut b = Subscription::new(
        "e".into(),
        cell.clone(),
        cell.subscribe(None, false).unwrap(),
        false,
        false,
    );
    let (Next::Frame(sa), Next::Frame(sb)) = (a.next_frame(), b.next_frame()) else {
        panic!("snapshots first");
    };
    assert_eq!(
        sa.as_str().as_ptr(),
        sb.as_str().as_ptr(),
        "one snapshot frame, shared"
    );
    publish(&hub, 1, 2);
    let (Next::Frame(da), Next::Frame(db)) = (a.next_frame(), b.next_frame()) else {
        panic!("deltas next");
    };
    assert_eq!(
        da.as_str().as_ptr(),
        db.as_str().as_ptr(),
        "one delta frame, shared"
    );
    // Another subscription name gets its own frame, with its own id in it.
    let mut c = Subscription::new(
        "other".into(),
        cell.clone(),
        cell.subscribe(Some(cell.seq() - 2), false).unwrap(),
        false,
        false,
    );
    let _resumed = c.next_frame();
    let Next::Frame(dc) = c.next_frame() else {
        panic!("the delta after the resume");
    };
    assert!(dc.as_str().contains("\"sub\":\"other\""));
}
