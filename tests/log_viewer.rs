//! Component tests of the deployment log viewer in headless Chromium: a viewer is fed lines
//! directly (no server) and checked the way a user sees it: rows on screen, marks, search,
//! follow and pause, permalinks, and log text that stays text.
#![cfg(target_arch = "wasm32")]

mod support;

use leptos::prelude::*;
use shipwatch::log_viewer::{LogModel, LogViewer, ROW_HEIGHT};
use shipwatch_logview::StoreLimits;
use shipwatch_model::{LogLevel, LogLine};
use support::install_styles;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const T0: u64 = 1_700_000_000_000;

/// Where the mounted viewers are told the server serves the whole log.
const WHOLE_LOG: &str = "/api/deployments/dep-9/log.txt?token=s3cret";

/// Mounts a viewer of `model` in a fresh container and returns the container.
fn mount_viewer(model: LogModel) -> web_sys::HtmlElement {
    mount_viewer_with(model, Some(WHOLE_LOG))
}

/// Like [`mount_viewer`], with or without a server that serves the whole log.
fn mount_viewer_with(model: LogModel, whole_log: Option<&'static str>) -> web_sys::HtmlElement {
    install_styles();
    let doc = document();
    // One viewer on screen at a time: earlier tests' viewers are removed.
    while let Some(old) = doc.query_selector(".test-host").unwrap() {
        old.remove();
    }
    let host: web_sys::HtmlElement = doc.create_element("div").unwrap().unchecked_into();
    host.set_class_name("test-host");
    doc.body().unwrap().append_child(&host).unwrap();
    leptos::mount::mount_to(host.clone(), move || {
        view! {
            <LogViewer
                model
                start=Some(T0)
                live=true
                file_name="test.log".to_string()
                whole_log=whole_log.map(str::to_string)
            />
        }
    })
    .forget();
    host
}

fn line(n: u64, stage: &str, level: LogLevel, text: &str) -> LogLine {
    LogLine {
        n,
        ts: T0 + n * 10,
        stage: stage.into(),
        level,
        text: text.into(),
        hint: None,
    }
}

fn info_lines(from: u64, to: u64) -> Vec<LogLine> {
    (from..=to)
        .map(|n| {
            line(
                n,
                "build",
                LogLevel::Info,
                &format!("\x1b[32mstep\x1b[0m {n}: compiling"),
            )
        })
        .collect()
}

async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// Lets the feed-like batch, the effects and a frame run.
async fn settle() {
    sleep(60).await;
}

fn query(host: &web_sys::Element, css: &str) -> web_sys::HtmlElement {
    host.query_selector(css)
        .unwrap()
        .unwrap_or_else(|| panic!("no element {css}"))
        .unchecked_into()
}

fn try_query(host: &web_sys::Element, css: &str) -> Option<web_sys::Element> {
    host.query_selector(css).unwrap()
}

/// The line numbers of the rows in the DOM, in order.
fn rendered_lines(host: &web_sys::Element) -> Vec<u64> {
    let rows = host.query_selector_all(".log-row").unwrap();
    (0..rows.length())
        .filter_map(|i| rows.item(i))
        .filter_map(|r| {
            r.unchecked_into::<web_sys::Element>()
                .get_attribute("data-line")
        })
        .filter_map(|v| v.parse().ok())
        .collect()
}

/// The line numbers of the rows that are at least half visible in the scroller.
fn visible_lines(host: &web_sys::Element) -> Vec<u64> {
    let scroller = query(host, ".log-scroll");
    let frame = scroller.get_bounding_client_rect();
    let rows = host.query_selector_all(".log-row").unwrap();
    (0..rows.length())
        .filter_map(|i| rows.item(i))
        .map(|r| r.unchecked_into::<web_sys::Element>())
        .filter(|r| {
            let b = r.get_bounding_client_rect();
            let mid = (b.top() + b.bottom()) / 2.0;
            mid > frame.top() && mid < frame.bottom()
        })
        .filter_map(|r| r.get_attribute("data-line")?.parse().ok())
        .collect()
}

fn region(host: &web_sys::Element) -> web_sys::HtmlElement {
    query(host, "[role=region][aria-label='Deployment logs']")
}

fn button_with_text(host: &web_sys::Element, text: &str) -> Option<web_sys::HtmlElement> {
    let buttons = host.query_selector_all("button").unwrap();
    (0..buttons.length())
        .filter_map(|i| buttons.item(i))
        .map(|b| b.unchecked_into::<web_sys::HtmlElement>())
        .find(|b| b.text_content().unwrap_or_default().contains(text))
}

/// The `<a download>` that reads "Download whole log", if there is one.
fn whole_log_link(host: &web_sys::Element) -> Option<web_sys::HtmlElement> {
    let links = host.query_selector_all("a[download]").unwrap();
    (0..links.length())
        .filter_map(|i| links.item(i))
        .map(|a| a.unchecked_into::<web_sys::HtmlElement>())
        .find(|a| a.text_content().unwrap_or_default().trim() == "Download whole log")
}

fn scroll_to(host: &web_sys::Element, top: i32) {
    let scroller = query(host, ".log-scroll");
    scroller.set_scroll_top(top);
    scroller
        .dispatch_event(&web_sys::Event::new("scroll").unwrap())
        .unwrap();
}

fn type_search(host: &web_sys::Element, text: &str) {
    let input: web_sys::HtmlInputElement = query(host, "input[type=search]").unchecked_into();
    input.set_value(text);
    let f = js_sys::Function::new_with_args(
        "el",
        "el.dispatchEvent(new Event('input', {bubbles: true}))",
    );
    f.call1(&wasm_bindgen::JsValue::NULL, &input).unwrap();
}

fn key(target: &web_sys::Element, key: &str, ctrl: bool) {
    let f = js_sys::Function::new_with_args(
        "el, key, ctrl",
        "el.dispatchEvent(new KeyboardEvent('keydown', {key, ctrlKey: ctrl, bubbles: true, cancelable: true}))",
    );
    f.call3(
        &wasm_bindgen::JsValue::NULL,
        target,
        &key.into(),
        &ctrl.into(),
    )
    .unwrap();
}

#[wasm_bindgen_test]
async fn follows_the_tail_then_pauses_on_scroll_up_and_jumps_back_with_a_count() {
    let model = LogModel::new();
    let host = mount_viewer(model);
    model.push_lines(info_lines(1, 2_000));
    settle().await;
    let rendered = rendered_lines(&host);
    assert!(
        rendered.len() < 120,
        "only the window is in the DOM: {} rows",
        rendered.len()
    );
    assert_eq!(
        visible_lines(&host).last(),
        Some(&2_000),
        "the newest line is on screen"
    );
    assert_eq!(
        region(&host).get_attribute("data-following").as_deref(),
        Some("true")
    );

    // More lines while following: the view moves with them.
    model.push_lines(info_lines(2_001, 2_100));
    settle().await;
    assert_eq!(visible_lines(&host).last(), Some(&2_100));

    // Scrolling up pauses following, and new lines don't move what the user reads.
    scroll_to(&host, (ROW_HEIGHT as i32) * 1_000);
    settle().await;
    let reading = visible_lines(&host);
    assert!(
        reading.contains(&1_001),
        "line 1001 is at the top: {reading:?}"
    );
    assert_eq!(
        region(&host).get_attribute("data-following").as_deref(),
        Some("false")
    );
    model.push_lines(info_lines(2_101, 2_137));
    settle().await;
    assert_eq!(visible_lines(&host), reading, "the view did not move");
    let jump = query(&host, "button.log-jump");
    let label = jump.text_content().unwrap();
    assert!(label.contains("37 new lines"), "{label}");

    jump.click();
    settle().await;
    assert_eq!(visible_lines(&host).last(), Some(&2_137));
    assert_eq!(
        region(&host).get_attribute("data-following").as_deref(),
        Some("true")
    );
    assert!(
        try_query(&host, "button.log-jump").is_none(),
        "following again: no jump button"
    );
}

#[wasm_bindgen_test]
async fn the_newest_line_stays_on_screen_when_the_scroller_shrinks_while_following() {
    let model = LogModel::new();
    let host = mount_viewer(model);
    model.push_lines(info_lines(1, 300));
    settle().await;
    assert_eq!(visible_lines(&host).last(), Some(&300));
    // On the page the first-error summary appears above the scroller mid-stream and the
    // scroller gives it ~100 px; the window keeps its size. Here the scroller shrinks the
    // same way, by a style.
    let doc = document();
    let style = doc.create_element("style").unwrap();
    style.set_text_content(Some(".test-host .log-scroll { height: 160px !important; }"));
    doc.body().unwrap().append_child(&style).unwrap();
    settle().await;
    settle().await;
    let last = visible_lines(&host).last().copied();
    style.remove();
    assert_eq!(
        last,
        Some(300),
        "the newest line is on screen, not hidden under the scroller's new bottom"
    );
}

#[wasm_bindgen_test]
async fn search_finds_a_line_that_is_not_in_the_dom_and_scrolls_to_it() {
    let model = LogModel::new();
    let host = mount_viewer(model);
    let mut lines = info_lines(1, 5_000);
    lines[122].text = "connect \x1b[1mECONNREFUSED\x1b[0m needle-4321".into();
    lines[3_999].text = "second NEEDLE-4321 here".into();
    model.push_lines(lines);
    settle().await;
    assert!(
        !rendered_lines(&host).contains(&123),
        "line 123 starts outside the DOM"
    );

    type_search(&host, "needle-4321");
    sleep(400).await;
    let status = query(&host, ".log-search__status").text_content().unwrap();
    assert!(
        status.contains("of 2"),
        "both matches counted (case-insensitive): {status}"
    );
    // Match 1 is line 123 or 4000 depending on where the view was: step to line 123.
    if !visible_lines(&host).contains(&123) {
        query(&host, "button[aria-label='Next match']").click();
        settle().await;
    }
    assert!(
        visible_lines(&host).contains(&123),
        "scrolled to line 123: {:?}",
        visible_lines(&host)
    );
    let row = query(&host, ".log-row[data-line='123']");
    let mark = row
        .query_selector("mark.log-mark--current")
        .unwrap()
        .expect("the current match is highlighted");
    assert_eq!(mark.text_content().unwrap(), "needle-4321");

    // Case-sensitive: only the upper-case one.
    query(&host, "button[aria-label='Match case']").click();
    type_search(&host, "NEEDLE");
    sleep(400).await;
    let status = query(&host, ".log-search__status").text_content().unwrap();
    assert!(status.contains("1 of 1"), "{status}");
    assert!(visible_lines(&host).contains(&4_000));

    // A bad regular expression says so and does not break anything.
    query(&host, "button[aria-label='Regular expression']").click();
    type_search(&host, "needle(");
    sleep(400).await;
    let status = query(&host, ".log-search__status").text_content().unwrap();
    assert!(status.contains("invalid regular expression"), "{status}");

    // Escape leaves the search box for the log.
    let input = query(&host, "input[type=search]");
    input.focus().unwrap();
    key(&input, "Escape", false);
    settle().await;
    let active = document().active_element().unwrap();
    assert!(
        active.class_list().contains("log-scroll"),
        "focus is on the log"
    );
    // `/` brings it back.
    key(&active, "/", false);
    settle().await;
    assert_eq!(
        document().active_element().unwrap().tag_name(),
        "INPUT",
        "`/` focuses the search box"
    );
}

#[wasm_bindgen_test]
async fn errors_are_marked_in_text_and_the_failing_stage_is_selected() {
    let model = LogModel::new();
    let host = mount_viewer(model);
    let mut lines = vec![
        line(1, "build", LogLevel::Info, "Step 1/3 : FROM rust"),
        line(2, "build", LogLevel::Warning, "warning: unused import"),
        line(3, "build", LogLevel::Info, "Finished release"),
        line(4, "test", LogLevel::Info, "running 12 tests"),
        line(
            5,
            "test",
            LogLevel::Error,
            "\x1b[31mFAILED\x1b[0m db::connects: ECONNREFUSED",
        ),
        line(6, "test", LogLevel::Error, "test result: FAILED"),
    ];
    lines[4].hint = Some("Check the DATABASE_URL secret".into());
    model.push_lines(lines);
    settle().await;

    let error = query(&host, ".log-row[data-line='5']");
    assert!(error.class_list().contains("log-row--error"));
    let badge = error
        .query_selector(".log-badge")
        .unwrap()
        .expect("a badge");
    assert_eq!(
        badge.text_content().unwrap(),
        "ERROR",
        "marked in text, not only colour"
    );
    // The failing stage is picked: its button is pressed and says "failed".
    let test_stage = query(&host, ".log-stage[data-stage='test']");
    assert_eq!(
        test_stage.get_attribute("aria-pressed").as_deref(),
        Some("true")
    );
    assert!(test_stage.text_content().unwrap().contains("failed"));
    let build_stage = query(&host, ".log-stage[data-stage='build']");
    assert_eq!(
        build_stage.get_attribute("aria-pressed").as_deref(),
        Some("false")
    );
    assert!(build_stage.text_content().unwrap().contains("passed"));
    assert_eq!(
        rendered_lines(&host),
        vec![4, 5, 6],
        "only the failing stage's lines"
    );

    // The first error, its hint, and a way to it.
    let summary = query(&host, "[aria-label='First error']");
    let text = summary.text_content().unwrap();
    assert!(
        text.contains("line 5") && text.contains("Check the DATABASE_URL secret"),
        "{text}"
    );
    // Another stage, then one click back to the error.
    build_stage.click();
    settle().await;
    assert_eq!(rendered_lines(&host), vec![1, 2, 3]);
    // Warnings are marked too, and differently.
    let warning = query(&host, ".log-row[data-line='2']");
    assert_eq!(
        warning
            .query_selector(".log-badge")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap(),
        "WARN"
    );
    assert!(!warning.class_list().contains("log-row--error"));

    button_with_text(&host, "Go to line 5").unwrap().click();
    settle().await;
    assert!(visible_lines(&host).contains(&5));
    assert!(query(&host, ".log-row[data-line='5']")
        .class_list()
        .contains("log-row--selected"));
}

#[wasm_bindgen_test]
async fn a_line_holding_html_is_shown_as_text_and_creates_no_element() {
    let model = LogModel::new();
    let host = mount_viewer(model);
    let evil = "<img src=x onerror=alert(1)>";
    model.push_lines(vec![
        line(1, "build", LogLevel::Info, evil),
        line(
            2,
            "build",
            LogLevel::Info,
            "\x1b[31m<script>alert(2)</script>\x1b[0m <b>bold?</b>",
        ),
    ]);
    settle().await;
    assert!(
        host.query_selector("img").unwrap().is_none(),
        "no img element"
    );
    assert!(host.query_selector("script").unwrap().is_none());
    assert!(host.query_selector(".log-row b").unwrap().is_none());
    let row = query(&host, ".log-row[data-line='1'] .log-row__text");
    assert_eq!(row.text_content().unwrap(), evil);
    let row = query(&host, ".log-row[data-line='2'] .log-row__text");
    assert_eq!(
        row.text_content().unwrap(),
        "<script>alert(2)</script> <b>bold?</b>"
    );
    // The colour came through as a class, the escape did not.
    assert!(row.query_selector(".ansi-fg-1").unwrap().is_some());
}

#[wasm_bindgen_test]
async fn lines_that_never_arrived_are_named() {
    let model = LogModel::new();
    let host = mount_viewer(model);
    model.push_lines(info_lines(1, 12));
    settle().await;
    assert!(try_query(&host, ".log-notice--gap").is_none(), "no gap yet");
    // 13 to 20 never come.
    model.push_lines(info_lines(21, 30));
    settle().await;
    let notice = || query(&host, ".log-notice--gap").text_content().unwrap();
    assert_eq!(notice(), "Lines 13-20 were not received.");
    model.push_lines(info_lines(32, 33));
    settle().await;
    assert_eq!(notice(), "Lines 13-20 and 31 were not received.");
}

#[wasm_bindgen_test]
async fn a_permalink_opens_at_its_line_and_clicking_a_number_sets_one() {
    let history = window().history().unwrap();
    history
        .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("#L2500"))
        .unwrap();
    let model = LogModel::new();
    let host = mount_viewer(model);
    model.push_lines(info_lines(1, 5_000));
    settle().await;
    let visible = visible_lines(&host);
    assert!(visible.contains(&2_500), "line 2500 on screen: {visible:?}");
    let row = query(&host, ".log-row[data-line='2500']");
    assert!(row.class_list().contains("log-row--selected"));
    assert_eq!(
        region(&host).get_attribute("data-following").as_deref(),
        Some("false")
    );

    // Clicking another line number selects it and puts it in the URL.
    query(&host, ".log-row[data-line='2503'] .log-row__n").click();
    settle().await;
    assert_eq!(window().location().hash().unwrap(), "#L2503");
    assert!(query(&host, ".log-row[data-line='2503']")
        .class_list()
        .contains("log-row--selected"));
    assert!(!query(&host, ".log-row[data-line='2500']")
        .class_list()
        .contains("log-row--selected"));
    history
        .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("#"))
        .unwrap();
}

#[wasm_bindgen_test]
async fn home_and_end_jump_when_the_log_has_focus() {
    let model = LogModel::new();
    let host = mount_viewer(model);
    model.push_lines(info_lines(1, 3_000));
    settle().await;
    let scroller = query(&host, ".log-scroll");
    scroller.focus().unwrap();
    key(&scroller, "Home", false);
    settle().await;
    assert_eq!(visible_lines(&host).first(), Some(&1));
    key(&scroller, "End", false);
    settle().await;
    assert_eq!(visible_lines(&host).last(), Some(&3_000));
}

#[wasm_bindgen_test]
async fn evicted_lines_are_announced_with_a_download() {
    let model = LogModel::with_limits(StoreLimits {
        max_lines: 100,
        ..StoreLimits::default()
    });
    let host = mount_viewer(model);
    model.push_lines(info_lines(1, 250));
    settle().await;
    let notice = query(&host, ".log-notice--evicted");
    let text = notice.text_content().unwrap();
    assert!(text.contains("150 earlier lines are not kept"), "{text}");
    // The whole log comes from the server; the kept lines stay one click away.
    let whole = whole_log_link(&notice).expect("a link to the whole log");
    assert_eq!(whole.get_attribute("href").as_deref(), Some(WHOLE_LOG));
    assert!(button_with_text(&notice, "only the kept lines").is_some());
    assert_eq!(
        region(&host).get_attribute("data-first-line").as_deref(),
        Some("151")
    );
}

#[wasm_bindgen_test]
async fn six_hundred_thousand_lines_are_scaled_keep_the_dom_bounded_and_scroll_end_to_end() {
    let model = LogModel::new();
    let host = mount_viewer(model);
    // 600,000 rows of 24 px exceed the 10M px cap, so the scaled mapping is what's tested
    // (a million lines work the same; the benchmark hook measures that).
    let mut n = 1;
    while n <= 600_000 {
        // Short plain lines: this test is about rows and pixels, and debug wasm is slow.
        model.push_lines((n..n + 100_000).map(|n| line(n, "build", LogLevel::Info, "x")));
        n += 100_000;
    }
    settle().await;
    assert_eq!(visible_lines(&host).last(), Some(&600_000));
    assert!(rendered_lines(&host).len() < 120);
    let scroller = query(&host, ".log-scroll");
    assert!(
        scroller.scroll_height() < 11_000_000,
        "scaled under the cap: {}",
        scroller.scroll_height()
    );
    // The middle of the scrollbar shows the middle of the log.
    let max = scroller.scroll_height() - scroller.client_height();
    scroll_to(&host, max / 2);
    settle().await;
    let visible = visible_lines(&host);
    let mid = visible[visible.len() / 2];
    assert!(
        (290_000..=310_000).contains(&mid),
        "the middle: {visible:?}"
    );
    // Visible rows are consecutive lines (no overlap, no hole).
    assert!(visible.windows(2).all(|w| w[1] == w[0] + 1), "{visible:?}");
    scroll_to(&host, 0);
    settle().await;
    assert_eq!(visible_lines(&host).first(), Some(&1));
    assert!(rendered_lines(&host).len() < 120);
}

/// Tags the DOM element of a row so a later look can tell whether it is the same element.
fn tag_row(host: &web_sys::Element, n: u64) {
    query(host, &format!(".log-row[data-line='{n}']"))
        .set_attribute("data-test-tag", "kept")
        .unwrap();
}

fn row_is_tagged(host: &web_sys::Element, n: u64) -> bool {
    try_query(host, &format!(".log-row[data-line='{n}']"))
        .is_some_and(|r| r.get_attribute("data-test-tag").as_deref() == Some("kept"))
}

#[wasm_bindgen_test]
async fn rows_that_stay_on_screen_keep_their_elements_while_lines_stream_and_are_evicted() {
    let model = LogModel::with_limits(StoreLimits {
        max_lines: 300,
        ..StoreLimits::default()
    });
    let host = mount_viewer(model);
    model.push_lines(info_lines(1, 400));
    settle().await;
    assert_eq!(visible_lines(&host).last(), Some(&400));
    tag_row(&host, 398);
    tag_row(&host, 399);
    // A few more lines, each batch evicting as many from the front: every kept line moves
    // up one row number, but the rows still on screen are not rebuilt.
    for n in 401..=403 {
        model.push_lines(info_lines(n, n));
        settle().await;
    }
    assert_eq!(visible_lines(&host).last(), Some(&403), "still following");
    assert!(
        row_is_tagged(&host, 398) && row_is_tagged(&host, 399),
        "rows 398 and 399 kept their elements"
    );
    assert_eq!(
        region(&host).get_attribute("data-first-line").as_deref(),
        Some("104")
    );
}

#[wasm_bindgen_test]
async fn the_current_match_stays_on_its_line_when_earlier_lines_are_evicted() {
    let model = LogModel::with_limits(StoreLimits {
        max_lines: 500,
        ..StoreLimits::default()
    });
    let host = mount_viewer(model);
    let mut lines = info_lines(1, 400);
    for n in [10u64, 20, 300, 310] {
        lines[n as usize - 1].text = format!("needle at {n}");
    }
    model.push_lines(lines);
    settle().await;
    type_search(&host, "needle");
    sleep(400).await;
    // Step to the match on line 300.
    for _ in 0..4 {
        if try_query(&host, ".log-row[data-line='300'] mark.log-mark--current").is_some() {
            break;
        }
        query(&host, "button[aria-label='Next match']").click();
        settle().await;
    }
    assert!(try_query(&host, ".log-row[data-line='300'] mark.log-mark--current").is_some());
    let status = query(&host, ".log-search__status").text_content().unwrap();
    assert_eq!(status, "3 of 4");
    // 150 more lines evict lines 1-50 and their two matches.
    model.push_lines(info_lines(401, 550));
    settle().await;
    let status = query(&host, ".log-search__status").text_content().unwrap();
    assert_eq!(status, "1 of 2", "numbered among the kept lines");
    scroll_to(&host, 0);
    settle().await;
    let row = query(&host, ".log-viewer").get_attribute("data-first-line");
    assert_eq!(row.as_deref(), Some("51"));
    // The highlight is still on line 300, and Next goes on to line 310.
    query(&host, "button[aria-label='Next match']").click();
    settle().await;
    assert!(
        try_query(&host, ".log-row[data-line='310'] mark.log-mark--current").is_some(),
        "the next match after line 300 is line 310"
    );
}

#[wasm_bindgen_test]
async fn once_lines_are_let_go_the_download_is_the_whole_log_from_the_server() {
    let model = LogModel::with_limits(StoreLimits {
        max_lines: 100,
        ..StoreLimits::default()
    });
    let host = mount_viewer(model);
    model.push_lines(info_lines(1, 80));
    settle().await;
    let toolbar = query(&host, ".log-toolbar");
    let button = button_with_text(&toolbar, "Download").expect("a download button");
    assert_eq!(button.text_content().unwrap().trim(), "Download");
    assert!(button.title().contains("whole log"), "{}", button.title());

    model.push_lines(info_lines(81, 250));
    settle().await;
    // Lines were let go: the toolbar's download is now the whole log, from the server.
    assert!(button_with_text(&toolbar, "Download").is_none());
    let link = whole_log_link(&toolbar).expect("a link to the whole log");
    assert_eq!(link.get_attribute("href").as_deref(), Some(WHOLE_LOG));
    assert_eq!(link.get_attribute("download").as_deref(), Some("test.log"));
    assert!(
        link.title().contains("keeps only the newest 100"),
        "{}",
        link.title()
    );
    // The notice is updated in place as eviction goes on (not rebuilt every batch).
    let notice = query(&host, ".log-notice--evicted");
    notice.set_attribute("data-test-tag", "kept").unwrap();
    model.push_lines(info_lines(251, 260));
    settle().await;
    let notice = query(&host, ".log-notice--evicted");
    assert_eq!(
        notice.get_attribute("data-test-tag").as_deref(),
        Some("kept")
    );
    let text = notice.text_content().unwrap();
    assert!(text.contains("160 earlier lines are not kept"), "{text}");
}

#[wasm_bindgen_test]
async fn without_a_server_log_the_download_says_it_holds_only_the_kept_lines() {
    let model = LogModel::with_limits(StoreLimits {
        max_lines: 100,
        ..StoreLimits::default()
    });
    let host = mount_viewer_with(model, None);
    model.push_lines(info_lines(1, 250));
    settle().await;
    let toolbar = query(&host, ".log-toolbar");
    assert!(whole_log_link(&host).is_none());
    let button = button_with_text(&toolbar, "Download").expect("a download button");
    assert_eq!(button.text_content().unwrap().trim(), "Download kept lines");
    assert!(
        button.title().contains("newest 100 of 250 lines"),
        "{}",
        button.title()
    );
    let notice = query(&host, ".log-notice--evicted");
    assert!(button_with_text(&notice, "Download the kept lines").is_some());
}

#[wasm_bindgen_test]
async fn a_delta_from_the_feed_adds_its_lines_and_reports_the_deployment() {
    use shipwatch_model::protocol::{decode_server, Change, ServerMessage};
    let model = LogModel::new();
    let host = mount_viewer(model);
    // The text the server sends, through the feed's decoder, into the viewer.
    let frame = r#"{"v":1,"type":"delta","sub":"s1","seq":5,"changes":[
        {"op":"line","n":1,"ts":1700000000000,"stage":"build","level":"info","text":"first"},
        {"op":"line","n":2,"ts":1700000000010,"stage":"build","level":"error","text":"boom"}]}"#;
    let changes: Vec<Change> = match decode_server(frame, 1 << 20).unwrap().msg {
        ServerMessage::Delta { changes, .. } => changes,
        other => panic!("not a delta: {other:?}"),
    };
    assert!(model.apply_changes(changes).is_none());
    settle().await;
    assert_eq!(rendered_lines(&host), vec![1, 2]);
    assert!(query(&host, ".log-row[data-line='2']")
        .class_list()
        .contains("log-row--error"));
}

#[wasm_bindgen_test]
async fn a_lines_frame_from_the_feed_holds_the_same_lines_as_its_deltas() {
    use shipwatch_model::protocol::{decode_server, Change, LineBatch, ServerMessage};
    let mut lines = info_lines(1, 6);
    lines[2].stage = "test".into();
    lines[3].stage = "test".into();
    lines[3].level = LogLevel::Error;
    lines[3].hint = Some("Run the failing test alone".into());
    lines[4].stage = "deploy".into();
    lines[4].ts = T0; // the clock went back
                      // The server's two forms of the same lines, through the feed's decoder.
    let batch_frame = shipwatch_model::protocol::encode(
        &shipwatch_model::protocol::ServerFrame::new(ServerMessage::Lines {
            sub: "s1".into(),
            seq: 10,
            lines: LineBatch::runs(&lines).remove(0),
        }),
    );
    let batch = match decode_server(&batch_frame, 1 << 20).unwrap().msg {
        ServerMessage::Lines { lines, .. } => lines,
        other => panic!("not a lines frame: {other:?}"),
    };
    let by_changes = LogModel::new();
    by_changes.apply_changes(lines.iter().cloned().map(Change::Line).collect());

    let model = LogModel::new();
    let host = mount_viewer(model);
    model.push_batch(batch);
    settle().await;
    let kept = |m: LogModel| {
        m.with(|s| {
            s.iter()
                .map(|l| {
                    let hint = l.hint.map(str::to_string);
                    (
                        l.n,
                        l.ts,
                        l.stage_name.to_string(),
                        l.level,
                        l.raw.to_string(),
                        hint,
                    )
                })
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(kept(model), kept(by_changes));
    assert_eq!(kept(model).len(), 6);
    // On screen as any line: the failing stage is picked, its error line marked.
    assert_eq!(rendered_lines(&host), vec![3, 4]);
    assert!(query(&host, ".log-row[data-line='4']")
        .class_list()
        .contains("log-row--error"));
    assert!(region(&host)
        .text_content()
        .unwrap()
        .contains("Run the failing test alone"));
}

#[wasm_bindgen_test]
async fn while_a_history_arrives_the_count_shows_and_search_works_on_what_is_here() {
    let model = LogModel::new();
    let host = mount_viewer(model);
    model.set_expected(Some(2_500));
    let mut first = info_lines(1, 1_200);
    first[99].text = "needle at line 100".into();
    model.push_lines(first);
    settle().await;
    let progress = query(&host, ".log-progress");
    assert_eq!(
        progress.text_content().unwrap().trim(),
        "1,200 of 2,500 lines"
    );
    let bar = query(&host, "progress.log-progress__bar");
    assert_eq!(bar.get_attribute("max").as_deref(), Some("2500"));
    assert_eq!(bar.get_attribute("value").as_deref(), Some("1200"));
    // The first screen is there, and what has arrived can be searched meanwhile.
    assert!(rendered_lines(&host).contains(&1_200));
    type_search(&host, "needle");
    sleep(400).await;
    let status = query(&host, ".log-search__status").text_content().unwrap();
    assert!(status.contains("of 1"), "{status}");

    model.push_lines(info_lines(1_201, 2_400));
    settle().await;
    assert_eq!(
        query(&host, ".log-progress").text_content().unwrap().trim(),
        "2,400 of 2,500 lines"
    );
    model.push_lines(info_lines(2_401, 2_500));
    settle().await;
    assert!(
        try_query(&host, ".log-progress").is_none(),
        "no count once every announced line is here"
    );
}
