//! The benchmark hook: `?bench-lines=N` on a logs URL makes the page ingest N synthetic lines
//! (ANSI colours, progress bars, long lines, warnings and errors) instead of subscribing to
//! the feed, and `&bench-rate=R&bench-seconds=S` then streams R lines a second for S seconds
//! while following, as delta frames through the feed's decoder and the logs page's ingestion
//! ([`LogModel::apply_changes`]). Timings land in `window.__shipwatchBench` (see the report
//! in `docs/benchmarks.md`): `phase` ("ingesting", "streaming", "done"), `lines`, `ingestMs`,
//! `firstRowMs`, `readyMs`, `streamed`, `streamLinesApplied`, `streamMs`, `streamFrames`,
//! `streamFrameGaps`, `longFrames`, `maxFrameMs`, `following`, `domRows`, `peakDomRows`,
//! `wasmMemoryBytes`. The bench reports the ingest as "store only" (no server, no socket, no
//! decoder: what the store and the rows cost); what a user waits for is measured on the real
//! path (`xtask/src/bench/logs.rs`).

use super::model::LogModel;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use shipwatch_logview::LogStore;
use shipwatch_model::entities::Millis;
use shipwatch_model::{LogLevel, LogLine};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// Lines pushed per slice while ingesting (the page stays responsive between slices).
const INGEST_SLICE: u64 = 50_000;

/// Where the synthetic log starts.
pub const BENCH_START: Millis = 1_700_000_000_000;

/// What the URL asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BenchPlan {
    /// Lines ingested at once.
    pub lines: u64,
    /// Lines per second streamed afterwards.
    pub rate: u64,
    /// Seconds of streaming.
    pub seconds: u64,
}

impl BenchPlan {
    /// The plan in the page URL, if any (`bench-lines` must be there).
    pub fn from_url() -> Option<BenchPlan> {
        let search = window().location().search().ok()?;
        let get = |name: &str| -> Option<u64> {
            search
                .trim_start_matches('?')
                .split('&')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
        };
        Some(BenchPlan {
            lines: get("bench-lines")?.min(5_000_000),
            rate: get("bench-rate").unwrap_or(0).min(1_000_000),
            seconds: get("bench-seconds").unwrap_or(10).min(600),
        })
    }
}

/// Synthetic line `n` (from 1): mostly short build output, a fifth coloured, a progress bar
/// redrawn with `\r` now and then, a long line every 1,000, warnings and errors sprinkled.
pub fn synthetic_line(n: u64) -> LogLine {
    let stage = match n % 1_000_000 {
        0..=399_999 => "build",
        400_000..=799_999 => "test",
        _ => "deploy",
    };
    let (level, text) = if n % 50_000 == 7 {
        (
            LogLevel::Error,
            format!("\x1b[1;31merror\x1b[0m: step {n} failed: connection refused (10.0.0.5:5432)"),
        )
    } else if n.is_multiple_of(997) {
        (
            LogLevel::Warning,
            format!(
                "\x1b[33mwarning\x1b[0m: unused variable `x{n}` in src/module_{}.rs",
                n % 97
            ),
        )
    } else if n % 1_000 == 500 {
        let payload: String = (0..60).map(|i| format!("\"key{i}\":{} ", n + i)).collect();
        (LogLevel::Info, format!("config dump {n}: {{{payload}}}"))
    } else if n.is_multiple_of(5) {
        (
            LogLevel::Info,
            format!(
                "\x1b[32m   Compiling\x1b[0m crate-{} v0.{}.{} (step {n})",
                n % 211,
                n % 13,
                n % 7
            ),
        )
    } else if n.is_multiple_of(333) {
        (
            LogLevel::Info,
            format!("downloading layer {n}: 10%\r\x1b[Kdownloading layer {n}: 100% done"),
        )
    } else {
        (
            LogLevel::Info,
            format!(
                "step {n}: processing item {} of the batch, all good so far",
                n % 10_000
            ),
        )
    };
    LogLine {
        n,
        ts: BENCH_START + n,
        stage: stage.into(),
        level,
        text,
        hint: (level == LogLevel::Error)
            .then(|| "Check the DATABASE_URL secret of this environment".into()),
    }
}

/// The `window.__shipwatchBench` object.
struct Report(JsValue);

impl Report {
    fn new() -> Report {
        let obj = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&window(), &"__shipwatchBench".into(), &obj);
        Report(obj.into())
    }

    fn set(&self, key: &str, value: impl Into<JsValue>) {
        let _ = js_sys::Reflect::set(&self.0, &key.into(), &value.into());
    }
}

fn now() -> f64 {
    window().performance().map_or(0.0, |p| p.now())
}

fn dom_rows() -> u32 {
    document()
        .query_selector_all(".log-row")
        .map_or(0, |l| l.length())
}

/// Runs a plan into a model; returns at once (the work is spread over frames).
pub fn run(plan: BenchPlan, model: LogModel) {
    let report = Report::new();
    report.set("phase", "ingesting");
    report.set("lines", plan.lines as f64);
    leptos::task::spawn_local(async move {
        let t0 = now();
        let first_row = Rc::new(Cell::new(None::<f64>));
        let mut n = 1;
        while n <= plan.lines {
            let end = (n + INGEST_SLICE).min(plan.lines + 1);
            model.push_lines((n..end).map(synthetic_line));
            n = end;
            if first_row.get().is_none() {
                let seen = first_row.clone();
                request_animation_frame(move || {
                    if dom_rows() > 0 && seen.get().is_none() {
                        seen.set(Some(now() - t0));
                    }
                });
            }
            TimeoutFuture::new(0).await;
        }
        report.set("ingestMs", now() - t0);
        // Painted: two frames after the screen took the last batch, its rows are on screen.
        while !model.is_published() {
            next_frame().await;
        }
        for _ in 0..2 {
            next_frame().await;
        }
        report.set("readyMs", now() - t0);
        if let Some(ms) = first_row.get() {
            report.set("firstRowMs", ms);
        } else {
            report.set("firstRowMs", now() - t0);
        }
        let mut peak = dom_rows();
        report.set("domRows", peak);
        if plan.rate > 0 {
            report.set("phase", "streaming");
            let streamed = stream(plan, model, n, &mut peak).await;
            let long = streamed.gaps.iter().filter(|&&g| g > 50.0).count() as u32;
            let max = streamed.gaps.iter().copied().fold(0.0, f64::max);
            report.set("streamed", streamed.sent as f64);
            report.set("streamLinesApplied", streamed.applied as f64);
            report.set("streamMs", streamed.ms);
            report.set("streamFrames", streamed.gaps.len() as u32);
            report.set("longFrames", long);
            report.set("maxFrameMs", max);
            let gaps: js_sys::Array = streamed.gaps.iter().map(|&g| JsValue::from(g)).collect();
            report.set("streamFrameGaps", gaps);
            report.set(
                "following",
                document()
                    .query_selector(".log-viewer")
                    .ok()
                    .flatten()
                    .and_then(|e| e.get_attribute("data-following"))
                    .unwrap_or_default(),
            );
        }
        report.set("peakDomRows", peak);
        report.set("domRows", dom_rows());
        report.set("wasmMemoryBytes", wasm_memory_bytes());
        report.set("phase", "done");
    });
}

/// Lines per delta frame of the stream (a server tick's worth at a few thousand lines/s).
const FRAME_LINES: u64 = 100;

/// What a stream did.
struct Streamed {
    /// Lines sent in delta frames.
    sent: u64,
    /// Lines the store took in (its end position moved by this much).
    applied: u64,
    /// Time from the first to the last frame, ms.
    ms: f64,
    /// The gaps between animation frames while streaming, ms.
    gaps: Vec<f64>,
}

/// Streams `plan.rate` lines a second through the feed's path: the lines are encoded
/// beforehand as the server's delta frames (JSON text), and each animation frame decodes
/// the frames due with the feed's decoder, checks their sequence numbers with the feed's
/// cursor and hands their changes to [`LogModel::apply_changes`], as the logs page does
/// with a live subscription. Measures the gaps between animation frames.
async fn stream(plan: BenchPlan, model: LogModel, first: u64, peak: &mut u32) -> Streamed {
    use shipwatch_model::protocol::stream::Cursor;
    use shipwatch_model::protocol::{
        decode_server, encode, Change, Limits, ServerFrame, ServerMessage,
    };
    let total = plan.rate.saturating_mul(plan.seconds);
    // Kept as JS strings, as a websocket holds them until its message event: the text is
    // copied into wasm memory when decoded, and the page's wasm figure is not inflated by
    // a backlog a real page never has.
    let frames: Vec<JsValue> = (0..total.div_ceil(FRAME_LINES))
        .map(|f| {
            let from = first + f * FRAME_LINES;
            let to = (from + FRAME_LINES).min(first + total);
            let changes = (from..to)
                .map(|n| Change::Line(synthetic_line(n)))
                .collect();
            JsValue::from_str(&encode(&ServerFrame::new(ServerMessage::Delta {
                sub: "bench".into(),
                seq: from,
                changes,
            })))
        })
        .collect();
    let limit = Limits::default().max_server_frame_bytes as usize;
    let mut cursor = Cursor::new();
    cursor.snapshot(first - 1);
    let end_before = model.with(LogStore::end_position);
    next_frame().await;
    let begin = now();
    let mut last = begin;
    let (mut gaps, mut next, mut sent) = (Vec::new(), 0usize, 0u64);
    while next < frames.len() {
        next_frame().await;
        let t = now();
        gaps.push(t - last);
        last = t;
        let due = (((t - begin) / 1000.0) * plan.rate as f64) as u64;
        while next < frames.len() && sent < due {
            let text = frames[next].as_string().unwrap_or_default();
            let Ok(frame) = decode_server(&text, limit) else {
                break;
            };
            next += 1;
            if let ServerMessage::Delta {
                seq, mut changes, ..
            } = frame.msg
            {
                if let Ok(range) = cursor.delta(seq, changes.len()) {
                    sent += range.len() as u64;
                    changes.drain(..range.start);
                    model.apply_changes(changes);
                }
            }
        }
        *peak = (*peak).max(dom_rows());
    }
    Streamed {
        sent,
        applied: model.with(LogStore::end_position) - end_before,
        ms: last - begin,
        gaps,
    }
}

async fn next_frame() {
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    request_animation_frame(move || {
        let _ = tx.send(());
    });
    let _ = rx.await;
}

fn wasm_memory_bytes() -> f64 {
    use wasm_bindgen::JsCast;
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .ok()
        .and_then(|m| m.buffer().dyn_into::<js_sys::ArrayBuffer>().ok())
        .map_or(0.0, |b| f64::from(b.byte_length()))
}
