//! `GET /api/deployments/{dep}/log.txt`: the whole log as the viewer's download would write
//! it, whatever the page kept; 404 for a log the server does not hold; the token applies.

mod common;

use common::{header, http, start};
use shipwatch_logview::{LogStore, StoreLimits};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployments_log_txt_has_every_line_in_order_in_the_viewers_format() {
    let h = start(&["--scenario", "calm", "--log-lines", "1800"]).await;
    let (status, headers, body) = http(&h, "GET", "/api/deployments/dep-1/log.txt", &[]).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        header(&headers, "content-disposition"),
        Some("attachment; filename=\"dep-1.log\"")
    );
    let text = String::from_utf8(body).expect("UTF-8");

    // The same lines, as the hub holds them now, through the viewer's own store and download.
    let lines: Vec<_> = h
        .app()
        .hub
        .log_lines("dep-1")
        .expect("dep-1's log")
        .collect();
    assert!(lines.len() >= 1_800, "{} lines", lines.len());
    let numbers: Vec<u64> = lines.iter().map(|l| l.n).collect();
    assert_eq!(numbers, (1..=lines.len() as u64).collect::<Vec<_>>());
    let mut store = LogStore::with_limits(StoreLimits {
        max_lines: 10,
        ..StoreLimits::default()
    });
    let mut whole = LogStore::with_limits(StoreLimits {
        max_lines: 1_000_000,
        max_bytes: 1 << 30,
        ..StoreLimits::default()
    });
    for l in &lines {
        store.push(l.clone());
        whole.push(l.clone());
    }
    let got: Vec<&str> = text.lines().collect();
    assert_eq!(got.len(), lines.len(), "one text line per log line");
    assert_eq!(text, whole.to_text(), "the viewer's download format");
    // A page that kept only 10 lines would have downloaded the last 10 of these.
    assert_eq!(
        store.to_text().lines().collect::<Vec<_>>(),
        got[got.len() - 10..]
    );
    assert!(!text.contains('\x1b'), "ANSI escapes are stripped");
    assert!(got[0].ends_with(&lines[0].text) || lines[0].text.contains('\x1b'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_deployment_is_404_and_the_token_is_required() {
    let h = start(&["--scenario", "calm", "--token", "s3cret"]).await;
    let ok = "/api/deployments/dep-1/log.txt?token=s3cret";
    let (status, _, body) = http(&h, "GET", ok, &[]).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(!body.is_empty());

    let (status, _, body) = http(&h, "GET", "/api/deployments/dep-1/log.txt", &[]).await;
    assert_eq!(status, 401);
    assert!(!String::from_utf8_lossy(&body).contains("[build]"));
    let (status, _, _) = http(&h, "GET", ok, &[("Origin", "http://evil.example")]).await;
    assert_eq!(status, 403);

    let missing = "/api/deployments/no-such-dep/log.txt?token=s3cret";
    let (status, headers, body) = http(&h, "GET", missing, &[]).await;
    assert_eq!(status, 404);
    assert!(header(&headers, "content-type").is_some_and(|t| t.contains("json")));
    let v: serde_json::Value = serde_json::from_slice(&body).expect("a JSON error");
    assert!(v["error"]
        .as_str()
        .is_some_and(|e| e.contains("no-such-dep")));
}
