//! The reporter, the real `shipwatch` binary of `crates/reporter`, for the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The reporter: `SHIPWATCH_REPORTER_BIN`, else built from this workspace (cargo prints where
/// it put it; the app's native binary has the same file name, so it is checked to be ours).
pub fn bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("SHIPWATCH_REPORTER_BIN") {
        return bin.into();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO"))
        .args(["build", "-p", "shipwatch-reporter", "--bin", "shipwatch"])
        .args(["--message-format", "json-render-diagnostics"])
        .current_dir(&root)
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "the reporter builds");
    let bin = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|m| {
            (m["target"]["name"] == "shipwatch" && m["package_id"].as_str()?.contains("reporter"))
                .then(|| m["executable"].as_str().map(PathBuf::from))
                .flatten()
        })
        .expect("cargo names the reporter's executable");
    let version = Command::new(&bin).arg("--version").output().expect("runs");
    assert!(
        String::from_utf8_lossy(&version.stdout).starts_with("shipwatch "),
        "{} is the reporter",
        bin.display()
    );
    bin
}

/// Starts `bin deploy ARGS -- script` with the write token in its environment, as a CI job
/// gives it ([`crate::server::WRITE_TOKEN`]); the task ends with its output once it exits.
pub fn deploy(
    bin: &Path,
    args: &[&str],
    script: &Path,
) -> tokio::task::JoinHandle<std::io::Result<Output>> {
    let run = Command::new(bin)
        .arg("deploy")
        .args(args)
        .arg("--")
        .arg(script)
        .env("SHIPWATCH_WRITE_TOKEN", crate::server::WRITE_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("shipwatch runs");
    tokio::task::spawn_blocking(move || run.wait_with_output())
}

/// Waits at most `timeout` for a [`deploy`] to end, and checks its exit code (`code`: the
/// script's); returns its output.
pub async fn ends_with(
    run: tokio::task::JoinHandle<std::io::Result<Output>>,
    code: i32,
    timeout: std::time::Duration,
) -> Output {
    let out = tokio::time::timeout(timeout, run)
        .await
        .expect("the reporter ends")
        .expect("the reporter's task")
        .expect("the reporter's output");
    assert_eq!(
        out.status.code(),
        Some(code),
        "the script's exit code: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `deploy`'s arguments for service `api` of `production` at `server` (its base URL).
pub fn api_args<'a>(server: &'a str, version: &'a str) -> [&'a str; 8] {
    [
        "--server",
        server,
        "--env",
        "production",
        "--service",
        "api",
        "--version",
        version,
    ]
}
