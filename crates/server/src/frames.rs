//! Server frames as text. Deltas and snapshots are spliced from JSON that was serialized once
//! per change (see [`crate::hub`]), and a topic's [`FrameCache`] hands the same frame bytes to
//! every subscriber that needs that frame, so fan-out costs a reference per client, not an
//! encode or a copy.

use crate::hub::Item;
use axum::extract::ws::Utf8Bytes;
use shipwatch_model::protocol::{encode, ErrorCode, Limits, ServerFrame, ServerMessage, VERSION};
use std::sync::{Arc, Mutex};

/// Which delta a cached frame is: (subscription id as JSON, first seq, last seq, with
/// `instance_update` changes).
type DeltaKey = (String, u64, u64, bool);
/// Which snapshot a cached frame is: (subscription id as JSON, seq).
type SnapshotKey = (String, u64);

/// The last delta and the last snapshot frame built for a topic. Subscribers that are up to
/// date wake together and need the same delta; laggards re-synchronised at the same moment
/// need the same snapshot. Clients name their subscriptions, and the name is in the frame,
/// so the frames are shared between subscriptions of the same name (a swarm of identical
/// clients, or tabs of one app version); others build their own.
#[derive(Default)]
pub struct FrameCache {
    delta: Mutex<Option<(DeltaKey, Utf8Bytes)>>,
    snapshot: Mutex<Option<(SnapshotKey, Utf8Bytes)>>,
}

impl FrameCache {
    /// The delta frame of these consecutive changes, in the form `compact` says ([`Item::text`]).
    pub fn delta(&self, sub_json: &str, items: &[Arc<Item>], compact: bool) -> Utf8Bytes {
        let first = items.first().map_or(0, |i| i.seq);
        let last = items.last().map_or(0, |i| i.seq);
        // Building under the lock: the others that need this frame wait for it, not rebuild it.
        let mut slot = self.delta.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(((s, f, l, c), frame)) = &*slot {
            if *f == first && *l == last && *c == compact && s == sub_json {
                return frame.clone();
            }
        }
        let frame = Utf8Bytes::from(delta(sub_json, items, compact));
        *slot = Some(((sub_json.to_string(), first, last, compact), frame.clone()));
        frame
    }

    /// The snapshot frame at `seq` around `data`.
    pub fn snapshot(&self, sub_json: &str, seq: u64, data: &str) -> Utf8Bytes {
        let mut slot = self.snapshot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(((s, at), frame)) = &*slot {
            if *at == seq && s == sub_json {
                return frame.clone();
            }
        }
        let frame = Utf8Bytes::from(snapshot(sub_json, seq, data));
        *slot = Some(((sub_json.to_string(), seq), frame.clone()));
        frame
    }
}

/// The subscription id as a JSON string, computed once per subscription.
pub fn sub_json(sub: &str) -> String {
    serde_json::to_string(sub).unwrap_or_else(|_| "\"\"".into())
}

/// The first frame on every socket.
pub fn hello(limits: &Limits) -> String {
    encode(&ServerFrame::new(ServerMessage::Hello {
        server: format!("shipwatch-server/{}", env!("CARGO_PKG_VERSION")),
        limits: limits.clone(),
    }))
}

/// A snapshot frame around pre-serialized snapshot data.
pub fn snapshot(sub_json: &str, seq: u64, data: &str) -> String {
    format!(r#"{{"v":{VERSION},"type":"snapshot","sub":{sub_json},"seq":{seq},"data":{data}}}"#)
}

/// A delta frame around pre-serialized, consecutive changes, in the form `compact` says.
pub fn delta(sub_json: &str, items: &[Arc<Item>], compact: bool) -> String {
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shipwatch_model::protocol::{decode_server, Change};

    #[test]
    fn spliced_frames_decode_with_the_model() {
        let sub = sub_json("a\"b");
        let snap = snapshot(&sub, 7, r#"{"kind":"environments","environments":[]}"#);
        let f = decode_server(&snap, 1 << 20).expect("snapshot decodes");
        assert!(matches!(f.msg, ServerMessage::Snapshot { seq: 7, ref sub, .. } if sub == "a\"b"));
        let items: Vec<Arc<Item>> = (8..10)
            .map(|seq| {
                let c = Change::EnvironmentRemoved {
                    id: format!("e{seq}"),
                };
                let json: Arc<str> = encode(&c).into();
                Arc::new(Item {
                    seq,
                    total_bytes: [json.len() as u64; 2],
                    json,
                    compact: None,
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
