//! Server frames as text. Deltas and snapshots are spliced from JSON that was serialized once
//! per change (see [`crate::hub`]), and a topic's [`FrameCache`] hands the same frame bytes to
//! every subscriber that needs that frame, so fan-out costs a reference per client, not an
//! encode or a copy.

use crate::hub::{LineView, PublishedChange};
use axum::extract::ws::Utf8Bytes;
use shipwatch_model::protocol::{
    encode, level_letter, split_snapshot, ErrorCode, Limits, ServerFrame, ServerMessage, Snapshot,
    MAX_SNAPSHOT_FRAME_BYTES, PART_FRAME_OVERHEAD, VERSION,
};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

/// The form a run of changes is sent in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// A delta of the changes' JSON.
    Delta,
    /// A delta, with `instance_update` changes where there are.
    CompactDelta,
    /// A `lines` frame (the run is lines with consecutive numbers).
    Lines,
}

/// Which frame a cached frame is: (subscription id as JSON, first seq, last seq, form).
type DeltaKey = (String, u64, u64, Form);
/// Which snapshot a cached frame is: (subscription id as JSON, seq).
type SnapshotKey = (String, u64);

/// The last delta and the last snapshot frame built for a topic. Subscribers that are up to
/// date wake together and need the same delta; laggards re-synchronised at the same moment
/// need the same snapshot. Clients name their subscriptions, and the name is in the frame,
/// so the frames are shared between subscriptions of the same name (a swarm of identical
/// clients, or tabs of one app version); others build their own. A snapshot's parts, which
/// take reading its JSON back, are shared whatever the name: only their frames' heads differ.
#[derive(Default)]
pub struct FrameCache {
    delta: Mutex<Option<(DeltaKey, Utf8Bytes)>>,
    snapshot: Mutex<Option<(SnapshotKey, SnapshotFrames)>>,
    parts: Mutex<Option<(u64, Option<PartData>)>>,
}

/// The `data` of each part of a snapshot, in order.
pub type PartData = Arc<[String]>;

/// The frames of one snapshot: the `snapshot` frame, or its `snapshot_part` frames when it
/// would be over [`MAX_SNAPSHOT_FRAME_BYTES`].
pub type SnapshotFrames = Arc<[Utf8Bytes]>;

impl FrameCache {
    /// The frame of these consecutive changes in `form` (deltas: see [`PublishedChange::text`]).
    pub fn run(&self, sub_json: &str, items: &[Arc<PublishedChange>], form: Form) -> Utf8Bytes {
        let first = items.first().map_or(0, |i| i.seq);
        let last = items.last().map_or(0, |i| i.seq);
        // Building under the lock: the others that need this frame wait for it, not rebuild it.
        let mut slot = self.delta.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(((s, f, l, c), frame)) = &*slot {
            if *f == first && *l == last && *c == form && s == sub_json {
                return frame.clone();
            }
        }
        let text = match form {
            Form::Delta => delta(sub_json, items, false),
            Form::CompactDelta => delta(sub_json, items, true),
            Form::Lines => lines(sub_json, items),
        };
        let frame = Utf8Bytes::from(text);
        *slot = Some(((sub_json.to_string(), first, last, form), frame.clone()));
        frame
    }

    /// The snapshot frames at `seq` around `data`.
    pub fn snapshot(&self, sub_json: &str, seq: u64, data: &str) -> SnapshotFrames {
        let mut slot = self.snapshot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(((s, at), frames)) = &*slot {
            if *at == seq && s == sub_json {
                return frames.clone();
            }
        }
        let parts = {
            let mut parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
            match &*parts {
                Some((at, split)) if *at == seq => split.clone(),
                _ => {
                    let split = part_data(data, MAX_SNAPSHOT_FRAME_BYTES);
                    *parts = Some((seq, split.clone()));
                    split
                }
            }
        };
        let frames = snapshot_frames(sub_json, seq, data, parts.as_deref());
        *slot = Some(((sub_json.to_string(), seq), frames.clone()));
        frames
    }
}

/// The subscription id as a JSON string, computed once per subscription.
pub fn sub_json(sub: &str) -> String {
    serde_json::to_string(sub).unwrap_or_else(|_| "\"\"".into())
}

/// The first frame on every socket: the limits, the stuck thresholds and the server's clock.
pub fn hello(limits: &Limits, stuck_after: shipwatch_model::stuck::StuckAfter) -> String {
    encode(&ServerFrame::new(ServerMessage::Hello {
        server: format!("shipwatch-server/{}", env!("CARGO_PKG_VERSION")),
        limits: limits.clone(),
        stuck_after: Some(stuck_after),
        now: Some(crate::app::wall_millis()),
    }))
}

/// A snapshot frame around pre-serialized snapshot data.
pub fn snapshot(sub_json: &str, seq: u64, data: &str) -> String {
    format!(r#"{{"v":{VERSION},"type":"snapshot","sub":{sub_json},"seq":{seq},"data":{data}}}"#)
}

/// The `data` of the parts a snapshot's `data` is sent in, each part's frame within
/// `max_frame_bytes` (a single service or environment larger than that in a part of its own);
/// none when it goes whole, in one frame. The parts are read back from the snapshot's JSON,
/// once per topic and `seq` (see [`FrameCache`]). Whether a snapshot goes whole does not
/// depend on the subscription's name: its frame's head is counted as
/// [`PART_FRAME_OVERHEAD`], room for any.
pub fn part_data(data: &str, max_frame_bytes: usize) -> Option<PartData> {
    if data.len() + PART_FRAME_OVERHEAD <= max_frame_bytes {
        return None;
    }
    let snap: Snapshot = match serde_json::from_str(data) {
        Ok(snap) => snap,
        Err(e) => {
            tracing::error!("a snapshot the server built does not read back: {e}");
            return None;
        }
    };
    // A log's header, or a list of one item, is one part: sent whole.
    let parts = split_snapshot(snap, max_frame_bytes);
    (parts.len() > 1).then(|| parts.iter().map(encode).collect())
}

/// The snapshot at `seq` as one frame around `data`, or as the `snapshot_part` frames around
/// `parts` (see [`part_data`]).
pub fn snapshot_frames(
    sub_json: &str,
    seq: u64,
    data: &str,
    parts: Option<&[String]>,
) -> SnapshotFrames {
    let Some(parts) = parts else {
        return Arc::from([Utf8Bytes::from(snapshot(sub_json, seq, data))]);
    };
    let count = parts.len();
    parts
        .iter()
        .enumerate()
        .map(|(part, data)| {
            Utf8Bytes::from(format!(
                r#"{{"v":{VERSION},"type":"snapshot_part","sub":{sub_json},"seq":{seq},"part":{part},"parts":{count},"data":{data}}}"#
            ))
        })
        .collect()
}

/// Whether `frame` is a snapshot or a snapshot's first part (both are written with `v` and
/// `type` first).
pub fn is_snapshot(frame: &str) -> bool {
    let rest = frame
        .strip_prefix(r#"{"v":"#)
        .and_then(|r| r.split_once(','))
        .map_or("", |(_, r)| r);
    rest.starts_with(r#""type":"snapshot","#)
        || (rest.starts_with(r#""type":"snapshot_part","#) && frame.contains(r#","part":0,"#))
}

/// A delta frame around pre-serialized, consecutive changes, in the form `compact` says.
pub fn delta(sub_json: &str, items: &[Arc<PublishedChange>], compact: bool) -> String {
    let seq = items.first().map_or(0, |i| i.seq);
    let len: usize = items.iter().map(|i| i.text(compact).len() + 1).sum();
    let mut out = String::with_capacity(len + sub_json.len() + 64);
    out.push_str(&format!(
        r#"{{"v":{VERSION},"type":"delta","sub":{sub_json},"seq":{seq},"changes":["#
    ));
    for (k, item) in items.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        out.push_str(item.text(compact));
    }
    out.push_str("]}");
    out
}

/// A `lines` frame of consecutive lines (items that are not lines are left out: the caller
/// passes lines only), spliced from the strings of their `line` changes.
pub fn lines(sub_json: &str, items: &[Arc<PublishedChange>]) -> String {
    let parts: Vec<LineView<'_>> = items.iter().filter_map(|i| i.line?.view(&i.json)).collect();
    let seq = items.first().map_or(0, |i| i.seq);
    let n = parts.first().map_or(0, |p| p.n);
    let len: usize = parts.iter().map(LineView::cost).sum();
    let mut out = String::with_capacity(len + sub_json.len() + 128);
    let _ = write!(
        out,
        r#"{{"v":{VERSION},"type":"lines","sub":{sub_json},"seq":{seq},"lines":{{"n":{n},"ts":["#
    );
    let mut prev: Option<u64> = None;
    for p in &parts {
        match prev {
            None => write!(out, "{}", p.ts),
            Some(before) => write!(out, ",{}", p.ts.wrapping_sub(before) as i64),
        }
        .unwrap_or_default();
        prev = Some(p.ts);
    }
    out.push_str(r#"],"stage":["#);
    let mut k = 0;
    while k < parts.len() {
        let stage = parts[k].stage;
        let run = parts[k..].iter().take_while(|q| q.stage == stage).count();
        if k > 0 {
            out.push(',');
        }
        let _ = write!(out, "[{stage},{run}]");
        k += run;
    }
    out.push_str(r#"],"level":""#);
    out.extend(parts.iter().map(|p| level_letter(p.level)));
    out.push_str(r#"","text":["#);
    for (k, p) in parts.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        out.push_str(p.text);
    }
    out.push(']');
    let mut hints = parts
        .iter()
        .enumerate()
        .filter_map(|(k, p)| Some((k, p.hint?)))
        .peekable();
    if hints.peek().is_some() {
        out.push_str(r#","hint":["#);
        for (i, (k, hint)) in hints.enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "[{k},{hint}]");
        }
        out.push(']');
    }
    out.push_str("}}");
    out
}

/// Any other message.
pub fn message(msg: ServerMessage) -> String {
    encode(&ServerFrame::new(msg))
}

/// An error frame.
pub fn error(code: ErrorCode, message: impl Into<String>, sub: Option<&str>) -> String {
    self::message(ServerMessage::Error {
        code,
        message: message.into(),
        sub: sub.map(str::to_string),
        gone: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::{line_json, SentBytes};
    use shipwatch_model::protocol::{decode_server, Change, LineBatch};
    use shipwatch_model::{LogLevel, LogLine};

    /// A `lines` frame spliced from the lines' JSON is the model's encoding of the same run;
    /// and that JSON is what `encode` writes for the `line` change.
    #[test]
    fn spliced_lines_frames_are_the_models_lines_frames() {
        let lines: Vec<LogLine> = [
            ("build", LogLevel::Info, "plain", None, 1_000),
            (
                "build",
                LogLevel::Warning,
                "\"quoted\" \\ \u{1b}[31mred\u{1b}[0m é😀",
                None,
                1_000,
            ),
            ("build", LogLevel::Error, "boom", Some("do \"this\"\n"), 900),
            ("deploy", LogLevel::Unknown, "", None, u64::MAX),
            ("\u{0}", LogLevel::Info, "last", Some(""), 3),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (stage, level, text, hint, ts))| LogLine {
            n: 41 + i as u64,
            ts,
            stage: stage.into(),
            level,
            text: text.into(),
            hint: hint.map(Into::into),
        })
        .collect();
        let items: Vec<Arc<PublishedChange>> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let (json, parts) = line_json(l);
                assert_eq!(json, encode(&Change::Line(l.clone())));
                let json: Arc<str> = json.into();
                Arc::new(PublishedChange {
                    seq: 7 + i as u64,
                    sent_so_far: SentBytes::default(),
                    json,
                    as_instance_update: None,
                    line: Some(parts),
                })
            })
            .collect();
        let text = super::lines(&sub_json("s"), &items);
        let frame = decode_server(&text, 1 << 20).expect("lines frame decodes");
        let expected = ServerMessage::Lines {
            sub: "s".into(),
            seq: 7,
            lines: LineBatch::runs(&lines).remove(0),
        };
        assert_eq!(frame.msg, expected, "{text}");
        assert_eq!(text, encode(&ServerFrame::new(expected)));
        // What a log holds per line besides its JSON, as the hub's docs say.
        assert_eq!(std::mem::size_of::<Option<crate::hub::LineParts>>(), 12);
    }

    /// A snapshot over the limit goes in parts spliced around the parts' data: each frame is
    /// the model's `snapshot_part` frame of [`split_snapshot`]'s part, within the limit; the
    /// parts are read back once for every subscription name at that `seq`.
    #[test]
    fn snapshot_parts_are_the_models_frames_and_read_back_once_per_seq() {
        use shipwatch_model::{Environment, Instance, RunningStatus, Service, ServiceKind};
        let service = |k: usize| Service {
            id: format!("svc-{k}"),
            name: format!("service \"{k}\" é"),
            kind: ServiceKind::Application,
            instances: vec![Instance {
                name: format!("svc-{k}-1"),
                status: RunningStatus::Running,
                version: "v1".into(),
                restarts: 0,
                reason: None,
                message: Some("x".repeat(400)),
                started_at: Some(1),
                events: Vec::new(),
                last_restart_at: None,
                last_termination: None,
            }],
            version: "v1".into(),
            deployment: None,
            deployment_since: None,
            running_since: Some(2),
        };
        let snap = Snapshot::Environment {
            environment: Environment {
                id: "prod".into(),
                name: "production".into(),
                services: (0..200).map(service).collect(),
                deployment: None,
            },
        };
        let data = encode(&snap);
        assert!(data.len() > 3 * MAX_SNAPSHOT_FRAME_BYTES);
        let cache = FrameCache::default();
        let read_back = |cache: &FrameCache| cache.parts.lock().unwrap().clone().unwrap().1;
        let mut first: Option<PartData> = None;
        for name in ["e", "s2\"r"] {
            let frames = cache.snapshot(&sub_json(name), 41, &data);
            let expected = split_snapshot(snap.clone(), MAX_SNAPSHOT_FRAME_BYTES);
            assert_eq!(frames.len(), expected.len());
            assert!(frames.len() >= 4);
            for (k, (frame, part)) in frames.iter().zip(expected).enumerate() {
                assert!(
                    frame.len() <= MAX_SNAPSHOT_FRAME_BYTES,
                    "part {k}: {}",
                    frame.len()
                );
                let model = encode(&ServerFrame::new(ServerMessage::SnapshotPart {
                    sub: name.into(),
                    seq: 41,
                    part: k as u32,
                    parts: frames.len() as u32,
                    data: part,
                }));
                assert_eq!(frame.as_str(), model);
                assert_eq!(is_snapshot(frame), k == 0);
            }
            let parts = read_back(&cache).expect("in parts");
            match &first {
                None => first = Some(parts),
                Some(f) => assert!(Arc::ptr_eq(f, &parts), "read back once for both names"),
            }
        }
        // Within the limit with room for any name: one frame.
        let small = encode(&Snapshot::Environments {
            environments: Vec::new(),
        });
        let frames = cache.snapshot(&sub_json("e"), 42, &small);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].as_str(), snapshot(&sub_json("e"), 42, &small));
    }

    #[test]
    fn spliced_frames_decode_with_the_model() {
        let sub = sub_json("a\"b");
        let snap = snapshot(&sub, 7, r#"{"kind":"environments","environments":[]}"#);
        let f = decode_server(&snap, 1 << 20).expect("snapshot decodes");
        assert!(matches!(f.msg, ServerMessage::Snapshot { seq: 7, ref sub, .. } if sub == "a\"b"));
        let items: Vec<Arc<PublishedChange>> = (8..10)
            .map(|seq| {
                let c = Change::EnvironmentRemoved {
                    id: format!("e{seq}"),
                };
                let json: Arc<str> = encode(&c).into();
                Arc::new(PublishedChange {
                    seq,
                    sent_so_far: SentBytes::default().plus(&json, None),
                    json,
                    as_instance_update: None,
                    line: None,
                })
            })
            .collect();
        let d = decode_server(&delta(&sub, &items, false), 1 << 20).expect("delta decodes");
        match d.msg {
            ServerMessage::Delta { seq, changes, .. } => {
                assert_eq!(seq, 8);
                assert_eq!(changes.len(), 2);
            }
            other => panic!("not a delta: {other:?}"),
        }
    }
}
