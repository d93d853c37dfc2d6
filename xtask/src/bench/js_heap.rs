//! `cargo xtask profile js-heap [SECONDS] [--sort-name]`: what the page's JS heap keeps under
//! the update workload. Takes a DevTools heap snapshot after a minute of the workload and
//! another `SECONDS` later, and prints the groups (constructors, as DevTools' Summary view
//! groups them) whose count and size grew the most, with the DOM counters. Both snapshots are
//! written to `target/` for DevTools' Memory panel (Load, then Comparison).

use super::devtools::DevTools;
use super::profile::open_update_workload;
use crate::cmd::{root, Result};
use crate::flags;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::thread::sleep;
use std::time::Duration;

/// Seconds of the workload before the first snapshot: the bench's first memory sample.
const WARM_UP: u64 = 60;
/// Seconds between two readings of the used heap size.
const TREND_EVERY: u64 = 20;
/// V8 heap groups printed (and half as many embedder groups).
const TOP: usize = 30;

/// Count and self size (bytes) of one group of heap objects.
type Group = (f64, f64);

/// Runs the workload and prints the growth by group.
pub fn js_heap_growth(w: &flags::Workload) -> Result {
    let seconds = w.seconds.unwrap_or(240);
    let (_server, b) = open_update_workload(&root().join("dist"), w)?;
    let address = b
        .debugger_address()
        .ok_or("chromedriver did not say where Chromium's DevTools listen")?;
    let mut devtools = DevTools::connect(&address)?;
    sleep(Duration::from_secs(WARM_UP));
    let first = reading(&mut devtools, "first")?;
    // The trend between the snapshots (steady growth or a level reached), with the feed's
    // rate and the page's size to tell a heap that grows from a workload that changed.
    evaluate(&mut devtools, "window.__benchProbe.start(); 0")?;
    let mut at = 0;
    while at < seconds {
        let step = TREND_EVERY.min(seconds - at);
        sleep(Duration::from_secs(step));
        at += step;
        let used = used_after_gc(&mut devtools)?;
        // V8's own split: its heap, the embedder's (Blink's C++ objects), array buffers.
        let usage = devtools.call("Runtime.getHeapUsage", json!({}), |_, _| {})?;
        let mb = |key: &str| usage[key].as_f64().unwrap_or(f64::NAN) / 1e6;
        let page = evaluate(
            &mut devtools,
            "(() => { const p = window.__benchProbe; const n = p.feed.upserts; \
             p.feed.upserts = 0; p.frames = []; \
             return [n, document.getElementsByTagName('*').length]; })()",
        )?;
        println!(
            "js heap: {:>4} s  usedJSHeapSize {:.3} MB  (V8 heap {:.3} MB, embedder {:.3} MB, \
             array buffers {:.3} MB)  {:>5.0} events/s  {} elements",
            WARM_UP + at,
            used / 1e6,
            mb("usedSize"),
            mb("embedderHeapUsedSize"),
            mb("backingStorageSize"),
            page[0].as_f64().unwrap_or(f64::NAN) / step as f64,
            page[1],
        );
    }
    let last = reading(&mut devtools, "last")?;
    let report = growth_report(&first, &last, seconds);
    println!("{report}");
    let out = root().join("target/profile-js-heap.txt");
    std::fs::write(&out, &report).map_err(|e| e.to_string())?;
    eprintln!("profile: written to {}", out.display());
    Ok(())
}

/// What one reading saw: groups, DOM counters and the heap's used size.
struct Reading {
    groups: HashMap<String, Group>,
    dom: Value,
    used: f64,
}

/// A heap snapshot (saved as `target/js-heap-{name}.heapsnapshot`) and the DOM counters.
fn reading(devtools: &mut DevTools, name: &str) -> Result<Reading> {
    let used = used_after_gc(devtools)?;
    let snapshot = devtools.heap_snapshot()?;
    let path = root().join(format!("target/js-heap-{name}.heapsnapshot"));
    std::fs::write(&path, snapshot.to_string()).map_err(|e| e.to_string())?;
    let dom = devtools.call("Memory.getDOMCounters", json!({}), |_, _| {})?;
    Ok(Reading {
        groups: groups(&snapshot)?,
        dom,
        used,
    })
}

/// The value of a JS expression in the page.
fn evaluate(devtools: &mut DevTools, expression: &str) -> Result<Value> {
    let v = devtools.call(
        "Runtime.evaluate",
        json!({"expression": expression, "returnByValue": true}),
        |_, _| {},
    )?;
    match v.get("exceptionDetails") {
        Some(e) => Err(format!("{expression}: {e}")),
        None => Ok(v["result"]["value"].clone()),
    }
}

/// `performance.memory.usedJSHeapSize` after a garbage collection, as the bench reads it.
fn used_after_gc(devtools: &mut DevTools) -> Result<f64> {
    evaluate(devtools, "gc(); performance.memory.usedJSHeapSize")?
        .as_f64()
        .ok_or_else(|| "no usedJSHeapSize (is gc() exposed?)".into())
}

/// Objects of a snapshot by group: the constructor name for objects and DOM (native) nodes
/// ("Detached " when out of the document; an element by its tag and first class), the
/// function name for closures, and DevTools' parenthesised kinds for the rest. Embedder
/// (Blink, C++) objects are marked "[native]": `usedJSHeapSize` counts V8's heap only.
fn groups(snapshot: &Value) -> Result<HashMap<String, Group>> {
    let meta = &snapshot["snapshot"]["meta"];
    let fields: Vec<&str> = meta["node_fields"]
        .as_array()
        .ok_or("heap snapshot without node_fields")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let field = |name: &str| fields.iter().position(|f| *f == name);
    let (Some(ty), Some(nm), Some(size)) = (field("type"), field("name"), field("self_size"))
    else {
        return Err("heap snapshot without type/name/self_size".into());
    };
    let detached = field("detachedness");
    let types: Vec<&str> = meta["node_types"][0]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let strings = snapshot["strings"].as_array().ok_or("no strings")?;
    let nodes = snapshot["nodes"].as_array().ok_or("no nodes")?;
    let at = |i: usize| nodes.get(i).and_then(Value::as_u64).unwrap_or(0) as usize;
    let text = |i: usize| strings.get(i).and_then(Value::as_str).unwrap_or("?");
    let mut out: HashMap<String, Group> = HashMap::new();
    for node in (0..nodes.len()).step_by(fields.len()) {
        let kind = types.get(at(node + ty)).copied().unwrap_or("?");
        let name = text(at(node + nm));
        let key = match kind {
            "object" | "native" => {
                let gone = if detached.is_some_and(|d| at(node + d) == 2) {
                    "Detached "
                } else {
                    ""
                };
                let native = if kind == "native" { " [native]" } else { "" };
                format!("{gone}{}{native}", element(name))
            }
            "closure" => format!("(closure) {}", clip(name, 50)),
            "array" => format!("(array) {}", clip(name, 40)),
            "string" | "concatenated string" | "sliced string" => "(string)".into(),
            "code" => "(compiled code)".into(),
            "hidden" => format!("(system) {}", clip(name, 40)),
            "synthetic" => continue,
            other => format!("({other})"),
        };
        let g = out.entry(key).or_default();
        g.0 += 1.0;
        g.1 += at(node + size) as f64;
    }
    Ok(out)
}

/// A DOM element's outer HTML as its tag and first class (`<div class="tooltip">`); other
/// names as they are, clipped.
fn element(name: &str) -> String {
    let Some(tag) = name.strip_prefix('<') else {
        return clip(name, 60);
    };
    let tag = tag.split([' ', '>']).next().unwrap_or("");
    let class = name
        .split_once("class=\"")
        .and_then(|(_, rest)| rest.split(['"', ' ']).next());
    match class {
        Some(c) => format!("<{tag} class=\"{c}\">"),
        None => format!("<{tag}>"),
    }
}

fn clip(name: &str, chars: usize) -> String {
    name.chars().take(chars).collect()
}

/// The groups whose self size grew the most between two readings, V8's first, then the
/// DOM counters.
fn growth_report(first: &Reading, last: &Reading, seconds: u64) -> String {
    let native = |k: &str| k.ends_with("[native]");
    let total = |r: &Reading, of_native: bool| -> f64 {
        r.groups
            .iter()
            .filter(|(k, _)| native(k) == of_native)
            .map(|(_, g)| g.1)
            .sum()
    };
    let mut out = format!(
        "js heap: usedJSHeapSize after gc {:.3} -> {:.3} MB over {seconds} s (from {WARM_UP} s \
         of the update workload); snapshot: V8 objects {:.3} -> {:.3} MB, embedder (Blink) \
         objects {:.3} -> {:.3} MB\n",
        first.used / 1e6,
        last.used / 1e6,
        total(first, false) / 1e6,
        total(last, false) / 1e6,
        total(first, true) / 1e6,
        total(last, true) / 1e6,
    );
    let mut rows: Vec<(&str, Group, Group)> = last
        .groups
        .iter()
        .map(|(k, g)| {
            (
                k.as_str(),
                first.groups.get(k).copied().unwrap_or_default(),
                *g,
            )
        })
        .chain(
            first
                .groups
                .iter()
                .filter(|(k, _)| !last.groups.contains_key(*k))
                .map(|(k, g)| (k.as_str(), *g, (0.0, 0.0))),
        )
        .collect();
    rows.sort_by(|a, b| (b.2 .1 - b.1 .1).total_cmp(&(a.2 .1 - a.1 .1)));
    for (title, of_native, top) in [
        ("V8 heap (what usedJSHeapSize counts)", false, TOP),
        ("embedder (Blink) objects", true, TOP / 2),
    ] {
        out.push_str(&format!(
            "\n{title}:\n{:>10} {:>18} {:>20}  group\n",
            "size +KB", "count", "size KB"
        ));
        for (name, a, z) in rows.iter().filter(|r| native(r.0) == of_native).take(top) {
            out.push_str(&format!(
                "{:>+10.1} {:>8} -> {:<8} {:>8.1} -> {:<8.1}  {name}\n",
                (z.1 - a.1) / 1e3,
                a.0,
                z.0,
                a.1 / 1e3,
                z.1 / 1e3,
            ));
        }
    }
    out.push_str("\nDOM counters (Memory.getDOMCounters):\n");
    for key in ["documents", "nodes", "jsEventListeners"] {
        out.push_str(&format!(
            "{key:>18}: {} -> {}\n",
            first.dom[key], last.dom[key]
        ));
    }
    out
}
