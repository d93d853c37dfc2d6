//! Release builds of the app (trunk) and the server.

use crate::cmd::{root, run, Result};
use crate::tools::ensure_build_tools;
use std::path::PathBuf;
use std::process::Command;

/// What a build produced.
pub struct Built {
    /// The server binary.
    pub server: PathBuf,
    /// The built app, served by the server.
    pub dist: PathBuf,
}

/// Builds the app in release with trunk (wasm-opt included) and the server.
pub fn build_all() -> Result<Built> {
    let path = ensure_build_tools()?;
    run(Command::new("trunk")
        .args(["build", "--release"])
        .current_dir(root())
        .env("PATH", &path))?;
    run(Command::new("cargo")
        .args(["build", "--profile", "native", "-p", "shipwatch-server"])
        .current_dir(root()))?;
    Ok(Built {
        server: root().join("target/native/shipwatch-server"),
        dist: root().join("dist"),
    })
}
