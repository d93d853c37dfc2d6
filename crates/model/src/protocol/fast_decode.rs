//! A faster path for the frames that carry the volume (deltas and environment snapshots).
//!
//! serde's internally tagged enums (`"type"`, `"op"`, `"kind"`) and `flatten` buffer the
//! whole frame into an intermediate tree before building the types: three passes and many
//! small allocations per frame, a quarter of the app's time under 10,000 events/s in a
//! profile. Here the tag is read first with a skimming pass (other fields skipped without
//! allocating), then the same text is decoded straight into the variant's type; an
//! environment snapshot, whose type the server writes near the start, in a single pass.
//!
//! It only ever answers `Some` with exactly what the generic decoder would give; anything it
//! does not handle, or any doubt, is `None` and the generic decoder (with its precise errors)
//! runs instead.

use super::{Change, ServerFrame, ServerMessage, Snapshot, SubId, VERSION};
use crate::{Environment, LogLine, Service};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Head<'a> {
    v: u32,
    #[serde(rename = "type", borrow)]
    kind: &'a str,
}

#[derive(Deserialize)]
struct DeltaBody<'a> {
    sub: SubId,
    seq: u64,
    #[serde(borrow)]
    changes: Vec<&'a RawValue>,
}

/// An environment snapshot, read in one pass: it is the frame the first paint waits for
/// (1,000 services are half a megabyte), and each skimming pass over it costs about as much as
/// a third of decoding it.
#[derive(Deserialize)]
struct EnvironmentSnapshotFrame<'a> {
    v: u32,
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    sub: SubId,
    seq: u64,
    #[serde(borrow)]
    data: EnvironmentData<'a>,
}

#[derive(Deserialize)]
struct EnvironmentData<'a> {
    #[serde(borrow)]
    kind: &'a str,
    environment: Environment,
}

#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(borrow)]
    op: Option<&'a str>,
}

/// Decodes a delta or an environment snapshot; `None` for anything else or on any error.
pub(super) fn decode(text: &str) -> Option<ServerFrame> {
    // The server writes the type near the start: a snapshot is then read in one pass, with no
    // skimming pass for its type first.
    const SNAPSHOT: &[u8] = br#""type":"snapshot""#;
    let start = &text.as_bytes()[..text.len().min(96)];
    if start.windows(SNAPSHOT.len()).any(|w| w == SNAPSHOT) {
        return environment_snapshot(text);
    }
    let head: Head<'_> = serde_json::from_str(text).ok()?;
    if head.v != VERSION {
        return None;
    }
    let msg = match head.kind {
        "delta" => {
            let body: DeltaBody<'_> = serde_json::from_str(text).ok()?;
            let changes = body
                .changes
                .iter()
                .map(|raw| change(raw.get()))
                .collect::<Option<Vec<Change>>>()?;
            ServerMessage::Delta {
                sub: body.sub,
                seq: body.seq,
                changes,
            }
        }
        "snapshot" => return environment_snapshot(text),
        _ => return None,
    };
    Some(ServerFrame::new(msg))
}

/// An environment snapshot; `None` for another snapshot kind, another type or version.
fn environment_snapshot(text: &str) -> Option<ServerFrame> {
    let frame: EnvironmentSnapshotFrame<'_> = serde_json::from_str(text).ok()?;
    if frame.v != VERSION || frame.kind != "snapshot" || frame.data.kind != "environment" {
        return None;
    }
    Some(ServerFrame::new(ServerMessage::Snapshot {
        sub: frame.sub,
        seq: frame.seq,
        data: Snapshot::Environment {
            environment: frame.data.environment,
        },
    }))
}

/// The two changes that come by the thousand; the others take the generic path.
fn change(text: &str) -> Option<Change> {
    let tag: Tag<'_> = serde_json::from_str(text).ok()?;
    match tag.op? {
        "service_upsert" => serde_json::from_str::<Service>(text)
            .ok()
            .map(Change::ServiceUpsert),
        "line" => serde_json::from_str::<LogLine>(text).ok().map(Change::Line),
        _ => serde_json::from_str::<Change>(text).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::decode::decode_server;

    /// The fast path agrees with the generic one wherever it answers.
    fn agrees(text: &str) {
        let fast = decode(text);
        let generic: Option<ServerFrame> = serde_json::from_str(text).ok();
        if let Some(f) = &fast {
            assert_eq!(Some(f), generic.as_ref(), "{text}");
        }
        // And the public decoder gives the generic answer (which also checks the version).
        let generic = generic.filter(|f| f.v == VERSION);
        assert_eq!(decode_server(text, 1 << 20).ok(), generic, "{text}");
    }

    #[test]
    fn deltas_and_snapshots_decode_as_the_generic_decoder_does() {
        let service = r#"{"id":"api","name":"API","kind":"application","instances":[{"name":"api-1","status":"RUNNING","version":"v2","restarts":0}],"version":"v2","deployment":{"id":"d1","status":"DEPLOYING","version":"v2","started_at":5}}"#;
        let delta = format!(
            r#"{{"v":1,"type":"delta","sub":"s1","seq":7,"changes":[{{"op":"service_upsert",{}}},{{"op":"service_removed","id":"web"}},{{"op":"environment_deployment"}}]}}"#,
            &service[1..service.len() - 1]
        );
        assert!(decode(&delta).is_some(), "a delta takes the fast path");
        agrees(&delta);
        let snapshot = format!(
            r#"{{"v":1,"type":"snapshot","sub":"s1","seq":3,"data":{{"kind":"environment","environment":{{"id":"p","name":"P","services":[{service}]}}}}}}"#
        );
        assert!(decode(&snapshot).is_some(), "an environment snapshot too");
        agrees(&snapshot);
        // Fields in another order (the type far from the start) take the same path.
        let long_sub = "x".repeat(64);
        let reordered = format!(
            r#"{{"sub":"{long_sub}","seq":3,"data":{{"environment":{{"id":"p","name":"P","services":[{service}]}},"kind":"environment"}},"type":"snapshot","v":1}}"#
        );
        assert!(decode(&reordered).is_some(), "whatever the order of fields");
        agrees(&reordered);
        let line = r#"{"v":1,"type":"delta","sub":"l","seq":1,"changes":[{"op":"line","n":1,"ts":3,"stage":"build","level":"info","text":"hello"}]}"#;
        assert!(decode(line).is_some(), "log lines too");
        agrees(line);
        // Not for the fast path: other types, other versions, bad changes.
        for text in [
            r#"{"v":1,"type":"ping","nonce":3}"#,
            r#"{"v":2,"type":"delta","sub":"s","seq":1,"changes":[]}"#,
            r#"{"type":"delta","v":1,"sub":"s","seq":1,"changes":[{"op":"nope"}]}"#,
            r#"{"v":1,"type":"delta","sub":"s","seq":1,"changes":[{"op":"service_upsert","id":3}]}"#,
            r#"{"v":1,"type":"snapshot","sub":"s","seq":1,"data":{"kind":"environments","environments":[]}}"#,
            r#"{"v":2,"type":"snapshot","sub":"s","seq":1,"data":{"kind":"environment","environment":{"id":"p","name":"P","services":[]}}}"#,
            r#"{"v":1,"type":"snapshot","sub":"s","seq":1,"data":{"kind":"logs","env":"p","deployment":{"id":"d","status":"QUEUED","version":"v","started_at":1}}}"#,
            r#"{"v":1,"type":"snapshot","sub":"s","seq":1,"data":{"kind":"environment","environment":{"id":"p","name":"P","services":[{"id":3}]}}}"#,
        ] {
            agrees(text);
        }
    }
}
