//! Figures measured in the page, in headless Chromium: first status paint, table rows, frame
//! times and feed delivery under the update workload, memory over time, log ingest.

use super::browser::Browser;
use super::record::{percentile, Figures};
use super::server::{self, Server};
use crate::build::Built;
use crate::cmd::Result;
use serde_json::Value;
use std::thread::sleep;
use std::time::Duration;

/// Observes the page from before its first script (see the file for what it records).
pub const PROBE: &str = include_str!("probe.js");

/// Services of the one environment of the browser workloads.
pub const SERVICES: &str = "1000";
/// Status events per second asked of the simulator in the update workload.
pub const UPDATE_RATE: f64 = 10_000.0;

/// The page of the environment under test.
const ENV_PAGE: &str = "/env/production";
/// The status dots of the service table.
const DOT: &str = "table tbody [role=img][aria-label^='Running status:']";

/// Browser binaries.
pub struct Tools {
    /// Chromium.
    pub chromium: String,
    /// The matching chromedriver.
    pub driver: String,
    /// How long the page may keep its main thread before it is declared unresponsive.
    pub script_wait: Duration,
}

fn open(tools: &Tools, url: &str) -> Result<Browser> {
    let b = Browser::start(tools)?;
    b.add_init_script(PROBE)?;
    b.goto(url)?;
    Ok(b)
}

fn wait_first_dot(b: &Browser) -> Result<(f64, f64)> {
    let v = b.wait_for(
        "the first status dot",
        "const p = window.__benchProbe; \
         return p && p.firstDotFrame !== null ? [p.firstDot, p.firstDotFrame] : null;",
        Duration::from_secs(60),
    )?;
    Ok((num(&v[0]), num(&v[1])))
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// Milestones of a first load, in the order the page script returns them.
const MILESTONES: [&str; 4] = [
    "first_status_wasm_downloaded",
    "first_status_wasm_started",
    "first_status_socket_open",
    "first_status_snapshot_received",
];

/// Time to the first painted status dot (fresh browser each run) and the table's DOM size.
pub fn first_status(tools: &Tools, built: &Built, runs: usize, figures: &mut Figures) -> Result {
    let server = server::start(
        &built.server,
        &built.dist,
        &[
            "--environments",
            "1",
            "--services",
            SERVICES,
            "--scenario",
            "calm",
            "--seed",
            "7",
        ],
    )?;
    let (mut dom, mut frame) = (Vec::new(), Vec::new());
    let mut milestones: [Vec<f64>; MILESTONES.len()] = Default::default();
    for run in 0..runs {
        let b = open(tools, &server.url(ENV_PAGE))?;
        let (d, f) = wait_first_dot(&b)?;
        dom.push(d);
        frame.push(f);
        let m = b.eval(
            "const p = window.__benchProbe; \
             const wasm = performance.getEntriesByType('resource') \
                 .find((e) => e.name.endsWith('.wasm')); \
             return [wasm ? wasm.responseEnd : null, p.wasmStarted, p.socketOpen, \
                 p.snapshotReceived];",
        )?;
        for (i, list) in milestones.iter_mut().enumerate() {
            list.push(num(&m[i]));
        }
        if run == 0 {
            // Let the whole snapshot render before counting.
            sleep(Duration::from_secs(2));
            let v = b.eval(&format!(
                "return [document.querySelectorAll('table.services tr.service-row').length, \
                 document.querySelectorAll(\"{DOT}\").length, \
                 document.getElementsByTagName('*').length];"
            ))?;
            figures.put("table_rows", num(&v[0]), "rows");
            figures.put("table_status_dots", num(&v[1]), "dots");
            figures.put("page_elements", num(&v[2]), "elements");
        }
    }
    for (name, list) in MILESTONES.iter().zip(&milestones) {
        figures.put_median(name, list, "ms");
    }
    figures.put_median("first_status_dom", &dom, "ms");
    figures.put_median("first_status_frame", &frame, "ms");
    Ok(())
}

/// What one recording window saw.
struct Window {
    frames: Vec<f64>,
    seconds: f64,
    changes: f64,
    upserts: f64,
    gaps: f64,
    resyncs: f64,
    /// Subscribe messages the page sent meanwhile.
    subscribes: f64,
    /// Each of those and each resync, with its time in the window.
    trail: Vec<String>,
    status_changes: f64,
}

/// The probe's window over `seconds`; its frame times only `with_frames`: a script's result
/// that WebDriver returns stays in the page's JS heap for good (chromedriver 156: 0.6 MB for
/// 32,400 numbers, every time), which the memory figure must not count.
fn record(b: &Browser, seconds: f64, with_frames: bool) -> Result<Window> {
    b.eval("window.__benchProbe.start(); return true;")?;
    sleep(Duration::from_secs_f64(seconds));
    let v = b.eval(&format!("return window.__benchProbe.stop({with_frames});"))?;
    let frames = v["frames"]
        .as_array()
        .map(|a| a.iter().map(num).collect())
        .unwrap_or_default();
    Ok(Window {
        frames,
        seconds: num(&v["seconds"]),
        changes: num(&v["feed"]["changes"]),
        upserts: num(&v["feed"]["upserts"]),
        gaps: num(&v["feed"]["gaps"]),
        resyncs: num(&v["feed"]["resyncs"]),
        subscribes: num(&v["feed"]["subscribes"]),
        trail: v["feed"]["trail"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        status_changes: num(&v["statusChanges"]),
    })
}

/// Starts the update workload: a fresh server at [`UPDATE_RATE`] and the environment page
/// (with the probe), once its first status dot shows.
pub fn update_workload(tools: &Tools, built: &Built, seed: usize) -> Result<(Server, Browser)> {
    update_workload_with(tools, built, seed, &[])
}

/// [`update_workload`] with more server flags.
fn update_workload_with(
    tools: &Tools,
    built: &Built,
    seed: usize,
    extra: &[&str],
) -> Result<(Server, Browser)> {
    let server = server::start_rated(
        built,
        SERVICES,
        &UPDATE_RATE.to_string(),
        &seed.to_string(),
        extra,
    )?;
    let b = open(tools, &server.url(ENV_PAGE))?;
    wait_first_dot(&b)?;
    sleep(Duration::from_millis(500));
    Ok((server, b))
}

/// Frame times and feed delivery over `seconds` of the update workload, `runs` times; then
/// as many runs with the server on a store in a fresh temporary data directory
/// (`update_store_*`, with what the store wrote meanwhile).
pub fn updates(
    tools: &Tools,
    built: &Built,
    runs: usize,
    seconds: f64,
    figures: &mut Figures,
) -> Result {
    figures.put("update_rate_requested", UPDATE_RATE, "events/s");
    let ephemeral = update_runs(tools, built, runs, seconds, None);
    put_or_missing("update_", ephemeral.as_ref(), figures);
    let stored = update_runs(tools, built, runs, seconds, Some(()));
    put_or_missing("update_store_", stored.as_ref(), figures);
    ephemeral.and(stored).map(|_| ())
}

/// One update window and what the server did meanwhile.
struct UpdateRun {
    window: Window,
    /// Server CPU over the window, in % of one core.
    server_cpu: Option<f64>,
    /// Events the store committed a second over the window (store runs only).
    written_per_s: Option<f64>,
}

fn update_runs(
    tools: &Tools,
    built: &Built,
    runs: usize,
    seconds: f64,
    store: Option<()>,
) -> Result<Vec<UpdateRun>> {
    let mut out = Vec::new();
    for run in 0..runs {
        let dir = std::env::temp_dir().join(format!(
            "shipwatch-bench-store-{}-{run}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let dir_arg = dir.display().to_string();
        let extra: &[&str] = match store {
            Some(()) => &["--data-dir", &dir_arg],
            None => &[],
        };
        let r = update_workload_with(tools, built, 7 + run, extra).and_then(|(s, b)| {
            let written = |s: &Server| store.and_then(|()| events_written(s));
            let (cpu0, w0, t0) = (
                s.pid().and_then(server::cpu_seconds),
                written(&s),
                std::time::Instant::now(),
            );
            let window = record(&b, seconds, true)?;
            let wall = t0.elapsed().as_secs_f64();
            let cpu1 = s.pid().and_then(server::cpu_seconds);
            let w1 = written(&s);
            Ok(UpdateRun {
                window,
                server_cpu: cpu0.zip(cpu1).map(|(a, b)| (b - a) / wall * 100.0),
                written_per_s: w0.zip(w1).map(|(a, b)| (b - a) / wall),
            })
        });
        let _ = std::fs::remove_dir_all(&dir);
        let r = r?;
        // Who started each resync: the page (a subscribe it sent) or the server (a snapshot
        // on a subscription that had its state; the server's log says why).
        let kind = if store.is_some() { "store" } else { "no store" };
        for line in &r.window.trail {
            eprintln!("bench: updates ({kind}) run {}: {line}", run + 1);
        }
        out.push(r);
    }
    Ok(out)
}

/// Events the server's store has committed, from `/api/health`.
fn events_written(server: &Server) -> Option<f64> {
    let r = super::browser::block_on(shipwatch_e2e::http::get(
        &server.url("/api/health"),
        &[],
        Duration::from_secs(10),
    ))
    .ok()?;
    let v: Value = serde_json::from_slice(&r.body).ok()?;
    v["store"]["events_written"].as_f64()
}

/// The update figures under `prefix` (`update_` or `update_store_`), or why they are missing.
/// The ephemeral run's frame figures keep their historical names (`frame_p50`, ...).
fn put_or_missing(
    prefix: &str,
    runs: std::result::Result<&Vec<UpdateRun>, &String>,
    figures: &mut Figures,
) {
    let frames = if prefix == "update_" { "" } else { prefix };
    match runs {
        Ok(runs) => put_updates(prefix, frames, runs, figures),
        Err(why) => {
            for (name, unit) in [
                (format!("{prefix}status_events_per_s"), "events/s"),
                (format!("{prefix}dom_status_changes_per_s"), "changes/s"),
                (format!("{prefix}events_dropped"), "events"),
                (format!("{frames}frame_p50"), "ms"),
                (format!("{frames}frame_p95"), "ms"),
                (format!("{frames}frame_max"), "ms"),
                (format!("{frames}frames_over_50ms"), "frames"),
            ] {
                figures.missing(&name, unit, why);
            }
        }
    }
}

fn put_updates(prefix: &str, frames_prefix: &str, runs: &[UpdateRun], figures: &mut Figures) {
    let each = |f: &dyn Fn(&Window) -> f64| runs.iter().map(|r| f(&r.window)).collect::<Vec<f64>>();
    let name = |n: &str| format!("{prefix}{n}");
    figures.put_median(
        &name("feed_changes_per_s"),
        &each(&|w| w.changes / w.seconds),
        "changes/s",
    );
    figures.put_median(
        &name("status_events_per_s"),
        &each(&|w| w.upserts / w.seconds),
        "events/s",
    );
    figures.put_median(
        &name("dom_status_changes_per_s"),
        &each(&|w| w.status_changes / w.seconds),
        "changes/s",
    );
    figures.put_median(&name("events_dropped"), &each(&|w| w.gaps), "events");
    figures.put_median(&name("feed_resyncs"), &each(&|w| w.resyncs), "snapshots");
    figures.put_median(
        &name("feed_subscribes"),
        &each(&|w| w.subscribes),
        "subscribes sent",
    );
    let frames: Vec<&[f64]> = runs.iter().map(|r| r.window.frames.as_slice()).collect();
    put_frames(frames_prefix, &frames, figures);
    figures.put_median(
        &format!("{frames_prefix}frames_per_s"),
        &each(&|w| w.frames.len() as f64 / w.seconds),
        "frames/s",
    );
    let cpu: Vec<f64> = runs.iter().filter_map(|r| r.server_cpu).collect();
    figures.put_median(&name("server_cpu"), &cpu, "% of one core");
    let written: Vec<f64> = runs.iter().filter_map(|r| r.written_per_s).collect();
    if !written.is_empty() {
        figures.put_median(&name("events_written_per_s"), &written, "events/s");
    }
}

/// Memory of the page under the update workload at `first` and `last` seconds (after a
/// garbage collection). When `updates_too`, the first window's frame and feed figures are
/// the update figures (quick mode runs one session for both).
pub fn memory(
    tools: &Tools,
    built: &Built,
    first: f64,
    last: f64,
    updates_too: bool,
    figures: &mut Figures,
) -> Result {
    let run = || -> Result<_> {
        let (server, b) = update_workload(tools, built, 11)?;
        // The first window's frame times only when they are reported (quick: 600 numbers).
        let w1 = record(&b, first, updates_too)?;
        let m1 = settled_memory(&b)?;
        let w2 = record(&b, last - first, false)?;
        let m2 = settled_memory(&b)?;
        drop((b, server));
        Ok((w1, m1, w2, m2))
    };
    let (w1, m1, w2, m2) = match run() {
        Ok(r) => r,
        Err(e) => {
            if updates_too {
                figures.put("update_rate_requested", UPDATE_RATE, "events/s");
                put_or_missing("update_", Err(&e), figures);
            }
            figures.missing("js_heap_growth", "%", &e);
            figures.missing("wasm_memory_growth", "%", &e);
            return Err(e);
        }
    };
    let first_run = UpdateRun {
        window: w1,
        server_cpu: None,
        written_per_s: None,
    };
    if updates_too {
        figures.put("update_rate_requested", UPDATE_RATE, "events/s");
        put_updates("update_", "", std::slice::from_ref(&first_run), figures);
    }
    let w1 = first_run.window;
    figures.put("memory_first_at", first, "s");
    figures.put("memory_last_at", last, "s");
    let rate = (w1.upserts + w2.upserts) / (w1.seconds + w2.seconds);
    figures.put("memory_status_events_per_s", rate, "events/s");
    for (key, name) in [("js", "js_heap"), ("wasm", "wasm_memory")] {
        match (m1[key].as_f64(), m2[key].as_f64()) {
            (Some(a), Some(z)) => {
                figures.put(&format!("{name}_first"), a / 1e6, "MB");
                figures.put(&format!("{name}_last"), z / 1e6, "MB");
                figures.put(&format!("{name}_growth"), (z - a) / a * 100.0, "%");
            }
            _ => figures.missing(
                &format!("{name}_growth"),
                "%",
                "the page did not expose it (performance.memory / the loader's wasm instance)",
            ),
        }
    }
    Ok(())
}

/// What the page keeps, under load: the smallest of 5 samples 1 s apart, each after a
/// garbage collection. One sample also counts the text of the frame being handled at that
/// instant (a re-snapshot is 0.5 MB, a quarter of the JS heap), which moved a two-sample
/// growth figure by up to 40 % with nothing kept (2026-11-26, `cargo xtask profile js-heap`).
/// The probe's own frame times (a number per frame since the window started: 20,000 at
/// minute 10) are read by `record` and dropped first.
fn settled_memory(b: &Browser) -> Result<Value> {
    let sample = "const p = window.__benchProbe; p.frames = []; \
                  if (window.gc) window.gc(); return p.memory();";
    let mut least = b.eval(sample)?;
    for _ in 1..5 {
        std::thread::sleep(Duration::from_secs(1));
        let m = b.eval(sample)?;
        for key in ["js", "wasm"] {
            if let (Some(now), Some(min)) = (m[key].as_f64(), least[key].as_f64()) {
                if now < min {
                    least[key] = m[key].clone();
                }
            }
        }
    }
    Ok(least)
}

/// "Store only": the log viewer's ingest of `lines` synthetic lines made inside the page by
/// its `?bench-lines=N` hook (no server, socket nor decoder: what the store and the rows
/// cost), then the scroll through them.
pub fn log_ingest(
    tools: &Tools,
    built: &Built,
    lines: u64,
    runs: usize,
    figures: &mut Figures,
) -> Result {
    let server = server::start(&built.server, &built.dist, &["--scenario", "calm"])?;
    let url = server.url(&format!(
        "/env/production/service/api/deployments/bench/logs?bench-lines={lines}"
    ));
    let names = [
        ("ingestMs", "log_store_only_ingest", "ms"),
        ("firstRowMs", "log_store_only_first_row", "ms"),
        ("readyMs", "log_store_only_ready", "ms"),
        ("domRows", "log_store_only_dom_rows", "rows"),
        ("peakDomRows", "log_store_only_peak_dom_rows", "rows"),
    ];
    let mut got: Vec<Vec<f64>> = vec![Vec::new(); names.len() + 2];
    let mut scroll: Vec<(Vec<f64>, f64)> = Vec::new();
    for _ in 0..runs {
        let b = open(tools, &url)?;
        let hook = b.wait_for(
            "the log viewer's bench hook",
            "return window.__shipwatchBench ? true : null;",
            Duration::from_secs(20),
        );
        if hook.is_err() {
            for (_, name, unit) in names {
                figures.missing(
                    name,
                    unit,
                    "not measured yet (needs the log viewer's ?bench-lines hook)",
                );
            }
            return Ok(());
        }
        let v = b.wait_for(
            "the log ingest to finish",
            "const r = window.__shipwatchBench; return r && r.phase === 'done' ? r : null;",
            Duration::from_secs(300),
        )?;
        for (i, (key, _, _)) in names.iter().enumerate() {
            got[i].push(num(&v[key]));
        }
        got[names.len()].push(num(&v["wasmMemoryBytes"]) / 1e6);
        let m = b.eval("if (window.gc) window.gc(); return window.__benchProbe.memory();")?;
        got[names.len() + 1].push(num(&m["js"]) / 1e6);
        scroll.push(scroll_top_to_bottom(&b)?);
    }
    put_scroll(&scroll, figures);
    figures.put("log_store_only_lines", lines as f64, "lines");
    for (i, (_, name, unit)) in names.iter().enumerate() {
        figures.put_median(name, &got[i], unit);
    }
    figures.put_median("log_store_only_wasm_memory", &got[names.len()], "MB");
    figures.put_median("log_store_only_js_heap", &got[names.len() + 1], "MB");
    Ok(())
}

/// Scrolls the log viewer from its top to its bottom in 5 s, one step per animation frame
/// (as a dragged scrollbar does), and returns the frame times and the most rows in the DOM.
fn scroll_top_to_bottom(b: &Browser) -> Result<(Vec<f64>, f64)> {
    b.eval(
        "const s = document.querySelector('.log-scroll'); \
         const r = (window.__logScroll = { done: false, frames: [], peakRows: 0 }); \
         if (!s) { r.done = true; return false; } \
         const steps = 300; let i = 0; let last = null; \
         s.scrollTop = 0; \
         const tick = (t) => { \
           if (last !== null) r.frames.push(t - last); \
           last = t; \
           r.peakRows = Math.max(r.peakRows, s.querySelectorAll('.log-row').length); \
           if (i++ < steps) { \
             s.scrollTop = (s.scrollHeight - s.clientHeight) * i / steps; \
             requestAnimationFrame(tick); \
           } else { r.done = true; } \
         }; \
         requestAnimationFrame(tick); \
         return true;",
    )?;
    let r = b.wait_for(
        "the scroll to the bottom",
        "const r = window.__logScroll; return r && r.done ? r : null;",
        Duration::from_secs(120),
    )?;
    let frames = r["frames"]
        .as_array()
        .map(|a| a.iter().map(num).collect())
        .unwrap_or_default();
    Ok((frames, num(&r["peakRows"])))
}

/// Medians over runs of the scroll's frame figures.
fn put_scroll(runs: &[(Vec<f64>, f64)], figures: &mut Figures) {
    let frames: Vec<&[f64]> = runs
        .iter()
        .map(|(f, _)| f.as_slice())
        .filter(|f| !f.is_empty())
        .collect();
    put_frames("log_scroll_", &frames, figures);
    let rows: Vec<f64> = runs.iter().map(|(_, rows)| *rows).collect();
    figures.put_median("log_scroll_peak_dom_rows", &rows, "rows");
}

/// Medians over runs of frame times: `{prefix}frame_p50`, `_p95`, `_max` (ms) and
/// `{prefix}frames_over_50ms`.
fn put_frames(prefix: &str, runs: &[&[f64]], figures: &mut Figures) {
    let each = |f: &dyn Fn(&[f64]) -> f64| runs.iter().map(|r| f(r)).collect::<Vec<f64>>();
    let pct = |p: f64| move |r: &[f64]| percentile(r, p).unwrap_or(f64::NAN);
    figures.put_median(&format!("{prefix}frame_p50"), &each(&pct(50.0)), "ms");
    figures.put_median(&format!("{prefix}frame_p95"), &each(&pct(95.0)), "ms");
    figures.put_median(&format!("{prefix}frame_max"), &each(&pct(100.0)), "ms");
    figures.put_median(
        &format!("{prefix}frames_over_50ms"),
        &each(&|r| r.iter().filter(|&&f| f > 50.0).count() as f64),
        "frames",
    );
}

/// Lines a second streamed into the log viewer while it follows the tail.
pub const LOG_STREAM_RATE: u64 = 10_000;
/// Seconds of streaming.
pub const LOG_STREAM_SECONDS: u64 = 10;

/// The log viewer following a live log: `preload` lines first (so the store is at its cap
/// and evicts while streaming), then [`LOG_STREAM_RATE`] lines a second for
/// [`LOG_STREAM_SECONDS`], through the hook's `bench-rate` (the lines go through the feed's
/// decoder and the logs page's ingestion, see `src/log_viewer/bench.rs`).
pub fn log_stream(
    tools: &Tools,
    built: &Built,
    preload: u64,
    runs: usize,
    figures: &mut Figures,
) -> Result {
    let server = server::start(&built.server, &built.dist, &["--scenario", "calm"])?;
    let url = server.url(&format!(
        "/env/production/service/api/deployments/bench/logs?bench-lines={preload}\
         &bench-rate={LOG_STREAM_RATE}&bench-seconds={LOG_STREAM_SECONDS}"
    ));
    let total = "Number((document.querySelector('[aria-label=\"Deployment logs\"]') || \
                 {dataset: {}}).dataset.linesTotal || 0)";
    let mut got: Vec<StreamRun> = Vec::new();
    for _ in 0..runs {
        let b = open(tools, &url)?;
        b.wait_for(
            "the log viewer to start streaming",
            "const r = window.__shipwatchBench; \
             return r && (r.phase === 'streaming' || r.phase === 'done') ? true : null;",
            Duration::from_secs(300),
        )?;
        // The probe's frame clock is the fallback for a hook that does not time its frames.
        let start = b.eval(&format!("window.__benchProbe.start(); return {total};"))?;
        let v = b.wait_for(
            "the streaming to finish",
            "const r = window.__shipwatchBench; return r && r.phase === 'done' ? r : null;",
            Duration::from_secs(LOG_STREAM_SECONDS + 120),
        )?;
        let probe = b.eval(&format!(
            "const p = window.__benchProbe.stop(); p.total = {total}; \
             p.following = (document.querySelector('[aria-label=\"Deployment logs\"]') || \
             {{dataset: {{}}}}).dataset.following; return p;"
        ))?;
        let m = b.eval("if (window.gc) window.gc(); return window.__benchProbe.memory();")?;
        got.push(StreamRun::read(&v, &probe, num(&start), &m));
    }
    figures.put("log_stream_preloaded", preload as f64, "lines");
    figures.put(
        "log_stream_rate_requested",
        LOG_STREAM_RATE as f64,
        "lines/s",
    );
    let each = |f: &dyn Fn(&StreamRun) -> f64| got.iter().map(f).collect::<Vec<f64>>();
    figures.put_median(
        "log_stream_lines_per_s",
        &each(&|r| r.lines_per_s),
        "lines/s",
    );
    let frames: Vec<&[f64]> = got.iter().map(|r| r.frames.as_slice()).collect();
    put_frames("log_stream_", &frames, figures);
    figures.put_median(
        "log_stream_frames",
        &each(&|r| r.frames.len() as f64),
        "frames",
    );
    figures.put_median("log_stream_peak_dom_rows", &each(&|r| r.peak_rows), "rows");
    figures.put_median(
        "log_stream_still_following",
        &each(&|r| r.following),
        "(1 = yes)",
    );
    figures.put_median("log_stream_wasm_memory", &each(&|r| r.wasm_mb), "MB");
    figures.put_median("log_stream_js_heap", &each(&|r| r.js_mb), "MB");
    Ok(())
}

/// What one streaming session saw.
struct StreamRun {
    /// Frame gaps while streaming, ms.
    frames: Vec<f64>,
    lines_per_s: f64,
    peak_rows: f64,
    following: f64,
    wasm_mb: f64,
    js_mb: f64,
}

impl StreamRun {
    /// From the hook's report, the probe's window (and the line count when it began), and
    /// the memory sample.
    fn read(hook: &Value, probe: &Value, total_at_start: f64, memory: &Value) -> StreamRun {
        let list =
            |v: &Value| -> Option<Vec<f64>> { v.as_array().map(|a| a.iter().map(num).collect()) };
        // The hook's own frame gaps cover exactly the streaming; the probe's window starts
        // a poll later and ends a poll after.
        let frames = list(&hook["streamFrameGaps"])
            .or_else(|| list(&probe["frames"]))
            .unwrap_or_default();
        let lines_per_s = match (
            hook["streamLinesApplied"].as_f64(),
            hook["streamMs"].as_f64(),
        ) {
            (Some(lines), Some(ms)) if ms > 0.0 => lines / (ms / 1000.0),
            _ => (num(&probe["total"]) - total_at_start) / num(&probe["seconds"]),
        };
        StreamRun {
            frames,
            lines_per_s,
            peak_rows: num(&hook["peakDomRows"]),
            following: if probe["following"] == "true" {
                1.0
            } else {
                0.0
            },
            wasm_mb: num(&hook["wasmMemoryBytes"]) / 1e6,
            js_mb: num(&memory["js"]) / 1e6,
        }
    }
}
