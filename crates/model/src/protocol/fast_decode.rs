//! The strict reader of server frames: every frame the server sends, read once, front to
//! back, straight into the types (`json_cursor`), with no intermediate tree.
//!
//! serde's internally tagged enums (`"type"`, `"op"`, `"kind"`) and `flatten` buffer the
//! whole frame into a tree before building the types; and the derived decoders are a large
//! part of the app's wasm, which (without the `generic-decode` feature) reads frames only here.
//!
//! It only ever answers `Some` with exactly what the generic decoder would give; anything it
//! does not handle, or any doubt, is `None` (and, with `generic-decode`, the generic decoder
//! with its precise errors runs instead). Doubt includes any repeated field (serde refuses
//! them), an unknown field holding a value serde_json might refuse (`Cursor::skip`), a field
//! of another frame type holding a value unlike that type's, and a change whose `op` is not
//! its first field (the server writes it first).

use super::json_cursor::Cursor;
use super::line_batch::{levels_of, Columns};
use super::{
    Change, ErrorCode, Gone, Limits, LineBatch, ServerFrame, ServerMessage, Snapshot, StoreState,
    VERSION,
};
use crate::stuck::StuckAfter;
use crate::{
    Deployment, Environment, EnvironmentSummary, Instance, InstanceEvent, LogLine, Service,
    Termination,
};

/// The fields of every server frame type, as read.
#[derive(Default)]
struct Fields {
    v: Option<u64>,
    kind: Option<String>,
    sub: Option<Option<String>>,
    seq: Option<u64>,
    part: Option<u32>,
    parts: Option<u32>,
    changes: Option<Vec<Change>>,
    lines: Option<LineBatch>,
    data: Option<Snapshot>,
    server: Option<String>,
    limits: Option<Limits>,
    stuck_after: Option<Option<StuckAfter>>,
    now: Option<Option<u64>>,
    nonce: Option<u64>,
    code: Option<ErrorCode>,
    message: Option<String>,
    gone: Option<Option<Gone>>,
    store: Option<StoreState>,
}

/// Decodes a server frame; `None` on any doubt.
pub fn decode(text: &str) -> Option<ServerFrame> {
    let mut c = Cursor::new(text);
    let mut f = Fields::default();
    c.object(false, |c, key| match key {
        "v" => set(&mut f.v, c.uint().filter(|&v| v == u64::from(VERSION))),
        "type" => set(&mut f.kind, c.owned()),
        "sub" => set(&mut f.sub, c.nullable(Cursor::owned)),
        "seq" => set(&mut f.seq, c.uint()),
        "part" => set(&mut f.part, u32_of(c)),
        "parts" => set(&mut f.parts, u32_of(c)),
        "changes" => set(&mut f.changes, c.array(change)),
        "lines" => set(&mut f.lines, line_batch(c)),
        "data" => set(&mut f.data, snapshot(c)),
        "server" => set(&mut f.server, c.owned()),
        "limits" => set(&mut f.limits, limits(c)),
        "stuck_after" => set(&mut f.stuck_after, c.nullable(stuck_after)),
        "now" => set(&mut f.now, c.nullable(Cursor::uint)),
        "nonce" => set(&mut f.nonce, c.uint()),
        "code" => set(&mut f.code, c.word()),
        "message" => set(&mut f.message, c.owned()),
        "gone" => set(&mut f.gone, c.nullable(Cursor::word)),
        "store" => set(&mut f.store, c.word()),
        _ => c.skip(),
    })?;
    if f.v.is_none() || !c.at_end() {
        return None;
    }
    // Only the error frame's `sub` may be null.
    let sub = f.sub.flatten();
    let msg = match f.kind?.as_str() {
        "hello" => ServerMessage::Hello {
            server: f.server?,
            limits: f.limits?,
            stuck_after: f.stuck_after.flatten(),
            now: f.now.flatten(),
        },
        "snapshot" => ServerMessage::Snapshot {
            sub: sub?,
            seq: f.seq?,
            data: f.data?,
        },
        "snapshot_part" => ServerMessage::SnapshotPart {
            sub: sub?,
            seq: f.seq?,
            part: f.part?,
            parts: f.parts?,
            data: f.data?,
        },
        "resumed" => ServerMessage::Resumed {
            sub: sub?,
            seq: f.seq?,
        },
        "delta" => ServerMessage::Delta {
            sub: sub?,
            seq: f.seq?,
            changes: f.changes?,
        },
        "lines" => ServerMessage::Lines {
            sub: sub?,
            seq: f.seq?,
            lines: f.lines?,
        },
        "unsubscribed" => ServerMessage::Unsubscribed { sub: sub? },
        "ping" => ServerMessage::Ping { nonce: f.nonce? },
        "pong" => ServerMessage::Pong { nonce: f.nonce? },
        "status" => ServerMessage::Status {
            store: f.store?,
            message: f.message,
        },
        "error" => ServerMessage::Error {
            code: f.code?,
            message: f.message?,
            sub,
            gone: f.gone.flatten(),
        },
        _ => return None,
    };
    Some(ServerFrame::new(msg))
}

/// Fills a field once: a second value for it is a doubt (serde refuses repeated fields).
pub(super) fn set<T>(field: &mut Option<T>, value: Option<T>) -> Option<()> {
    if field.is_some() {
        return None;
    }
    *field = Some(value?);
    Some(())
}

fn limits(c: &mut Cursor<'_>) -> Option<Limits> {
    let mut n: [Option<u32>; 6] = Default::default();
    c.object(false, |c, key| {
        let i = match key {
            "max_client_frame_bytes" => 0,
            "max_server_frame_bytes" => 1,
            "max_subscriptions" => 2,
            "max_client_frames_per_sec" => 3,
            "heartbeat_ms" => 4,
            "idle_timeout_ms" => 5,
            _ => return c.skip(),
        };
        set(&mut n[i], u32_of(c))
    })?;
    Some(Limits {
        max_client_frame_bytes: n[0]?,
        max_server_frame_bytes: n[1]?,
        max_subscriptions: n[2]?,
        max_client_frames_per_sec: n[3]?,
        heartbeat_ms: n[4]?,
        idle_timeout_ms: n[5]?,
    })
}

/// The stuck thresholds; a field not sent keeps its default (as serde's `default` does).
fn stuck_after(c: &mut Cursor<'_>) -> Option<StuckAfter> {
    let mut n: [Option<u64>; 6] = Default::default();
    c.object(false, |c, key| {
        let i = match key {
            "starting_ms" => 0,
            "stopping_ms" => 1,
            "queued_ms" => 2,
            "building_ms" => 3,
            "deploying_ms" => 4,
            "cancelling_building_ms" => 5,
            _ => return c.skip(),
        };
        set(&mut n[i], c.uint())
    })?;
    let d = StuckAfter::default();
    Some(StuckAfter {
        starting_ms: n[0].unwrap_or(d.starting_ms),
        stopping_ms: n[1].unwrap_or(d.stopping_ms),
        queued_ms: n[2].unwrap_or(d.queued_ms),
        building_ms: n[3].unwrap_or(d.building_ms),
        deploying_ms: n[4].unwrap_or(d.deploying_ms),
        cancelling_building_ms: n[5].unwrap_or(d.cancelling_building_ms),
    })
}

fn u32_of(c: &mut Cursor<'_>) -> Option<u32> {
    c.uint().and_then(|n| u32::try_from(n).ok())
}

/// A change, its `op` first (as the server writes it).
fn change(c: &mut Cursor<'_>) -> Option<Change> {
    if c.first_key()? != "op" {
        return None;
    }
    Some(match c.string()?.as_ref() {
        "environment_upsert" => Change::EnvironmentUpsert(environment_summary(c, true)?),
        "environment_removed" => Change::EnvironmentRemoved { id: removed_id(c)? },
        "service_upsert" => Change::ServiceUpsert(service(c, true)?),
        "service_removed" => Change::ServiceRemoved { id: removed_id(c)? },
        "instance_update" => instance_update(c)?,
        "environment_deployment" => {
            let mut last = None;
            c.object(true, |c, key| match key {
                "deployment" => set(&mut last, c.nullable(|c| deployment(c, false))),
                _ => skip_unless_op(c, key),
            })?;
            Change::EnvironmentDeployment {
                deployment: last.flatten(),
            }
        }
        "line" => Change::Line(log_line(c)?),
        "deployment" => Change::Deployment(deployment(c, true)?),
        _ => return None,
    })
}

/// A field a change's type does not know: skipped, unless it repeats the tag (serde refuses that).
fn skip_unless_op(c: &mut Cursor<'_>, key: &str) -> Option<()> {
    if key == "op" {
        return None;
    }
    c.skip()
}

/// An `instance_update`, after its `op`.
fn instance_update(c: &mut Cursor<'_>) -> Option<Change> {
    let (mut service, mut index, mut one, mut since, mut added) = Default::default();
    c.object(true, |c, key| match key {
        "service" => set(&mut service, c.owned()),
        "index" => set(&mut index, u32_of(c)),
        "instance" => set(&mut one, instance(c)),
        "running_since" => set(&mut since, c.nullable(Cursor::uint)),
        "events_added" => set(&mut added, c.nullable(|c| c.array(instance_event))),
        _ => skip_unless_op(c, key),
    })?;
    Some(Change::InstanceUpdate {
        service: service?,
        index: index?,
        instance: one?,
        running_since: since.flatten(),
        events_added: added.flatten(),
    })
}

/// The `id` of a removal, after its change's `op`.
fn removed_id(c: &mut Cursor<'_>) -> Option<String> {
    let mut id = None;
    c.object(true, |c, key| match key {
        "id" => set(&mut id, c.owned()),
        _ => skip_unless_op(c, key),
    })?;
    id
}

/// The `data` of a snapshot, whatever its kind.
fn snapshot(c: &mut Cursor<'_>) -> Option<Snapshot> {
    let (mut kind, mut environments, mut environment) = (None, None, None);
    let (mut env, mut service, mut last, mut count) = (None, None, None, None);
    c.object(false, |c, key| match key {
        "kind" => set(&mut kind, c.owned()),
        "environments" => set(
            &mut environments,
            c.array(|c| environment_summary(c, false)),
        ),
        "environment" => set(&mut environment, whole_environment(c)),
        "env" => set(&mut env, c.owned()),
        "service" => set(&mut service, c.nullable(Cursor::owned)),
        "deployment" => set(&mut last, deployment(c, false)),
        "line_count" => set(&mut count, c.nullable(Cursor::uint)),
        _ => c.skip(),
    })?;
    Some(match kind?.as_str() {
        "environments" => Snapshot::Environments {
            environments: environments?,
        },
        "environment" => Snapshot::Environment {
            environment: environment?,
        },
        "logs" => Snapshot::Logs {
            env: env?,
            service: service.flatten(),
            deployment: last?,
            line_count: count.flatten(),
        },
        _ => return None,
    })
}

/// An environment's summary; `opened`: after its object's first member (a change's `op`).
fn environment_summary(c: &mut Cursor<'_>, opened: bool) -> Option<EnvironmentSummary> {
    let (mut id, mut name, mut running, mut reason) = Default::default();
    let (mut last, mut services) = Default::default();
    let (mut running_since, mut deployment_since) = Default::default();
    c.object(opened, |c, key| match key {
        "id" => set(&mut id, c.owned()),
        "name" => set(&mut name, c.owned()),
        "running" => set(&mut running, c.word()),
        "running_reason" => set(&mut reason, c.owned()),
        "deployment" => set(&mut last, c.nullable(Cursor::word)),
        "services" => set(&mut services, u32_of(c)),
        "running_since" => set(&mut running_since, c.nullable(Cursor::uint)),
        "deployment_since" => set(&mut deployment_since, c.nullable(Cursor::uint)),
        _ if opened => skip_unless_op(c, key),
        _ => c.skip(),
    })?;
    Some(EnvironmentSummary {
        id: id?,
        name: name?,
        running: running?,
        running_reason: reason.unwrap_or_default(),
        deployment: last.flatten(),
        services: services.unwrap_or(0),
        running_since: running_since.flatten(),
        deployment_since: deployment_since.flatten(),
    })
}

fn whole_environment(c: &mut Cursor<'_>) -> Option<Environment> {
    let (mut id, mut name, mut services, mut last) = Default::default();
    c.object(false, |c, key| match key {
        "id" => set(&mut id, c.owned()),
        "name" => set(&mut name, c.owned()),
        "services" => set(&mut services, c.array(|c| service(c, false))),
        "deployment" => set(&mut last, c.nullable(|c| deployment(c, false))),
        _ => c.skip(),
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
    let (mut running_since, mut deployment_since) = Default::default();
    c.object(opened, |c, key| match key {
        "running_since" => set(&mut running_since, c.nullable(Cursor::uint)),
        "deployment_since" => set(&mut deployment_since, c.nullable(Cursor::uint)),
        "id" => set(&mut id, c.owned()),
        "name" => set(&mut name, c.owned()),
        "kind" => set(&mut kind, c.word()),
        "instances" => set(&mut instances, c.array(instance)),
        "version" => set(&mut version, c.owned()),
        "deployment" => set(&mut last, c.nullable(|c| deployment(c, false))),
        _ if opened => skip_unless_op(c, key),
        _ => c.skip(),
    })?;
    Some(Service {
        id: id?,
        name: name?,
        kind: kind?,
        instances: instances.unwrap_or_default(),
        version: version?,
        deployment: last.flatten(),
        running_since: running_since.flatten(),
        deployment_since: deployment_since.flatten(),
    })
}

fn instance(c: &mut Cursor<'_>) -> Option<Instance> {
    let (mut name, mut status, mut version, mut restarts) = Default::default();
    let (mut reason, mut message, mut started_at) = Default::default();
    let (mut termination, mut restart_at, mut events) = Default::default();
    c.object(false, |c, key| match key {
        "last_termination" => set(&mut termination, c.nullable(termination_of)),
        "last_restart_at" => set(&mut restart_at, c.nullable(Cursor::uint)),
        "events" => set(&mut events, c.array(instance_event)),
        "name" => set(&mut name, c.owned()),
        "status" => set(&mut status, c.word()),
        "version" => set(&mut version, c.owned()),
        "restarts" => set(&mut restarts, u32_of(c)),
        "reason" => set(&mut reason, c.nullable(Cursor::owned)),
        "message" => set(&mut message, c.nullable(Cursor::owned)),
        "started_at" => set(&mut started_at, c.nullable(Cursor::uint)),
        _ => c.skip(),
    })?;
    Some(Instance {
        name: name?,
        status: status?,
        version: version?,
        restarts: restarts.unwrap_or(0),
        reason: reason.flatten(),
        message: message.flatten(),
        started_at: started_at.flatten(),
        last_termination: termination.flatten(),
        last_restart_at: restart_at.flatten(),
        events: events.unwrap_or_default(),
    })
}

fn termination_of(c: &mut Cursor<'_>) -> Option<Termination> {
    let (mut reason, mut exit_code, mut at) = Default::default();
    c.object(false, |c, key| match key {
        "reason" => set(&mut reason, c.nullable(Cursor::owned)),
        "exit_code" => set(
            &mut exit_code,
            c.nullable(|c| c.int().and_then(|n| i32::try_from(n).ok())),
        ),
        "at" => set(&mut at, c.nullable(Cursor::uint)),
        _ => c.skip(),
    })?;
    Some(Termination {
        reason: reason.flatten(),
        exit_code: exit_code.flatten(),
        at: at.flatten(),
    })
}

fn instance_event(c: &mut Cursor<'_>) -> Option<InstanceEvent> {
    let (mut at, mut reason, mut message) = Default::default();
    c.object(false, |c, key| match key {
        "at" => set(&mut at, c.uint()),
        "reason" => set(&mut reason, c.owned()),
        "message" => set(&mut message, c.nullable(Cursor::owned)),
        _ => c.skip(),
    })?;
    Some(InstanceEvent {
        at: at?,
        reason: reason?,
        message: message.flatten(),
    })
}

/// A deployment; `opened`: after its object's first member (a change's `op`).
fn deployment(c: &mut Cursor<'_>, opened: bool) -> Option<Deployment> {
    let (mut id, mut status, mut version, mut previous) = Default::default();
    let (mut started_at, mut finished_at, mut triggered_by, mut url) = Default::default();
    c.object(opened, |c, key| match key {
        "id" => set(&mut id, c.owned()),
        "status" => set(&mut status, c.word()),
        "version" => set(&mut version, c.owned()),
        "previous_version" => set(&mut previous, c.nullable(Cursor::owned)),
        "started_at" => set(&mut started_at, c.uint()),
        "finished_at" => set(&mut finished_at, c.nullable(Cursor::uint)),
        "triggered_by" => set(&mut triggered_by, c.nullable(Cursor::owned)),
        "url" => set(&mut url, c.nullable(Cursor::owned)),
        _ if opened => skip_unless_op(c, key),
        _ => c.skip(),
    })?;
    Some(Deployment {
        id: id?,
        status: status?,
        version: version?,
        previous_version: previous.flatten(),
        started_at: started_at?,
        finished_at: finished_at.flatten(),
        triggered_by: triggered_by.flatten(),
        url: url.flatten(),
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
        _ => skip_unless_op(c, key),
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

/// The columns of a `lines` frame, checked against each other as the generic decoder does.
fn line_batch(c: &mut Cursor<'_>) -> Option<LineBatch> {
    let (mut n, mut ts, mut stage, mut level) = Default::default();
    let (mut text, mut hint) = Default::default();
    c.object(false, |c, key| match key {
        "n" => set(&mut n, c.uint()),
        "ts" => set(&mut ts, ts_column(c)),
        "stage" => set(&mut stage, c.array(|c| c.tuple2(Cursor::owned, u32_of))),
        "level" => set(&mut level, c.string().map(|s| levels_of(&s))),
        "text" => set(&mut text, c.array(Cursor::owned)),
        "hint" => set(&mut hint, c.array(|c| c.tuple2(u32_of, Cursor::owned))),
        _ => c.skip(),
    })?;
    LineBatch::try_from(Columns {
        n: n?,
        ts: ts?,
        stage: stage?,
        level: level?,
        text: text?,
        hint: hint.unwrap_or_default(),
    })
    .ok()
}

/// The first timestamp, then differences to the previous one.
fn ts_column(c: &mut Cursor<'_>) -> Option<Vec<u64>> {
    let mut prev: Option<u64> = None;
    c.array(|c| {
        let ts = match prev {
            None => c.uint()?,
            Some(p) => super::line_batch::ts_column::apply(p, c.int()?),
        };
        prev = Some(ts);
        Some(ts)
    })
}

#[cfg(all(test, feature = "generic-decode"))]
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
        // Every other frame type and change op, unknown fields of any JSON value.
        for text in [
            r#"{"v":1,"type":"ping","nonce":3,"x":[{"y":-1.5e-3},true,null,"\u00e9"]}"#,
            r#"{"v":1,"type":"delta","sub":"s","seq":1,"changes":[{"op":"service_removed","id":"web"},{"op":"environment_deployment"}]}"#,
            r#"{"v":1,"type":"snapshot","sub":"s","seq":1,"data":{"kind":"environments","environments":[]}}"#,
            r#"{"v":1,"type":"snapshot","sub":"s","seq":1,"data":{"kind":"logs","env":"p","deployment":{"id":"d","status":"QUEUED","version":"v","started_at":1}}}"#,
            r#"{"v":1,"type":"error","code":"rate_limited","message":"slow down","sub":null}"#,
        ] {
            assert!(decode(text).is_some(), "{text}");
            agrees(text);
        }
        // Left to the generic decoder: other versions, bad changes, an `op` that is not
        // first or repeated, numbers serde_json may refuse in unknown fields.
        for text in [
            r#"{"v":2,"type":"delta","sub":"s","seq":1,"changes":[]}"#,
            r#"{"type":"delta","v":1,"sub":"s","seq":1,"changes":[{"op":"nope"}]}"#,
            r#"{"v":1,"type":"delta","sub":"s","seq":1,"changes":[{"id":"web","op":"service_removed"}]}"#,
            r#"{"v":1,"type":"delta","sub":"s","seq":1,"changes":[{"op":"service_removed","id":"web","op":"service_removed"}]}"#,
            r#"{"v":1,"type":"delta","sub":"s","seq":1,"changes":[{"op":"service_upsert","id":3}]}"#,
            r#"{"v":2,"type":"snapshot","sub":"s","seq":1,"data":{"kind":"environment","environment":{"id":"p","name":"P","services":[]}}}"#,
            r#"{"v":1,"type":"snapshot","sub":"s","seq":1,"data":{"kind":"environment","environment":{"id":"p","name":"P","services":[{"id":3}]}}}"#,
            r#"{"v":1,"type":"ping","nonce":3,"x":1e999}"#,
            r#"{"v":1,"type":"ping","nonce":3,"x":1.7976931348623157e308}"#,
        ] {
            assert!(decode(text).is_none(), "{text}");
            agrees(text);
        }
    }
}
