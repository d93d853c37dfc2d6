//! `cargo xtask test`: native tests, browser tests (wasm-bindgen-test in headless Chromium) and
//! end-to-end tests (the real server and page driven through chromedriver).

use crate::build::build_all;
use crate::cmd::{root, Result};
use crate::tally::{run_counted, Tally};
use crate::tools::{ensure_browser, ensure_build_tools, ensure_nginx, ensure_postgres};
use std::process::Command;

/// Runs every suite; stops at the first failing one, and closes with one summary line.
pub fn test() -> Result {
    let path = ensure_build_tools()?;
    let browser = ensure_browser()?;
    // The store's tests run on a real PostgreSQL too (crates/server/tests/common/postgres.rs).
    ensure_postgres()?;
    // The end-to-end tests put nginx in front of the servers (crates/e2e/tests/behind_nginx.rs).
    let nginx = ensure_nginx()?;
    let mut tally = Tally::default();

    section("native tests (model, logview, server, xtask)");
    let native = [
        "test",
        "--workspace",
        "--exclude",
        "shipwatch",
        "--exclude",
        "shipwatch-e2e",
    ];
    tally.add(
        "native",
        run_counted(Command::new("cargo").args(native).current_dir(root()))?,
    );

    section("browser tests (wasm-bindgen-test in headless Chromium)");
    tally.add(
        "browser",
        run_counted(
            Command::new("cargo")
                .args([
                    "test",
                    "--target",
                    "wasm32-unknown-unknown",
                    "-p",
                    "shipwatch",
                    "--tests",
                ])
                .current_dir(root())
                .env("PATH", &path)
                .env("CHROMEDRIVER", &browser.driver)
                .env("WASM_BINDGEN_TEST_TIMEOUT", "120"),
        )?,
    );

    section("end-to-end tests (real server, real page, headless Chromium)");
    let built = build_all()?;
    tally.add(
        "end-to-end",
        run_counted(
            Command::new("cargo")
                .args([
                    "test",
                    "-p",
                    "shipwatch-e2e",
                    "--tests",
                    "--",
                    "--test-threads=1",
                ])
                .current_dir(root())
                .env("SHIPWATCH_SERVER_BIN", &built.server)
                .env("SHIPWATCH_DIST", &built.dist)
                .env("CHROMEDRIVER", &browser.driver)
                .env("CHROMIUM", &browser.chromium)
                .env("NGINX", &nginx),
        )?,
    );

    tally.report()
}

fn section(name: &str) {
    eprintln!("\n==== {name} ====");
}
