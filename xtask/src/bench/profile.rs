//! `cargo xtask profile <load|updates|logs>`: a DevTools CPU profile of the page under one of
//! the benchmark's workloads, summarised as the functions with the most self time, so that a
//! missed budget is explained by a profile, not a guess. Builds a copy of the app that keeps
//! its wasm function names (no wasm-opt) in `target/profile-dist`.

use super::browser::Browser;
use super::page::{Tools, SERVICES, UPDATE_RATE};
use super::server::{self, Server};
use crate::app_bundle::{self, Bundle};
use crate::build::Built;
use crate::cmd::{root, Result};
use crate::flags;
use crate::tools::{ensure_browser, ensure_build_tools};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::thread::sleep;
use std::time::Duration;

/// Functions listed in the summary.
const TOP: usize = 40;

/// Runs the profiler: `load` (a cold load of 1,000 services), `updates` (10 s of the update
/// workload, once loaded), `logs` (a long log arriving from the server), or a memory profile.
pub fn profile(what: &flags::Profile) -> Result {
    let reduced_motion = match what {
        flags::Profile::Memory(w) => return memory_trend(w),
        flags::Profile::Heap(w) => return super::heap::heap_growth(w),
        flags::Profile::JsHeap(w) => return super::js_heap::js_heap_growth(w),
        flags::Profile::Logs { lines, deployment } => return log_arrival(*lines, deployment),
        flags::Profile::Load { reduced_motion } | flags::Profile::Updates { reduced_motion } => {
            *reduced_motion
        }
    };
    let load = matches!(what, flags::Profile::Load { .. });
    let what = if load { "load" } else { "updates" };
    let dist = build_named_dist("target/profile-dist", &[])?;
    let server_bin = root().join("target/native/shipwatch-server");
    if !server_bin.exists() {
        return Err("no server build: run `cargo xtask build` first".into());
    }
    let rate = UPDATE_RATE.to_string();
    let mut flags = vec!["--environments", "1", "--services", SERVICES, "--seed", "7"];
    if load {
        flags.extend(["--scenario", "calm"]);
    } else {
        flags.extend(["--rate", &rate]);
    }
    let server = server::start(&server_bin, &dist, &flags)?;
    let tools = browser_tools()?;
    let b = Browser::start(&tools)?;
    // `--reduced-motion`: the same with animations off, to see what they cost.
    if reduced_motion {
        b.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-reduced-motion", "value": "reduce" }] }),
        )?;
    }
    b.cdp("Profiler.enable", json!({}))?;
    b.cdp("Profiler.setSamplingInterval", json!({ "interval": 200 }))?;
    let url = server.url("/env/production");
    if load {
        b.cdp("Profiler.start", json!({}))?;
        open_table(&b, &url)?;
        // The frame that paints it.
        sleep(Duration::from_millis(300));
    } else {
        open_table(&b, &url)?;
        sleep(Duration::from_secs(2));
        b.cdp("Profiler.start", json!({}))?;
        sleep(Duration::from_secs(10));
    }
    write_profile(&b, what)
}

/// Stops the profiler and writes its summary (printed too) and the raw profile to `target/`.
fn write_profile(b: &Browser, what: &str) -> Result {
    let stopped = b.cdp("Profiler.stop", json!({}))?;
    let summary = summarise(&stopped["profile"]);
    println!("{summary}");
    // The raw profile too: DevTools (Performance panel, "Load profile") shows its timeline.
    let raw = root().join(format!("target/profile-{what}.cpuprofile"));
    std::fs::write(&raw, stopped["profile"].to_string()).map_err(|e| e.to_string())?;
    let out = root().join(format!("target/profile-{what}.txt"));
    std::fs::write(&out, &summary).map_err(|e| e.to_string())?;
    eprintln!("profile: written to {}", out.display());
    Ok(())
}

/// `logs`: the profile from navigation until the viewer holds the last line of a log of
/// `lines` lines held by the server (the bench's log workload), on the named build.
fn log_arrival(lines: u64, deployment: &str) -> Result {
    let dist = build_named_dist("target/profile-dist", &[])?;
    let built = Built {
        server: root().join("target/native/shipwatch-server"),
        dist,
    };
    if !built.server.exists() {
        return Err("no server build: run `cargo xtask build` first".into());
    }
    let server = super::logs::start_log_server(&built, lines)?;
    let b = Browser::start(&browser_tools()?)?;
    b.cdp("Profiler.enable", json!({}))?;
    b.cdp("Profiler.setSamplingInterval", json!({ "interval": 200 }))?;
    let page = super::logs::LOG_PAGE.replace(super::logs::DEPLOYMENT, deployment);
    b.cdp("Profiler.start", json!({}))?;
    let started = std::time::Instant::now();
    b.goto(&server.url(&page))?;
    b.wait_for(
        "the log's last line",
        &format!(
            "const r = document.querySelector('[role=region][aria-label=\"Deployment logs\"]'); \
             return r && Number(r.getAttribute('data-last-line')) >= {lines};"
        ),
        Duration::from_secs(300),
    )?;
    eprintln!(
        "profile: the last line is in after {:.1} s (the profiler slows the page)",
        started.elapsed().as_secs_f64()
    );
    write_profile(&b, "logs")
}

/// Opens the environment page and waits for its first status dot.
fn open_table(b: &Browser, url: &str) -> Result {
    b.goto(url)?;
    b.wait_for(
        "the first status dot",
        "return document.querySelector(\"table.services [role=img]\") !== null;",
        Duration::from_secs(60),
    )
    .map(|_| ())
}

/// `dist/` again in `dist_dir`, without wasm-opt (which strips function names) and not
/// split, with the app's cargo `features` on.
pub(super) fn build_named_dist(dist_dir: &str, features: &[&str]) -> Result<std::path::PathBuf> {
    let dist = root().join(dist_dir);
    let bundle = Bundle {
        dist: &dist,
        features,
        split: false,
        optimize: false,
    };
    app_bundle::build(&bundle, &ensure_build_tools()?)?;
    Ok(dist)
}

/// Self time per function (ms and share), the busiest first, and the total by kind.
fn summarise(profile: &Value) -> String {
    let empty = Vec::new();
    let nodes = profile["nodes"].as_array().unwrap_or(&empty);
    let samples = profile["samples"].as_array().unwrap_or(&empty);
    let deltas = profile["timeDeltas"].as_array().unwrap_or(&empty);
    let mut name_of: HashMap<i64, String> = HashMap::new();
    for n in nodes {
        let frame = &n["callFrame"];
        let f = frame["functionName"].as_str().unwrap_or("");
        let url = frame["url"].as_str().unwrap_or("");
        let name = match (f, url) {
            ("", "") => "(anonymous)".to_string(),
            ("", u) => format!("(anonymous) {}", short(u)),
            (f, u) if u.ends_with(".wasm") || u.starts_with("wasm://") => format!("wasm {f}"),
            (f, "") => f.to_string(),
            (f, u) => format!("{f} {}", short(u)),
        };
        name_of.insert(n["id"].as_i64().unwrap_or(-1), name);
    }
    let mut parent: HashMap<i64, i64> = HashMap::new();
    for n in nodes {
        let id = n["id"].as_i64().unwrap_or(-1);
        for c in n["children"].as_array().unwrap_or(&empty) {
            parent.insert(c.as_i64().unwrap_or(-1), id);
        }
    }
    let mut self_ms: HashMap<&str, f64> = HashMap::new();
    // Time with the function on the stack, for the app's own functions (where time goes).
    let mut inclusive_ms: HashMap<&str, f64> = HashMap::new();
    let mut total = 0.0;
    // Each sample's time is the delta that follows it.
    for (i, s) in samples.iter().enumerate() {
        let dt = deltas.get(i + 1).and_then(Value::as_f64).unwrap_or(0.0) / 1000.0;
        let name = name_of
            .get(&s.as_i64().unwrap_or(-1))
            .map_or("(unknown)", String::as_str);
        *self_ms.entry(name).or_default() += dt;
        total += dt;
        let mut seen: Vec<&str> = Vec::new();
        let mut node = s.as_i64().unwrap_or(-1);
        while let Some(name) = name_of.get(&node) {
            if name.contains("shipwatch") && !seen.contains(&name.as_str()) {
                seen.push(name);
                *inclusive_ms.entry(name).or_default() += dt;
            }
            match parent.get(&node) {
                Some(p) => node = *p,
                None => break,
            }
        }
    }
    let mut rows: Vec<(&str, f64)> = self_ms.into_iter().collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let busy: f64 = rows
        .iter()
        .filter(|(n, _)| !["(idle)", "(program)"].contains(n))
        .map(|(_, t)| t)
        .sum();
    let wasm: f64 = rows
        .iter()
        .filter(|(n, _)| n.starts_with("wasm "))
        .map(|(_, t)| t)
        .sum();
    let gc: f64 = rows
        .iter()
        .filter(|(n, _)| *n == "(garbage collector)")
        .map(|(_, t)| t)
        .sum();
    let mut out = format!(
        "profile: {total:.0} ms sampled, {busy:.0} ms busy (wasm {wasm:.0} ms, GC {gc:.0} ms, \
         the rest JS and browser bindings)\n"
    );
    for (name, ms) in rows.iter().take(TOP) {
        out.push_str(&format!(
            "{ms:>9.1} ms {:>5.1}%  {name}\n",
            100.0 * ms / total.max(1e-9)
        ));
    }
    let mut inclusive: Vec<(&str, f64)> = inclusive_ms.into_iter().collect();
    inclusive.sort_by(|a, b| b.1.total_cmp(&a.1));
    out.push_str("\nthe app's functions, time on the stack (inclusive):\n");
    for (name, ms) in inclusive.iter().take(TOP) {
        out.push_str(&format!("{ms:>9.1} ms  {name}\n"));
    }
    out
}

fn short(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// `memory [SECONDS]`: the page's wasm memory and JS heap (after a forced GC) every 15 s
/// under the update workload, to tell a leak (steady growth) from a high-water mark.
fn memory_trend(w: &flags::Workload) -> Result {
    let seconds = w.seconds.unwrap_or(180);
    let (_server, b) = open_update_workload(&root().join("dist"), w)?;
    let sample = "if (window.gc) window.gc(); const m = window.__benchProbe.memory(); \
                  return [m.wasm, m.js];";
    let mut at = 0;
    while at <= seconds {
        let v = b.eval(sample)?;
        println!(
            "memory: {at:>4} s  wasm {:>6.1} MB  js heap {:>5.2} MB",
            v[0].as_f64().unwrap_or(f64::NAN) / 1e6,
            v[1].as_f64().unwrap_or(f64::NAN) / 1e6
        );
        sleep(Duration::from_secs(15));
        at += 15;
    }
    Ok(())
}

/// Chromium and its driver, installed if missing; a minute before the page is unresponsive.
fn browser_tools() -> Result<Tools> {
    let browser = ensure_browser()?;
    Ok(Tools {
        chromium: browser.chromium.to_string_lossy().into_owned(),
        driver: browser.driver.to_string_lossy().into_owned(),
        script_wait: Duration::from_secs(60),
    })
}

/// The bench's update workload (server and environment page with the probe) serving `dist`;
/// `--sort-name` sorts the table by name first (no re-sorting churn).
pub(super) fn open_update_workload(
    dist: &std::path::Path,
    w: &flags::Workload,
) -> Result<(Server, Browser)> {
    let built = Built {
        server: root().join("target/native/shipwatch-server"),
        dist: dist.to_path_buf(),
    };
    let (server, b) = super::page::update_workload(&browser_tools()?, &built, w.seed as usize)?;
    if w.sort_name {
        b.wait_for(
            "the table",
            "const b = document.querySelector('table.services thead th button'); \
             if (b) { b.click(); return true; } return null;",
            Duration::from_secs(30),
        )?;
    }
    Ok((server, b))
}
