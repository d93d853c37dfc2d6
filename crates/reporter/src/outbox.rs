//! What the reporter still has to send, in order: log lines, stage changes and statuses.
//!
//! The command's output never waits for the server: it is read as fast as the command writes
//! (a full pipe would stall the deployment). So the queue holds up to `memory_bytes` in
//! memory; past that, new events go to a spill file (NDJSON) and come back from it, in
//! order, as the server takes the older ones. Past `disk_bytes` of spill, further *lines*
//! are dropped and counted (their numbers are then a gap the server records and the page
//! shows); statuses and stages are never dropped.

use serde::{Deserialize, Serialize};
use shipwatch_model::{DeploymentStatus, LogLevel};
use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

/// One log line as the push API takes it (`n` as the reporter numbers its own lines, from 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// The line's number in this reporter's output, from 1.
    pub n: u64,
    /// Its text.
    pub text: String,
    /// Its level.
    pub level: LogLevel,
    /// Its stage.
    pub stage: String,
    /// When it was read (Unix ms).
    pub ts: u64,
}

/// Something to send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A log line.
    Line(Line),
    /// The current stage changed.
    Stage {
        /// The stage now.
        stage: String,
    },
    /// The deployment's status changed.
    Status {
        /// The status now.
        status: DeploymentStatus,
        /// The stage it is in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stage: Option<String>,
    },
}

impl Event {
    fn weight(&self) -> usize {
        match self {
            Event::Line(l) => l.text.len() + l.stage.len() + 48,
            Event::Stage { stage } => stage.len() + 16,
            Event::Status { .. } => 48,
        }
    }
}

/// The next thing to send: a run of consecutive lines, or one other event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Lines, in order.
    Lines(Vec<Line>),
    /// A stage or a status.
    Other(Event),
}

/// The ordered queue, bounded in memory, spilling to a file.
#[derive(Debug)]
pub struct Outbox {
    memory: VecDeque<Event>,
    memory_used: usize,
    memory_bytes: usize,
    spill: Option<Spill>,
    spill_path: PathBuf,
    disk_bytes: u64,
    dropped: u64,
    spilled: u64,
}

#[derive(Debug)]
struct Spill {
    file: File,
    read: u64,
    write: u64,
}

impl Outbox {
    /// A queue that keeps up to `memory_bytes` in memory and up to `disk_bytes` in the file
    /// at `spill_path` (created only when needed, removed when drained or dropped).
    #[must_use]
    pub fn new(memory_bytes: usize, disk_bytes: u64, spill_path: PathBuf) -> Self {
        Self {
            memory: VecDeque::new(),
            memory_used: 0,
            memory_bytes,
            spill: None,
            spill_path,
            disk_bytes,
            dropped: 0,
            spilled: 0,
        }
    }

    /// Queues an event after all the others.
    pub fn push(&mut self, event: Event) {
        let weight = event.weight();
        if self.spill.is_none() && self.memory_used + weight <= self.memory_bytes {
            self.memory_used += weight;
            self.memory.push_back(event);
            return;
        }
        // Once spilling, everything goes to the file until it is drained: order is kept.
        if let Err(e) = self.spill_one(&event) {
            if matches!(event, Event::Line(_)) {
                self.dropped += 1;
                if self.dropped == 1 {
                    eprintln!("shipwatch: buffer full ({e}): dropping log lines until the server takes some");
                }
            } else {
                // A status is small and must not be lost: keep it in memory over the limit.
                self.memory_used += weight;
                self.memory.push_back(event);
            }
        }
    }

    fn spill_one(&mut self, event: &Event) -> Result<(), String> {
        if self.spill.is_none() {
            let file = File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&self.spill_path)
                .map_err(|e| format!("{}: {e}", self.spill_path.display()))?;
            self.spill = Some(Spill {
                file,
                read: 0,
                write: 0,
            });
        }
        let spill = self.spill.as_mut().expect("just opened");
        let mut record = serde_json::to_vec(event).map_err(|e| e.to_string())?;
        record.push(b'\n');
        if matches!(event, Event::Line(_))
            && spill.write - spill.read + record.len() as u64 > self.disk_bytes
        {
            return Err(format!("{} bytes spilled to disk", self.disk_bytes));
        }
        spill
            .file
            .write_all_at(&record, spill.write)
            .map_err(|e| format!("{}: {e}", self.spill_path.display()))?;
        spill.write += record.len() as u64;
        self.spilled += 1;
        Ok(())
    }

    /// Whether nothing is left to send.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.memory.is_empty() && self.spill.is_none()
    }

    /// Lines dropped because the buffer was full.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Events that went through the spill file.
    #[must_use]
    pub fn spilled(&self) -> u64 {
        self.spilled
    }

    /// Events (and bytes) in memory now.
    #[must_use]
    pub fn in_memory(&self) -> (usize, usize) {
        (self.memory.len(), self.memory_used)
    }

    /// The next thing to send, left in the queue until [`Outbox::done`]: up to `max_lines`
    /// consecutive lines of at most about `max_bytes` in all, or one other event.
    pub fn next(&mut self, max_lines: usize, max_bytes: usize) -> Option<Next> {
        if self.memory.is_empty() {
            self.refill();
        }
        match self.memory.front()? {
            Event::Line(_) => {
                let mut lines = Vec::new();
                let mut bytes = 0;
                for e in &self.memory {
                    match e {
                        Event::Line(l) if lines.len() < max_lines => {
                            if !lines.is_empty() && bytes + l.text.len() > max_bytes {
                                break;
                            }
                            bytes += l.text.len();
                            lines.push(l.clone());
                        }
                        _ => break,
                    }
                }
                Some(Next::Lines(lines))
            }
            other => Some(Next::Other(other.clone())),
        }
    }

    /// The first `count` events of the queue were sent.
    pub fn done(&mut self, count: usize) {
        for _ in 0..count {
            if let Some(e) = self.memory.pop_front() {
                self.memory_used -= e.weight();
            }
        }
    }

    /// Drops the lines at the front numbered below `next` (the server has them already),
    /// and returns how many.
    pub fn skip_lines_below(&mut self, next: u64) -> usize {
        let mut skipped = 0;
        loop {
            if self.memory.is_empty() {
                self.refill();
            }
            match self.memory.front() {
                Some(Event::Line(l)) if l.n < next => {
                    self.done(1);
                    skipped += 1;
                }
                _ => return skipped,
            }
        }
    }

    /// Moves spilled events back into memory, oldest first, up to half the memory budget.
    fn refill(&mut self) {
        let Some(spill) = self.spill.as_mut() else {
            return;
        };
        let mut chunk = vec![0u8; (self.memory_bytes / 2).clamp(4096, 256 * 1024)];
        while spill.read < spill.write && self.memory_used < self.memory_bytes / 2 {
            let want = chunk.len().min((spill.write - spill.read) as usize);
            let Ok(got) = spill.file.read_at(&mut chunk[..want], spill.read) else {
                break;
            };
            let data = &chunk[..got];
            let Some(last_newline) = data.iter().rposition(|&b| b == b'\n') else {
                // One record longer than the chunk: read it whole.
                chunk.resize(chunk.len() * 2, 0);
                continue;
            };
            for record in data[..last_newline].split(|&b| b == b'\n') {
                if let Ok(event) = serde_json::from_slice::<Event>(record) {
                    self.memory_used += event.weight();
                    self.memory.push_back(event);
                }
            }
            spill.read += last_newline as u64 + 1;
        }
        if spill.read >= spill.write {
            self.spill = None;
            let _ = std::fs::remove_file(&self.spill_path);
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if self.spill.take().is_some() {
            let _ = std::fs::remove_file(&self.spill_path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: u64) -> Event {
        Event::Line(Line {
            n,
            text: format!("line {n} {}", "x".repeat(50)),
            level: LogLevel::Info,
            stage: "build".into(),
            ts: 1_700_000_000_000 + n,
        })
    }

    fn drain(o: &mut Outbox) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(next) = o.next(7, 1 << 20) {
            match next {
                Next::Lines(lines) => {
                    o.done(lines.len());
                    out.extend(lines.into_iter().map(Event::Line));
                }
                Next::Other(e) => {
                    o.done(1);
                    out.push(e);
                }
            }
        }
        out
    }

    #[test]
    fn past_the_memory_limit_events_spill_to_disk_and_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spill.ndjson");
        let mut o = Outbox::new(2_000, 1 << 30, path.clone());
        let mut sent = Vec::new();
        for n in 1..=500 {
            sent.push(line(n));
            if n % 100 == 0 {
                sent.push(Event::Status {
                    status: DeploymentStatus::Deploying,
                    stage: Some(format!("s{n}")),
                });
            }
        }
        for e in &sent {
            o.push(e.clone());
            assert!(o.in_memory().1 <= 2_000);
        }
        assert!(path.exists(), "spilled");
        assert!(o.spilled() > 400);
        // Interleave sending with more output: still one order.
        let mut got = Vec::new();
        for _ in 0..3 {
            if let Some(Next::Lines(lines)) = o.next(7, 1 << 20) {
                o.done(lines.len());
                got.extend(lines.into_iter().map(Event::Line));
            }
        }
        for n in 501..=520 {
            sent.push(line(n));
            o.push(line(n));
        }
        got.extend(drain(&mut o));
        assert_eq!(got, sent);
        assert!(o.is_empty());
        assert!(!path.exists(), "the spill file is removed once drained");
        assert_eq!(o.dropped(), 0);
    }

    #[test]
    fn past_the_disk_limit_lines_are_dropped_and_statuses_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = Outbox::new(500, 1_000, dir.path().join("spill"));
        for n in 1..=100 {
            o.push(line(n));
        }
        o.push(Event::Status {
            status: DeploymentStatus::DeploymentOk,
            stage: None,
        });
        assert!(o.dropped() > 50, "{}", o.dropped());
        let got = drain(&mut o);
        assert_eq!(got.len() as u64, 101 - o.dropped());
        assert!(matches!(
            got.last(),
            Some(Event::Status {
                status: DeploymentStatus::DeploymentOk,
                ..
            })
        ));
        // What arrived is in order.
        let ns: Vec<u64> = got
            .iter()
            .filter_map(|e| match e {
                Event::Line(l) => Some(l.n),
                _ => None,
            })
            .collect();
        assert!(ns.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn batches_stop_at_a_status_and_lines_the_server_has_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = Outbox::new(1 << 20, 1 << 20, dir.path().join("spill"));
        for n in 1..=5 {
            o.push(line(n));
        }
        o.push(Event::Stage {
            stage: "deploy".into(),
        });
        o.push(line(6));
        match o.next(100, 1 << 20) {
            Some(Next::Lines(l)) => assert_eq!(l.len(), 5),
            other => panic!("{other:?}"),
        }
        assert_eq!(o.skip_lines_below(4), 3);
        match o.next(100, 1 << 20) {
            Some(Next::Lines(l)) => assert_eq!(l.iter().map(|l| l.n).collect::<Vec<_>>(), [4, 5]),
            other => panic!("{other:?}"),
        }
        // A batch is cut by bytes too (but holds at least one line).
        match o.next(100, 10) {
            Some(Next::Lines(l)) => assert_eq!(l.len(), 1),
            other => panic!("{other:?}"),
        }
    }
}
