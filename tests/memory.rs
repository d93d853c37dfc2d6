//! Component tests in headless Chromium: a console left open under a busy environment or a
//! fast log keeps its memory. Rows come and go all the time in the windowed service table
//! (scrolling, re-sorting as statuses change) and in the log viewer (lines streaming past);
//! nothing may keep them alive after they go.
//!
//! This test binary counts the bytes the app has allocated and not freed (its own global
//! allocator), which the browser's memory figures cannot show: wasm memory never shrinks.
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use shipwatch::log_viewer::{LogModel, LogViewer};
use shipwatch_logview::StoreLimits;
use shipwatch_model::protocol::Change;
use shipwatch_model::{LogLevel, LogLine, RunningStatus};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use support::{
    attrs, big_state, install_styles, mount, mount_table, scroll_to_end_and_back, until,
};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Bytes allocated and not yet freed.
static LIVE: AtomicUsize = AtomicUsize::new(0);

struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[wasm_bindgen_test]
async fn rows_that_come_and_go_give_their_memory_back() {
    let st = big_state();
    let host = mount_table("big", st, None::<String>);
    let rows = || attrs(&host, "tr.service-row", "data-service");
    until("the first rows", || !rows().is_empty()).await;
    // One round: statuses change (so the order changes at the next re-sort), and the table
    // is scrolled to its end and back, each jump rendering a screenful of new rows.
    let mut flip = false;
    let mut round = || {
        flip = !flip;
        let status = if flip {
            RunningStatus::Error
        } else {
            RunningStatus::Running
        };
        let changes = (0..40)
            .filter_map(|i| st.service(&format!("svc-{:04}", i * 7)))
            .map(|sig| {
                let mut s = sig.get_untracked();
                s.instances[0].status = status;
                Change::ServiceUpsert(s)
            })
            .collect::<Vec<_>>();
        st.apply_changes(changes);
        let host = host.clone();
        async move {
            scroll_to_end_and_back(&host, |rows| rows.iter().any(|r| r == "svc-0000")).await;
        }
    };
    for _ in 0..5 {
        round().await;
    }
    let before = LIVE.load(Ordering::Relaxed);
    // Thousands of rows: many generations of row owners (see keyed_list.rs).
    for _ in 0..60 {
        round().await;
    }
    let after = LIVE.load(Ordering::Relaxed);
    let grown = after.saturating_sub(before);
    window().scroll_to_with_x_and_y(0.0, 0.0);
    // Measured: about 0.1 MB kept (rows not yet given back by the list's next rebuild), and
    // 3.6 MB when the services' signals kept every row that ever read them.
    assert!(
        grown < 1_000_000,
        "60 rounds of rows coming and going kept {grown} bytes ({before} -> {after})"
    );
}

#[wasm_bindgen_test]
async fn a_streaming_log_gives_back_the_rows_that_scroll_away() {
    install_styles();
    // A small store, so that the kept lines stop growing once it is full.
    let model = LogModel::with_limits(StoreLimits {
        max_lines: 2_000,
        ..StoreLimits::default()
    });
    let whole_log: Option<String> = None;
    let host = mount(move || {
        view! {
            <LogViewer model start=Some(0) live=true file_name="stream.log".to_string() whole_log />
        }
    });
    let mut last = 0_u64;
    // Each batch moves the followed screen past all its rows: a screenful of new rows.
    let mut batch = move |lines: u64| {
        model.push_lines((last + 1..=last + lines).map(|n| LogLine {
            n,
            ts: n * 10,
            stage: "build".into(),
            level: LogLevel::Info,
            text: format!("\x1b[32mstep\x1b[0m {n}: compiling"),
            hint: None,
        }));
        last += lines;
        last
    };
    let last_row = || attrs(&host, "[role=listitem]", "data-line").last().cloned();
    for _ in 0..10 {
        let n = batch(300);
        until("the streamed lines", || last_row() == Some(n.to_string())).await;
    }
    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..150 {
        let n = batch(100);
        until("the streamed lines", || last_row() == Some(n.to_string())).await;
    }
    let after = LIVE.load(Ordering::Relaxed);
    let grown = after.saturating_sub(before);
    // Measured: about 8 KB kept, and 224 KB when every row's owner stayed listed in the
    // list's owner (Leptos' `<For>`).
    assert!(
        grown < 64_000,
        "150 screenfuls of streamed lines kept {grown} bytes ({before} -> {after})"
    );
}
