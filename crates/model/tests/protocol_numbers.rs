//! Every number docs/protocol.md gives for a limit of the protocol is the code's: the limits
//! table, the reconnect back-off, the wait for an answer and the snapshot frame limit, read from
//! the constants.

use shipwatch_model::protocol::{
    reconnect, Limits, MAX_CHANGES_PER_DELTA, MAX_LINES_BATCH_BYTES, MAX_LINES_PER_BATCH,
    MAX_LINE_TEXT_BYTES, MAX_SERVER_FRAME_BYTES, MAX_SNAPSHOT_FRAME_BYTES, MAX_SUB_ID_BYTES,
    RESUME_BACKLOG, RESUME_HELD_BATCHES,
};

fn doc() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/protocol.md"
    ))
    .expect("docs/protocol.md exists")
}

/// The "default" cell of the limits table's row whose first cell starts with `key`, with
/// thousands separators and spaces removed ("4,096 lines, 256 KiB" -> "4096lines256KiB").
fn cell(doc: &str, key: &str) -> String {
    let row = doc
        .lines()
        .find(|l| l.starts_with('|') && l.trim_start_matches('|').trim_start().starts_with(key))
        .unwrap_or_else(|| panic!("docs/protocol.md has a row for {key}"));
    let raw = row.split('|').nth(2).expect("a default cell").trim();
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let separator = (c == ',' || c == ' ')
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars
                .get(i + 1..i + 4)
                .is_some_and(|d| d.iter().all(char::is_ascii_digit))
            && !chars.get(i + 4).is_some_and(char::is_ascii_digit);
        if !separator && c != ' ' && c != ',' {
            out.push(c);
        }
    }
    out
}

/// `n` bytes as the doc writes them.
fn bytes(n: usize) -> String {
    if n.is_multiple_of(1 << 20) {
        format!("{}MiB", n >> 20)
    } else if n.is_multiple_of(1 << 10) {
        format!("{}KiB", n >> 10)
    } else {
        format!("{n}bytes")
    }
}

#[test]
fn the_limits_table_is_the_codes() {
    let doc = doc();
    let l = Limits::default();
    assert_eq!(l.max_server_frame_bytes, MAX_SERVER_FRAME_BYTES);
    let rows: [(&str, String); 12] = [
        (
            "`max_client_frame_bytes`",
            bytes(l.max_client_frame_bytes as usize),
        ),
        (
            "`max_server_frame_bytes`",
            bytes(l.max_server_frame_bytes as usize),
        ),
        ("`max_subscriptions`", l.max_subscriptions.to_string()),
        (
            "`max_client_frames_per_sec`",
            l.max_client_frames_per_sec.to_string(),
        ),
        ("`heartbeat_ms`", l.heartbeat_ms.to_string()),
        ("`idle_timeout_ms`", l.idle_timeout_ms.to_string()),
        ("subscription id", bytes(MAX_SUB_ID_BYTES)),
        ("changes per `delta`", MAX_CHANGES_PER_DELTA.to_string()),
        ("snapshot frame", bytes(MAX_SNAPSHOT_FRAME_BYTES)),
        (
            "lines per `lines` frame",
            format!("{MAX_LINES_PER_BATCH}lines{}", bytes(MAX_LINES_BATCH_BYTES)),
        ),
        ("log line `text`", bytes(MAX_LINE_TEXT_BYTES)),
        (
            "resume backlog per topic",
            format!(
                "{RESUME_BACKLOG}changesbesidesthe{RESUME_HELD_BATCHES}newestbatches(logs:thewholelog)"
            ),
        ),
    ];
    for (key, expected) in rows {
        assert_eq!(
            cell(&doc, key),
            expected,
            "docs/protocol.md, limits row {key}"
        );
    }
}

#[test]
fn the_reconnect_back_off_is_the_codes() {
    let said = format!(
        "({} s doubling to {} s, with jitter)",
        reconnect::BASE_MS / 1000.0,
        reconnect::CAP_MS / 1000.0
    );
    assert!(doc().contains(&said), "docs/protocol.md says {said}");
}

#[test]
fn the_wait_for_an_answer_is_the_codes() {
    let said = format!(
        "after {} s, then waiting twice as long each time up to {} s",
        reconnect::ANSWER_FIRST_WAIT_MS / 1000.0,
        reconnect::ANSWER_MAX_WAIT_MS / 1000.0
    );
    let doc = doc().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(doc.contains(&said), "docs/protocol.md says {said}");
}

#[test]
fn the_snapshot_frame_limit_is_the_codes() {
    let said = format!(
        "larger than the snapshot frame limit, {} KiB",
        MAX_SNAPSHOT_FRAME_BYTES / 1024
    );
    let doc = doc().split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(doc.contains(&said), "docs/protocol.md says {said}");
}
