//! A stream never loses a line: a log followed over a socket that drops, with resumes from
//! the last applied sequence number (replayed from the server's backlog, or a fresh snapshot
//! when the backlog no longer reaches), ends with every line exactly once, in order.

use proptest::prelude::*;
use shipwatch_model::protocol::stream::{seq_base, split_deltas, Backlog, Cursor};
use shipwatch_model::protocol::{
    decode_server, encode, Change, ServerFrame, ServerMessage, Snapshot,
};
use shipwatch_model::{Deployment, DeploymentStatus, LogLevel, LogLine};
use std::collections::VecDeque;

#[derive(Clone, Debug)]
enum Op {
    /// The source writes this many lines.
    Write(usize),
    /// This many in-flight frames reach the client.
    Deliver(usize),
    /// The socket drops: in-flight frames are lost.
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

fn line(n: u64) -> LogLine {
    LogLine {
        n,
        ts: 1_700_000_000_000, // every line shares one timestamp: never dedupe by it
        stage: "build".into(),
        level: LogLevel::Info,
        text: format!("line {n}"),
        hint: None,
    }
}

struct Server {
    backlog: Backlog<LogLine>,
    lines: Vec<LogLine>,
    per_frame: usize,
}

impl Server {
    /// A fresh log subscription: the header snapshot at the seq before the first line, then
    /// the whole history as deltas.
    fn snapshot(&self, sub: &str) -> Vec<ServerFrame> {
        let base = self.backlog.last_seq() - self.lines.len() as u64;
        let mut frames = vec![ServerFrame::new(ServerMessage::Snapshot {
            sub: sub.into(),
            seq: base,
            data: Snapshot::Logs {
                env: "prod".into(),
                service: Some("api".into()),
                deployment: Deployment {
                    id: "dep-42".into(),
                    status: DeploymentStatus::Queued,
                    version: "v2".into(),
                    previous_version: None,
                    started_at: 1,
                    finished_at: None,
                },
                line_count: Some(self.lines.len() as u64),
            },
        })];
        let all: Vec<Change> = self.lines.iter().cloned().map(Change::Line).collect();
        frames.extend(split_deltas(sub, base + 1, all, self.per_frame));
        frames
    }

    fn answer(&self, sub: &str, resume_from: Option<u64>) -> Vec<ServerFrame> {
        match resume_from.and_then(|r| self.backlog.since(r).map(|(first, it)| (r, first, it))) {
            Some((r, first, missed)) => {
                let mut frames = vec![ServerFrame::new(ServerMessage::Resumed {
                    sub: sub.into(),
                    seq: r,
                })];
                let changes: Vec<Change> = missed.cloned().map(Change::Line).collect();
                frames.extend(split_deltas(sub, first, changes, self.per_frame));
                frames
            }
            None => self.snapshot(sub),
        }
    }
}

#[derive(Default)]
struct Client {
    cursor: Cursor,
    lines: Vec<LogLine>,
    last_frame: Option<ServerFrame>,
}

impl Client {
    fn apply(&mut self, frame: ServerFrame) -> Result<(), String> {
        // Through the wire format.
        let frame = decode_server(&encode(&frame), usize::MAX).map_err(|e| e.to_string())?;
        self.last_frame = Some(frame.clone());
        match frame.msg {
            ServerMessage::Snapshot { seq, .. } => {
                self.lines.clear();
                self.cursor.snapshot(seq);
            }
            ServerMessage::Resumed { seq, .. } => {
                self.cursor.resumed(seq).map_err(|e| e.to_string())?
            }
            ServerMessage::Delta { seq, changes, .. } => {
                let range = self
                    .cursor
                    .delta(seq, changes.len())
                    .map_err(|e| e.to_string())?;
                for change in &changes[range] {
                    let Change::Line(l) = change else {
                        return Err("not a line".into());
                    };
                    if l.n != self.lines.len() as u64 + 1 {
                        return Err(format!("line {} after {} lines", l.n, self.lines.len()));
                    }
                    self.lines.push(l.clone());
                }
            }
            other => return Err(format!("unexpected {other:?}")),
        }
        Ok(())
    }
}

fn run(ops: &[Op], capacity: usize, per_frame: usize, boot: u64) -> Result<(), String> {
    let mut server = Server {
        backlog: Backlog::new(seq_base(boot), capacity),
        lines: Vec::new(),
        per_frame,
    };
    let mut client = Client::default();
    let mut wire: VecDeque<ServerFrame> = VecDeque::new();
    let mut connected = true;
    wire.extend(server.answer("logs", None));
    for op in ops {
        match op {
            Op::Write(k) => {
                let first = server.backlog.last_seq() + 1;
                let mut changes = Vec::new();
                for _ in 0..*k {
                    let l = line(server.lines.len() as u64 + 1);
                    server.backlog.push(l.clone());
                    server.lines.push(l.clone());
                    changes.push(Change::Line(l));
                }
                if connected {
                    wire.extend(split_deltas("logs", first, changes, per_frame));
                }
            }
            Op::Deliver(m) => {
                for _ in 0..*m {
                    if let Some(f) = wire.pop_front() {
                        client.apply(f)?;
                    }
                }
            }
            Op::Drop => {
                wire.clear();
                connected = false;
            }
            Op::Reconnect => {
                wire.clear();
                connected = true;
                wire.extend(server.answer("logs", client.cursor.resume_from()));
            }
            Op::Resend => {
                if let Some(f) = client.last_frame.clone() {
                    if matches!(f.msg, ServerMessage::Delta { .. }) {
                        client.apply(f)?;
                    }
                }
            }
        }
    }
    if !connected {
        wire.extend(server.answer("logs", client.cursor.resume_from()));
    }
    while let Some(f) = wire.pop_front() {
        client.apply(f)?;
    }
    if client.lines != server.lines {
        return Err(format!(
            "client has {} lines, server {}",
            client.lines.len(),
            server.lines.len()
        ));
    }
    if client.cursor.last() != Some(server.backlog.last_seq()) {
        return Err("cursor not at the server's last seq".into());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn no_gap_no_duplicate_across_reconnects(
        ops in prop::collection::vec(op(), 0..60),
        capacity in 1usize..40,
        per_frame in 1usize..8,
        boot in 0u64..2_000_000_000_000,
    ) {
        if let Err(e) = run(&ops, capacity, per_frame, boot) {
            return Err(TestCaseError::fail(e));
        }
    }

    #[test]
    fn cursor_never_panics(
        steps in prop::collection::vec((any::<u8>(), any::<u64>(), any::<usize>()), 0..40)
    ) {
        let mut c = Cursor::new();
        for (kind, seq, len) in steps {
            let before = c;
            match kind % 3 {
                0 => c.snapshot(seq),
                1 => { if c.resumed(seq).is_err() { prop_assert_eq!(c, before); } }
                _ => match c.delta(seq, len) {
                    Ok(r) => prop_assert!(r.start <= r.end && r.end == len),
                    Err(_) => prop_assert_eq!(c, before),
                },
            }
        }
    }
}

#[test]
fn a_resume_from_a_previous_server_run_gets_a_snapshot() {
    let mut old = Backlog::new(seq_base(1_000), 100);
    for i in 0..50 {
        old.push(i);
    }
    let new: Backlog<u64> = Backlog::new(seq_base(2_000), 100);
    assert!(new.since(old.last_seq()).is_none());
}

#[test]
fn history_is_split_into_frames_of_at_most_n_lines() {
    let changes: Vec<Change> = (1..=1234).map(|n| Change::Line(line(n))).collect();
    let frames = split_deltas(
        "s",
        7,
        changes,
        shipwatch_model::protocol::MAX_LINES_PER_DELTA,
    );
    assert_eq!(frames.len(), 3);
    let mut next = 7;
    for f in &frames {
        let ServerMessage::Delta { seq, changes, .. } = &f.msg else {
            panic!("delta")
        };
        assert_eq!(*seq, next);
        assert!(changes.len() <= 500 && !changes.is_empty());
        next += changes.len() as u64;
    }
    assert_eq!(next, 7 + 1234);
}
