//! Decoding is fallible and total: every input gives a frame or a typed error, never a panic.

use proptest::prelude::*;
use shipwatch_model::protocol::{
    decode_client, decode_client_bytes, decode_client_fast, decode_server, decode_server_bytes,
    decode_server_fast, encode, Change, ClientFrame, ClientMessage, DecodeError, ErrorCode, Gone,
    Limits, LineBatch, ServerFrame, ServerMessage, Snapshot, StoreState, Topic,
};
use shipwatch_model::stuck::StuckAfter;
use shipwatch_model::{
    Deployment, DeploymentStatus, Environment, EnvironmentSummary, Instance, InstanceEvent,
    LogLevel, LogLine, RunningStatus, Service, ServiceKind, Termination,
};
use std::time::{Duration, Instant};

const LIMIT: usize = 64 * 1024;

fn doc_examples() -> Vec<String> {
    let doc = include_str!("../../../docs/protocol.md");
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in doc.lines() {
        match (&mut cur, line.trim()) {
            (None, "```json") => cur = Some(String::new()),
            (Some(_), "```") => out.extend(cur.take()),
            (Some(t), _) => t.push_str(line),
            _ => {}
        }
    }
    out
}

#[test]
fn typed_errors() {
    assert!(matches!(
        decode_client("", LIMIT),
        Err(DecodeError::Malformed(_))
    ));
    assert!(matches!(
        decode_client("{", LIMIT),
        Err(DecodeError::Malformed(_))
    ));
    assert!(matches!(
        decode_client("[1,\"ping\"]", LIMIT),
        Err(DecodeError::Malformed(_))
    ));
    assert!(matches!(
        decode_client("42", LIMIT),
        Err(DecodeError::Malformed(_))
    ));
    assert_eq!(
        decode_client(r#"{"type":"ping","nonce":1}"#, LIMIT),
        Err(DecodeError::UnsupportedVersion(None))
    );
    assert_eq!(
        decode_client(r#"{"v":2,"type":"ping","nonce":1}"#, LIMIT),
        Err(DecodeError::UnsupportedVersion(Some(2)))
    );
    assert_eq!(
        decode_server(r#"{"v":2,"type":"teleport"}"#, LIMIT),
        Err(DecodeError::UnsupportedVersion(Some(2)))
    );
    assert_eq!(
        decode_client(r#"{"v":1,"type":"teleport"}"#, LIMIT),
        Err(DecodeError::UnknownType(Some("teleport".into())))
    );
    assert_eq!(
        decode_client(r#"{"v":1}"#, LIMIT),
        Err(DecodeError::UnknownType(None))
    );
    // A server frame type is unknown to the client decoder and vice versa.
    assert!(matches!(
        decode_client(r#"{"v":1,"type":"hello","server":"x","limits":{}}"#, LIMIT),
        Err(DecodeError::UnknownType(Some(_)))
    ));
    assert!(matches!(
        decode_server(
            r#"{"v":1,"type":"subscribe","sub":"a","topic":{"kind":"environments"}}"#,
            LIMIT
        ),
        Err(DecodeError::UnknownType(Some(_)))
    ));
    // Missing or wrong fields.
    assert!(matches!(
        decode_client(r#"{"v":1,"type":"ping"}"#, LIMIT),
        Err(DecodeError::Invalid(_))
    ));
    assert!(matches!(
        decode_client(r#"{"v":1,"type":"ping","nonce":"x"}"#, LIMIT),
        Err(DecodeError::Invalid(_))
    ));
    assert!(matches!(
        decode_client(
            r#"{"v":1,"type":"subscribe","sub":"a","topic":{"kind":"galaxy"}}"#,
            LIMIT
        ),
        Err(DecodeError::Invalid(_))
    ));
    assert!(matches!(
        decode_server(
            r#"{"v":1,"type":"delta","sub":"a","seq":1,"changes":[{"op":"teleport"}]}"#,
            LIMIT
        ),
        Err(DecodeError::Invalid(_))
    ));
    // Oversize.
    let big = format!(
        r#"{{"v":1,"type":"ping","nonce":1,"pad":"{}"}}"#,
        "x".repeat(100)
    );
    assert_eq!(
        decode_client(&big, 64),
        Err(DecodeError::TooLarge {
            bytes: big.len(),
            limit: 64
        })
    );
    assert!(
        decode_client(&big, LIMIT).is_ok(),
        "unknown fields are ignored"
    );
    // Not UTF-8.
    assert!(matches!(
        decode_client_bytes(&[0xff, 0xfe], LIMIT),
        Err(DecodeError::Malformed(_))
    ));
    assert!(matches!(
        decode_server_bytes(&[b'{'; 10], 5),
        Err(DecodeError::TooLarge { .. })
    ));
    // Deep nesting is an error, not a stack overflow.
    let deep = format!(
        r#"{{"v":1,"type":"ping","nonce":1,"x":{}{}}}"#,
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    assert!(decode_client(&deep, usize::MAX).is_err());
    assert!(decode_server(&deep, usize::MAX).is_err());
}

#[test]
fn error_codes_of_decode_errors() {
    assert_eq!(
        decode_client("nope", LIMIT).unwrap_err().code(),
        ErrorCode::MalformedJson
    );
    assert_eq!(
        decode_client(r#"{"v":3}"#, LIMIT).unwrap_err().code(),
        ErrorCode::UnsupportedVersion
    );
    assert_eq!(
        decode_client(r#"{"v":1,"type":"x"}"#, LIMIT)
            .unwrap_err()
            .code(),
        ErrorCode::UnknownType
    );
    assert_eq!(
        decode_client(r#"{"v":1,"type":"ping"}"#, LIMIT)
            .unwrap_err()
            .code(),
        ErrorCode::InvalidFrame
    );
    assert_eq!(
        decode_client("{}", 1).unwrap_err().code(),
        ErrorCode::FrameTooLarge
    );
    let e = decode_server(
        r#"{"v":1,"type":"error","code":"quota_exceeded","message":"m"}"#,
        LIMIT,
    )
    .expect("unknown codes decode");
    assert!(matches!(
        e.msg,
        ServerMessage::Error {
            code: ErrorCode::Unknown,
            ..
        }
    ));
}

#[test]
fn unknown_enum_values_decode_to_unknown() {
    let text = r#"{"v":1,"type":"delta","sub":"s","seq":5,"changes":[
        {"op":"service_upsert","id":"a","name":"a","kind":"edge_function","version":"v",
         "instances":[{"name":"a-1","status":"PAUSED","version":"v","future":{"x":[1,2]}}],
         "deployment":{"id":"d","status":"ROLLING_BACK","version":"v","started_at":1}},
        {"op":"line","n":1,"ts":2,"stage":"build","level":"trace","text":"t"},
        {"op":"environment_upsert","id":"e","name":"e","running":"HIBERNATING","deployment":"PAUSED"}]}"#;
    let frame = decode_server(text, LIMIT).expect("decodes");
    let ServerMessage::Delta { changes, .. } = frame.msg else {
        panic!("a delta")
    };
    let Change::ServiceUpsert(s) = &changes[0] else {
        panic!("service upsert")
    };
    assert_eq!(s.kind, ServiceKind::Unknown);
    assert_eq!(s.instances[0].status, RunningStatus::Unknown);
    assert_eq!(
        s.deployment.as_ref().map(|d| d.status),
        Some(DeploymentStatus::Unknown)
    );
    let Change::Line(l) = &changes[1] else {
        panic!("line")
    };
    assert_eq!(l.level, LogLevel::Unknown);
    let Change::EnvironmentUpsert(e) = &changes[2] else {
        panic!("env upsert")
    };
    assert_eq!(
        (e.running, e.deployment),
        (RunningStatus::Unknown, Some(DeploymentStatus::Unknown))
    );
}

#[test]
fn constructed_frames_round_trip() {
    let frames = [
        ClientFrame::new(ClientMessage::Subscribe {
            sub: "s".into(),
            topic: Topic::Logs {
                deployment: "d".into(),
            },
            resume_from: Some(u64::MAX),
            instance_updates: false,
            line_batches: true,
        }),
        ClientFrame::new(ClientMessage::Subscribe {
            sub: "e".into(),
            topic: Topic::Environment { env: "p".into() },
            resume_from: None,
            instance_updates: true,
            line_batches: false,
        }),
        ClientFrame::new(ClientMessage::Ping { nonce: u64::MAX }),
    ];
    for f in frames {
        assert_eq!(decode_client(&encode(&f), LIMIT), Ok(f));
    }
    let f = ServerFrame::new(ServerMessage::Snapshot {
        sub: "s".into(),
        seq: u64::MAX,
        data: Snapshot::Environments {
            environments: vec![],
        },
    });
    assert_eq!(decode_server(&encode(&f), LIMIT), Ok(f));
}

/// Inputs near valid frames: doc examples cut, spliced and with bytes changed.
fn mutated() -> impl Strategy<Value = String> {
    let examples = doc_examples();
    assert!(!examples.is_empty());
    (
        0..examples.len(),
        any::<usize>(),
        any::<usize>(),
        any::<u8>(),
        0u8..4,
    )
        .prop_map(move |(i, a, b, byte, how)| {
            let mut bytes = examples[i].clone().into_bytes();
            let n = bytes.len();
            match how {
                0..3 => edit(&mut bytes, how, a, b, byte),
                _ => {
                    let other = examples[b % examples.len()].as_bytes();
                    let cut = a % n;
                    bytes.truncate(cut);
                    bytes.extend_from_slice(&other[(b % other.len())..]);
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
}

/// One edit of a non-empty text: cut at `a`, the byte at `a` replaced by `byte`, or the
/// bytes between `a` and `b` dropped.
fn edit(bytes: &mut Vec<u8>, how: u8, a: usize, b: usize, byte: u8) {
    let n = bytes.len();
    match how {
        0 => bytes.truncate(a % (n + 1)),
        1 => bytes[a % n] = byte,
        _ => {
            let (x, y) = (a % n, b % n);
            bytes.drain(x.min(y)..x.max(y));
        }
    }
}

/// JSON-ish text from frame-like tokens.
fn jsonish() -> impl Strategy<Value = String> {
    let tokens = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"v\"",
        "1",
        "2",
        "-1",
        "1e999",
        "\"type\"",
        "\"ping\"",
        "\"delta\"",
        "\"subscribe\"",
        "\"snapshot\"",
        "\"changes\"",
        "\"op\"",
        "\"line\"",
        "\"sub\"",
        "\"seq\"",
        "\"nonce\"",
        "18446744073709551616",
        "null",
        "true",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "\"topic\"",
        "\"kind\"",
        "\"logs\"",
        "\"data\"",
        "\"status\"",
        "\"RUNNING\"",
    ]);
    prop::collection::vec(tokens, 0..64).prop_map(|t| t.concat())
}

fn check_total(text: &str) {
    // Neither panics; a success re-encodes to an equal frame.
    if let Ok(f) = decode_client(text, LIMIT) {
        assert_eq!(decode_client(&encode(&f), LIMIT), Ok(f));
    }
    if let Ok(f) = decode_server(text, LIMIT) {
        assert_eq!(decode_server(&encode(&f), LIMIT), Ok(f));
    }
}

proptest! {
    // Bounded in time: a fixed number of cases of bounded size, and a time guard below.
    #![proptest_config(ProptestConfig { cases: 768, max_shrink_iters: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(text in ".{0,300}") {
        check_total(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_client_bytes(&bytes, LIMIT);
        let _ = decode_server_bytes(&bytes, LIMIT);
        let _ = decode_client_bytes(&bytes, 16);
    }

    #[test]
    fn jsonish_text_never_panics(text in jsonish()) {
        check_total(&text);
    }

    #[test]
    fn mutated_examples_never_panic(text in mutated()) {
        check_total(&text);
    }

    /// The strict reader never answers differently from serde's own decoding of the frame
    /// types.
    #[test]
    fn the_fast_path_decodes_as_the_frame_types_do(text in mutated()) {
        decodes_as_the_frame_types_do(&text)?;
        client_decodes_as_the_frame_types_do(&text)?;
    }

    /// Every frame the server may send, of every type, snapshot kind and change op, takes the
    /// strict reader (the app has no other), and decodes to what was sent, however it is laid
    /// out.
    #[test]
    fn frames_the_server_sends_take_the_fast_path(frame in server_frame()) {
        for text in [encode(&frame), serde_json::to_string_pretty(&frame).unwrap()] {
            prop_assert_eq!(decode_server_fast(&text), Some(frame.clone()), "{}", text);
            prop_assert_eq!(decode_server(&text, LIMIT), Ok(frame.clone()));
            decodes_as_the_frame_types_do(&text)?;
        }
    }

    /// Frames cut, spliced, with bytes changed and with fragments that JSON reads in ways of
    /// its own (repeated and unknown fields, numbers out of range, lone surrogates, ...): the
    /// strict reader agrees with the frame types wherever it answers.
    #[test]
    fn mangled_frames_decode_as_the_frame_types_do(text in mangled(server_frame().prop_map(|f| encode(&f)))) {
        decodes_as_the_frame_types_do(&text)?;
    }

    /// Every client frame takes the client frames' strict reader and decodes to what was sent.
    #[test]
    fn client_frames_take_the_fast_path(frame in client_frame()) {
        for text in [encode(&frame), serde_json::to_string_pretty(&frame).unwrap()] {
            prop_assert_eq!(decode_client_fast(&text), Some(frame.clone()), "{}", text);
            client_decodes_as_the_frame_types_do(&text)?;
        }
    }

    /// Any lines, sent as `line` changes of one delta or as `lines` frames (a frame per run of
    /// consecutive numbers), decode to the same lines with the same sequence numbers, through
    /// the strict reader (the app's) and the generic decoder alike.
    #[test]
    fn lines_frames_and_line_changes_decode_to_the_same_lines(
        runs in prop::collection::vec(line_run(), 1..4),
        seq in 0u64..u64::MAX / 2,
        pretty in any::<bool>(),
    ) {
        let lines: Vec<LogLine> = runs.concat();
        let as_text = |f: &ServerFrame| if pretty {
            serde_json::to_string_pretty(f).unwrap()
        } else {
            encode(f)
        };
        let delta = ServerFrame::new(ServerMessage::Delta {
            sub: "s".into(),
            seq,
            changes: lines.iter().cloned().map(Change::Line).collect(),
        });
        let mut from_delta = Vec::new();
        match decode_server_fast(&as_text(&delta)).map(|f| f.msg) {
            Some(ServerMessage::Delta { seq, changes, .. }) => {
                for (i, c) in changes.into_iter().enumerate() {
                    let Change::Line(l) = c else { panic!("not a line") };
                    from_delta.push((seq + i as u64, l));
                }
            }
            other => prop_assert!(false, "delta decoded as {:?}", other),
        }
        let mut from_lines = Vec::new();
        let mut next = seq;
        for batch in LineBatch::runs(&lines) {
            let k = batch.len() as u64;
            let frame = ServerFrame::new(ServerMessage::Lines { sub: "s".into(), seq: next, lines: batch });
            let text = as_text(&frame);
            let fast = decode_server_fast(&text);
            prop_assert_eq!(fast.as_ref(), Some(&frame), "{}", text);
            prop_assert_eq!(serde_json::from_str::<ServerFrame>(&text).ok(), Some(frame), "{}", text);
            let Some(ServerMessage::Lines { seq, lines, .. }) = fast.map(|f| f.msg) else {
                unreachable!()
            };
            from_lines.extend(lines.into_lines().into_iter().enumerate().map(|(i, l)| (seq + i as u64, l)));
            next += k;
        }
        prop_assert_eq!(&from_lines, &from_delta);
        let sent: Vec<(u64, LogLine)> = (seq..).zip(lines).collect();
        prop_assert_eq!(from_lines, sent);
    }

    /// `lines` frames cut, spliced and edited: the strict reader agrees with the generic
    /// decoder wherever it answers, and refuses columns that disagree as it does.
    #[test]
    fn mangled_lines_frames_decode_as_the_frame_types_do(text in mangled(
        (text(), any::<u64>(), line_run()).prop_map(|(sub, seq, lines)| {
            let lines = LineBatch::runs(&lines).remove(0);
            encode(&ServerFrame::new(ServerMessage::Lines { sub, seq, lines }))
        })
    )) {
        decodes_as_the_frame_types_do(&text)?;
    }

    /// Mangled client frames: the client frames' strict reader agrees wherever it answers.
    #[test]
    fn mangled_client_frames_decode_as_the_frame_types_do(text in mangled(client_frame().prop_map(|f| encode(&f)))) {
        client_decodes_as_the_frame_types_do(&text)?;
    }
}

/// The strict reader answers only what serde's decoding of the frame types gives, and the
/// public decoder gives that answer.
fn decodes_as_the_frame_types_do(text: &str) -> Result<(), TestCaseError> {
    let generic = serde_json::from_str::<ServerFrame>(text)
        .ok()
        .filter(|f| f.v == 1);
    if let Some(fast) = decode_server_fast(text) {
        prop_assert_eq!(Some(fast), generic.clone(), "{}", text);
    }
    prop_assert_eq!(decode_server(text, LIMIT).ok(), generic, "{}", text);
    Ok(())
}

/// The client frames' strict reader answers only what the generic client decoder gives.
fn client_decodes_as_the_frame_types_do(text: &str) -> Result<(), TestCaseError> {
    if let Some(fast) = decode_client_fast(text) {
        prop_assert_eq!(Ok(fast), decode_client(text, LIMIT), "{}", text);
    }
    Ok(())
}

/// Text with what JSON escapes or may spell two ways: quotes, backslashes, slashes, control
/// characters, non-ASCII and astral characters.
fn text() -> impl Strategy<Value = String> {
    let tricky = prop::sample::select(vec![
        'a', 'Z', '0', ' ', '"', '\\', '/', '\0', '\n', '\u{1b}', '\u{7f}', 'é', '€', '😀',
    ]);
    prop_oneof![
        3 => prop::collection::vec(tricky, 0..8).prop_map(|c| c.into_iter().collect()),
        1 => ".{0,6}",
    ]
}

/// Any of the words of a status enum, and one this app does not know.
fn word<T: Clone + std::fmt::Debug + 'static>(known: &[T], unknown: T) -> impl Strategy<Value = T> {
    prop::sample::select([known, &[unknown]].concat())
}

prop_compose! {
    fn deployment()(
        id in text(), version in text(), previous_version in prop::option::of(text()),
        status in word(&DeploymentStatus::ALL, DeploymentStatus::Unknown),
        started_at in any::<u64>(), finished_at in prop::option::of(any::<u64>()),
        triggered_by in prop::option::of(text()), url in prop::option::of(text()),
    ) -> Deployment {
        Deployment {
            id, status, version, previous_version, started_at, finished_at, triggered_by, url,
        }
    }
}

prop_compose! {
    fn instance()(
        name in text(), version in text(), restarts in any::<u32>(),
        status in word(&RunningStatus::ALL, RunningStatus::Unknown),
        reason in prop::option::of(text()), message in prop::option::of(text()),
        started_at in prop::option::of(any::<u64>()),
        details in instance_details(),
    ) -> Instance {
        let (last_termination, last_restart_at, events) = details;
        Instance {
            name, status, version, restarts, reason, message, started_at, last_termination,
            last_restart_at, events,
        }
    }
}

/// The optional details of an instance, boxed: the frame strategies nest deeply enough
/// to overflow a test thread's stack otherwise.
fn instance_details() -> BoxedStrategy<(Option<Termination>, Option<u64>, Vec<InstanceEvent>)> {
    (
        prop::option::of(termination()),
        prop::option::of(any::<u64>()),
        prop::collection::vec(instance_event(), 0..3),
    )
        .boxed()
}

prop_compose! {
    fn termination()(
        reason in prop::option::of(text()), exit_code in prop::option::of(any::<i32>()),
        at in prop::option::of(any::<u64>()),
    ) -> Termination {
        Termination { reason, exit_code, at }
    }
}

/// The events an instance update may add, boxed like the instance's details.
fn added_events() -> BoxedStrategy<Option<Vec<InstanceEvent>>> {
    prop::option::of(prop::collection::vec(instance_event(), 0..3)).boxed()
}

prop_compose! {
    fn instance_event()(
        at in any::<u64>(), reason in text(), message in prop::option::of(text()),
    ) -> InstanceEvent {
        InstanceEvent { at, reason, message }
    }
}

prop_compose! {
    fn stuck_after()(
        n in prop::array::uniform6(any::<u64>()),
    ) -> StuckAfter {
        StuckAfter {
            starting_ms: n[0], stopping_ms: n[1], queued_ms: n[2], building_ms: n[3],
            deploying_ms: n[4], cancelling_building_ms: n[5],
        }
    }
}

prop_compose! {
    fn service()(
        id in text(), name in text(), version in text(),
        kind in word(&ServiceKind::ALL, ServiceKind::Unknown),
        instances in prop::collection::vec(instance(), 0..4).boxed(),
        deployment in prop::option::of(deployment()),
        running_since in prop::option::of(any::<u64>()),
        deployment_since in prop::option::of(any::<u64>()),
    ) -> Service {
        Service {
            id, name, kind, instances, version, deployment, running_since, deployment_since,
        }
    }
}

prop_compose! {
    fn log_line()(
        n in any::<u64>(), ts in any::<u64>(), stage in text(), text in text(),
        level in word(&[LogLevel::Info, LogLevel::Warning, LogLevel::Error], LogLevel::Unknown),
        hint in prop::option::of(text()),
    ) -> LogLine {
        LogLine { n, ts, stage, level, text, hint }
    }
}

prop_compose! {
    fn environment_summary()(
        id in text(), name in text(), running_reason in text(), services in any::<u32>(),
        running in word(&RunningStatus::ALL, RunningStatus::Unknown),
        deployment in prop::option::of(word(&DeploymentStatus::ALL, DeploymentStatus::Unknown)),
        running_since in prop::option::of(any::<u64>()),
        deployment_since in prop::option::of(any::<u64>()),
    ) -> EnvironmentSummary {
        EnvironmentSummary {
            id, name, running, running_reason, deployment, services, running_since,
            deployment_since,
        }
    }
}

/// Consecutive lines from any number, stages in runs or alternating, hints here and there,
/// timestamps that go forward, stay or go back (by any amount).
fn line_run() -> impl Strategy<Value = Vec<LogLine>> {
    let stage =
        prop_oneof![3 => Just("build".to_string()), 1 => Just("deploy".to_string()), 1 => text()];
    let ts = prop_oneof![3 => 0u64..2_000, 1 => any::<u64>()];
    let level = word(
        &[LogLevel::Info, LogLevel::Warning, LogLevel::Error],
        LogLevel::Unknown,
    );
    let one = (
        stage,
        ts,
        level,
        text(),
        prop::option::weighted(0.2, text()),
    );
    (
        any::<u64>(),
        any::<u64>(),
        prop::collection::vec(one, 1..12),
    )
        .prop_map(|(n, ts0, parts)| {
            let n = n.min(u64::MAX - 12);
            let mut ts = ts0;
            parts
                .into_iter()
                .enumerate()
                .map(|(i, (stage, step, level, text, hint))| {
                    // Small steps forward mostly, any value now and then.
                    ts = if step < 2_000 {
                        ts.wrapping_add(step)
                    } else {
                        step
                    };
                    LogLine {
                        n: n + i as u64,
                        ts,
                        stage,
                        level,
                        text,
                        hint,
                    }
                })
                .collect()
        })
}

fn change() -> BoxedStrategy<Change> {
    prop_oneof![
        4 => service().prop_map(Change::ServiceUpsert),
        2 => log_line().prop_map(Change::Line),
        1 => deployment().prop_map(Change::Deployment),
        1 => text().prop_map(|id| Change::ServiceRemoved { id }),
        2 => (text(), any::<u32>(), instance(), prop::option::of(any::<u64>()), added_events())
            .prop_map(|(service, index, instance, running_since, events_added)| {
                Change::InstanceUpdate { service, index, instance, running_since, events_added }
            }),
        1 => prop::option::of(deployment())
            .prop_map(|deployment| Change::EnvironmentDeployment { deployment }),
        1 => environment_summary().prop_map(Change::EnvironmentUpsert),
        1 => text().prop_map(|id| Change::EnvironmentRemoved { id }),
    ]
    .boxed()
}

prop_compose! {
    fn environment()(
        id in text(), name in text(), services in prop::collection::vec(service(), 0..3),
        deployment in prop::option::of(deployment()),
    ) -> Environment {
        Environment { id, name, services, deployment }
    }
}

fn snapshot() -> BoxedStrategy<Snapshot> {
    prop_oneof![
        2 => environment().prop_map(|environment| Snapshot::Environment { environment }),
        1 => prop::collection::vec(environment_summary(), 0..4)
            .prop_map(|environments| Snapshot::Environments { environments }),
        1 => (text(), prop::option::of(text()), deployment(), prop::option::of(any::<u64>()))
            .prop_map(|(env, service, deployment, line_count)| {
                Snapshot::Logs { env, service, deployment, line_count }
            }),
    ]
    .boxed()
}

prop_compose! {
    fn limits()(n in any::<[u32; 6]>()) -> Limits {
        Limits {
            max_client_frame_bytes: n[0],
            max_server_frame_bytes: n[1],
            max_subscriptions: n[2],
            max_client_frames_per_sec: n[3],
            heartbeat_ms: n[4],
            idle_timeout_ms: n[5],
        }
    }
}

/// Frames of every type the server sends, deltas and snapshots most.
fn server_frame() -> impl Strategy<Value = ServerFrame> {
    let delta = (text(), any::<u64>(), prop::collection::vec(change(), 0..5))
        .prop_map(|(sub, seq, changes)| ServerMessage::Delta { sub, seq, changes });
    let snapshot = (text(), any::<u64>(), snapshot())
        .prop_map(|(sub, seq, data)| ServerMessage::Snapshot { sub, seq, data });
    let part = (
        text(),
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        self::snapshot(),
    )
        .prop_map(
            |(sub, seq, part, parts, data)| ServerMessage::SnapshotPart {
                sub,
                seq,
                part,
                parts,
                data,
            },
        );
    let hello = (
        text(),
        limits(),
        prop::option::of(stuck_after()),
        prop::option::of(any::<u64>()),
    )
        .prop_map(|(server, limits, stuck_after, now)| ServerMessage::Hello {
            server,
            limits,
            stuck_after,
            now,
        });
    let error = (
        word(&ErrorCode::ALL, ErrorCode::Unknown),
        text(),
        prop::option::of(text()),
        prop::option::of(word(&[Gone::Retention, Gone::LogBytes], Gone::Unknown)),
    )
        .prop_map(|(code, message, sub, gone)| ServerMessage::Error {
            code,
            message,
            sub,
            gone,
        });
    let lines = (text(), any::<u64>(), line_run()).prop_map(|(sub, seq, lines)| {
        let lines = LineBatch::runs(&lines).remove(0);
        ServerMessage::Lines { sub, seq, lines }
    });
    prop_oneof![
        6 => delta,
        4 => snapshot,
        2 => part,
        3 => lines,
        1 => hello,
        1 => error,
        1 => (text(), any::<u64>()).prop_map(|(sub, seq)| ServerMessage::Resumed { sub, seq }),
        1 => text().prop_map(|sub| ServerMessage::Unsubscribed { sub }),
        1 => any::<u64>().prop_map(|nonce| ServerMessage::Ping { nonce }),
        1 => any::<u64>().prop_map(|nonce| ServerMessage::Pong { nonce }),
        1 => (
            word(&[StoreState::Ok, StoreState::Unavailable], StoreState::Unknown),
            prop::option::of(text()),
        )
            .prop_map(|(store, message)| ServerMessage::Status { store, message }),
    ]
    .prop_map(ServerFrame::new)
}

/// Frames of every type a client sends.
fn client_frame() -> impl Strategy<Value = ClientFrame> {
    let topic = prop_oneof![
        Just(Topic::Environments),
        text().prop_map(|env| Topic::Environment { env }),
        text().prop_map(|deployment| Topic::Logs { deployment }),
    ];
    prop_oneof![
        3 => (text(), topic, prop::option::of(any::<u64>()), any::<bool>(), any::<bool>()).prop_map(
            |(sub, topic, resume_from, instance_updates, line_batches)| {
                ClientMessage::Subscribe { sub, topic, resume_from, instance_updates, line_batches }
            }
        ),
        1 => text().prop_map(|sub| ClientMessage::Unsubscribe { sub }),
        1 => any::<u64>().prop_map(|nonce| ClientMessage::Ping { nonce }),
        1 => any::<u64>().prop_map(|nonce| ClientMessage::Pong { nonce }),
    ]
    .prop_map(ClientFrame::new)
}

/// A frame's text with one change: cut, a byte replaced by one that matters to JSON, a range
/// deleted, or a fragment inserted anywhere or where a value or a member may start or end.
fn mangled(frames: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    let fragments = prop::sample::select(vec![
        ",\"x\":1",
        ",\"x\":[[[[1]]]]",
        ",\"op\":\"line\"",
        ",\"id\":\"a\"",
        ",\"v\":1",
        ",\"seq\":2",
        ",\"type\":\"delta\"",
        ",\"name\":\"a\"",
        ",\"kind\":\"application\"",
        ",\"restarts\":1",
        ",\"reason\":null",
        ",\"deployment\":null",
        ",\"n\":1",
        ",\"ts\":[1,-1]",
        ",\"level\":\"i\"",
        ",\"text\":[\"a\"]",
        ",\"stage\":[[\"a\",1]]",
        ",\"hint\":[[0,\"a\"]]",
        ",\"hint\":[]",
        ",\"lines\":{}",
        ",\"type\":\"lines\"",
        ",\"line_count\":3",
        "[\"a\",0]",
        "[0,\"a\",1]",
        "-9223372036854775808",
        "-9223372036854775809",
        "9223372036854775808",
        ",\"changes\":[]",
        ",\"data\":{}",
        ",\"op\":\"deployment\"",
        ",\"kind\":\"logs\"",
        ",\"kind\":\"environments\"",
        ",\"sub\":null",
        ",\"sub\":\"s\"",
        ",\"code\":\"rate_limited\"",
        ",\"nonce\":1",
        ",\"topic\":{\"kind\":\"environments\"}",
        ",\"resume_from\":null",
        ",\"x\":-1.5e-3",
        ",\"x\":[true,false,null,{\"y\":\"\\u00e9\"}]",
        ",\"x\":1e290",
        ",\"x\":0.0000e-9999",
        ",\"x\":-18446744073709551616",
        "1.7976931348623157e308",
        "-",
        "2.",
        "1e",
        "1E+2",
        "tru",
        "1e999",
        "1.0",
        "-0",
        "01",
        "18446744073709551616",
        "4294967296",
        "\"\\ud800\"",
        "\\ud800",
        "\\udc00",
        "\\ud800\\u0041",
        "\\ud83d\\ude00",
        "\\u00e9",
        "\\u0000",
        "\\x",
        "\u{1}",
        " \n\t",
        "null",
        ",",
        "\"",
        "{",
        "]",
    ]);
    (
        frames,
        any::<usize>(),
        any::<usize>(),
        prop::sample::select(b"\"\\,:{}[]0-.en u\x01\n".to_vec()),
        fragments,
        0u8..5,
    )
        .prop_map(|(frame, a, b, byte, fragment, how)| {
            let mut bytes = frame.into_bytes();
            let n = bytes.len();
            match how {
                0..3 => edit(&mut bytes, how, a, b, byte),
                3 => {
                    let at = a % (n + 1);
                    bytes.splice(at..at, fragment.bytes());
                }
                _ => {
                    let edges: Vec<usize> = (0..n)
                        .filter_map(|i| match bytes[i] {
                            b':' => Some(i + 1),
                            b',' | b'}' => Some(i),
                            _ => None,
                        })
                        .collect();
                    let at = edges[a % edges.len()];
                    bytes.splice(at..at, fragment.bytes());
                }
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
}

/// Columns that disagree make an invalid frame for both decoders; a batch after a resend
/// skips what was applied, hints and stage runs included.
#[test]
fn lines_frames_with_disagreeing_columns_are_invalid() {
    let ok = r#"{"v":1,"type":"lines","sub":"s","seq":9,"lines":{"n":4,"ts":[100,0,-5],"stage":[["build",2],["deploy",1]],"level":"iwe","text":["a","b","c"],"hint":[[2,"h"]]}}"#;
    let frame = decode_server(ok, LIMIT).expect("valid");
    assert_eq!(decode_server_fast(ok), Some(frame.clone()));
    let ServerMessage::Lines { mut lines, .. } = frame.msg else {
        panic!("not lines")
    };
    assert_eq!(lines.ts, [100, 100, 95]);
    lines.skip(2);
    let left = lines.into_lines();
    assert_eq!(left.len(), 1);
    assert_eq!(
        (
            left[0].n,
            left[0].ts,
            left[0].stage.as_str(),
            left[0].hint.as_deref()
        ),
        (6, 95, "deploy", Some("h"))
    );
    for bad in [
        ok.replace(r#""ts":[100,0,-5]"#, r#""ts":[100,0]"#),
        ok.replace(r#""level":"iwe""#, r#""level":"iw""#),
        ok.replace(r#"["build",2]"#, r#"["build",3]"#),
        ok.replace(r#"["build",2],["deploy",1]"#, r#"["build",3],["deploy",0]"#),
        ok.replace(r#"[[2,"h"]]"#, r#"[[3,"h"]]"#),
        ok.replace(r#"[[2,"h"]]"#, r#"[[1,"g"],[1,"h"]]"#),
        ok.replace(r#""n":4"#, r#""n":18446744073709551615"#),
        r#"{"v":1,"type":"lines","sub":"s","seq":9,"lines":{"n":4,"ts":[],"stage":[],"level":"","text":[]}}"#.to_string(),
    ] {
        assert!(decode_server_fast(&bad).is_none(), "{bad}");
        assert!(matches!(decode_server(&bad, LIMIT), Err(DecodeError::Invalid(_))), "{bad}");
    }
}

#[test]
fn decoding_is_fast_on_hostile_input() {
    let start = Instant::now();
    let inputs = [
        "[".repeat(60_000),
        format!(
            "{{\"v\":1,\"type\":\"ping\",\"nonce\":1,\"s\":\"{}\"}}",
            "\\u00e9".repeat(10_000)
        ),
        format!(
            "{{{}}}",
            (0..5_000)
                .map(|i| format!("\"k{i}\":{i}"))
                .collect::<Vec<_>>()
                .join(",")
        ),
    ];
    for text in &inputs {
        check_total(text);
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

/// Snapshots of many services or environments, for splitting.
fn big_snapshot() -> impl Strategy<Value = Snapshot> {
    prop_oneof![
        (environment(), prop::collection::vec(service(), 0..60)).prop_map(|(mut e, more)| {
            e.services.extend(more);
            Snapshot::Environment { environment: e }
        }),
        prop::collection::vec(environment_summary(), 0..60)
            .prop_map(|environments| Snapshot::Environments { environments }),
        (text(), deployment()).prop_map(|(env, deployment)| Snapshot::Logs {
            env,
            service: None,
            deployment,
            line_count: None
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A snapshot split for any frame limit: every part's frame, with the longest subscription
    /// id, is within the limit unless it holds a single item; its parts, read by the strict
    /// reader and joined in order, are the snapshot.
    #[test]
    fn split_snapshots_fit_and_join_to_the_snapshot(
        snap in big_snapshot(),
        max in 1_200usize..6_000,
    ) {
        use shipwatch_model::protocol::{split_snapshot, SnapshotJoin, MAX_SUB_ID_BYTES};
        let sub = "\u{1}".repeat(MAX_SUB_ID_BYTES);
        let parts = split_snapshot(snap.clone(), max);
        let count = parts.len() as u32;
        let mut join = SnapshotJoin::default();
        let mut whole = None;
        for (k, data) in parts.into_iter().enumerate() {
            let items = match &data {
                Snapshot::Environment { environment } => environment.services.len(),
                Snapshot::Environments { environments } => environments.len(),
                Snapshot::Logs { .. } => 0,
            };
            let frame = ServerFrame::new(ServerMessage::SnapshotPart {
                sub: sub.clone(),
                seq: u64::MAX,
                part: k as u32,
                parts: count,
                data,
            });
            let text = encode(&frame);
            prop_assert!(text.len() <= max || items <= 1 || count == 1, "part {k} is {} bytes", text.len());
            let read = decode_server_fast(&text);
            prop_assert_eq!(read.as_ref(), Some(&frame));
            let Some(ServerFrame { msg: ServerMessage::SnapshotPart { seq, part, parts, data, .. }, .. }) = read else {
                unreachable!()
            };
            prop_assert!(whole.is_none(), "joined before the last part");
            whole = join.add(seq, part, parts, data).expect("in order");
        }
        prop_assert_eq!(whole, Some(snap));
        prop_assert!(!join.in_progress());
    }
}

#[test]
fn parts_out_of_order_or_unlike_the_first_are_refused() {
    use shipwatch_model::protocol::{PartError, SnapshotJoin};
    let env = |id: &str| Snapshot::Environment {
        environment: Environment {
            id: id.into(),
            name: id.into(),
            services: Vec::new(),
            deployment: None,
        },
    };
    let mut join = SnapshotJoin::default();
    assert!(matches!(
        join.add(5, 1, 3, env("a")),
        Err(PartError::OutOfOrder { .. })
    ));
    assert_eq!(join.add(5, 0, 3, env("a")), Ok(None));
    assert!(matches!(
        join.add(6, 1, 3, env("a")),
        Err(PartError::OutOfOrder { .. })
    ));
    assert!(!join.in_progress(), "a lost part forgets the snapshot");
    assert_eq!(join.add(5, 0, 2, env("a")), Ok(None));
    assert_eq!(join.add(5, 1, 2, env("b")), Err(PartError::Mismatch));
    assert_eq!(join.add(5, 2, 2, env("a")), Err(PartError::BadCount));
    assert_eq!(join.add(5, 0, 1, env("a")), Ok(Some(env("a"))));
}
