//! Log lines longer than the protocol's `MAX_LINE_TEXT_BYTES` are cut where platform events
//! enter (the ingest), ending with `…`, so the hub and every frame hold the cut line.

use shipwatch_model::protocol::{Change, Topic, MAX_LINE_TEXT_BYTES};
use shipwatch_model::{Deployment, DeploymentStatus, LogLevel, LogLine};
use shipwatch_server::hub::{Hub, HubConfig, ReplayRead};
use shipwatch_server::ingest::Ingest;
use shipwatch_server::platform::{PlatformEvent, Sink};
use std::sync::Arc;

fn line(n: u64, text: String) -> LogLine {
    LogLine {
        n,
        ts: 6,
        stage: "deploy".into(),
        level: LogLevel::Info,
        text,
        hint: None,
    }
}

#[test]
fn a_line_over_8_kib_is_cut_at_a_character_boundary_with_an_ellipsis() {
    let hub = Arc::new(Hub::new(
        HubConfig {
            replay: 100,
            max_logs: 10,
            base_seq: 1_000,
        },
        &[],
    ));
    let ingest = Ingest::new(hub.clone(), None);
    // 'é' is two bytes: 5,000 of them do not end on the cut's byte.
    let long = format!("x{}", "é".repeat(5_000));
    let exact = "y".repeat(MAX_LINE_TEXT_BYTES);
    let _ = ingest.publish(vec![
        PlatformEvent::EnvironmentChanged {
            id: "staging".into(),
            name: "Staging".into(),
        },
        PlatformEvent::DeploymentQueued {
            env: "staging".into(),
            service: None,
            deployment: Deployment {
                id: "dep-1".into(),
                status: DeploymentStatus::Queued,
                version: "v2".into(),
                previous_version: None,
                started_at: 5,
                finished_at: None,
                triggered_by: None,
                url: None,
            },
        },
        PlatformEvent::LogAppended {
            deployment: "dep-1".into(),
            lines: vec![
                line(1, long.clone()),
                line(2, exact.clone()),
                line(3, "short".into()),
            ],
        },
    ]);
    let cell = hub
        .topic(&Topic::Logs {
            deployment: "dep-1".into(),
        })
        .expect("the log");
    let (seq, _) = cell.snapshot().expect("nothing staged");
    let ReplayRead::Items(items) = cell.read_from(seq + 1, 100, 1 << 20, false) else {
        panic!("the lines");
    };
    let texts: Vec<String> = items
        .iter()
        .map(|i| match serde_json::from_str(&i.json).expect("a change") {
            Change::Line(l) => l.text,
            other => panic!("a line, not {other:?}"),
        })
        .collect();
    assert_eq!(texts.len(), 3);
    assert!(texts[0].len() <= MAX_LINE_TEXT_BYTES, "{}", texts[0].len());
    assert!(
        texts[0].len() > MAX_LINE_TEXT_BYTES - 8,
        "cut near the limit"
    );
    assert!(texts[0].ends_with('…'));
    assert!(long.starts_with(texts[0].trim_end_matches('…')));
    assert_eq!(texts[1], exact, "a line of exactly the limit is whole");
    assert_eq!(texts[2], "short");
}
