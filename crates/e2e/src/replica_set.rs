//! Replicas on one PostgreSQL for the end-to-end tests: a replica with a short lease behind
//! nginx, a deployment whose log the reporter streams through one of them, and what the page
//! receives on its log topic, recorded frame by frame.

use crate::server::{Launch, WRITE_TOKEN};
use crate::{http, DataDir, Server};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Records, before the page's own scripts, on every socket the page opens: the log's
/// subscriptions (from the page's subscribe frames), its snapshots and resumes, the number of
/// every log line received (`__frames.lines`), whether in `lines` frames or deltas, the
/// store's status frames, the error codes of subscriptions, and `__frames.backwards`: every
/// snapshot or `resumed` of the log at a number below one the page already had (a state older
/// than one it showed).
pub const RECORD_LOG_FRAMES: &str = r#"
(() => {
  const f = window.__frames = { logSubs: {}, logSnapshots: 0, logResumed: 0, lines: [], statuses: [], errors: [], logAt: 0, backwards: [] };
  const at = (kind, seq, last) => {
    if ((kind === 'snapshot' || kind === 'resumed') && seq < f.logAt) f.backwards.push(kind + ' at ' + seq + ' after ' + f.logAt);
    f.logAt = Math.max(f.logAt, last);
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    send(data) {
      try {
        const m = JSON.parse(data);
        if (m.type === 'subscribe' && m.topic && m.topic.kind === 'logs') f.logSubs[m.sub] = true;
      } catch (_) {}
      return super.send(data);
    }
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        let m;
        try { m = JSON.parse(e.data); } catch (_) { return; }
        if (m.type === 'snapshot' && m.data && m.data.kind === 'logs') { f.logSubs[m.sub] = true; f.logSnapshots += 1; at('snapshot', m.seq, m.seq); }
        if (m.type === 'resumed' && f.logSubs[m.sub]) { f.logResumed += 1; at('resumed', m.seq, m.seq); }
        if (m.type === 'lines') {
          for (let i = 0; i < m.lines.text.length; i++) f.lines.push(m.lines.n + i);
          if (f.logSubs[m.sub]) at('lines', m.seq, m.seq + m.lines.text.length - 1);
        }
        if (m.type === 'delta') {
          for (const c of m.changes) if (c.op === 'line') f.lines.push(c.n);
          if (f.logSubs[m.sub]) at('delta', m.seq, m.seq + m.changes.length - 1);
        }
        if (m.type === 'status') f.statuses.push(m.store);
        if (m.type === 'error') f.errors.push(m.code);
      });
    }
  };
})();
"#;

/// One replica on `url`, trusting nginx for X-Forwarded-For, with a short lease (a follower
/// would take over within about two seconds) and its log in `log`.
pub fn replica(url: &str, dir: &DataDir, log: &Path) -> Server {
    let mut launch = Launch::from_env(&[
        "--store",
        url,
        "--data-dir",
        dir.path(),
        "--no-simulator",
        "--trusted-proxy",
        "127.0.0.1",
        "--lease-ttl-ms",
        "2000",
        "--lease-renew-ms",
        "200",
        "--store-acquire-timeout-ms",
        "1000",
    ]);
    launch.log = Some(log.to_path_buf());
    Server::launch(&launch).unwrap_or_else(|e| panic!("{e}"))
}

/// Replica A on `urls[0]`, once it leads, then replica B on `urls[1]`, once it follows (both
/// URLs reach one database), in `dirs`, their logs `replica-a.log` and `replica-b.log` in
/// `work`.
pub async fn leader_then_follower(
    urls: [&str; 2],
    dirs: [&DataDir; 2],
    work: &Path,
) -> (Server, Server) {
    let long = Duration::from_secs(60);
    let a = replica(urls[0], dirs[0], &work.join("replica-a.log"));
    crate::wait_for("replica A to lead", long, || async {
        (a.role().await.as_deref() == Some("leader")).then_some(())
    })
    .await;
    let b = replica(urls[1], dirs[1], &work.join("replica-b.log"));
    crate::wait_for("replica B to follow", long, || async {
        (b.role().await.as_deref() == Some("follower")).then_some(())
    })
    .await;
    (a, b)
}

/// A deploy script in `dir`: `lines` numbered lines (`line N of LINES`), one every `every`
/// seconds.
pub fn numbered_script(dir: &Path, lines: u64, every: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let body = format!(
        "#!/bin/sh\ni=1\nwhile [ $i -le {lines} ]; do echo \"line $i of {lines}\"; sleep {every}; i=$((i+1)); done\n"
    );
    let path = dir.join("deploy.sh");
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Writes environment `production` through `server`, then starts the reporter deploying
/// `script` to service `api` there as deployment `id`, through `server`; the task ends with
/// the reporter's output.
pub async fn report_deployment(
    server: &Server,
    id: &str,
    script: &Path,
) -> tokio::task::JoinHandle<std::io::Result<std::process::Output>> {
    let auth = format!("Bearer {WRITE_TOKEN}");
    let put = http::send(
        "PUT",
        &server.url("/api/v1/environments/production"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        br#"{"name": "Production"}"#.to_vec(),
        Duration::from_secs(20),
    )
    .await
    .expect("the environment is written");
    assert_eq!(put.status, 201, "{}", String::from_utf8_lossy(&put.body));
    let url = server.url("");
    let args = [&crate::reporter::api_args(&url, "v2")[..], &["--id", id]].concat();
    crate::reporter::deploy(&crate::reporter::bin(), &args, script)
}

/// Checks that the page received every line `1..=lines` once (`__frames.lines`, see
/// [`RECORD_LOG_FRAMES`]).
pub async fn received_each_line_once(browser: &crate::Browser, lines: u64) {
    let frames = browser.eval("return window.__frames").await;
    let mut got: Vec<u64> = frames["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(serde_json::Value::as_u64)
        .collect();
    let received = got.len();
    got.sort_unstable();
    got.dedup();
    assert_eq!(received, got.len(), "a line came twice");
    assert_eq!(got, (1..=lines).collect::<Vec<_>>(), "every line came");
}

/// Waits until the page shows line `lines`, then checks the log viewer holds lines
/// `1..=lines` each once and the page received each once.
pub async fn shows_each_line_once(browser: &crate::Browser, lines: u64, timeout: Duration) {
    let counts =
        crate::log_page::shows_line(browser, lines, "every line on the page", timeout).await;
    assert_eq!(counts["first"], 1, "{counts}");
    assert_eq!(counts["last"], lines, "{counts}");
    assert_eq!(counts["total"], lines, "{counts}");
    assert_eq!(counts["duplicates"], 0, "{counts}");
    assert_eq!(counts["gaps"], 0, "{counts}");
    received_each_line_once(browser, lines).await;
}

/// Checks that `log.txt` of deployment `id`, read at `url`, holds each line of
/// [`numbered_script`] once.
pub async fn stored_each_line_once(url: &str, lines: u64) {
    let text = http::get(url, &[], Duration::from_secs(20))
        .await
        .expect("log.txt");
    let text = String::from_utf8_lossy(&text.body);
    for n in 1..=lines {
        assert_eq!(
            text.matches(&format!("line {n} of {lines}\n")).count(),
            1,
            "line {n} once in the stored log"
        );
    }
}

/// Waits until the log page shows `more` lines past the last it shows now (live lines keep
/// coming), and returns its counts.
pub async fn shows_more_lines(
    browser: &crate::Browser,
    more: u64,
    what: &str,
) -> serde_json::Value {
    let last = crate::log_page::log_counts(browser).await["last"]
        .as_u64()
        .unwrap_or(0);
    crate::log_page::shows_line(browser, last + more, what, Duration::from_secs(60)).await
}
