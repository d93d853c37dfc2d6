//! Counting what cargo's test runner reports, so the test command closes on one honest line.

use crate::cmd::Result;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Totals of one or more `cargo test` runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tests that passed.
    pub passed: u32,
    /// Tests that failed.
    pub failed: u32,
    /// Tests ignored.
    pub ignored: u32,
}

/// Counts per suite.
#[derive(Default)]
pub struct Tally(Vec<(&'static str, Counts)>);

impl Tally {
    /// Records a suite.
    pub fn add(&mut self, suite: &'static str, counts: Counts) {
        self.0.push((suite, counts));
    }

    /// Prints the per-suite lines and the closing `N passed, N failed` line; an empty suite
    /// is a failure (a test command that runs nothing proves nothing).
    pub fn report(&self) -> Result {
        eprintln!();
        let mut total = Counts::default();
        for (suite, c) in &self.0 {
            println!(
                "{suite}: {} passed, {} failed, {} ignored",
                c.passed, c.failed, c.ignored
            );
            total.passed += c.passed;
            total.failed += c.failed;
            total.ignored += c.ignored;
            if c.passed == 0 {
                return Err(format!("the {suite} suite ran no test"));
            }
        }
        println!(
            "{} passed, {} failed, {} skipped",
            total.passed, total.failed, total.ignored
        );
        if total.failed == 0 {
            Ok(())
        } else {
            Err(format!("{} tests failed", total.failed))
        }
    }
}

/// Runs `cargo test ...`, echoing its output, and adds up its `test result:` lines.
pub fn run_counted(cmd: &mut Command) -> Result<Counts> {
    eprintln!("$ {cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let mut counts = Counts::default();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(std::io::Result::ok) {
            println!("{line}");
            if let Some(c) = parse_result_line(&line) {
                counts.passed += c.passed;
                counts.failed += c.failed;
                counts.ignored += c.ignored;
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(counts)
    } else {
        Err(format!(
            "{cmd:?} failed ({status}); {} passed, {} failed",
            counts.passed, counts.failed
        ))
    }
}

/// Reads `test result: ok. 12 passed; 0 failed; 1 ignored; ...`.
pub fn parse_result_line(line: &str) -> Option<Counts> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let number_before = |word: &str| -> u32 {
        rest.split(';')
            .find_map(|part| {
                let mut it = part.split_whitespace().rev();
                let (w, n) = (it.next()?, it.next()?);
                (w == word).then(|| n.parse().ok()).flatten()
            })
            .unwrap_or(0)
    };
    Some(Counts {
        passed: number_before("passed"),
        failed: number_before("failed"),
        ignored: number_before("ignored"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cargo_and_wasm_bindgen_test_summaries() {
        let c = parse_result_line("test result: ok. 51 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 2.21s");
        assert_eq!(
            c,
            Some(Counts {
                passed: 51,
                failed: 0,
                ignored: 2
            })
        );
        let c = parse_result_line("test result: FAILED. 0 passed; 2 failed; 0 ignored; 0 filtered out; finished in 43.33s");
        assert_eq!(
            c,
            Some(Counts {
                passed: 0,
                failed: 2,
                ignored: 0
            })
        );
        assert_eq!(parse_result_line("running 4 tests"), None);
    }
}
