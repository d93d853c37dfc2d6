//! The push API's throughput on the real server (native build, the store on in a temporary
//! data directory, no simulator), with websocket clients subscribed as a page is:
//!
//! - **deployments/s**: [`CLIENTS`] keep-alive connections create deployments
//!   (`POST /api/v1/deployments`); each 201 is an acknowledgement (committed to SQLite).
//! - **events/s**: the same connections report instances (`PUT .../instances/{name}`, the
//!   status flipping each time), acknowledged; a client on the environment's topic counts the
//!   changes arriving.
//! - **lines/s**: one connection appends a deployment's log in NDJSON batches of
//!   [`BATCH_LINES`] lines, each acknowledged before the next (as the reporter does); a client
//!   on the log's topic (`line_batches`, as the page) counts the lines arriving.
//!
//! Each rate is the count over the time from the first request to the last answer (or the
//! last change on the socket). Then the time from one push to the page's socket
//! ([`super::push_latency`]).

use super::record::Figures;
use super::server;
use super::socket::Socket;
use crate::build::Built;
use crate::cmd::Result;
use shipwatch_e2e::server::WRITE_TOKEN;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Concurrent connections creating deployments and reporting instances.
pub const CLIENTS: usize = 8;
/// Lines a log batch holds.
pub const BATCH_LINES: u64 = 5_000;

/// How much to push.
pub struct Sizes {
    /// Deployments created.
    pub deployments: usize,
    /// Instance reports sent.
    pub reports: usize,
    /// Log lines appended.
    pub lines: u64,
}

impl Sizes {
    /// The quick run's sizes, or the full run's.
    pub fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                deployments: 1_000,
                reports: 5_000,
                lines: 200_000,
            }
        } else {
            Sizes {
                deployments: 5_000,
                reports: 20_000,
                lines: 1_000_000,
            }
        }
    }
}

/// The figures, after their prefix (`push`, or `push_pg` on PostgreSQL), and units.
const FIGURES: [(&str, &str); 8] = [
    ("deployments_per_s", "deployments/s"),
    ("instance_reports_per_s", "events/s"),
    ("instance_changes_seen_per_s", "events/s"),
    ("lines_acked_per_s", "lines/s"),
    ("lines_seen_per_s", "lines/s"),
    ("batch_ms_p50", "ms"),
    ("socket_ms_p50", "ms"),
    ("socket_ms_p99", "ms"),
];

/// Runs the three workloads against one server, its store on SQLite in a temporary data
/// directory.
pub fn measure(built: &Built, sizes: &Sizes, figures: &mut Figures) -> Result {
    measure_with(built, &[], "push", sizes, figures)
}

/// Runs the three workloads against one server started with `store` (flags that put its
/// store elsewhere than SQLite, e.g. `--store postgres://...`; its data directory is a
/// temporary one), naming the figures `{prefix}_...`.
pub fn measure_with(
    built: &Built,
    store: &[&str],
    prefix: &str,
    sizes: &Sizes,
    figures: &mut Figures,
) -> Result {
    let result = run_all(built, store, prefix, sizes, figures);
    if let Err(e) = &result {
        missing_all(prefix, e, figures);
    }
    result
}

/// Every figure of `prefix` marked missing, and why.
pub fn missing_all(prefix: &str, why: &str, figures: &mut Figures) {
    for (name, unit) in FIGURES {
        figures.missing(&format!("{prefix}_{name}"), unit, why);
    }
}

fn run_all(
    built: &Built,
    store: &[&str],
    prefix: &str,
    sizes: &Sizes,
    figures: &mut Figures,
) -> Result {
    let data =
        std::env::temp_dir().join(format!("shipwatch-bench-{prefix}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let data_arg = data.display().to_string();
    let mut flags = vec!["--data-dir", &data_arg, "--no-simulator"];
    flags.extend_from_slice(store);
    let srv = server::start(&built.server, &built.dist, &flags)?;
    let addr = srv.addr().to_string();
    let result = workloads(&addr, prefix, sizes, figures);
    drop(srv);
    let _ = std::fs::remove_dir_all(&data);
    result
}

fn workloads(addr: &str, p: &str, sizes: &Sizes, figures: &mut Figures) -> Result {
    let mut setup = Conn::open(addr)?;
    setup.expect("PUT", "/api/v1/environments/bench", "{}", &[201, 200])?;
    for k in 0..CLIENTS {
        let body = r#"{"kind":"application","version":"v0"}"#;
        let path = format!("/api/v1/environments/bench/services/svc-{k}");
        setup.expect("PUT", &path, body, &[201, 200])?;
    }

    // Deployments/s: each client creates its share, on its own service.
    let per = sizes.deployments / CLIENTS;
    let started = Instant::now();
    parallel(addr, |k, conn| {
        for i in 0..per {
            let body = format!(
                r#"{{"environment":"bench","service":"svc-{k}","version":"v{i}","triggered_by":"bench"}}"#
            );
            conn.expect("POST", "/api/v1/deployments", &body, &[201])?;
        }
        Ok(())
    })?;
    let took = started.elapsed().as_secs_f64();
    let made = per * CLIENTS;
    eprintln!("bench: {p}: {made} deployments created in {took:.2} s");
    figures.put(
        &format!("{p}_deployments_per_s"),
        (made as f64 / took).round(),
        "deployments/s",
    );

    // Instance reports/s, and the changes a page on the environment sees.
    let per = sizes.reports / CLIENTS;
    let reports = per * CLIENTS;
    let (seen_tx, seen_rx) = mpsc::channel();
    let watcher = {
        let addr = addr.to_string();
        std::thread::spawn(move || {
            let sub = r#"{"v":1,"type":"subscribe","sub":"env","topic":{"kind":"environment","env":"bench"},"instance_updates":true}"#;
            let _ = seen_tx.send(follow(&addr, sub, reports as u64, |frame| {
                count_changes(frame, &["service_upsert", "instance_update"])
            }));
        })
    };
    // The subscription is answered before the reports start.
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    parallel(addr, |k, conn| {
        for i in 0..per {
            let status = if i % 2 == 0 { "ERROR" } else { "RUNNING" };
            let body = format!(r#"{{"status":"{status}","restarts":{i}}}"#);
            let path = format!(
                "/api/v1/environments/bench/services/svc-{k}/instances/svc-{k}-{}",
                i % 4
            );
            conn.expect("PUT", &path, &body, &[200, 201])?;
        }
        Ok(())
    })?;
    let acked = started.elapsed().as_secs_f64();
    let (seen, last) = seen_rx
        .recv_timeout(Duration::from_secs(120))
        .map_err(|_| "the environment watcher did not finish".to_string())??;
    let _ = watcher.join();
    let on_socket = last.map_or(f64::NAN, |t| t.duration_since(started).as_secs_f64());
    eprintln!(
        "bench: {p}: {reports} instance reports acknowledged in {acked:.2} s, {seen} changes on the socket after {on_socket:.2} s"
    );
    if seen < reports as u64 {
        return Err(format!(
            "{seen} of {reports} instance changes reached the socket"
        ));
    }
    figures.put(
        &format!("{p}_instance_reports_per_s"),
        (reports as f64 / acked).round(),
        "events/s",
    );
    figures.put(
        &format!("{p}_instance_changes_seen_per_s"),
        (reports as f64 / on_socket).round(),
        "events/s",
    );

    // Lines/s, acknowledged and on a log page's socket.
    let mut conn = Conn::open(addr)?;
    conn.expect(
        "POST",
        "/api/v1/deployments",
        r#"{"id":"bench-lines","environment":"bench","version":"lines"}"#,
        &[201],
    )?;
    let total = sizes.lines;
    let (seen_tx, seen_rx) = mpsc::channel();
    let watcher = {
        let addr = addr.to_string();
        std::thread::spawn(move || {
            let sub = r#"{"v":1,"type":"subscribe","sub":"log","topic":{"kind":"logs","deployment":"bench-lines"},"line_batches":true}"#;
            let _ = seen_tx.send(follow(&addr, sub, total, last_line));
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let mut batch_ms = Vec::new();
    let started = Instant::now();
    let mut n = 1;
    while n <= total {
        let end = (n + BATCH_LINES - 1).min(total);
        let mut body = String::with_capacity(((end - n + 1) * 90) as usize);
        for k in n..=end {
            body.push_str(&format!(
                "{{\"n\":{k},\"text\":\"line {k} of the push benchmark, some sixty bytes of text\"}}\n"
            ));
        }
        let t = Instant::now();
        conn.send(
            "POST",
            "/api/v1/deployments/bench-lines/logs",
            "application/x-ndjson",
            &body,
        )
        .and_then(|(status, answer)| {
            if status == 200 {
                Ok(())
            } else {
                Err(format!(
                    "logs: {status} {}",
                    String::from_utf8_lossy(&answer)
                ))
            }
        })?;
        batch_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        n = end + 1;
    }
    let acked = started.elapsed().as_secs_f64();
    let (seen, last) = seen_rx
        .recv_timeout(Duration::from_secs(300))
        .map_err(|_| "the log watcher did not finish".to_string())??;
    let _ = watcher.join();
    let on_socket = last.map_or(f64::NAN, |t| t.duration_since(started).as_secs_f64());
    eprintln!(
        "bench: {p}: {total} lines acknowledged in {acked:.2} s, line {seen} on the socket after {on_socket:.2} s"
    );
    if seen < total {
        return Err(format!("{seen} of {total} lines reached the socket"));
    }
    batch_ms.sort_by(f64::total_cmp);
    figures.put(
        &format!("{p}_lines_acked_per_s"),
        (total as f64 / acked).round(),
        "lines/s",
    );
    figures.put(
        &format!("{p}_lines_seen_per_s"),
        (total as f64 / on_socket).round(),
        "lines/s",
    );
    figures.put(
        &format!("{p}_batch_ms_p50"),
        (batch_ms[batch_ms.len() / 2] * 10.0).round() / 10.0,
        "ms",
    );

    super::push_latency::measure(addr, p, "bench", "svc-0", figures)
}

/// Runs `work(k, connection)` on [`CLIENTS`] threads, each with its own connection.
fn parallel(addr: &str, work: impl Fn(usize, &mut Conn) -> Result + Sync) -> Result {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|k| {
                let work = &work;
                s.spawn(move || {
                    let mut conn = Conn::open(addr)?;
                    work(k, &mut conn)
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().unwrap_or_else(|_| Err("a client panicked".into())))
    })
}

/// A kept-alive HTTP/1.1 connection with the write token.
pub(super) struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: String,
}

impl Conn {
    pub(super) fn open(addr: &str) -> Result<Conn> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        Ok(Conn {
            writer: stream.try_clone().map_err(|e| e.to_string())?,
            reader: BufReader::new(stream),
            host: addr.to_string(),
        })
    }

    /// Sends a request; the status and body.
    fn send(
        &mut self,
        method: &str,
        path: &str,
        ctype: &str,
        body: &str,
    ) -> Result<(u16, Vec<u8>)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {WRITE_TOKEN}\r\n\
             Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        );
        let io = |e: std::io::Error| format!("{method} {path}: {e}");
        self.writer.write_all(head.as_bytes()).map_err(io)?;
        self.writer.write_all(body.as_bytes()).map_err(io)?;
        let mut line = String::new();
        self.reader.read_line(&mut line).map_err(io)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{method} {path}: no status line ({line:?})"))?;
        let (mut length, mut chunked) = (0usize, false);
        loop {
            line.clear();
            self.reader.read_line(&mut line).map_err(io)?;
            let h = line.trim_end();
            if h.is_empty() {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            } else if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line).map_err(io)?;
                let size = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk).map_err(io)?;
                if size == 0 {
                    break;
                }
                out.extend_from_slice(&chunk[..size]);
            }
        } else {
            out.resize(length, 0);
            self.reader.read_exact(&mut out).map_err(io)?;
        }
        Ok((status, out))
    }

    /// A JSON request that must answer one of `ok`.
    pub(super) fn expect(
        &mut self,
        method: &str,
        path: &str,
        body: &str,
        ok: &[u16],
    ) -> Result<Vec<u8>> {
        let (status, answer) = self.send(method, path, "application/json", body)?;
        if ok.contains(&status) {
            Ok(answer)
        } else {
            Err(format!(
                "{method} {path}: {status} {}",
                String::from_utf8_lossy(&answer)
            ))
        }
    }
}

/// Changes of the given ops in a delta frame.
fn count_changes(frame: &serde_json::Value, ops: &[&str]) -> u64 {
    if frame["type"] != "delta" {
        return 0;
    }
    frame["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["op"].as_str().is_some_and(|op| ops.contains(&op)))
        .count() as u64
}

/// Lines in a `lines` frame or a delta (as a count past the last seen: lines arrive in order).
fn last_line(frame: &serde_json::Value) -> u64 {
    match frame["type"].as_str() {
        Some("lines") => frame["lines"]["text"].as_array().map_or(0, Vec::len) as u64,
        Some("delta") => count_changes(frame, &["line"]),
        _ => 0,
    }
}

/// Subscribes with `subscribe` and adds up what `count` finds in each frame until `want`;
/// the total and when the last counted frame arrived.
fn follow(
    addr: &str,
    subscribe: &str,
    want: u64,
    count: impl Fn(&serde_json::Value) -> u64,
) -> Result<(u64, Option<Instant>)> {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut ws = Socket::connect(addr)?;
    ws.send(subscribe.to_string())?;
    let (mut total, mut last) = (0u64, None);
    while total < want && Instant::now() < deadline {
        let Some(frame) = ws.next()? else {
            continue;
        };
        let k = count(&frame);
        if k > 0 {
            total += k;
            last = Some(Instant::now());
        }
    }
    ws.close();
    Ok((total, last))
}
