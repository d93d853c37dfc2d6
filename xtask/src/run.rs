//! `cargo xtask run`: build everything, then serve the console with its simulator.

use crate::build::build_all;
use crate::cmd::Result;
use std::process::Command;

/// Builds and starts the server; extra arguments go to the server (see its `--help`).
pub fn run(args: &[String]) -> Result {
    let built = build_all()?;
    let addr = args
        .iter()
        .position(|a| *a == "--addr")
        .and_then(|i| args.get(i + 1))
        .map_or("127.0.0.1:8080".to_string(), String::clone);
    eprintln!("\nShipwatch console: open http://{addr}/  (Ctrl-C stops it)\n");
    let status = Command::new(&built.server)
        .arg("--dist")
        .arg(&built.dist)
        .args(args)
        .status()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("server exited: {status}"))
    }
}
