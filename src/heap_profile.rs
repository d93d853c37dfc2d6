//! A sampling heap profiler for finding leaks in the running page (feature `heap-profile`,
//! built by `cargo xtask profile heap`; never in the shipped app).
//!
//! The browser's memory tools see the wasm heap as one opaque `ArrayBuffer`, so they cannot say
//! which Rust code keeps memory alive. This allocator counts every live allocation and, for
//! one allocation in `SAMPLE_EVERY`, records the JavaScript stack of the call (which, in a
//! build that keeps function names, names the Rust functions). A leak is then a call site
//! whose live sampled allocations keep growing. `window.__shipwatchHeap()` returns the counts
//! and the live sampled sites as JSON.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use wasm_bindgen::prelude::*;

/// One allocation in this many gets its stack recorded.
const SAMPLE_EVERY: u64 = 61;
/// Frames of a stack kept after the allocator's own frames are dropped.
const FRAMES_KEPT: usize = 14;

/// The global allocator of a profiling build.
pub struct Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// wasm32-unknown-unknown runs the app on one thread, so plain thread-locals are enough.
thread_local! {
    static LIVE_BYTES: Cell<usize> = const { Cell::new(0) };
    static LIVE_COUNT: Cell<usize> = const { Cell::new(0) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// Set while the profiler itself runs, so that its own allocations are not sampled.
    static BUSY: Cell<bool> = const { Cell::new(false) };
    static SAMPLES: RefCell<Samples> = RefCell::new(Samples::default());
}

#[derive(Default)]
struct Samples {
    /// Live sampled allocation: address -> (site, size).
    live: HashMap<usize, (u32, usize)>,
    /// Site (a stack, trimmed) -> its index.
    site_index: HashMap<String, u32>,
    sites: Vec<String>,
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            on_alloc(ptr as usize, layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        on_free(ptr as usize, layout.size());
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = System.realloc(ptr, layout, new_size);
        if !new.is_null() {
            on_free(ptr as usize, layout.size());
            on_alloc(new as usize, new_size);
        }
        new
    }
}

fn on_alloc(addr: usize, size: usize) {
    LIVE_BYTES.with(|b| b.set(b.get() + size));
    LIVE_COUNT.with(|c| c.set(c.get() + 1));
    let n = ALLOCATIONS.with(|a| {
        a.set(a.get() + 1);
        a.get()
    });
    if !n.is_multiple_of(SAMPLE_EVERY) || BUSY.with(Cell::get) {
        return;
    }
    BUSY.with(|b| b.set(true));
    let stack = js_stack();
    SAMPLES.with(|s| {
        let mut s = s.borrow_mut();
        let next = s.sites.len() as u32;
        let site = *s.site_index.entry(stack.clone()).or_insert(next);
        if site == next {
            s.sites.push(stack);
        }
        s.live.insert(addr, (site, size));
    });
    BUSY.with(|b| b.set(false));
}

fn on_free(addr: usize, size: usize) {
    LIVE_BYTES.with(|b| b.set(b.get().saturating_sub(size)));
    LIVE_COUNT.with(|c| c.set(c.get().saturating_sub(1)));
    if BUSY.with(Cell::get) {
        return;
    }
    BUSY.with(|b| b.set(true));
    SAMPLES.with(|s| s.borrow_mut().live.remove(&addr));
    BUSY.with(|b| b.set(false));
}

#[wasm_bindgen(inline_js = "export function js_stack() { \
    const limit = Error.stackTraceLimit; Error.stackTraceLimit = 60; \
    const s = new Error().stack || ''; Error.stackTraceLimit = limit; return s; }")]
extern "C" {
    #[wasm_bindgen(js_name = js_stack)]
    fn raw_js_stack() -> String;
}

/// The calling stack's wasm function names, without the allocator's and the JS glue's.
fn js_stack() -> String {
    let raw = raw_js_stack();
    raw.lines()
        .filter_map(|line| {
            let f = line.trim().strip_prefix("at ")?;
            let name = f.split(" (").next().unwrap_or(f);
            // Only Rust frames; drop the profiler, the allocator and std's alloc plumbing.
            let rusty = name.contains("::") || name.starts_with('<');
            let plumbing = [
                "heap_profile",
                "__rust_",
                "alloc::alloc",
                "raw_vec",
                "RawVec",
            ]
            .iter()
            .any(|p| name.contains(p));
            (rusty && !plumbing).then(|| name.to_string())
        })
        .take(FRAMES_KEPT)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Installs `window.__shipwatchHeap()`: live bytes and count, and the live sampled
/// allocations grouped by site (estimated bytes = sampled bytes x `SAMPLE_EVERY`).
pub fn install() {
    let report = Closure::<dyn Fn() -> String>::new(report);
    let _ = js_sys::Reflect::set(
        &leptos::prelude::window(),
        &JsValue::from_str("__shipwatchHeap"),
        report.as_ref(),
    );
    report.forget();
}

fn report() -> String {
    BUSY.with(|b| b.set(true));
    let out = SAMPLES.with(|s| {
        let s = s.borrow();
        let mut by_site: HashMap<u32, (usize, usize)> = HashMap::new();
        for (site, size) in s.live.values() {
            let e = by_site.entry(*site).or_default();
            e.0 += 1;
            e.1 += size;
        }
        let sites: Vec<serde_json::Value> = by_site
            .into_iter()
            .map(|(site, (count, bytes))| {
                serde_json::json!({
                    "site": s.sites[site as usize],
                    "count": count,
                    "bytes": bytes,
                })
            })
            .collect();
        serde_json::json!({
            "live_bytes": LIVE_BYTES.with(Cell::get),
            "live_count": LIVE_COUNT.with(Cell::get),
            "allocations": ALLOCATIONS.with(Cell::get),
            "sample_every": SAMPLE_EVERY,
            "sites": sites,
        })
        .to_string()
    });
    BUSY.with(|b| b.set(false));
    out
}
