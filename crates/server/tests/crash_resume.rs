//! `kill -9` while a page follows an environment and a log: the real binary on a real store
//! (the data directory, and a real PostgreSQL), the simulator changing the environment and a
//! deployment writing its log. Restarted on the same store, the page resumes with `resumed` on
//! both and gets exactly what it missed (sequence numbers and line numbers follow on, nothing
//! twice), and no number it was shown before the kill is given to other content: a page that
//! resumes from further back is replayed the very changes the first one saw.

#[macro_use]
mod common;

use common::binary::Server;
use common::postgres::{store_on, Backend};
use common::{http_at, Client, Got};
use shipwatch_model::protocol::{encode, Change, ServerMessage, Topic};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What a page following one topic saw: every change by its sequence number, as JSON.
#[derive(Default)]
struct Seen {
    /// The first number after the snapshot (or after `resumed`).
    from: u64,
    /// The last number applied.
    last: u64,
    changes: BTreeMap<u64, String>,
    /// The last line number (logs).
    line: u64,
}

impl Seen {
    /// Takes a delta; panics on a gap or a duplicate.
    fn delta(&mut self, sub: &str, seq: u64, changes: &[Change]) {
        assert_eq!(seq, self.last + 1, "{sub}: no gap, no duplicate");
        for (k, c) in changes.iter().enumerate() {
            if let Change::Line(l) = c {
                assert_eq!(l.n, self.line + 1, "{sub}: line numbers follow on");
                self.line = l.n;
            }
            self.changes.insert(seq + k as u64, encode(c));
        }
        self.last += changes.len() as u64;
    }
}

/// A page following the environment `production` ("env") and one log ("log").
#[derive(Default)]
struct Page {
    env: Seen,
    log: Seen,
}

impl Page {
    fn topic(&mut self, sub: &str) -> &mut Seen {
        if sub.starts_with("env") {
            &mut self.env
        } else {
            &mut self.log
        }
    }

    fn take(&mut self, msg: ServerMessage) {
        match msg {
            ServerMessage::Snapshot { sub, seq, .. } => {
                let t = self.topic(&sub);
                *t = Seen {
                    from: seq + 1,
                    last: seq,
                    ..Seen::default()
                };
            }
            ServerMessage::Delta { sub, seq, changes } => {
                self.topic(&sub).delta(&sub, seq, &changes)
            }
            ServerMessage::Resumed { .. } | ServerMessage::Hello { .. } => {}
            other => panic!("unexpected frame: {other:?}"),
        }
    }
}

/// Reads frames into `page` for `secs` seconds or until the socket closes.
async fn follow(c: &mut Client, page: &mut Page, secs: u64) {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        match tokio::time::timeout(left, c.next()).await {
            Err(_) | Ok(Got::Closed(_)) => return,
            Ok(Got::Frame(frame)) => page.take(frame.msg),
        }
    }
}

/// Reads frames into `page` until `done` says so (within 30 s: on PostgreSQL, a server
/// restarted after a kill leads, and runs the simulator, once the killed one's lease expired).
async fn follow_until(c: &mut Client, page: &mut Page, done: impl Fn(&Page) -> bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while !done(page) && Instant::now() < until {
        follow(c, page, 1).await;
    }
}

/// Subscribes `sub` to `topic` from `from` and expects `resumed` at it.
async fn resume(c: &mut Client, page: &mut Page, sub: &str, topic: Topic, from: u64) {
    c.subscribe(sub, topic, Some(from)).await;
    loop {
        match c.frame().await.msg {
            ServerMessage::Resumed { sub: s, seq } if s == sub => {
                assert_eq!(seq, from, "{sub}: resumed where it stood");
                return;
            }
            ServerMessage::Snapshot { sub: s, .. } if s == sub => {
                panic!("{sub}: a snapshot instead of `resumed` from {from} after kill -9")
            }
            other => page.take(other),
        }
    }
}

async fn deploy(addr: SocketAddr, svc: &str) -> String {
    let path = format!("/api/environments/production/services/{svc}/deploy");
    let (k, v) = common::write_auth();
    let (status, _, body) = http_at(addr, "POST", &path, &[(k, &v)]).await;
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(status, 202, "{body}");
    body["deployment"]["id"]
        .as_str()
        .expect("an id")
        .to_string()
}

async fn a_page_resumes_exactly_after_kill_9(at: Backend) {
    let (_pg, store) = store_on(at);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The simulator changes services all along; the deployment writes its log for seconds,
    // and at half speed it is still running at the kill on a loaded machine (at full speed CI
    // saw the whole log, 615 lines, written before the kill, so nothing could go on).
    let flags: Vec<&str> = [
        "--rate",
        "20",
        "--services",
        "100",
        "--log-lines",
        "600",
        "--speed",
        "0.5",
    ]
    .into_iter()
    .chain(store.iter().map(String::as_str))
    .collect();
    let server = Server::start(&data, &flags).await;
    let addr = server.addr;
    let dep = deploy(addr, "api").await;
    let prod = Topic::Environment {
        env: "production".into(),
    };
    let log = Topic::Logs {
        deployment: dep.clone(),
    };
    let mut c = Client::connect_to(addr).await;
    c.subscribe("env", prod.clone(), None).await;
    c.subscribe("log", log.clone(), None).await;
    let mut page = Page::default();
    follow(&mut c, &mut page, 3).await;
    assert!(page.env.changes.len() > 5, "the environment changes");
    assert!(
        page.log.line > 3,
        "the log is written: {} lines",
        page.log.line
    );
    // Killed while both topics move: no clean shutdown, no chance to write anything.
    server.kill();
    follow(&mut c, &mut page, 2).await;
    let (env_seq, log_seq, last_line) = (page.env.last, page.log.last, page.log.line);

    let server = Server::start(&data, &flags).await;
    let mut c = Client::connect_to(server.addr).await;
    resume(&mut c, &mut page, "env", prod.clone(), env_seq).await;
    resume(&mut c, &mut page, "log", log.clone(), log_seq).await;
    follow_until(&mut c, &mut page, |p| {
        p.env.last > env_seq && p.log.line > last_line
    })
    .await;
    assert!(
        page.env.last > env_seq,
        "the environment goes on after the restart"
    );
    assert!(
        page.log.line > last_line,
        "the log goes on from line {last_line} (the deployment ends, saying why)"
    );

    // From further back: the changes a second page is replayed are those the first saw (the
    // last 30 of the environment's: from further back its changes weigh more than a snapshot,
    // which the server sends instead; the whole log).
    let mut again = Page::default();
    let mut c2 = Client::connect_to(server.addr).await;
    let env_from = page.env.from.max(env_seq.saturating_sub(30) + 1);
    let log_from = page.log.from;
    again.env = Seen {
        from: env_from,
        last: env_from - 1,
        ..Seen::default()
    };
    again.log = Seen {
        from: log_from,
        last: log_from - 1,
        ..Seen::default()
    };
    resume(&mut c2, &mut again, "env2", prod, env_from - 1).await;
    resume(&mut c2, &mut again, "log2", log, log_from - 1).await;
    follow(&mut c2, &mut again, 2).await;
    for (seq, json) in page.env.changes.range(env_from..=env_seq) {
        assert_eq!(
            again.env.changes.get(seq),
            Some(json),
            "environment change {seq} is what the page was shown before the kill"
        );
    }
    for (seq, json) in page.log.changes.range(..=log_seq) {
        assert_eq!(
            again.log.changes.get(seq),
            Some(json),
            "log change {seq} is what the page was shown before the kill"
        );
    }
    server.stop();
}

on_both!(a_page_resumes_exactly_after_kill_9);
