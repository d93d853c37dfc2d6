//! Every ```json block of docs/protocol.md is a frame that decodes, and encodes back to the same
//! value; every frame type, topic kind, snapshot kind and change op has an example.

use shipwatch_model::protocol::{
    decode_client, decode_server, encode, Change, ClientFrame, ClientMessage, Limits, ServerFrame,
    ServerMessage, Snapshot, Topic,
};
use std::collections::BTreeSet;

const LIMIT: usize = 1 << 20;

fn json_blocks(doc: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in doc.lines().enumerate() {
        let trimmed = line.trim();
        match &mut current {
            None if trimmed == "```json" => current = Some((i + 1, String::new())),
            None => {}
            Some(_) if trimmed == "```" => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    assert!(current.is_none(), "unterminated ```json block");
    blocks
}

fn client_name(f: &ClientFrame) -> Vec<String> {
    match &f.msg {
        ClientMessage::Subscribe { topic, .. } => vec![
            "client:subscribe".into(),
            match topic {
                Topic::Environments => "topic:environments",
                Topic::Environment { .. } => "topic:environment",
                Topic::Logs { .. } => "topic:logs",
            }
            .into(),
        ],
        ClientMessage::Unsubscribe { .. } => vec!["client:unsubscribe".into()],
        ClientMessage::Ping { .. } => vec!["client:ping".into()],
        ClientMessage::Pong { .. } => vec!["client:pong".into()],
    }
}

fn server_name(f: &ServerFrame) -> Vec<String> {
    match &f.msg {
        ServerMessage::Hello { limits, .. } => {
            assert_eq!(
                *limits,
                Limits::default(),
                "hello example shows the default limits"
            );
            vec!["server:hello".into()]
        }
        ServerMessage::Snapshot { data, .. } => vec![
            "server:snapshot".into(),
            match data {
                Snapshot::Environments { .. } => "snapshot:environments",
                Snapshot::Environment { .. } => "snapshot:environment",
                Snapshot::Logs { .. } => "snapshot:logs",
            }
            .into(),
        ],
        ServerMessage::SnapshotPart {
            part, parts, data, ..
        } => {
            assert!(part < parts, "a part numbered below its count");
            assert!(
                matches!(data, Snapshot::Environment { .. }),
                "the example is an environment's"
            );
            vec!["server:snapshot_part".into()]
        }
        ServerMessage::Resumed { .. } => vec!["server:resumed".into()],
        ServerMessage::Delta { changes, .. } => {
            assert!(!changes.is_empty(), "a delta never holds zero changes");
            let mut names = vec!["server:delta".to_string()];
            for c in changes {
                names.push(
                    match c {
                        Change::EnvironmentUpsert(_) => "op:environment_upsert",
                        Change::EnvironmentRemoved { .. } => "op:environment_removed",
                        Change::ServiceUpsert(_) => "op:service_upsert",
                        Change::ServiceRemoved { .. } => "op:service_removed",
                        Change::InstanceUpdate { .. } => "op:instance_update",
                        Change::EnvironmentDeployment { .. } => "op:environment_deployment",
                        Change::Deployment(_) => "op:deployment",
                        Change::Line(_) => "op:line",
                    }
                    .into(),
                );
            }
            names
        }
        ServerMessage::Lines { lines, .. } => {
            assert!(!lines.is_empty(), "a lines frame never holds zero lines");
            vec!["server:lines".into()]
        }
        ServerMessage::Unsubscribed { .. } => vec!["server:unsubscribed".into()],
        ServerMessage::Ping { .. } => vec!["server:ping".into()],
        ServerMessage::Pong { .. } => vec!["server:pong".into()],
        ServerMessage::Status { .. } => vec!["server:status".into()],
        ServerMessage::Error { .. } => vec!["server:error".into()],
    }
}

#[test]
fn every_json_example_round_trips_and_every_frame_has_one() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/protocol.md"
    ))
    .expect("docs/protocol.md exists");
    let blocks = json_blocks(&doc);
    assert!(blocks.len() >= 18, "only {} json examples", blocks.len());
    let mut seen = BTreeSet::new();
    for (line, text) in &blocks {
        let server = decode_server(text, LIMIT);
        let client = decode_client(text, LIMIT);
        assert!(
            server.is_ok() || client.is_ok(),
            "docs/protocol.md:{line}: neither decoder accepts it: server {server:?}, client {client:?}"
        );
        if let Ok(frame) = server {
            let again = decode_server(&encode(&frame), LIMIT)
                .unwrap_or_else(|e| panic!("docs/protocol.md:{line}: re-encoded frame fails: {e}"));
            assert_eq!(
                again, frame,
                "docs/protocol.md:{line}: round trip changed the frame"
            );
            seen.extend(server_name(&frame));
        }
        if let Ok(frame) = client {
            let again = decode_client(&encode(&frame), LIMIT)
                .unwrap_or_else(|e| panic!("docs/protocol.md:{line}: re-encoded frame fails: {e}"));
            assert_eq!(
                again, frame,
                "docs/protocol.md:{line}: round trip changed the frame"
            );
            seen.extend(client_name(&frame));
        }
    }
    let expected = [
        "client:subscribe",
        "client:unsubscribe",
        "client:ping",
        "client:pong",
        "topic:environments",
        "topic:environment",
        "topic:logs",
        "server:hello",
        "server:snapshot",
        "server:snapshot_part",
        "server:resumed",
        "server:delta",
        "server:lines",
        "server:unsubscribed",
        "server:ping",
        "server:pong",
        "server:status",
        "server:error",
        "snapshot:environments",
        "snapshot:environment",
        "snapshot:logs",
        "op:environment_upsert",
        "op:environment_removed",
        "op:service_upsert",
        "op:service_removed",
        "op:instance_update",
        "op:environment_deployment",
        "op:deployment",
        "op:line",
    ];
    let missing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|e| !seen.contains(*e))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/protocol.md has no example of {missing:?}"
    );
}

#[test]
fn doc_mentions_every_error_and_close_code() {
    use shipwatch_model::protocol::{close_code, ErrorCode};
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/protocol.md"
    ))
    .expect("docs/protocol.md exists");
    for code in [
        ErrorCode::MalformedJson,
        ErrorCode::UnsupportedVersion,
        ErrorCode::UnknownType,
        ErrorCode::InvalidFrame,
        ErrorCode::FrameTooLarge,
        ErrorCode::TooManySubscriptions,
        ErrorCode::DuplicateSubscription,
        ErrorCode::UnknownSubscription,
        ErrorCode::UnknownTopic,
        ErrorCode::Behind,
        ErrorCode::RateLimited,
    ] {
        assert!(
            doc.contains(&format!("| `{}`", code.as_str())),
            "error code {code:?} not in the table"
        );
        assert_eq!(encode(&code), format!("\"{}\"", code.as_str()));
    }
    for (name, code) in [
        ("NORMAL", close_code::NORMAL),
        ("GOING_AWAY", close_code::GOING_AWAY),
        ("POLICY", close_code::POLICY),
        ("TOO_BIG", close_code::TOO_BIG),
        ("INTERNAL", close_code::INTERNAL),
        ("IDLE", close_code::IDLE),
        ("FLOOD", close_code::FLOOD),
    ] {
        assert!(
            doc.contains(&format!("| {code} | `{name}`")),
            "close code {name} not in the table"
        );
    }
}
