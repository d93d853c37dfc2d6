//! Release builds of the app (xtask/src/app_bundle.rs) and the server.

use crate::app_bundle::{self, Bundle};
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

/// Builds the app in release (split, wasm-opt) into `dist/`, and the server.
pub fn build_all() -> Result<Built> {
    let path = ensure_build_tools()?;
    let dist = root().join("dist");
    let bundle = Bundle {
        dist: &dist,
        features: &[],
        split: true,
        optimize: true,
    };
    app_bundle::build(&bundle, &path)?;
    run(Command::new("cargo")
        .args(["build", "--profile", "native", "-p", "shipwatch-server"])
        .current_dir(root()))?;
    Ok(Built {
        server: root().join("target/native/shipwatch-server"),
        dist,
    })
}
