//! `cargo xtask bench [--quick]`: the console's speed, size and scale (issue 7), measured on
//! a release build with the real server and headless Chromium. Prints every figure as
//! `name: value unit` and appends a row to the tables of `docs/benchmarks.md`.

mod devtools;
mod heap;
mod http;
mod js_heap;
mod page;
mod profile;
mod record;
mod server;
mod swarm;
mod transfer;
mod webdriver;

use crate::build::{build_all, Built};
use crate::cmd::{root, run, Result};
use crate::tools::ensure_browser;
pub use profile::profile;
use record::{Figures, Table};
use std::process::Command;

/// How much of everything to run.
struct Plan {
    first_status_runs: usize,
    update_runs: usize,
    update_seconds: f64,
    memory_first: f64,
    memory_last: f64,
    log_lines: u64,
    log_runs: usize,
    fanout_clients: usize,
    fanout_seconds: f64,
    resume_clients: usize,
    resume_runs: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                first_status_runs: 3,
                update_runs: 0, // taken from the memory session's first window
                update_seconds: 10.0,
                memory_first: 10.0,
                memory_last: 60.0,
                log_lines: 1_000_000,
                log_runs: 1,
                fanout_clients: 1_000,
                fanout_seconds: 5.0,
                resume_clients: 1_000,
                resume_runs: 1,
            }
        } else {
            Plan {
                first_status_runs: 5,
                update_runs: 3,
                update_seconds: 10.0,
                memory_first: 60.0,
                memory_last: 600.0,
                log_lines: 1_000_000,
                log_runs: 3,
                fanout_clients: 10_000,
                fanout_seconds: 20.0,
                resume_clients: 1_000,
                resume_runs: 3,
            }
        }
    }
}

/// The parts, for `--only`.
const PARTS: [&str; 6] = [
    "transfer",
    "first-status",
    "updates",
    "memory",
    "logs",
    "server",
];

/// The tables of `docs/benchmarks.md`: (column header, figure name).
const TABLES: &[Table] = &[
    Table {
        id: "size",
        title: "First-load transfer (KB of 1,000 bytes; budget: total gzip <= 150)",
        columns: &[
            ("wasm gzip", "wasm_gzip"),
            ("js gzip", "js_gzip"),
            ("css gzip", "css_gzip"),
            ("total gzip", "first_load_gzip"),
            ("total brotli", "first_load_brotli"),
            ("wasm raw", "wasm_raw"),
            ("log viewer chunk gzip, loaded later", "lazy_chunks_gzip"),
        ],
    },
    Table {
        id: "page",
        title: "Page: first status and table (1 environment of 1,000 services; budget: first status <= 300 ms)",
        columns: &[
            ("first dot in DOM ms", "first_status_dom"),
            ("first dot's frame ms", "first_status_frame"),
            ("table rows", "table_rows"),
            ("status dots", "table_status_dots"),
            ("page elements", "page_elements"),
        ],
    },
    Table {
        id: "updates",
        title: "Update throughput (1,000 services, 10,000 status events/s asked, 10 s; budget: no frame over 50 ms, 0 dropped)",
        columns: &[
            ("status events/s received", "update_status_events_per_s"),
            ("DOM status changes/s", "update_dom_status_changes_per_s"),
            ("dropped", "update_events_dropped"),
            ("resyncs", "update_feed_resyncs"),
            ("frame p50 ms", "frame_p50"),
            ("frame p95 ms", "frame_p95"),
            ("frame max ms", "frame_max"),
            ("frames > 50 ms", "frames_over_50ms"),
        ],
    },
    Table {
        id: "memory",
        title: "Memory under the update workload (budget: growth < 10 % from minute 1 to minute 10)",
        columns: &[
            ("first sample s", "memory_first_at"),
            ("last sample s", "memory_last_at"),
            ("events/s received", "memory_status_events_per_s"),
            ("JS heap first MB", "js_heap_first"),
            ("JS heap last MB", "js_heap_last"),
            ("JS heap growth %", "js_heap_growth"),
            ("wasm first MB", "wasm_memory_first"),
            ("wasm last MB", "wasm_memory_last"),
            ("wasm growth %", "wasm_memory_growth"),
        ],
    },
    Table {
        id: "logs",
        title: "Log ingest (1,000,000 synthetic lines through the log viewer's ?bench-lines hook)",
        columns: &[
            ("ingest ms", "log_ingest"),
            ("first row ms", "log_first_row"),
            ("ready ms", "log_ready"),
            ("DOM rows", "log_dom_rows"),
            ("peak DOM rows", "log_peak_dom_rows"),
            ("wasm MB", "log_wasm_memory"),
            ("JS heap MB", "log_js_heap"),
        ],
    },
    Table {
        id: "log-scroll",
        title: "Log scrolling (the 1,000,000 ingested lines scrolled from top to bottom in 5 s, one step per animation frame)",
        columns: &[
            ("frame p50 ms", "log_scroll_frame_p50"),
            ("frame p95 ms", "log_scroll_frame_p95"),
            ("frame max ms", "log_scroll_frame_max"),
            ("frames > 50 ms", "log_scroll_frames_over_50ms"),
            ("peak DOM rows", "log_scroll_peak_dom_rows"),
        ],
    },
    Table {
        id: "log-stream",
        title: "Log streaming (1,000,000 lines kept, then 10,000 lines/s for 10 s while following; lines go through the feed's decoder and the logs page's ingestion)",
        columns: &[
            ("lines/s asked", "log_stream_rate_requested"),
            ("lines/s applied", "log_stream_lines_per_s"),
            ("frame p50 ms", "log_stream_frame_p50"),
            ("frame p95 ms", "log_stream_frame_p95"),
            ("frame max ms", "log_stream_frame_max"),
            ("frames > 50 ms", "log_stream_frames_over_50ms"),
            ("frames", "log_stream_frames"),
            ("peak DOM rows", "log_stream_peak_dom_rows"),
            ("still following", "log_stream_still_following"),
            ("wasm MB", "log_stream_wasm_memory"),
            ("JS heap MB", "log_stream_js_heap"),
        ],
    },
    Table {
        id: "server",
        title: "Server fan-out and resume (loopback; 1 environment of 100 services, 1,000 events/s asked)",
        columns: &[
            ("clients", "fanout_clients"),
            ("live", "fanout_clients_live"),
            ("connect all ms", "fanout_connect_all"),
            ("events/s delivered", "fanout_feed_service_upserts_per_s"),
            ("stamp latency p50 ms", "fanout_latency_p50"),
            ("stamp latency p99 ms", "fanout_latency_p99"),
            ("spread p50 ms", "fanout_spread_p50"),
            ("spread p99 ms", "fanout_spread_p99"),
            ("resyncs", "fanout_resyncs"),
            ("RSS per client KiB", "fanout_server_rss_per_client"),
            ("disconnects", "fanout_disconnects"),
            ("resume: all live ms", "resume_all_live"),
            ("resumed", "resume_resumed"),
            ("re-snapshotted", "resume_snapshots"),
        ],
    },
];

/// Runs the benchmarks and records them in `docs/benchmarks.md`.
pub fn bench(args: &[String]) -> Result {
    let quick = args.iter().any(|a| a == "--quick");
    // Reuse the last build (dist/ and target/native), e.g. while working on the benchmark.
    let no_build = args.iter().any(|a| a == "--no-build");
    // Run only some parts (comma-separated names of PARTS); nothing is recorded then.
    let only: Option<Vec<&str>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|l| l.split(',').collect());
    let known = |a: &&String| {
        ["--quick", "--no-build", "--only"].contains(&a.as_str())
            || only.as_ref().is_some_and(|o| o.join(",") == **a)
    };
    if let Some(bad) = args.iter().find(|a| !known(a)) {
        return Err(format!(
            "unknown bench option {bad}; usage: cargo xtask bench [--quick] [--no-build] \
             [--only {}]",
            PARTS.join(",")
        ));
    }
    let wanted = |name: &str| only.as_ref().is_none_or(|o| o.contains(&name));
    let plan = Plan::new(quick);
    let built = if no_build {
        Built {
            server: root().join("target/native/shipwatch-server"),
            dist: root().join("dist"),
        }
    } else {
        let built = build_all()?;
        run(Command::new("cargo")
            .args(["build", "--profile", "native", "-p", "shipwatch-loadgen"])
            .current_dir(root()))?;
        built
    };
    let loadgen = root().join("target/native/shipwatch-loadgen");
    let browser = ensure_browser()?;
    let tools = page::Tools {
        chromium: browser.chromium.to_string_lossy().into_owned(),
        driver: browser.driver.to_string_lossy().into_owned(),
        script_wait: std::time::Duration::from_secs(if quick { 20 } else { 45 }),
    };
    let machine = record::machine(quick);
    eprintln!("bench: {} run on {}", machine.cells[0], machine.cells[2]);
    let mut figures = Figures::default();

    // Each part reports its own failure as missing figures and the run goes on.
    let part = |name: &str, r: Result| {
        if let Err(e) = r {
            eprintln!("bench: {name} failed: {e}");
        }
    };
    if wanted("transfer") {
        let server = server::Server::start(&built.server, &built.dist, &["--scenario", "calm"]);
        part(
            "first-load transfer",
            server.and_then(|s| transfer::measure(&s, &built.dist, &mut figures)),
        );
    }
    if wanted("first-status") {
        part(
            "first status",
            page::first_status(&tools, &built, plan.first_status_runs, &mut figures),
        );
    }
    if wanted("updates") && plan.update_runs > 0 {
        part(
            "update throughput",
            page::updates(
                &tools,
                &built,
                plan.update_runs,
                plan.update_seconds,
                &mut figures,
            ),
        );
    }
    if wanted("memory") {
        part(
            "memory",
            page::memory(
                &tools,
                &built,
                plan.memory_first,
                plan.memory_last,
                plan.update_runs == 0,
                &mut figures,
            ),
        );
    }
    if wanted("logs") {
        part(
            "log ingest",
            page::log_ingest(&tools, &built, plan.log_lines, plan.log_runs, &mut figures),
        );
        part(
            "log streaming",
            page::log_stream(&tools, &built, plan.log_lines, plan.log_runs, &mut figures),
        );
    }
    if wanted("server") {
        part(
            "server fan-out and resume",
            swarm::measure(
                &built,
                &loadgen,
                plan.fanout_clients,
                plan.fanout_seconds,
                plan.resume_clients,
                plan.resume_runs,
                &mut figures,
            ),
        );
    }
    if only.is_some() {
        eprintln!("bench: --only: nothing recorded in docs/benchmarks.md");
        return Ok(());
    }
    record::write(&machine, &figures, TABLES)
}
