//! Decoding is fallible and total: every input gives a frame or a typed error, never a panic.

use proptest::prelude::*;
use shipwatch_model::protocol::{
    decode_client, decode_client_bytes, decode_server, decode_server_bytes, encode, Change,
    ClientFrame, ClientMessage, DecodeError, ErrorCode, ServerFrame, ServerMessage, Snapshot,
    Topic,
};
use shipwatch_model::{DeploymentStatus, LogLevel, RunningStatus, ServiceKind};
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
                0 => bytes.truncate(a % (n + 1)),
                1 => bytes[a % n] = byte,
                2 => {
                    let (x, y) = (a % n, b % n);
                    let (x, y) = (x.min(y), x.max(y));
                    bytes.drain(x..y);
                }
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

    /// The fast path for deltas and snapshots never answers differently from serde's own
    /// decoding of the frame types.
    #[test]
    fn the_fast_path_decodes_as_the_frame_types_do(text in mutated()) {
        let generic = serde_json::from_str::<ServerFrame>(&text).ok().filter(|f| f.v == 1);
        if let Ok(frame) = decode_server(&text, LIMIT) {
            prop_assert_eq!(Some(frame), generic);
        } else {
            prop_assert_eq!(generic, None);
        }
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
