//! `lines` frames through a real socket: a log subscribed with `line_batches` and without
//! gives the same lines under the same sequence numbers, the compact form in far fewer bytes;
//! it resumes with no gap or duplicate; a client that does not ask still gets `line` deltas.

mod common;

use common::{start, Client};
use futures_util::StreamExt;
use shipwatch_model::protocol::{
    decode_server, Change, ClientMessage, ServerMessage, Snapshot, Topic,
};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// What one client read of a log: its changes by sequence number, and how it got them.
#[derive(Default)]
struct Read {
    base: u64,
    line_count: Option<u64>,
    changes: Vec<(u64, Change)>,
    /// Text bytes of the frames that carried lines, and how many lines they carried.
    line_bytes: usize,
    lines: u64,
    lines_frames: usize,
    line_deltas: usize,
    resumed: Option<u64>,
}

impl Read {
    fn last_seq(&self) -> Option<u64> {
        self.changes.last().map(|(s, _)| *s)
    }
}

/// Reads frames of subscription `sub` (answering pings) until `done` says so.
async fn read_until(c: &mut Client, r: &mut Read, done: impl Fn(&Read) -> bool) {
    while !done(r) {
        let msg = tokio::time::timeout(Duration::from_secs(20), c.ws.next())
            .await
            .expect("a frame within 20 s")
            .expect("socket open")
            .expect("no socket error");
        let Message::Text(text) = msg else { continue };
        let frame = decode_server(text.as_str(), 16 << 20).expect("server frames decode");
        match frame.msg {
            ServerMessage::Ping { nonce } => c.send(ClientMessage::Pong { nonce }).await,
            ServerMessage::Snapshot {
                seq,
                data: Snapshot::Logs { line_count, .. },
                ..
            } => {
                r.base = seq;
                r.line_count = line_count;
            }
            ServerMessage::Resumed { seq, .. } => r.resumed = Some(seq),
            ServerMessage::Delta { seq, changes, .. } => {
                let k = changes
                    .iter()
                    .filter(|c| matches!(c, Change::Line(_)))
                    .count();
                if k > 0 {
                    r.line_deltas += 1;
                    r.line_bytes += text.len();
                    r.lines += k as u64;
                }
                r.changes.extend((seq..).zip(changes));
            }
            ServerMessage::Lines { seq, lines, .. } => {
                r.lines_frames += 1;
                r.line_bytes += text.len();
                r.lines += lines.len() as u64;
                r.changes
                    .extend((seq..).zip(lines.into_lines().into_iter().map(Change::Line)));
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

fn every_line(r: &Read) -> bool {
    r.line_count.is_some_and(|n| r.lines >= n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_forms_carry_the_same_lines_and_the_compact_one_is_much_smaller() {
    let h = start(&["--scenario", "calm", "--log-lines", "20000"]).await;
    let topic = Topic::Logs {
        deployment: "dep-1".into(),
    };
    let mut old = Client::connect(&h).await;
    old.subscribe("log", topic.clone(), None).await;
    let mut new = Client::connect(&h).await;
    new.subscribe_lines("log", topic, None).await;
    let (mut a, mut b) = (Read::default(), Read::default());
    read_until(&mut old, &mut a, every_line).await;
    read_until(&mut new, &mut b, every_line).await;

    let count = a.line_count.expect("the snapshot counts the log's lines");
    assert!(count >= 20_000, "{count} lines");
    assert_eq!(b.line_count, Some(count));
    assert_eq!(a.base, b.base);
    // The same changes under the same numbers, as far as both read.
    let common = a.changes.len().min(b.changes.len());
    assert!(common as u64 >= count);
    assert_eq!(a.changes[..common], b.changes[..common]);
    let numbers: Vec<u64> = b.changes.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        numbers,
        (b.base + 1..=b.base + numbers.len() as u64).collect::<Vec<_>>()
    );

    // The old client got deltas of `line` changes only; the new one `lines` frames.
    assert_eq!(a.lines_frames, 0);
    assert!(a.line_deltas > 0);
    assert!(b.lines_frames > 0);
    assert_eq!(b.line_deltas, 0, "lines only ever come in lines frames");
    let old_per_line = a.line_bytes as f64 / a.lines as f64;
    let new_per_line = b.line_bytes as f64 / b.lines as f64;
    let text: usize = b
        .changes
        .iter()
        .map(|(_, c)| match c {
            Change::Line(l) => serde_json::to_string(&l.text).map_or(0, |t| t.len()),
            _ => 0,
        })
        .sum();
    println!(
        "a line costs {old_per_line:.1} bytes in line changes, {new_per_line:.1} in lines frames, \
         of which its text as a JSON string {:.1} ({} lines, {} delta frames, {} lines frames)",
        text as f64 / b.changes.len() as f64,
        b.lines,
        a.line_deltas,
        b.lines_frames
    );
    assert!(
        new_per_line < old_per_line / 2.0,
        "{new_per_line:.1} vs {old_per_line:.1} bytes a line"
    );
    // Fewer, larger frames for the history.
    assert!(
        b.lines_frames * 4 < a.line_deltas,
        "{} vs {}",
        b.lines_frames,
        a.line_deltas
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_read_in_lines_frames_resumes_with_no_gap_or_duplicate() {
    let h = start(&["--scenario", "calm", "--log-lines", "20000"]).await;
    let topic = Topic::Logs {
        deployment: "dep-1".into(),
    };
    // The reference: the whole log at once.
    let mut whole = Client::connect(&h).await;
    whole.subscribe_lines("all", topic.clone(), None).await;
    let mut all = Read::default();
    read_until(&mut whole, &mut all, every_line).await;

    // Part of it, then the socket drops.
    let mut first = Client::connect(&h).await;
    first.subscribe_lines("log", topic.clone(), None).await;
    let mut part = Read::default();
    read_until(&mut first, &mut part, |r| r.lines >= 5_000).await;
    drop(first);
    let last = part.last_seq().expect("some lines");

    // A new socket resumes from the last number applied, in the compact form again.
    let mut second = Client::connect(&h).await;
    second.subscribe_lines("log", topic, Some(last)).await;
    let mut rest = Read {
        line_count: all.line_count,
        lines: part.lines,
        ..Read::default()
    };
    read_until(&mut second, &mut rest, every_line).await;
    assert_eq!(rest.resumed, Some(last), "resumed, not a fresh snapshot");
    assert_eq!(rest.changes.first().map(|(s, _)| *s), Some(last + 1));
    assert!(rest.lines_frames > 0);

    let mut joined = part.changes;
    joined.extend(rest.changes);
    let common = joined.len().min(all.changes.len());
    assert!(common as u64 >= all.line_count.unwrap_or(0));
    assert_eq!(
        joined[..common],
        all.changes[..common],
        "no gap, no duplicate"
    );
}
