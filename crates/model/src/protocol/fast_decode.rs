//! A faster path for the frames that carry the volume: deltas and environment snapshots.
//!
//! serde's internally tagged enums (`"type"`, `"op"`, `"kind"`) and `flatten` buffer the
//! whole frame into an intermediate tree before building the types, and skimming for the tags
//! first (as this path once did) reads each frame three times. Here the frame is read once,
//! front to back, straight into the types (`json_cursor`), with no tree and no skimming.
//!
//! It only ever answers `Some` with exactly what the generic decoder would give; anything it
//! does not handle, or any doubt, is `None` and the generic decoder (with its precise errors)
//! runs instead. Doubt includes any unknown or repeated field (serde skips unknown fields
//! with rules of its own: the skim accepts numbers and strings that decoding refuses), a
//! change whose `op` is not its first field, and changes the server never sends in bulk:
//! only the ones it does (`service_upsert`, `line`, `deployment`) are read here.

use super::json_cursor::Cursor;
use super::{Change, ServerFrame, ServerMessage, Snapshot, VERSION};
use crate::{Deployment, Environment, Instance, LogLine, Service};

/// Decodes a delta or an environment snapshot; `None` for anything else or on any doubt.
pub fn decode(text: &str) -> Option<ServerFrame> {
    let mut c = Cursor::new(text);
    let (mut v, mut kind, mut sub, mut seq, mut changes, mut data) = Default::default();
    c.object(false, |c, key| match key {
        "v" => set(&mut v, c.uint().filter(|&v| v == u64::from(VERSION))),
        "type" => set(
            &mut kind,
            c.string().filter(|t| t == "delta" || t == "snapshot"),
        ),
        "sub" => set(&mut sub, c.owned()),
        "seq" => set(&mut seq, c.uint()),
        "changes" => set(&mut changes, c.array(change)),
        "data" => set(&mut data, environment_snapshot(c)),
        _ => None,
    })?;
    if v.is_none() || !c.at_end() {
        return None;
    }
    let (sub, seq) = (sub?, seq?);
    let msg = match (kind?.as_ref(), changes, data) {
        ("delta", Some(changes), None) => ServerMessage::Delta { sub, seq, changes },
        ("snapshot", None, Some(environment)) => ServerMessage::Snapshot {
            sub,
            seq,
            data: Snapshot::Environment { environment },
        },
        _ => return None,
    };
    Some(ServerFrame::new(msg))
}

/// Fills a field once: a second value for it is a doubt (serde refuses repeated fields).
fn set<T>(field: &mut Option<T>, value: Option<T>) -> Option<()> {
    if field.is_some() {
        return None;
    }
    *field = Some(value?);
    Some(())
}

/// A change of the kinds the server sends in bulk, its `op` first (as the server writes it).
fn change(c: &mut Cursor<'_>) -> Option<Change> {
    if c.first_key()? != "op" {
        return None;
    }
    Some(match c.string()?.as_ref() {
        "service_upsert" => Change::ServiceUpsert(service(c, true)?),
        "line" => Change::Line(log_line(c)?),
        "deployment" => Change::Deployment(deployment(c, true)?),
        _ => return None,
    })
}

/// The `data` of an environment snapshot.
fn environment_snapshot(c: &mut Cursor<'_>) -> Option<Environment> {
    let (mut kind, mut environment) = (None, None);
    c.object(false, |c, key| match key {
        "kind" => set(&mut kind, c.string().filter(|k| k == "environment")),
        "environment" => set(&mut environment, whole_environment(c)),
        _ => None,
    })?;
    kind.and(environment)
}

fn whole_environment(c: &mut Cursor<'_>) -> Option<Environment> {
    let (mut id, mut name, mut services, mut last) = Default::default();
    c.object(false, |c, key| match key {
        "id" => set(&mut id, c.owned()),
        "name" => set(&mut name, c.owned()),
        "services" => set(&mut services, c.array(|c| service(c, false))),
        "deployment" => set(&mut last, c.nullable(|c| deployment(c, false))),
        _ => None,
    })?;
    Some(Environment {
        id: id?,
        name: name?,
        services: services.unwrap_or_default(),
        deployment: last.flatten(),
    })
}

/// A service; `opened`: after its object's first member (a change's `op`).
fn service(c: &mut Cursor<'_>, opened: bool) -> Option<Service> {
    let (mut id, mut name, mut kind, mut instances, mut version, mut last) = Default::default();
    c.object(opened, |c, key| match key {
        "id" => set(&mut id, c.owned()),
        "name" => set(&mut name, c.owned()),
        "kind" => set(&mut kind, c.word()),
        "instances" => set(&mut instances, c.array(instance)),
        "version" => set(&mut version, c.owned()),
        "deployment" => set(&mut last, c.nullable(|c| deployment(c, false))),
        _ => None,
    })?;
    Some(Service {
        id: id?,
        name: name?,
        kind: kind?,
        instances: instances.unwrap_or_default(),
        version: version?,
        deployment: last.flatten(),
    })
}

fn instance(c: &mut Cursor<'_>) -> Option<Instance> {
    let (mut name, mut status, mut version, mut restarts) = Default::default();
    let (mut reason, mut message, mut started_at) = Default::default();
    c.object(false, |c, key| match key {
        "name" => set(&mut name, c.owned()),
        "status" => set(&mut status, c.word()),
        "version" => set(&mut version, c.owned()),
        "restarts" => set(&mut restarts, c.uint().and_then(|n| u32::try_from(n).ok())),
        "reason" => set(&mut reason, c.nullable(Cursor::owned)),
        "message" => set(&mut message, c.nullable(Cursor::owned)),
        "started_at" => set(&mut started_at, c.nullable(Cursor::uint)),
        _ => None,
    })?;
    Some(Instance {
        name: name?,
        status: status?,
        version: version?,
        restarts: restarts.unwrap_or(0),
        reason: reason.flatten(),
        message: message.flatten(),
        started_at: started_at.flatten(),
    })
}

/// A deployment; `opened`: after its object's first member (a change's `op`).
fn deployment(c: &mut Cursor<'_>, opened: bool) -> Option<Deployment> {
    let (mut id, mut status, mut version, mut previous) = Default::default();
    let (mut started_at, mut finished_at) = Default::default();
    c.object(opened, |c, key| match key {
        "id" => set(&mut id, c.owned()),
        "status" => set(&mut status, c.word()),
        "version" => set(&mut version, c.owned()),
        "previous_version" => set(&mut previous, c.nullable(Cursor::owned)),
        "started_at" => set(&mut started_at, c.uint()),
        "finished_at" => set(&mut finished_at, c.nullable(Cursor::uint)),
        _ => None,
    })?;
    Some(Deployment {
        id: id?,
        status: status?,
        version: version?,
        previous_version: previous.flatten(),
        started_at: started_at?,
        finished_at: finished_at.flatten(),
    })
}

/// A log line, after its change's `op`.
fn log_line(c: &mut Cursor<'_>) -> Option<LogLine> {
    let (mut n, mut ts, mut stage, mut level, mut text, mut hint) = Default::default();
    c.object(true, |c, key| match key {
        "n" => set(&mut n, c.uint()),
        "ts" => set(&mut ts, c.uint()),
        "stage" => set(&mut stage, c.owned()),
        "level" => set(&mut level, c.word()),
        "text" => set(&mut text, c.owned()),
        "hint" => set(&mut hint, c.nullable(Cursor::owned)),
        _ => None,
    })?;
    Some(LogLine {
        n: n?,
        ts: ts?,
        stage: stage?,
        level: level?,
        text: text?,
        hint: hint.flatten(),
    })
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
            r#"{{"v":1,"type":"delta","sub":"s1","seq":7,"changes":[{{"op":"service_upsert",{}}},{{"op":"deployment","id":"d2","status":"QUEUED","version":"v3","started_at":9}}]}}"#,
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
            // Changes the server does not send in bulk, an `op` that is not first.
            r#"{"v":1,"type":"delta","sub":"s","seq":1,"changes":[{"op":"service_removed","id":"web"},{"op":"environment_deployment"}]}"#,
            r#"{"v":1,"type":"delta","sub":"s","seq":1,"changes":[{"id":"web","op":"service_removed"}]}"#,
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
