//! The store's own throughput on this machine: the server's `store_throughput` example (a
//! real SQLite file in a temporary directory) run as built, its `name: value unit` lines
//! taken as figures.

use super::record::Figures;
use crate::cmd::Result;
use std::path::Path;
use std::process::Command;

/// The figures the example prints, with their units (all missing if it fails).
const FIGURES: &[(&str, &str)] = &[
    ("store_status_events_per_s", "events/s"),
    ("store_log_lines_per_s", "lines/s"),
    ("store_paced_commit_lag", "ms"),
    ("store_paced_max_queued_writes", "writes"),
    ("store_paced_cpu", "% of one core"),
    ("store_file_size", "MB"),
];

/// Runs `example` (`target/native/examples/store_throughput`) once.
pub fn measure(example: &Path, figures: &mut Figures) -> Result {
    eprintln!("bench: {}", example.display());
    let out = Command::new(example).output();
    let why = match out {
        Ok(o) if o.status.success() => {
            figures.absorb(&String::from_utf8_lossy(&o.stdout));
            return Ok(());
        }
        Ok(o) => format!(
            "{} exited with {}: {}",
            example.display(),
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => format!("cannot run {}: {e}", example.display()),
    };
    for (name, unit) in FIGURES {
        figures.missing(name, unit, &why);
    }
    Err(why)
}
