//! The log figures on the user's path: a log of `lines` lines held by the real server (its
//! simulator, `--services 1 --log-lines N`), opened from its URL in headless Chromium over the
//! real socket; and one socket's throughput for the same log with the load generator, at 0, 20
//! and 100 ms of added round trip.

use super::browser::Browser;
use super::page::Tools;
use super::record::{percentile, Figures};
use super::server::{self, with_fd_limit, Server};
use crate::build::Built;
use crate::cmd::Result;
use serde_json::Value;
use shipwatch_e2e::procs::rss_kib;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Observes the log page (see the file).
const LOG_PROBE: &str = include_str!("log_probe.js");

/// The page of the one deployment's log (the one service of the one environment).
pub const LOG_PAGE: &str = "/env/production/service/api/deployments/dep-1/logs";
/// Its deployment.
pub const DEPLOYMENT: &str = "dep-1";

/// Round trips added for the socket figures, ms.
const RTTS_MS: [u64; 3] = [0, 20, 100];

/// The server holding one log of `lines` lines (and nothing else happening).
pub fn start_log_server(built: &Built, lines: u64) -> Result<Server> {
    let lines = lines.to_string();
    server::start(
        &built.server,
        &built.dist,
        &[
            "--environments",
            "1",
            "--services",
            "1",
            "--log-lines",
            &lines,
            "--scenario",
            "calm",
        ],
    )
}

/// The log opened from its URL, `runs` times (fresh browser each): time to the first line
/// painted and to the last line received and painted, frames over 50 ms meanwhile, the
/// renderer's memory and the JS heap at the end, bytes per line on the page's socket.
pub fn open(
    tools: &Tools,
    built: &Built,
    lines: u64,
    runs: usize,
    figures: &mut Figures,
) -> Result {
    let server = start_log_server(built, lines)?;
    if let Some(kib) = server.pid().and_then(settled_rss_kib) {
        figures.put("log_server_rss", kib as f64 / 1024.0, "MiB");
    }
    figures.put("log_open_lines", lines as f64, "lines");
    let mut got: Vec<OpenRun> = Vec::new();
    for run in 0..runs {
        match open_once(tools, &server, lines) {
            Ok(r) => got.push(r),
            Err(e) => eprintln!("bench: log open, run {}: {e}", run + 1),
        }
    }
    if let Some(kib) = server.pid().and_then(rss_kib) {
        figures.put("log_server_rss_after", kib as f64 / 1024.0, "MiB");
    }
    if got.is_empty() {
        let why = "no run succeeded";
        for (name, unit) in [
            ("log_open_first_line_painted", "ms"),
            ("log_open_last_line_painted", "ms"),
            ("log_open_frames_over_50ms", "frames"),
            ("log_open_renderer_rss", "MiB"),
        ] {
            figures.missing(name, unit, why);
        }
        return Err(why.into());
    }
    let each =
        |f: &dyn Fn(&OpenRun) -> Option<f64>| -> Vec<f64> { got.iter().filter_map(f).collect() };
    let put = |figures: &mut Figures, name: &str, unit: &str, values: Vec<f64>, why: &str| {
        if values.is_empty() {
            figures.missing(name, unit, why);
        } else {
            figures.put_median(name, &values, unit);
        }
    };
    let not_reached = "the page never showed the log's last line";
    put(
        figures,
        "log_open_first_line_painted",
        "ms",
        each(&|r| r.first_line_painted),
        "no log row appeared",
    );
    put(
        figures,
        "log_open_last_line_painted",
        "ms",
        each(&|r| r.last_line_painted),
        not_reached,
    );
    put(
        figures,
        "log_open_last_line_seen_by_poll",
        "ms",
        each(&|r| r.last_line_polled),
        not_reached,
    );
    put(
        figures,
        "log_open_frames_over_50ms",
        "frames",
        each(&|r| r.frames_over_50),
        not_reached,
    );
    put(
        figures,
        "log_open_frame_max",
        "ms",
        each(&|r| r.frame_max),
        not_reached,
    );
    put(
        figures,
        "log_open_lines_shown",
        "lines",
        each(&|r| Some(r.lines_shown)),
        "",
    );
    put(
        figures,
        "log_open_renderer_rss",
        "MiB",
        each(&|r| r.renderer_rss_mib),
        "no renderer process found",
    );
    put(
        figures,
        "log_open_js_heap",
        "MB",
        each(&|r| r.js_heap_mb),
        "performance.memory missing",
    );
    put(
        figures,
        "log_open_wasm_memory",
        "MB",
        each(&|r| r.wasm_mb),
        "the loader did not announce the wasm instance",
    );
    put(
        figures,
        "log_open_wire_bytes_per_line",
        "bytes",
        each(&|r| r.wire_bytes.map(|b| b / lines as f64)),
        "ss gave no socket of the server",
    );
    put(
        figures,
        "log_open_payload_bytes_per_line",
        "bytes",
        each(&|r| Some(r.payload_bytes / lines as f64)),
        "",
    );
    Ok(())
}

/// The resident memory of a process once it stops growing (the server makes its log after
/// it listens): the first of two readings 500 ms apart that differ by less than 1 MiB.
fn settled_rss_kib(pid: u32) -> Option<u64> {
    let mut last = rss_kib(pid)?;
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(500));
        let now = rss_kib(pid)?;
        if now.abs_diff(last) < 1024 {
            return Some(now);
        }
        last = now;
    }
    Some(last)
}

/// What one opening saw.
struct OpenRun {
    first_line_painted: Option<f64>,
    last_line_painted: Option<f64>,
    last_line_polled: Option<f64>,
    frames_over_50: Option<f64>,
    frame_max: Option<f64>,
    lines_shown: f64,
    renderer_rss_mib: Option<f64>,
    js_heap_mb: Option<f64>,
    wasm_mb: Option<f64>,
    wire_bytes: Option<f64>,
    payload_bytes: f64,
}

/// How long a 1,000,000-line log may take to arrive before the run is given up.
const ARRIVAL_LIMIT: Duration = Duration::from_secs(180);

fn open_once(tools: &Tools, server: &Server, lines: u64) -> Result<OpenRun> {
    let b = Browser::start(tools)?;
    b.add_init_script(&LOG_PROBE.replace("__WANT__", &lines.to_string()))?;
    // Chromium runs several renderers before any page (41-110 MB each here).
    let before = b.renderers();
    let sent = Instant::now();
    b.goto(&server.url(LOG_PAGE))?;
    // From outside: poll the DOM until the viewer says it holds the last line.
    let poll =
        "const r = document.querySelector('[role=region][aria-label=\"Deployment logs\"]'); \
                return r ? Number(r.getAttribute('data-last-line')) : 0;";
    let mut last_line_polled = None;
    let mut shown = 0.0;
    while sent.elapsed() < ARRIVAL_LIMIT {
        shown = b.eval(poll)?.as_f64().unwrap_or(0.0);
        if shown >= lines as f64 {
            last_line_polled = Some(sent.elapsed().as_secs_f64() * 1000.0);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // The probe's paint of that frame, and a second of frames after it.
    let probe = b.wait_for(
        "the probe's last frames",
        "const p = window.__logProbe; \
         if (p.lastLine !== null && (p.lastLinePainted === null || \
             performance.now() < p.lastLinePainted + 1100)) return null; \
         return {firstLine: p.firstLine, firstLinePainted: p.firstLinePainted, \
                 lastLine: p.lastLine, lastLinePainted: p.lastLinePainted, \
                 messages: p.messages, payloadBytes: p.payloadBytes};",
        Duration::from_secs(10),
    )?;
    let first = probe["firstLinePainted"].as_f64();
    let last = probe["lastLinePainted"].as_f64();
    // Frames that ended after the first line was painted, up to the last line's.
    let (frames_over_50, frame_max) = match (first, last) {
        (Some(first), Some(last)) => {
            let frames = b.eval(&format!(
                "return window.__logProbe.frames \
                 .filter(([t]) => t > {first} && t <= {last}).map(([, d]) => d);"
            ))?;
            let frames: Vec<f64> = frames
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default();
            (
                Some(frames.iter().filter(|&&d| d > 50.0).count() as f64),
                percentile(&frames, 100.0),
            )
        }
        _ => (None, None),
    };
    // Memory at the end, once the page is quiet.
    let memory = b.eval("if (window.gc) window.gc(); return window.__logProbe.memory();")?;
    let renderers = b.renderers();
    let renderer = page_renderer(&before, &renderers);
    eprintln!(
        "bench: renderers (pid, KiB) before {before:?}, at the end {renderers:?}; the page's: \
         {renderer:?}"
    );
    let run = OpenRun {
        first_line_painted: first,
        last_line_painted: last,
        last_line_polled,
        frames_over_50,
        frame_max,
        lines_shown: shown,
        renderer_rss_mib: renderer.map(|(_, kib)| kib as f64 / 1024.0),
        js_heap_mb: memory["js"].as_f64().map(|b| b / 1e6),
        wasm_mb: memory["wasm"].as_f64().map(|b| b / 1e6),
        wire_bytes: socket_bytes_sent(server.port),
        payload_bytes: probe["payloadBytes"].as_f64().unwrap_or(f64::NAN),
    };
    eprintln!(
        "bench: log open: first line painted {:?} ms, last line painted {:?} ms (poll saw it at {:?} ms), {} of {lines} lines shown",
        run.first_line_painted, run.last_line_painted, run.last_line_polled, run.lines_shown
    );
    Ok(run)
}

/// The page's renderer: the one that grew the most since before the navigation (a process
/// new since then grew from nothing), with its resident memory in KiB.
fn page_renderer(before: &[(u32, u64)], after: &[(u32, u64)]) -> Option<(u32, u64)> {
    let at_start = |pid: u32| {
        before
            .iter()
            .find(|(p, _)| *p == pid)
            .map_or(0, |(_, k)| *k)
    };
    after
        .iter()
        .max_by_key(|(pid, kib)| kib.saturating_sub(at_start(*pid)))
        .copied()
}

/// TCP bytes the server sent on its busiest connection (the page's websocket): `bytes_sent`
/// of the kernel's TCP info, read with `ss`.
fn socket_bytes_sent(port: u16) -> Option<f64> {
    let filter = format!("( sport = :{port} )");
    let out = Command::new("ss")
        .args(["-tinH", "state", "established", &filter])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("bytes_sent:"))
        .filter_map(|n| n.parse::<f64>().ok())
        .reduce(f64::max)
}

/// One socket reading the whole log with the load generator, asking for `line` changes and
/// then for `lines` frames, at each of [`RTTS_MS`].
pub fn socket(
    built: &Built,
    loadgen: &Path,
    lines: u64,
    timeout_s: u64,
    figures: &mut Figures,
) -> Result {
    let server = start_log_server(built, lines)?;
    for rtt in RTTS_MS {
        for (batches, form) in [(false, "line_changes"), (true, "lines_frames")] {
            let prefix = format!("log_socket_{form}_rtt{rtt}");
            let args = [
                "throughput".to_string(),
                "--addr".into(),
                server.addr(),
                "--deployment".into(),
                DEPLOYMENT.into(),
                "--lines".into(),
                lines.to_string(),
                "--rtt-ms".into(),
                rtt.to_string(),
                "--line-batches".into(),
                batches.to_string(),
                "--timeout-seconds".into(),
                timeout_s.to_string(),
                "--prefix".into(),
                prefix,
            ];
            eprintln!("bench: loadgen {}", args.join(" "));
            let out = with_fd_limit(loadgen)
                .args(&args)
                .output()
                .map_err(|e| format!("cannot start the load generator: {e}"))?;
            for l in String::from_utf8_lossy(&out.stderr).lines().take(5) {
                eprintln!("  {l}");
            }
            figures.absorb(&String::from_utf8_lossy(&out.stdout));
        }
    }
    if let Some(kib) = server.pid().and_then(rss_kib) {
        figures.put("log_socket_server_rss_after", kib as f64 / 1024.0, "MiB");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_renderer_is_the_one_that_grew() {
        let before = [(1, 150_000), (2, 100_000)];
        // The page's process is new since the navigation; an idle one stays the largest.
        assert_eq!(
            page_renderer(&before, &[(1, 400_000), (2, 100_000), (3, 330_000)]),
            Some((3, 330_000))
        );
        assert_eq!(
            page_renderer(&before, &[(1, 400_000), (2, 100_000)]),
            Some((1, 400_000))
        );
        assert_eq!(page_renderer(&before, &[]), None);
    }
}
