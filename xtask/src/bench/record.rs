//! Figures: printed as `name: value unit` as they are measured, then written as one row per
//! table in `docs/benchmarks.md` (earlier rows kept).

use crate::cmd::{output, root, Result};

/// One measured (or not measurable) figure.
#[derive(Clone, Debug)]
pub struct Figure {
    /// Stable name, e.g. `first_status_frame`.
    pub name: String,
    /// The value, None when it could not be measured.
    pub value: Option<f64>,
    /// Unit, e.g. `ms`.
    pub unit: String,
    /// Why it is missing, or how it spread over runs.
    pub note: String,
}

/// Every figure of one benchmark run, in the order measured.
#[derive(Default)]
pub struct Figures(pub Vec<Figure>);

impl Figures {
    /// Records and prints a figure.
    pub fn put(&mut self, name: &str, value: f64, unit: &str) {
        self.put_noted(name, Some(value), unit, String::new());
    }

    /// Records and prints the median of several runs, noting the runs' range.
    pub fn put_median(&mut self, name: &str, runs: &[f64], unit: &str) {
        match median(runs) {
            Some(m) if runs.len() > 1 => {
                let lo = runs.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = runs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let note = format!("median of {} runs, {}–{}", runs.len(), fmt(lo), fmt(hi));
                self.put_noted(name, Some(m), unit, note);
            }
            Some(m) => self.put(name, m, unit),
            None => self.missing(name, unit, "no run succeeded"),
        }
    }

    /// Records and prints a figure that could not be measured, and why.
    pub fn missing(&mut self, name: &str, unit: &str, why: &str) {
        self.put_noted(name, None, unit, why.to_string());
    }

    fn put_noted(&mut self, name: &str, value: Option<f64>, unit: &str, note: String) {
        let f = Figure {
            name: name.into(),
            value,
            unit: unit.into(),
            note,
        };
        println!("{}", line(&f));
        self.0.retain(|g| g.name != name);
        self.0.push(f);
    }

    /// A figure's value by name.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.iter().find(|f| f.name == name).and_then(|f| f.value)
    }

    /// Copies `name: value unit` lines printed by the load generator, prefixing their names.
    pub fn absorb(&mut self, text: &str) {
        for l in text.lines() {
            let Some((name, rest)) = l.split_once(": ") else {
                continue;
            };
            let mut parts = rest.splitn(2, ' ');
            let (v, unit) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            match v.parse::<f64>() {
                Ok(v) => self.put(name, v, unit),
                Err(_) => {
                    let why = rest.strip_prefix("n/a (").and_then(|r| r.strip_suffix(')'));
                    self.missing(name, "", why.unwrap_or(rest))
                }
            }
        }
    }
}

/// The printed line: `name: value unit`, with a note in parentheses.
pub fn line(f: &Figure) -> String {
    let v = f.value.map_or("n/a".to_string(), fmt);
    let unit = if f.value.is_some() { &f.unit } else { "" };
    let mut s = format!("{}: {v} {unit}", f.name).trim_end().to_string();
    if !f.note.is_empty() {
        s.push_str(&format!(" ({})", f.note));
    }
    s
}

/// A number without noise: integers as such, else one decimal (two below 10).
pub fn fmt(v: f64) -> String {
    if v.fract() == 0.0 || v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    }
}

/// The median; None when empty.
pub fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The `p`-th percentile (nearest rank).
pub fn percentile(v: &[f64], p: f64) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

/// Where and with what a run was made.
pub struct Machine {
    /// Run id: date and commit.
    pub run: String,
    /// One line per field for the runs table.
    pub cells: Vec<String>,
}

impl Machine {
    /// The same run, its mode noted (e.g. the parts run).
    pub fn noted(&self, note: &str) -> Machine {
        let mut cells = self.cells.clone();
        cells[0] = format!("{} ({note})", cells[0]);
        Machine {
            run: self.run.clone(),
            cells,
        }
    }
}

/// Describes this machine, the toolchain and the checkout.
pub fn machine(quick: bool) -> Machine {
    let date = output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default();
    let commit = output(
        "git",
        &[
            "-C",
            &root().to_string_lossy(),
            "rev-parse",
            "--short",
            "HEAD",
        ],
    )
    .unwrap_or_default();
    let dirty = output(
        "git",
        &["-C", &root().to_string_lossy(), "status", "--porcelain"],
    )
    .is_some_and(|s| !s.trim().is_empty());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map_or(0.0, |k| k / 1024.0 / 1024.0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or(String::new(), |(_, m)| m.trim().to_string());
    // Other work on the machine at the start (builds share these cores): the 1-minute load.
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .map_or(String::new(), |l| format!(", load {l} at start"));
    let chromium = output("/usr/bin/chromium", &["--version"])
        .unwrap_or_default()
        .replace(" built on Debian GNU/Linux", ",")
        .trim()
        .to_string();
    let rustc = output("rustc", &["--version"])
        .unwrap_or_default()
        .trim()
        .to_string();
    let commit = format!(
        "{}{}",
        commit.trim(),
        if dirty { " + uncommitted changes" } else { "" }
    );
    let run = format!("{} {}", date.trim(), commit.split(' ').next().unwrap_or(""));
    Machine {
        run,
        cells: vec![
            if quick { "quick" } else { "full" }.into(),
            commit,
            format!("{cores} cores, {mem_gib:.0} GiB, {cpu}{load}"),
            chromium,
            rustc,
        ],
    }
}

/// A table of `docs/benchmarks.md`: its heading, and its columns as (header, figure name).
pub struct Table {
    /// Marker id and heading.
    pub id: &'static str,
    /// Heading shown above the table.
    pub title: &'static str,
    /// Columns after the run id.
    pub columns: &'static [(&'static str, &'static str)],
}

/// Appends this run's row to every table of `docs/benchmarks.md`, creating missing tables.
pub fn write(machine: &Machine, figures: &Figures, tables: &[&Table]) -> Result {
    let path = root().join("docs/benchmarks.md");
    let mut doc = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
    let runs_marker = "<!-- rows:runs -->";
    if !doc.contains(runs_marker) {
        doc.push_str(&format!(
            "\n## Runs\n\n| run | mode | commit | machine | Chromium | rustc |\n| --- | --- | --- | --- | --- | --- |\n{runs_marker}\n"
        ));
    }
    let row = format!("| {} | {} |\n", machine.run, machine.cells.join(" | "));
    doc = doc.replacen(runs_marker, &format!("{row}{runs_marker}"), 1);
    for t in tables {
        let marker = format!("<!-- rows:{} -->", t.id);
        if doc.contains(&marker) {
            doc = with_heading(&doc, &marker, t);
        } else {
            doc.push_str(&format!("\n{}\n{marker}\n", heading(t)));
        }
        let cells: Vec<String> = t
            .columns
            .iter()
            .map(|(_, name)| figures.get(name).map_or("n/a".into(), fmt))
            .collect();
        let row = format!("| {} | {} |\n", machine.run, cells.join(" | "));
        doc = doc.replacen(&marker, &format!("{row}{marker}"), 1);
    }
    std::fs::write(&path, doc).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!("bench: rows added to {}", path.display());
    Ok(())
}

/// A table's heading, its column headers and their separator, without a row.
fn heading(t: &Table) -> String {
    let heads: Vec<&str> = t.columns.iter().map(|c| c.0).collect();
    format!(
        "## {}\n\n| run | {} |\n|{}",
        t.title,
        heads.join(" | "),
        " --- |".repeat(heads.len() + 1)
    )
}

/// `doc` with the heading of the table whose rows end at `marker` made `t`'s: a column added
/// at the end of [`Table::columns`] shows from this run on, older rows have no value there.
fn with_heading(doc: &str, marker: &str, t: &Table) -> String {
    let Some(end) = doc.find(marker) else {
        return doc.to_string();
    };
    let Some(start) = doc[..end].rfind("\n## ").map(|i| i + 1) else {
        return doc.to_string();
    };
    let lines: Vec<&str> = doc[start..end].lines().collect();
    // `## title`, a blank line, `| run | ... |`, `| --- | ... |`: anything else is left as it is.
    let table = lines.len() >= 4
        && lines[1].is_empty()
        && lines[2].starts_with("| run |")
        && lines[3].starts_with("| --- |");
    if !table {
        return doc.to_string();
    }
    let old_len: usize = lines[..4].iter().map(|l| l.len() + 1).sum();
    format!(
        "{}{}\n{}",
        &doc[..start],
        heading(t),
        &doc[start + old_len..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_percentiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(percentile(&[5.0, 1.0, 4.0, 2.0, 3.0], 95.0), Some(5.0));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn prints_name_value_unit() {
        let f = Figure {
            name: "wasm_gzip".into(),
            value: Some(244.123),
            unit: "KB".into(),
            note: String::new(),
        };
        assert_eq!(line(&f), "wasm_gzip: 244.1 KB");
        let g = Figure {
            value: None,
            note: "needs a hook".into(),
            ..f
        };
        assert_eq!(line(&g), "wasm_gzip: n/a (needs a hook)");
    }

    #[test]
    fn a_new_column_shows_in_the_heading_and_older_rows_stay() {
        let doc = "# B\n\n## Old title\n\n| run | a |\n| --- | --- |\n| r1 | 1 |\n<!-- rows:t -->\n\n## Next\n";
        let t = Table {
            id: "t",
            title: "New title",
            columns: &[("a", "fig_a"), ("b", "fig_b")],
        };
        assert_eq!(
            with_heading(doc, "<!-- rows:t -->", &t),
            "# B\n\n## New title\n\n| run | a | b |\n| --- | --- | --- |\n| r1 | 1 |\n<!-- rows:t -->\n\n## Next\n"
        );
        // Prose that is not a table's heading is left alone.
        let prose = "# B\n\n## Notes\n\nsome text\n<!-- rows:t -->\n";
        assert_eq!(with_heading(prose, "<!-- rows:t -->", &t), prose);
    }
}
