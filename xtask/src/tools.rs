//! Installs what the build and the tests need when it is missing, and only then: the wasm
//! target, trunk, the wasm-bindgen CLI, wasm-opt (npm `binaryen@132`), esbuild (npm, to minify
//! the app's JavaScript), axe-core (npm, for the end-to-end accessibility scan), Chromium and
//! its driver.

use crate::cmd::{output, root, run, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const TRUNK: &str = "0.21.14";
const WASM_BINDGEN: &str = "0.2.130";
const BINARYEN: &str = "132";
/// esbuild, which minifies the app's JavaScript glue (`app_bundle.rs`).
const ESBUILD: &str = "0.25.12";
/// axe-core, the accessibility rules `crates/e2e/tests/a11y.rs` runs in the page.
const AXE_CORE: &str = "4.14.1";

/// Paths of the browser and its driver.
pub struct Browser {
    /// The Chromium binary.
    pub chromium: PathBuf,
    /// The matching chromedriver.
    pub driver: PathBuf,
}

/// Makes sure the app can be built; returns the PATH to build with (wasm-opt prepended).
pub fn ensure_build_tools() -> Result<String> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if !installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    if !version_has("trunk", TRUNK) {
        eprintln!("xtask: installing trunk {TRUNK} (takes several minutes, once)");
        run(Command::new("cargo").args(["install", "trunk", "--version", TRUNK, "--locked"]))?;
    }
    if !version_has("wasm-bindgen", WASM_BINDGEN)
        || !version_has("wasm-bindgen-test-runner", WASM_BINDGEN)
    {
        eprintln!(
            "xtask: installing wasm-bindgen-cli {WASM_BINDGEN} (takes several minutes, once)"
        );
        // Not --locked: a locked dependency of this version is missing from the registry.
        run(Command::new("cargo").args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            WASM_BINDGEN,
            "--force",
        ]))?;
    }
    let bin = tools_dir().join("node_modules/.bin");
    let wasm_opt = bin.join("wasm-opt");
    if !version_has(&wasm_opt.to_string_lossy(), &format!("version {BINARYEN}")) {
        if output("npm", &["--version"]).is_none() {
            return Err(
                "npm is needed to install wasm-opt (binaryen@132): install Node.js and npm".into(),
            );
        }
        std::fs::create_dir_all(tools_dir()).map_err(|e| e.to_string())?;
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(tools_dir())
            .arg(format!("binaryen@{BINARYEN}")))?;
    }
    let esbuild = tools_dir().join("node_modules/esbuild");
    if !npm_version_is(&esbuild, ESBUILD) {
        if output("npm", &["--version"]).is_none() {
            return Err(format!(
                "npm is needed to install esbuild@{ESBUILD}: install Node.js and npm"
            ));
        }
        std::fs::create_dir_all(tools_dir()).map_err(|e| e.to_string())?;
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(tools_dir())
            .arg(format!("esbuild@{ESBUILD}")))?;
    }
    let axe = tools_dir().join("node_modules/axe-core");
    if !npm_version_is(&axe, AXE_CORE) {
        if output("npm", &["--version"]).is_none() {
            return Err(format!(
                "npm is needed to install axe-core@{AXE_CORE}: install Node.js and npm"
            ));
        }
        std::fs::create_dir_all(tools_dir()).map_err(|e| e.to_string())?;
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(tools_dir())
            .arg(format!("axe-core@{AXE_CORE}")))?;
    }
    let path = std::env::var("PATH").unwrap_or_default();
    Ok(format!(
        "{}:{}:{path}",
        bin.display(),
        cargo_bin().display()
    ))
}

/// Makes sure Chromium and chromedriver are there (Debian packages when we may install).
pub fn ensure_browser() -> Result<Browser> {
    let browser = Browser {
        chromium: "/usr/bin/chromium".into(),
        driver: "/usr/bin/chromedriver".into(),
    };
    if browser.chromium.exists() && browser.driver.exists() {
        return Ok(browser);
    }
    let root_user = output("id", &["-u"]).is_some_and(|u| u.trim() == "0");
    if root_user && Path::new("/usr/bin/apt-get").exists() {
        eprintln!("xtask: installing Chromium and chromedriver from Debian");
        run(Command::new("apt-get").arg("update"))?;
        run(Command::new("apt-get")
            .args([
                "install",
                "-y",
                "--no-install-recommends",
                "chromium",
                "chromium-driver",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
        return Ok(browser);
    }
    Err(
        "the browser tests need Chromium and chromedriver at /usr/bin/chromium and \
         /usr/bin/chromedriver: install them (Debian: `apt-get install chromium chromium-driver`)"
            .into(),
    )
}

/// Where the store's tests find PostgreSQL's programs (Debian's `postgresql` package).
const POSTGRES_BIN: &str = "/usr/lib/postgresql/15/bin";

/// PostgreSQL's programs (`initdb`, `pg_ctl`, `createdb`), which the store's tests run a
/// temporary cluster with; installed from Debian when missing and we may (as for Chromium).
pub fn ensure_postgres() -> Result {
    let bin = std::env::var("SHIPWATCH_PG_BIN").unwrap_or_else(|_| POSTGRES_BIN.to_string());
    if Path::new(&bin).join("initdb").exists() {
        return Ok(());
    }
    let root_user = output("id", &["-u"]).is_some_and(|u| u.trim() == "0");
    if root_user && Path::new("/usr/bin/apt-get").exists() {
        eprintln!("xtask: installing PostgreSQL from Debian");
        run(Command::new("apt-get").arg("update"))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", "postgresql"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
        return Ok(());
    }
    Err(format!(
        "the store's tests need PostgreSQL's programs in {bin} (or SHIPWATCH_PG_BIN): install \
         them (Debian: `apt-get install postgresql`)"
    ))
}

/// nginx, which the end-to-end tests start in front of the servers with deploy/nginx.conf
/// (crates/e2e/src/nginx.rs); installed from Debian when missing and we may (as for Chromium).
pub fn ensure_nginx() -> Result<PathBuf> {
    let bin =
        std::env::var_os("NGINX").map_or_else(|| PathBuf::from("/usr/sbin/nginx"), PathBuf::from);
    if bin.exists() {
        return Ok(bin);
    }
    let root_user = output("id", &["-u"]).is_some_and(|u| u.trim() == "0");
    if root_user && Path::new("/usr/bin/apt-get").exists() {
        eprintln!("xtask: installing nginx from Debian");
        run(Command::new("apt-get").arg("update"))?;
        // Installed only: the tests run their own nginx on a free port (a service that the
        // package starts, where services run, is left as it is).
        run(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", "nginx"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
        return Ok(bin);
    }
    Err(format!(
        "the end-to-end tests need nginx at {} (or NGINX): install it (Debian: `apt-get install \
         nginx`)",
        bin.display()
    ))
}

/// Where npm tools are installed for this checkout.
fn tools_dir() -> PathBuf {
    root().join(".tools")
}

fn cargo_bin() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_default()
        .join("bin")
}

/// Whether the npm package installed at `dir` is at `version` (its package.json says so).
fn npm_version_is(dir: &Path, version: &str) -> bool {
    std::fs::read_to_string(dir.join("package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|p| p["version"] == version)
}

fn version_has(program: &str, needle: &str) -> bool {
    let candidates = [
        program.to_string(),
        cargo_bin().join(program).to_string_lossy().into_owned(),
    ];
    candidates
        .iter()
        .any(|p| output(p, &["--version"]).is_some_and(|v| v.contains(needle)))
}
