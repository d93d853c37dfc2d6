//! `cargo xtask bench [--quick]`: the console's speed, size and scale (see issue 7).

use crate::cmd::Result;

/// Runs the benchmarks and records them in `docs/benchmarks.md`.
pub fn bench(_args: &[String]) -> Result {
    Err("the benchmark command is not written yet".into())
}
