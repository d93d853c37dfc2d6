//! One reporter's throughput end to end: `shipwatch deploy` (native build) runs a command
//! that prints `lines` lines as fast as it can, pushes them to the real server (the store on,
//! in a temporary data directory, no simulator), and a websocket client subscribed to the
//! deployment's log, as the page is (`line_batches`, answering pings), counts them arriving.
//!
//! Figures: lines/s from the reporter's start to the last line on the socket
//! (`reporter_lines_per_s`), and to the reporter's exit, when the server had acknowledged
//! every line, i.e. committed it to SQLite (`reporter_acked_lines_per_s`).

use super::record::Figures;
use super::server;
use super::socket::Socket;
use crate::build::Built;
use crate::cmd::{root, run, Result};
use shipwatch_e2e::server::WRITE_TOKEN;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEPLOYMENT: &str = "bench-reporter-1";

/// Builds the reporter (unless `no_build`) and measures it with `lines` lines.
pub fn measure(built: &Built, lines: u64, no_build: bool, figures: &mut Figures) -> Result {
    let result = run_once(built, lines, no_build, figures);
    if let Err(e) = &result {
        for (name, unit) in [
            ("reporter_lines_per_s", "lines/s"),
            ("reporter_acked_lines_per_s", "lines/s"),
        ] {
            figures.missing(name, unit, e);
        }
    }
    result
}

fn run_once(built: &Built, lines: u64, no_build: bool, figures: &mut Figures) -> Result {
    if !no_build {
        run(Command::new("cargo")
            .args(["build", "--profile", "native", "-p", "shipwatch-reporter"])
            .current_dir(root()))?;
    }
    let reporter = root().join("target/native/shipwatch");
    let data =
        std::env::temp_dir().join(format!("shipwatch-bench-reporter-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let data_arg = data.display().to_string();
    let srv = server::start(
        &built.server,
        &built.dist,
        &["--data-dir", &data_arg, "--no-simulator"],
    )?;
    let addr = srv.addr();

    let started = Instant::now();
    let child = Command::new(&reporter)
        .args([
            "deploy",
            "--quiet",
            "--server",
            &srv.url(""),
            "--env",
            "bench",
        ])
        .args([
            "--service",
            "api",
            "--version",
            "bench",
            "--id",
            DEPLOYMENT,
            "--",
        ])
        .args([
            "seq",
            "-f",
            "line %g of the reporter benchmark, some sixty bytes of text",
        ])
        .args(["1", &lines.to_string()])
        .env("SHIPWATCH_WRITE_TOKEN", WRITE_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", reporter.display()))?;

    // The reporter exits once the server acknowledged its last line: timed on its own thread.
    let waiting = std::thread::spawn(move || {
        let mut child = child;
        (child.wait(), started.elapsed())
    });
    let seen = follow(&addr, lines, Duration::from_secs(600));
    let on_socket = started.elapsed();
    let (status, acked) = waiting.join().map_err(|_| "the waiting thread panicked")?;
    let status = status.map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&data);
    let seen = seen?;
    if !status.success() {
        return Err(format!("the reporter exited with {status}"));
    }
    if seen != lines {
        return Err(format!("{seen} of {lines} lines arrived on the socket"));
    }
    eprintln!(
        "bench: reporter: {lines} lines on the socket after {:.2} s, acknowledged after {:.2} s",
        on_socket.as_secs_f64(),
        acked.as_secs_f64()
    );
    figures.put("reporter_lines", lines as f64, "lines");
    figures.put(
        "reporter_lines_per_s",
        (lines as f64 / on_socket.as_secs_f64()).round(),
        "lines/s",
    );
    figures.put(
        "reporter_acked_lines_per_s",
        (lines as f64 / acked.as_secs_f64()).round(),
        "lines/s",
    );
    Ok(())
}

/// Subscribes to the deployment's log (again while it does not exist yet) and counts its
/// lines until `want` have arrived; returns how many did.
fn follow(addr: &str, want: u64, limit: Duration) -> Result<u64> {
    let deadline = Instant::now() + limit;
    let mut ws = Socket::connect(addr)?;
    let subscribe = format!(
        r#"{{"v":1,"type":"subscribe","sub":"log","topic":{{"kind":"logs","deployment":"{DEPLOYMENT}"}},"line_batches":true}}"#
    );
    ws.send(subscribe.clone())?;
    let mut last = 0u64;
    while last < want {
        if Instant::now() > deadline {
            break;
        }
        let Some(frame) = ws.next()? else {
            continue;
        };
        match frame["type"].as_str() {
            Some("lines") => {
                let n = frame["lines"]["n"].as_u64().unwrap_or(0);
                let k = frame["lines"]["text"].as_array().map_or(0, Vec::len) as u64;
                last = last.max(n + k - 1);
            }
            Some("delta") => {
                for c in frame["changes"].as_array().into_iter().flatten() {
                    if c["op"] == "line" {
                        last = last.max(c["n"].as_u64().unwrap_or(0));
                    }
                }
            }
            // The reporter has not created the deployment yet: ask again shortly.
            Some("error") if frame["code"] == "unknown_topic" => {
                std::thread::sleep(Duration::from_millis(20));
                ws.send(subscribe.clone())?;
            }
            _ => {}
        }
    }
    ws.close();
    Ok(last)
}
