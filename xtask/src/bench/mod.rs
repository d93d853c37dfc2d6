//! `cargo xtask bench [--quick] [--no-build] [--only PARTS [--record]]`: the console's speed,
//! size and scale, measured on a release build with the real server and headless Chromium.
//! Prints every figure as `name: value unit` and appends a row to the tables of
//! `docs/benchmarks.md`.
//!
//! Servers run with `--ephemeral` (a new world in memory) unless a part says otherwise: the
//! update workload runs a second time on a store in a temporary data directory
//! (`update_store_*`), and the `store` part measures the store alone.

mod browser;
mod devtools;
mod heap;
mod js_heap;
mod logs;
mod page;
mod profile;
mod push;
mod push_latency;
mod push_postgres;
mod record;
mod replicas;
mod reporter;
mod server;
mod socket;
mod store;
mod swarm;
mod transfer;

use crate::build::{build_all, Built};
use crate::cmd::{root, run, Result};
use crate::flags::{self, Part};
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
    socket_timeout_s: u64,
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
                socket_timeout_s: 30,
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
                socket_timeout_s: 60,
                fanout_clients: 10_000,
                fanout_seconds: 20.0,
                resume_clients: 1_000,
                resume_runs: 3,
            }
        }
    }
}

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
        id: "updates-store",
        title: "Update throughput with the store on (the same workload, the server on a temporary --data-dir: every event written to SQLite; budget: as without the store)",
        columns: &[
            ("status events/s received", "update_store_status_events_per_s"),
            ("DOM status changes/s", "update_store_dom_status_changes_per_s"),
            ("dropped", "update_store_events_dropped"),
            ("resyncs", "update_store_feed_resyncs"),
            ("frame p50 ms", "update_store_frame_p50"),
            ("frame p95 ms", "update_store_frame_p95"),
            ("frame max ms", "update_store_frame_max"),
            ("frames > 50 ms", "update_store_frames_over_50ms"),
            ("facts written/s (log lines count one)", "update_store_events_written_per_s"),
            ("server CPU % of one core", "update_store_server_cpu"),
        ],
    },
    Table {
        id: "store",
        title: "The store alone (SQLite file in a temporary directory, 2 cores; the server's store_throughput example: 200,000 status events, 1,000,000 log lines, then 10,000 status events/s + 100,000 lines/s for 10 s; asked: those rates not slowed)",
        columns: &[
            ("status events/s", "store_status_events_per_s"),
            ("log lines/s", "store_log_lines_per_s"),
            ("paced: last commit after last write ms", "store_paced_commit_lag"),
            ("paced: writes queued at most", "store_paced_max_queued_writes"),
            ("paced: CPU % of one core", "store_paced_cpu"),
            ("file MB", "store_file_size"),
        ],
    },
    Table {
        id: "push",
        title: "Push API (the server with the store on, no simulator; 8 keep-alive clients; lines in NDJSON batches of 5,000, each acknowledged before the next; websocket clients on the environment and the log as a page is; push to socket: from an instance report's send to its change on the environment's socket, 300 reports one at a time)",
        columns: &[
            ("deployments/s created (201, committed)", "push_deployments_per_s"),
            ("instance reports/s acknowledged", "push_instance_reports_per_s"),
            ("instance changes/s on the socket", "push_instance_changes_seen_per_s"),
            ("lines/s acknowledged", "push_lines_acked_per_s"),
            ("lines/s on the socket", "push_lines_seen_per_s"),
            ("batch of 5,000 p50 ms", "push_batch_ms_p50"),
            ("push to socket p50 ms", "push_socket_ms_p50"),
            ("push to socket p99 ms", "push_socket_ms_p99"),
        ],
    },
    Table {
        id: "push-postgres",
        title: "Push API into PostgreSQL (the push table's workloads, the server's store on a PostgreSQL 15 started by the bench in a temporary directory, default settings: fsync and synchronous commit on; loopback)",
        columns: &[
            ("deployments/s created (201, committed)", "push_pg_deployments_per_s"),
            ("instance reports/s acknowledged", "push_pg_instance_reports_per_s"),
            ("instance changes/s on the socket", "push_pg_instance_changes_seen_per_s"),
            ("lines/s acknowledged", "push_pg_lines_acked_per_s"),
            ("lines/s on the socket", "push_pg_lines_seen_per_s"),
            ("batch of 5,000 p50 ms", "push_pg_batch_ms_p50"),
            ("push to socket p50 ms", "push_pg_socket_ms_p50"),
            ("push to socket p99 ms", "push_pg_socket_ms_p99"),
        ],
    },
    Table {
        id: "replicas-paced",
        title: "Two replicas behind nginx, clients let in at a paced rate (deploy/nginx.conf; 1 environment of 100 services, 10 events/s asked; one database: 1 = both on one PostgreSQL, 0 = each --ephemeral; live = at the end of the window: snapshot held, socket open, changes received in order; CPU in % of one core over the 20 s window, rest = the machine's other work; failover: about half the clients on replica B, which is killed with SIGKILL, back through nginx with the page's back-off; renewal gap: the longest time between two renewals of the lease, from the leader's health at the end of the fan-out window; the lease is lost past its time to live, --lease-ttl-ms)",
        columns: &[
            ("one database", "replicas_one_database"),
            ("clients", "replicas_clients"),
            ("connect rate /s", "replicas_connect_rate"),
            ("live", "replicas_clients_live"),
            ("got a snapshot", "replicas_clients_snapshot"),
            ("disconnects", "replicas_disconnects"),
            ("sequence broken", "replicas_clients_seq_broken"),
            ("handshakes refused and tried again", "replicas_connect_retries"),
            ("connect all ms", "replicas_connect_all"),
            ("stamp latency p50 ms", "replicas_latency_p50"),
            ("stamp latency p99 ms", "replicas_latency_p99"),
            ("events/s delivered", "replicas_feed_service_upserts_per_s"),
            ("resyncs", "replicas_resyncs"),
            ("CPU nginx", "replicas_cpu_window_nginx"),
            ("CPU replicas", "replicas_cpu_window_replicas"),
            ("CPU PostgreSQL", "replicas_cpu_window_postgres"),
            ("CPU loadgen", "replicas_cpu_window_loadgen"),
            ("CPU rest", "replicas_cpu_window_rest"),
            ("failover: clients on B", "failover_on_killed_replica"),
            ("resumed", "failover_resumed"),
            ("re-snapshotted", "failover_snapshots"),
            ("not back", "failover_failed"),
            ("receiving again p50 ms", "failover_live_p50"),
            ("p99 ms", "failover_live_p99"),
            ("max ms", "failover_live_max"),
            ("leader's longest renewal gap ms", "replicas_renewal_gap_ms"),
        ],
    },
    Table {
        id: "reporter",
        title: "One reporter end to end (shipwatch deploy around `seq`, pushing to the server with the store on, no simulator; a websocket client on the log as the page is)",
        columns: &[
            ("lines", "reporter_lines"),
            ("lines/s to the socket", "reporter_lines_per_s"),
            ("lines/s acknowledged (committed)", "reporter_acked_lines_per_s"),
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
        id: "log-open",
        title: "Log opened from its URL (1,000,000 lines held by the real server, over the real socket, in the real page; budget: last line <= 3,500 ms, first line <= 300 ms, no frame over 50 ms after the first line, renderer RSS <= 400 MB)",
        columns: &[
            ("lines", "log_open_lines"),
            ("first line painted ms", "log_open_first_line_painted"),
            ("last line painted ms", "log_open_last_line_painted"),
            ("last line seen by poll ms", "log_open_last_line_seen_by_poll"),
            ("frames > 50 ms", "log_open_frames_over_50ms"),
            ("frame max ms", "log_open_frame_max"),
            ("renderer RSS MiB", "log_open_renderer_rss"),
            ("JS heap MB", "log_open_js_heap"),
            ("wasm MB", "log_open_wasm_memory"),
            ("wire bytes/line", "log_open_wire_bytes_per_line"),
            ("payload bytes/line", "log_open_payload_bytes_per_line"),
            ("server RSS MiB", "log_server_rss"),
        ],
    },
    Table {
        id: "log-socket",
        title: "One socket's log throughput (loadgen, answering pings at once; 1,000,000 lines; round trip added by a delaying proxy; budget: >= 50 MB/s or >= 300,000 lines/s at 0 ms, 10x today's at 100 ms)",
        columns: &[
            ("line changes 0 ms MB/s", "log_socket_line_changes_rtt0_mb_per_s"),
            ("lines/s", "log_socket_line_changes_rtt0_lines_per_s"),
            ("20 ms MB/s", "log_socket_line_changes_rtt20_mb_per_s"),
            ("lines/s", "log_socket_line_changes_rtt20_lines_per_s"),
            ("100 ms MB/s", "log_socket_line_changes_rtt100_mb_per_s"),
            ("lines/s", "log_socket_line_changes_rtt100_lines_per_s"),
            ("bytes/line", "log_socket_line_changes_rtt0_wire_bytes_per_line"),
            ("lines frames 0 ms MB/s", "log_socket_lines_frames_rtt0_mb_per_s"),
            ("lines/s", "log_socket_lines_frames_rtt0_lines_per_s"),
            ("20 ms MB/s", "log_socket_lines_frames_rtt20_mb_per_s"),
            ("lines/s", "log_socket_lines_frames_rtt20_lines_per_s"),
            ("100 ms MB/s", "log_socket_lines_frames_rtt100_mb_per_s"),
            ("lines/s", "log_socket_lines_frames_rtt100_lines_per_s"),
            ("bytes/line", "log_socket_lines_frames_rtt0_wire_bytes_per_line"),
        ],
    },
    Table {
        id: "logs",
        title: "Log store only (1,000,000 synthetic lines made inside the page by the ?bench-lines hook: no server, no socket, no decoder; rows before 2026-12-05 were titled \"Log ingest\")",
        columns: &[
            ("ingest ms", "log_store_only_ingest"),
            ("first row ms", "log_store_only_first_row"),
            ("ready ms", "log_store_only_ready"),
            ("DOM rows", "log_store_only_dom_rows"),
            ("peak DOM rows", "log_store_only_peak_dom_rows"),
            ("wasm MB", "log_store_only_wasm_memory"),
            ("JS heap MB", "log_store_only_js_heap"),
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
pub fn bench(options: &flags::Bench) -> Result {
    let quick = options.quick;
    let only = &options.only;
    // A part asked for is the one about to run: the servers it starts log under its name.
    let wanted = |part: Part| {
        let yes = only.is_empty() || only.contains(&part);
        if let Some(name) = clap::ValueEnum::to_possible_value(&part).filter(|_| yes) {
            server::log_as(name.get_name());
        }
        yes
    };
    let plan = Plan::new(quick);
    let built = if options.no_build {
        // A/B on a shared tree: a copied server binary and app (`SHIPWATCH_BENCH_SERVER`,
        // `SHIPWATCH_BENCH_DIST`) that other builds do not replace mid-run.
        let given = |var: &str, default: &str| {
            std::env::var_os(var).map_or_else(|| root().join(default), Into::into)
        };
        Built {
            server: given("SHIPWATCH_BENCH_SERVER", "target/native/shipwatch-server"),
            dist: given("SHIPWATCH_BENCH_DIST", "dist"),
        }
    } else {
        let built = build_all()?;
        run(Command::new("cargo")
            .args(["build", "--profile", "native", "-p", "shipwatch-loadgen"])
            .current_dir(root()))?;
        run(Command::new("cargo")
            .args([
                "build",
                "--profile",
                "native",
                "-p",
                "shipwatch-server",
                "--example",
                "store_throughput",
            ])
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
    if wanted(Part::Transfer) {
        let server = server::start(&built.server, &built.dist, &["--scenario", "calm"]);
        part(
            "first-load transfer",
            server.and_then(|s| transfer::measure(&s, &built.dist, &mut figures)),
        );
    }
    if wanted(Part::FirstStatus) {
        part(
            "first status",
            page::first_status(&tools, &built, plan.first_status_runs, &mut figures),
        );
    }
    if wanted(Part::Updates) && plan.update_runs > 0 {
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
    if wanted(Part::Store) {
        part(
            "store throughput",
            store::measure(
                &root().join("target/native/examples/store_throughput"),
                &mut figures,
            ),
        );
    }
    if wanted(Part::Reporter) {
        let lines = if quick { 200_000 } else { 1_000_000 };
        part(
            "one reporter end to end",
            reporter::measure(&built, lines, options.no_build, &mut figures),
        );
    }
    if wanted(Part::Push) {
        part(
            "push API",
            push::measure(&built, &push::Sizes::new(quick), &mut figures),
        );
    }
    if wanted(Part::PushPostgres) {
        part(
            "push API into PostgreSQL",
            push_postgres::measure(&built, &push::Sizes::new(quick), &mut figures),
        );
    }
    if wanted(Part::Replicas) {
        part(
            "two replicas behind nginx",
            replicas::measure(&built, &loadgen, &replicas::Sizes::new(quick), &mut figures),
        );
    }
    if wanted(Part::Memory) {
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
    if wanted(Part::Logs) {
        part(
            "log opened from its URL",
            logs::open(&tools, &built, plan.log_lines, plan.log_runs, &mut figures),
        );
    }
    if wanted(Part::Logs) || wanted(Part::LogSocket) {
        part(
            "one socket's log throughput",
            logs::socket(
                &built,
                &loadgen,
                plan.log_lines,
                plan.socket_timeout_s,
                &mut figures,
            ),
        );
    }
    if wanted(Part::Logs) {
        part(
            "log store only",
            page::log_ingest(&tools, &built, plan.log_lines, plan.log_runs, &mut figures),
        );
        part(
            "log streaming",
            page::log_stream(&tools, &built, plan.log_lines, plan.log_runs, &mut figures),
        );
    }
    if wanted(Part::Server) {
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
    server::print_logs();
    if only.is_empty() {
        return record::write(&machine, &figures, &TABLES.iter().collect::<Vec<_>>());
    }
    if !options.record {
        eprintln!("bench: --only: nothing recorded in docs/benchmarks.md (add --record)");
        return Ok(());
    }
    // Only the tables these parts measured.
    let measured: Vec<&Table> = TABLES
        .iter()
        .filter(|t| {
            t.columns
                .iter()
                .any(|(_, name)| figures.get(name).is_some())
        })
        .collect();
    let names: Vec<String> = only
        .iter()
        .filter_map(|p| {
            Some(
                clap::ValueEnum::to_possible_value(p)?
                    .get_name()
                    .to_string(),
            )
        })
        .collect();
    let machine = machine.noted(&format!("--only {}", names.join(",")));
    record::write(&machine, &figures, &measured)
}
