//! Processes by their `/proc` entries: a browser's process tree, a process's memory.

/// Every process id, with its parent and command line (arguments joined by spaces).
fn all() -> Vec<(u32, u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
            let after = &stat[stat.rfind(')')? + 1..];
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            Some((pid, ppid, cmd))
        })
        .collect()
}

/// The processes below `root` (children, their children, ...), with their command lines.
pub fn descendants(root: u32) -> Vec<(u32, String)> {
    let procs = all();
    let mut out: Vec<(u32, String)> = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (pid, ppid, cmd) in &procs {
            if *ppid == parent && !out.iter().any(|(p, _)| p == pid) {
                out.push((*pid, cmd.clone()));
                frontier.push(*pid);
            }
        }
    }
    out
}

/// The processes whose command line contains `needle`.
pub fn with_argument(needle: &str) -> Vec<u32> {
    all()
        .into_iter()
        .filter(|(_, _, cmd)| cmd.contains(needle))
        .map(|(pid, _, _)| pid)
        .collect()
}

/// Resident memory of a process in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_child_and_its_memory() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep runs");
        let below = descendants(std::process::id());
        let _ = child.kill();
        let _ = child.wait();
        let found = below.iter().find(|(pid, _)| *pid == child.id());
        assert!(
            found.is_some_and(|(_, cmd)| cmd.starts_with("sleep 5")),
            "{below:?}"
        );
        assert!(rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }
}
