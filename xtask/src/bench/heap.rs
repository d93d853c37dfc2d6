//! `cargo xtask profile heap [SECONDS] [--sort-name]`: which Rust code keeps memory alive
//! under the update workload. Builds the app with its sampling heap profiler
//! (`src/heap_profile.rs`, feature `heap-profile`), reads the live sampled allocations by call
//! site at the start and at the end, and prints the sites whose live memory grew the most: a
//! leak is a site that grows steadily, a working set is one that does not.

use super::profile::{build_named_dist, open_update_workload};
use crate::cmd::{root, Result};
use crate::flags;
use serde_json::Value;
use std::collections::HashMap;
use std::thread::sleep;
use std::time::Duration;

/// Seconds of the workload before the first reading (the table and its rows settle).
const WARM_UP: u64 = 30;
/// Sites printed.
const TOP: usize = 12;

/// Runs the workload and prints the growth by site.
pub fn heap_growth(w: &flags::Workload) -> Result {
    let seconds = w.seconds.unwrap_or(180);
    let dist = build_named_dist("target/profile-heap-dist", &["heap-profile"])?;
    let (_server, b) = open_update_workload(&dist, w)?;
    let read = || -> Result<Value> {
        let text = b.eval("return window.__shipwatchHeap ? window.__shipwatchHeap() : null;")?;
        let text = text
            .as_str()
            .ok_or("the page has no heap profiler (is the build's feature on?)")?;
        serde_json::from_str(text).map_err(|e| e.to_string())
    };
    sleep(Duration::from_secs(WARM_UP));
    let first = read()?;
    let mut at = 0;
    let mut last = first.clone();
    while at < seconds {
        sleep(Duration::from_secs(15));
        at += 15;
        last = read()?;
        println!(
            "heap: {:>4} s  live {:>7.2} MB in {:>7} allocations",
            WARM_UP + at,
            num(&last["live_bytes"]) / 1e6,
            num(&last["live_count"])
        );
    }
    let report = growth_report(&first, &last, seconds);
    println!("{report}");
    let out = root().join("target/profile-heap.txt");
    std::fs::write(&out, &report).map_err(|e| e.to_string())?;
    eprintln!("profile: written to {}", out.display());
    Ok(())
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// Live sampled bytes and counts per site.
fn by_site(reading: &Value) -> HashMap<String, (f64, f64)> {
    let empty = Vec::new();
    reading["sites"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|s| {
            let site = s["site"].as_str().unwrap_or("?").to_string();
            (site, (num(&s["bytes"]), num(&s["count"])))
        })
        .collect()
}

/// The sites whose live (sampled, scaled) memory grew the most between two readings.
fn growth_report(first: &Value, last: &Value, seconds: u64) -> String {
    let scale = num(&last["sample_every"]);
    let before = by_site(first);
    let after = by_site(last);
    let mut growth: Vec<(&String, f64, f64)> = after
        .iter()
        .map(|(site, (bytes, count))| {
            let (b0, c0) = before.get(site).copied().unwrap_or((0.0, 0.0));
            (site, (bytes - b0) * scale, (count - c0) * scale)
        })
        .collect();
    growth.sort_by(|a, b| b.1.total_cmp(&a.1));
    let live_growth = num(&last["live_bytes"]) - num(&first["live_bytes"]);
    let mut out = format!(
        "heap: live bytes {:.2} MB -> {:.2} MB over {seconds} s ({:+.1} KB/s); \
         sites by estimated growth (sampled x {scale}):\n",
        num(&first["live_bytes"]) / 1e6,
        num(&last["live_bytes"]) / 1e6,
        live_growth / 1e3 / seconds.max(1) as f64,
    );
    for (site, bytes, count) in growth.iter().take(TOP) {
        out.push_str(&format!(
            "\n{:+9.1} KB {:+8.0} allocations\n",
            bytes / 1e3,
            count
        ));
        for frame in site.lines() {
            out.push_str(&format!("      {frame}\n"));
        }
    }
    out
}
