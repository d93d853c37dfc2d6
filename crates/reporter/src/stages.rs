//! Stages from a command's output: GitLab's collapsible sections, Buildkite's groups, or the
//! one `--stage NAME` given on the command line.
//!
//! - GitLab: `section_start:<unix ts>:<name>[options]\r\e[0K<header>` starts the stage
//!   `<name>` (its header, when there is one, is sent as the stage's first line), and
//!   `section_end:<ts>:<name>` ends it (not sent). Sections nest: an end goes back to the
//!   enclosing section. Lines after the last end stay with the stage that ended (nothing
//!   else has started).
//! - Buildkite: a line `--- title`, `+++ title` or `~~~ title` starts the stage `title`
//!   (emoji codes such as `:docker:` left out) and is sent as its first line; `^^^ +++`
//!   (expand the previous group) is not a line of the log.
//! - Anything else belongs to the current stage. Before any marker that is the `--stage`
//!   given, or [`DEFAULT_STAGE`]: a command that names no stage is deploying.

use crate::level::strip_ansi;

/// The stage of output that no marker and no `--stage` named.
pub const DEFAULT_STAGE: &str = "deploy";

/// Longest stage name kept, in bytes (a Buildkite title can be a sentence).
pub const MAX_STAGE_BYTES: usize = 64;

/// What one line of output is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    /// The text to send as a log line, if any, in the stage that is current after the line.
    pub text: Option<String>,
    /// A stage that starts with this line (and is current from it on).
    pub started: Option<String>,
}

/// The current stage of one command's output.
#[derive(Clone, Debug)]
pub struct Stages {
    current: Option<String>,
    gitlab: Vec<String>,
}

impl Stages {
    /// Before any output; `named` is the `--stage` of the command line.
    #[must_use]
    pub fn new(named: Option<String>) -> Self {
        Self {
            current: named,
            gitlab: Vec::new(),
        }
    }

    /// The stage current now (None before any output of a command with no `--stage`).
    #[must_use]
    pub fn current(&self) -> Option<&str> {
        self.current.as_deref()
    }

    /// Reads one line of output.
    pub fn read(&mut self, line: String) -> Read {
        let plain = strip_ansi(&line);
        let plain = plain.trim_start();
        if let Some(rest) = plain.strip_prefix("section_start:") {
            if let Some((name, header)) = gitlab_marker(rest) {
                self.gitlab.push(name.clone());
                let header = header.filter(|h| !h.trim().is_empty());
                return self.start(name, header);
            }
        }
        if let Some(rest) = plain.strip_prefix("section_end:") {
            if let Some((name, _)) = gitlab_marker(rest) {
                if let Some(i) = self.gitlab.iter().rposition(|s| *s == name) {
                    self.gitlab.truncate(i);
                }
                return match self.gitlab.last().cloned() {
                    Some(outer) if self.current.as_deref() != Some(outer.as_str()) => {
                        self.start(outer, None)
                    }
                    _ => Read {
                        text: None,
                        started: None,
                    },
                };
            }
        }
        if plain.starts_with("^^^ +++") {
            return Read {
                text: None,
                started: None,
            };
        }
        for prefix in ["--- ", "+++ ", "~~~ "] {
            if let Some(title) = plain.strip_prefix(prefix) {
                let name = buildkite_name(title);
                if !name.is_empty() {
                    return self.start(name, Some(line));
                }
            }
        }
        if self.current.is_none() {
            return self.start(DEFAULT_STAGE.to_string(), Some(line));
        }
        Read {
            text: Some(line),
            started: None,
        }
    }

    fn start(&mut self, name: String, text: Option<String>) -> Read {
        let changed = self.current.as_deref() != Some(name.as_str());
        self.current = Some(name.clone());
        Read {
            text,
            started: changed.then_some(name),
        }
    }
}

/// `<ts>:<name>[options]` then, optionally, `\r` and the header (after ANSI was stripped).
fn gitlab_marker(rest: &str) -> Option<(String, Option<String>)> {
    let (ts, rest) = rest.split_once(':')?;
    if ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (name, header) = match rest.split_once('\r') {
        Some((n, h)) => (n, Some(h.to_string())),
        None => (rest, None),
    };
    let name = name.split('[').next().unwrap_or_default().trim();
    if name.is_empty() {
        return None;
    }
    Some((cut(name), header))
}

/// A Buildkite group title as a stage name: emoji codes (`:docker:`) left out, spaces
/// collapsed, at most [`MAX_STAGE_BYTES`].
fn buildkite_name(title: &str) -> String {
    let words: Vec<&str> = title
        .split_whitespace()
        .filter(|w| !(w.len() > 2 && w.starts_with(':') && w.ends_with(':')))
        .collect();
    cut(&words.join(" "))
}

fn cut(name: &str) -> String {
    let mut end = name.len().min(MAX_STAGE_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

/// Whether a stage builds rather than deploys: its name (case aside) contains one of
/// `patterns` (`--build-stages`).
#[must_use]
pub fn is_build_stage(name: &str, patterns: &[String]) -> bool {
    let name = name.to_lowercase();
    patterns
        .iter()
        .any(|p| !p.is_empty() && name.contains(&p.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(named: Option<&str>, lines: &[&str]) -> Vec<(Option<String>, String, bool)> {
        let mut s = Stages::new(named.map(str::to_string));
        lines
            .iter()
            .map(|l| {
                let r = s.read(l.to_string());
                (
                    r.text,
                    s.current().unwrap_or("-").to_string(),
                    r.started.is_some(),
                )
            })
            .collect()
    }

    fn t(text: &str, stage: &str, started: bool) -> (Option<String>, String, bool) {
        (Some(text.to_string()), stage.to_string(), started)
    }

    #[test]
    fn gitlab_sections_name_stages_and_nest() {
        let out = run(
            None,
            &[
                "\u{1b}[0Ksection_start:1733380000:build[collapsed=true]\r\u{1b}[0KBuilding the image",
                "Step 1/3",
                "\u{1b}[0Ksection_start:1733380001:tests\r\u{1b}[0K",
                "ok",
                "\u{1b}[0Ksection_end:1733380002:tests\r\u{1b}[0K",
                "Step 3/3",
                "\u{1b}[0Ksection_end:1733380003:build\r\u{1b}[0K",
                "after the build",
                "section_start:1733380004:deploy",
                "rolling out",
            ],
        );
        assert_eq!(
            out,
            [
                t("Building the image", "build", true),
                t("Step 1/3", "build", false),
                (None, "tests".into(), true),
                t("ok", "tests", false),
                (None, "build".into(), true),
                t("Step 3/3", "build", false),
                (None, "build".into(), false),
                t("after the build", "build", false),
                (None, "deploy".into(), true),
                t("rolling out", "deploy", false),
            ]
        );
    }

    #[test]
    fn buildkite_groups_name_stages() {
        let out = run(
            Some("prepare"),
            &[
                "fetching",
                "--- :docker: Build image",
                "Step 1/3",
                "^^^ +++",
                "+++ :rocket: Deploy",
                "--- ",
            ],
        );
        assert_eq!(
            out,
            [
                t("fetching", "prepare", false),
                t("--- :docker: Build image", "Build image", true),
                t("Step 1/3", "Build image", false),
                (None, "Build image".into(), false),
                t("+++ :rocket: Deploy", "Deploy", true),
                t("--- ", "Deploy", false),
            ]
        );
    }

    #[test]
    fn output_before_any_marker_is_the_named_stage_or_deploy() {
        let out = run(None, &["hello", "section_start:oops:x", "world"]);
        assert_eq!(
            out,
            [
                t("hello", "deploy", true),
                t("section_start:oops:x", "deploy", false),
                t("world", "deploy", false)
            ]
        );
        let out = run(Some("build"), &["hello"]);
        assert_eq!(out, [t("hello", "build", false)]);
    }

    #[test]
    fn build_stages_are_told_by_name() {
        let p: Vec<String> = ["build", "compile"].iter().map(|s| s.to_string()).collect();
        assert!(is_build_stage("Build image", &p));
        assert!(is_build_stage("docker-build", &p));
        assert!(is_build_stage("COMPILE", &p));
        assert!(!is_build_stage("deploy", &p));
        assert!(!is_build_stage("migrate", &p));
        let long = "x".repeat(100);
        assert_eq!(buildkite_name(&long).len(), MAX_STAGE_BYTES);
    }
}
